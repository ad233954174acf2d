"""Full-text and metadata search over the catalog, never above the searcher's clearance.

One hit per record: the record matches as a whole, and its page with the most hits gives a
snippet of its *original* words (the diacritics as on the page) with the hits marked. Filters
narrow the set, facets count it, results come by relevance, newest or oldest first or by title,
a page at a time. The full-text indexes (``archive.index.fulltext``, kept in step with the
catalog by ``archive.index.textsync``) match, rank, count and facet on either backend; they
read only the indexes of the levels the searcher is cleared for, so no count, facet, score or
snippet ever reflects a record the searcher may not see. The shown rows are read from the
catalog with the clearance checked once more.

Browsing (``browse_records``) is a search without words: every record the user may see (the
filters still apply), counted and faceted the same way, through the same code and the same
clearance filter, with the opening words of each record's first page for a snippet.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import select

from archive.index.catalog import Catalog, records
from archive.index.folding import fold
from archive.index.fulltext import FullText, Narrowing
from archive.index.query import Node, Term, parse, positive_terms
from archive.index.textsync import in_step
from archive.store import FULL_CLEARANCE, LEVELS

SNIPPET_WORDS = 24
ORDERS = ("relevance", "newest", "oldest", "title")
"""How results may come: by relevance (a search only: browsing has nothing to rank by), by the
document's date, newest or oldest first (undated records last either way, ties by record id),
or by title A-Z, compared folded and without punctuation (``Đơn`` among the D's, not after
Z), so that both backends sort alike whatever their collation. Equal scores come in one
fixed order (a digest of the record id), so every machine and backend shows the same page."""
Order = Literal["relevance", "newest", "oldest", "title"]


@dataclass(frozen=True)
class Filters:
    unit: str | None = None
    series: str | None = None
    document_type: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    classification: str | None = None
    signed: bool | None = None
    needs_review: bool | None = None


@dataclass(frozen=True)
class Hit:
    record_id: str
    title: str
    unit: str
    date: str | None
    page: int
    snippet: str  # HTML: the page's own words, escaped, hits in <mark>
    score: float | None  # relevance, higher is better; None in the other orders


@dataclass
class Results:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    order: str = "relevance"  # as asked ("newest" for a browse asked for relevance)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "order": self.order, "hits": [asdict(h) for h in self.hits],
                "facets": self.facets}


@dataclass
class _Found:
    """What a backend found: the visible total, facet counts, and the shown window."""

    total: int
    facets: dict[str, dict[str, int]]
    order: str
    shown: list[tuple[str, float | None]]  # record id, score


def search_records(catalog: Catalog, query: str, *, clearance: int = 0,
                   filters: Filters | None = None, order: Order = "relevance", limit: int = 20,
                   offset: int = 0) -> Results:
    """Records matching ``query`` (see ``archive.index.query``) that a user of ``clearance``
    may see.

    A record matches when its pages together satisfy the query (``a AND b`` finds a record
    with ``a`` on one page and ``b`` on another), on both backends. Every match is ranked
    (BM25), however many. Raises ``archive.index.QueryError`` for a query that cannot be
    understood.

    BM25 weighs a word by how many records hold it; the weights are those of the records the
    searcher may see (``archive.index.fulltext``), so adding secret records never moves a
    public user's ranking. Scores are shown only to a searcher cleared for every level
    (scores are comparable only within one searcher's view).
    """
    return _results(catalog, parse(query), clearance, filters, order, (limit, offset))


def browse_records(catalog: Catalog, *, clearance: int = 0, filters: Filters | None = None,
                   order: Order = "newest", limit: int = 20, offset: int = 0) -> Results:
    """Every record a user of ``clearance`` may see, narrowed by ``filters``: the exact total,
    the facets, and a page of hits, newest first by default (``ORDERS``; relevance, having
    nothing to rank by, is newest first).

    The same code as ``search_records`` without the match, so the clearance filter, the
    filters and the facets are the search's own on both backends, and a record above the
    clearance is in no count. Each hit's page is 1, its snippet the page's opening words."""
    return _results(catalog, None, clearance, filters, order, (limit, offset))


def _results(catalog: Catalog, tree: Node | None, clearance: int, filters: Filters | None,
             order: str, paging: tuple[int, int]) -> Results:
    """A search (``tree``) or a browse (None): found by the backend, then shown."""
    limit, offset = paging
    if order not in ORDERS or (tree is None and order == "relevance"):
        order = "newest"
    engine = in_step(catalog)
    named = _named_as_stored(engine, clearance, filters or Filters())
    window = (max(0, offset), max(0, offset) + max(0, limit))
    found = _engine_found(engine, tree, clearance, named, order, window)
    rows = _shown_rows(catalog, [record_id for record_id, _ in found.shown], clearance)
    shown = [(rows[r], score) for r, score in found.shown if r in rows]
    shown_ids = [row.record_id for row, _ in shown]
    pages = best_pages(catalog, shown_ids, tree) if tree else dict.fromkeys(shown_ids, 1)
    texts = catalog.page_texts(list(pages.items()))
    scores = clearance >= FULL_CLEARANCE  # the catalog's statistics are all theirs to see
    hits = [Hit(row.record_id, row.title, row.unit, row.document_date, pages[row.record_id],
                _snippet(texts.get((row.record_id, pages[row.record_id]), ""), tree),
                None if score is None or not scores else round(score, 4))
            for row, score in shown]
    facets = {name: dict(sorted(((value or "unknown", n) for value, n in counts.items()),
                                key=lambda kv: (-kv[1], kv[0])))
              for name, counts in found.facets.items()}
    return Results(found.total, hits, facets, found.order)


def _snippet(page_text: str, tree: Node | None) -> str:
    """The hits marked in their context (a search), or the page's opening words (a browse)."""
    if tree is not None:
        return snippet(page_text, tree)
    words = unicodedata.normalize("NFC", page_text).split()
    more = " …" if len(words) > SNIPPET_WORDS else ""
    return html.escape(" ".join(words[:SNIPPET_WORDS])) + more


def _shown_rows(catalog: Catalog, record_ids: list[str], clearance: int) -> dict[str, Any]:
    """Title, unit and date of the shown records, the clearance checked once more in SQL."""
    if not record_ids:
        return {}
    with catalog.engine.connect() as db:
        return {row.record_id: row for row in db.execute(
            select(records.c.record_id, records.c.title, records.c.unit,
                   records.c.document_date)
            .where(records.c.record_id.in_(record_ids), records.c.level <= clearance))}


# ------------------------------------------------------------------- the full-text engine


def _engine_found(engine: FullText, tree: Node | None, clearance: int, named: _Named,
                  order: str, window: tuple[int, int]) -> _Found:
    """Matched, counted, faceted and ordered by the full-text indexes (in step with the
    catalog: ``archive.index.textsync``): every match ranked, on either backend."""
    filters = named.filters
    narrowing = Narrowing(
        values={name: tuple(values) for name, values in named.values.items()},
        classification=filters.classification,
        day_from=int(filters.date_from.strftime("%Y%m%d")) if filters.date_from else None,
        day_to=int(filters.date_to.strftime("%Y%m%d")) if filters.date_to else None,
        signed=filters.signed, needs_review=filters.needs_review)
    matched = engine.search(tree, clearance, narrowing, order, window)
    return _Found(matched.total, matched.facets,
                  "relevance" if order == "relevance" and tree is not None else order,
                  matched.shown)


FOLDED_FILTERS = ("unit", "series", "document_type")
"""Filters typed as people type them: ``vp`` finds unit ``VP``, ``ke hoach`` type ``KẾ
HOẠCH``. Each is matched against the stored values of the records the searcher may see, folded
(``fold``), and the search then asks for every stored value that folds the same."""


@dataclass(frozen=True)
class _Named:
    """Filters with each folded one resolved to the stored values it stands for."""

    filters: Filters
    values: dict[str, list[str]]  # unit / series / document_type -> stored values


def _named_as_stored(engine: FullText, clearance: int, filters: Filters) -> _Named:
    values: dict[str, list[str]] = {}
    for name in FOLDED_FILTERS:
        typed = getattr(filters, name)
        if typed:
            wanted = fold(typed).strip()
            values[name] = sorted(v for v in engine.values(name, clearance)
                                  if v and fold(v).strip() == wanted)
    return _Named(filters, values)


def best_pages(catalog: Catalog, record_ids: list[str], tree: Node) -> dict[str, int]:
    """For each record, the page with the most hits (the first such page): the page a
    snippet is cut from. Done for the shown hits only, from their folded words."""
    needles = [_needle(term) for term in positive_terms(tree)]
    best: dict[str, tuple[int, int]] = {}  # record -> (hits, -page)
    for record_id, page, words in catalog.page_terms(record_ids):
        spaced = "  " + words.replace(" ", "  ") + "  "
        score = (sum(spaced.count(needle) for needle in needles), -page)
        if record_id not in best or score > best[record_id]:
            best[record_id] = score
    return {record_id: -best[record_id][1] if record_id in best else 1
            for record_id in record_ids}


def _needle(term: Term) -> str:
    """What a hit of ``term`` looks like in a page's folded words with every space doubled:
    one space on each side of each word, so ``str.count`` finds repeated words one by one and
    a word only where it starts (a prefix) or starts and ends (a word)."""
    return " " + "  ".join(term.words) + ("" if term.prefix else " ")


def snippet(page_text: str, tree: Node, words: int = SNIPPET_WORDS) -> str:
    """Up to ``words`` words of the page around its densest run of hits, hits in <mark>.

    Matching is done on the folded text, which is aligned character for character with the
    original, so the marks land on the original words, diacritics and all.
    """
    original = unicodedata.normalize("NFC", page_text)
    spans = _hit_spans(fold(original), positive_terms(tree))
    tokens = list(re.finditer(r"\S+", original))
    if not tokens:
        return ""
    starts = [t.start() for t in tokens]
    hit_tokens = sorted({i for s, e in spans
                         for i in range(max(0, bisect.bisect_right(starts, s) - 1),
                                        bisect.bisect_left(starts, e))
                         if tokens[i].end() > s})
    start = _best_window(hit_tokens, len(tokens), words)
    chosen = tokens[start: start + words]
    near = [(s, e) for s, e in spans if s < chosen[-1].end() and e > chosen[0].start()]
    marked = set(hit_tokens)
    out = [_marked(original, token.start(), token.end(), near) if index in marked
           else html.escape(token.group())
           for index, token in enumerate(chosen, start)]
    prefix = "… " if start > 0 else ""
    suffix = " …" if start + words < len(tokens) else ""
    return prefix + " ".join(out) + suffix


def _hit_spans(folded: str, terms: list[Term]) -> list[tuple[int, int]]:
    spans = []
    for term in terms:
        words = [re.escape(w) for w in term.words]
        tail = r"\w*" if term.prefix else ""
        pattern = r"(?<!\w)" + r"[\W_]+".join(words) + tail + r"(?!\w)"
        spans += [m.span() for m in re.finditer(pattern, folded)]
    return sorted(spans)


def _best_window(hit_tokens: list[int], total: int, width: int) -> int:
    if not hit_tokens:
        return 0
    best, best_count = hit_tokens[0], 0
    for index, first in enumerate(hit_tokens):
        count = bisect.bisect_left(hit_tokens, first + width, index) - index
        if count > best_count:
            best, best_count = first, count
    return max(0, min(best - width // 4, total - width))


def _marked(original: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    pieces, cursor = [], start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        pieces += [html.escape(original[cursor:s]), "<mark>", html.escape(original[s:e]),
                   "</mark>"]
        cursor = e
    pieces.append(html.escape(original[cursor:end]))
    return "".join(pieces)


def clearance_of(name: str) -> int:
    """A clearance given by name ("internal") as the rank search compares with."""
    if name not in LEVELS:
        raise ValueError(f"unknown clearance {name!r}: one of {', '.join(LEVELS)}")
    return LEVELS.index(name)
