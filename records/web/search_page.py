"""What the search page shows around its results: the fields as asked and the links that
change one of them (a facet, a filter removed, the next page, list or grid, the order), the
hints of a search that found nothing, and the user's saved searches.

Every link is made from the fields as asked, so a link changes one thing and keeps the rest:
a facet adds a filter to this search, a hint removes one filter and keeps the others, the
list/grid toggle and the pages keep every filter. A saved search's query string comes from
the database and is parsed again here, only the page's own fields kept: what a link holds is
always ``name=value`` pairs this page reads, never something stored being trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from fastapi import Request

from archive.access import User, saved_searches
from archive.index import Filters, Results
from records.web import shared
from records.web.context import context

# The search page's fields, in the order its links give them.
FIELDS = ("q", "order", "unit", "type", "from", "to", "classification", "signed", "review",
          "view")
# The filters a search that found nothing offers to remove, as people read them.
FILTER_NAMES = {"unit": "unit", "type": "type", "from": "dated from", "to": "dated to",
                "classification": "classification", "signed": "signed",
                "review": "needs review"}
VIEWS = ("list", "grid")
# A facet's value as the filter that selects it (the year as a span of dates).
_FACET_FILTERS = {
    "unit": lambda v: {"unit": v},
    "document_type": lambda v: {"type": v},
    "classification": lambda v: {"classification": v},
    "year": lambda v: {"from": f"{v}-01-01", "to": f"{v}-12-31"},
    "signed": lambda v: {"signed": "yes" if v == "signed" else "no"},
}


@dataclass(frozen=True)
class Asked:
    """The search page's fields as the URL gave them, empty ones left out (the page number
    apart: each link says its own)."""

    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: list[tuple[str, str]]) -> Asked:
        return cls({name: value for name, value in pairs if name in FIELDS and value})

    @classmethod
    def parsed(cls, query_string: str) -> Asked:
        """A query string read again, keeping only this page's fields (a saved search)."""
        return cls.of(parse_qsl(query_string, keep_blank_values=False))

    @property
    def query(self) -> str:
        return urlencode(self.params)

    def link(self, **changes: str | None) -> str:
        """The query string of this search with ``changes`` (None removes a field)."""
        params = {**self.params, **changes}
        return urlencode({k: v for k, v in params.items() if v})

    def filters(self) -> Filters:
        """The filters these fields ask for (dates checked: ``ValueError`` if not one)."""
        get = self.params.get
        return shared.filters_of(get("unit"), get("type"), shared.day(get("from", "")),
                                 shared.day(get("to", "")), get("classification"),
                                 get("signed"), get("review"))


@dataclass(frozen=True)
class Removal:
    """A filter of a search that found nothing, and what the search finds without it."""

    label: str  # "unit: VP"
    link: str  # the query string without it
    total: int  # how many records the search finds without it


def facet_links(asked: Asked, results: Results | None) -> dict[tuple[str, str], str]:
    """For each facet value shown, the query string of this search with it as a filter (the
    first page). "unknown" (no value) selects nothing, so it has no link."""
    links: dict[tuple[str, str], str] = {}
    for name, counts in (results.facets if results else {}).items():
        for value in counts:
            if value != "unknown" and name in _FACET_FILTERS:
                links[name, value] = asked.link(**_FACET_FILTERS[name](value))
    return links


def removals(request: Request, user: User, asked: Asked) -> list[Removal]:
    """For a search that found nothing: each filter set (and the words), with the link that
    removes it and keeps the rest, and how many records that finds. Only counts, of what the
    user may see: the search that found nothing is audited, these are not."""
    found = []
    for name, value in asked.params.items():
        if name not in FILTER_NAMES and name != "q":
            continue
        without = Asked({k: v for k, v in asked.params.items() if k != name})
        label = f'the words "{value}"' if name == "q" else f"{FILTER_NAMES[name]}: {value}"
        found.append(Removal(label, without.query,
                             shared.count(request, user, without.params.get("q", ""),
                                          without.filters())))
    return found


def sort_options(q: str, order: str) -> list[tuple[str, str, bool]]:
    """(value, label, chosen) of each order the page offers: relevance only for a search.
    Browsing's default (newest first) is sent as no value, so words typed on a browse are
    then ranked by relevance rather than kept newest first."""
    chosen = shared.sort_order(q, order)
    first = [("relevance", "most relevant"), ("newest", "newest first")] if q.strip() \
        else [("", "newest first")]
    options = [*first, ("oldest", "oldest first"), ("title", "title A\u2013Z")]
    return [(value, label, (value or "newest") == chosen) for value, label in options]


def view_links(asked: Asked, page: int) -> dict[str, str]:
    """The query string of this very page of results shown as a list, and as a grid."""
    at = {"page": str(page)} if page > 1 else {}
    return {"list": asked.link(view=None, **at), "grid": asked.link(view="grid", **at)}


def saved_links(request: Request, user: User) -> list[tuple[int, str, str]]:
    """(id, name, query string) of the user's saved searches, each query string parsed again
    and only this page's fields kept."""
    return [(s.id, s.name, Asked.parsed(s.query).query)
            for s in saved_searches(context(request).catalog, user.name)]
