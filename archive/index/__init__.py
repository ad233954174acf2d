"""The index: the catalog of every record's metadata and page text, and search over it.

The catalog (``catalog``) is derived from the archive and rebuilt from it at will
(``bulkload``); SQLite by default, PostgreSQL for many machines. Archivists' queries
(``query``) are folded like the text (``folding``: no diacritics needed), matched per record,
filtered, counted and ranked within the searcher's clearance (``search``, which also lists
every record a user may see without a query: browsing) by full-text indexes (``fulltext``,
tantivy, one per classification level) that each machine keeps in step with the catalog
(``textsync``). Stands on the record store only.
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "attention": ["UNSURE"],
    "bulkload": ["Loaded", "rebuild"],
    "catalog": ["TABLES", "Catalog", "CatalogTables", "index_package", "read_package",
                "row_of", "terms_of"],
    "folding": ["fold"],
    "fulltext": ["FACETS"],
    "query": ["QueryError"],
    "textsync": ["SearchIndexBusy"],
    "search": ["ORDERS", "Filters", "Hit", "Order", "Results",
               "browse_records", "clearance_of", "search_records", "snippet"],
})
