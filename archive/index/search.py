"""Full-text and metadata search over the catalog, never above the searcher's clearance.

One hit per record: the record matches as a whole, and its page with the most hits gives a
snippet of its *original* words (the diacritics as on the page) with the hits marked. Filters
narrow the set, facets count it, results come by relevance, newest or oldest first or by title,
a page at a time. The clearance filter is applied in the same SQL statement as the match, so no
count, facet or snippet ever reflects a record the searcher may not see.

Browsing (``browse_records``) is a search without words: every record the user may see (the
filters still apply), counted and faceted the same way, through the same code and the same
clearance filter, with the opening words of each record's first page for a snippet.
"""

from __future__ import annotations

import bisect
import heapq
import html
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
from sqlalchemy import select, text

from archive.index.catalog import Catalog, records, terms_of
from archive.index.folding import fold
from archive.index.query import (
    And,
    Node,
    Not,
    Or,
    Term,
    parse,
    positive_terms,
    to_fts5,
    to_pg_having,
    to_tsquery,
)
from archive.index.ranking import visible_scores
from archive.index.searchkeys import Keys
from archive.store import FULL_CLEARANCE, LEVELS

SNIPPET_WORDS = 24
RANK_LIMIT = 5000
"""Relevance ranks at most this many matching records; a query matching more (a word on a
quarter of the archive) comes newest first instead, and says so. Scoring costs about 2.5 us a
record in FTS5 (bm25), so 50,000 matches would take 130 ms alone; the count, the facets and
the newest-first order of any number of matches take a few milliseconds (bench/search.py).
0: always rank, however many match."""
FACETS = ("unit", "document_type", "classification", "year", "signed")
_FACET_SQL = {"unit": "unit", "document_type": "document_type",
              "classification": "classification", "year": "substr(document_date, 1, 4)",
              "signed": "CASE WHEN signed THEN 'signed' ELSE 'unsigned' END"}
_NEWEST = "document_date IS NULL, document_date DESC, record_id"
_OLDEST = "document_date IS NULL, document_date ASC, record_id"
ORDERS = ("relevance", "newest", "oldest", "title")
"""How results may come: by relevance (a search only: browsing has nothing to rank by), by the
document's date, newest or oldest first (undated records last either way, ties by record id),
or by title A-Z, compared folded and without punctuation (``Đơn`` among the D's, not after
Z), so that both backends sort alike whatever their collation."""
Order = Literal["relevance", "newest", "oldest", "title"]
_UNDATED_LAST = -(10 ** 9)  # below every -yyyymmdd: undated records come last, oldest first


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
    score: float | None  # relevance, higher is better; None when not ranked (newest first)


@dataclass
class Results:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    order: str = "relevance"  # as asked, or "newest" when too many matched to rank
    rank_limit: int = RANK_LIMIT
    unranked: bool = False  # relevance was asked for, but more matched than are ranked

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
                   offset: int = 0, rank_limit: int = RANK_LIMIT) -> Results:
    """Records matching ``query`` (see ``archive.index.query``) that a user of ``clearance``
    may see.

    A record matches when its pages together satisfy the query (``a AND b`` finds a record
    with ``a`` on one page and ``b`` on another), on both backends. Relevance order ranks up
    to ``rank_limit`` matching records (0: any number); past it, the results come newest
    first and ``Results.order`` says so. Raises ``archive.index.QueryError`` for a query
    that cannot be understood.

    FTS5's bm25 weighs a word by how many records of the whole catalog hold it, so a public
    user's ranking would change as secret records holding a word are added. A searcher not
    cleared for every level is ranked over the statistics of what they may see
    (``archive.index.ranking``), and shown no score (scores are comparable only within one
    searcher's view). PostgreSQL's ts_rank reads each page alone and needs neither.
    """
    return _results(catalog, parse(query), clearance, filters, order, (limit, offset),
                    rank_limit)


def browse_records(catalog: Catalog, *, clearance: int = 0, filters: Filters | None = None,
                   order: Order = "newest", limit: int = 20, offset: int = 0) -> Results:
    """Every record a user of ``clearance`` may see, narrowed by ``filters``: the exact total,
    the facets, and a page of hits, newest first by default (``ORDERS``; relevance, having
    nothing to rank by, is newest first).

    The same code as ``search_records`` without the match, so the clearance filter, the
    filters and the facets are the search's own on both backends, and a record above the
    clearance is in no count. Each hit's page is 1, its snippet the page's opening words."""
    return _results(catalog, None, clearance, filters, order, (limit, offset), RANK_LIMIT)


def _results(catalog: Catalog, tree: Node | None, clearance: int, filters: Filters | None,
             order: str, paging: tuple[int, int], rank_limit: int) -> Results:
    """A search (``tree``) or a browse (None): found by the backend, then shown."""
    limit, offset = paging
    if order not in ORDERS or (tree is None and order == "relevance"):
        order = "newest"
    named = _named_as_stored(catalog, filters or Filters())
    window = (max(0, offset), max(0, offset) + max(0, limit))
    finder = _sqlite_found if catalog.dialect == "sqlite" else _sql_found
    found = finder(catalog, tree, clearance, named, order, window, rank_limit)
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
    return Results(found.total, hits, facets, found.order, rank_limit,
                   unranked=order == "relevance" and found.order == "newest")


def _snippet(page_text: str, tree: Node | None) -> str:
    """The hits marked in their context (a search), or the page's opening words (a browse)."""
    if tree is not None:
        return snippet(page_text, tree)
    words = unicodedata.normalize("NFC", page_text).split()
    more = " …" if len(words) > SNIPPET_WORDS else ""
    return html.escape(" ".join(words[:SNIPPET_WORDS])) + more


def _by_title(catalog: Catalog, found_sql: str, params: dict[str, Any],
              window: tuple[int, int]) -> list[str]:
    """The ids of the records ``found_sql`` selects (a ``record_id`` column), the window of
    them in title order (``ORDERS``). Sorted here, not in SQL: the folding is the index's own,
    and each database's collation would order accents differently."""
    with catalog.engine.connect() as db:
        rows = db.execute(text(
            f"SELECT f.record_id, r.title FROM ({found_sql}) f "
            "JOIN records r ON r.record_id = f.record_id"), params).all()
    start, stop = window
    first = heapq.nsmallest(stop, rows, key=lambda row: _title_key(row.title, row.record_id))
    return [row.record_id for row in first[start:]]


def _title_key(title: str | None, record_id: str) -> tuple[bool, str, str, str]:
    """Untitled records last; then the folded words, then the title as written, then the id."""
    words = terms_of(title or "")
    return (not words, words, title or "", record_id)


def _shown_rows(catalog: Catalog, record_ids: list[str], clearance: int) -> dict[str, Any]:
    """Title, unit and date of the shown records, the clearance checked once more in SQL."""
    if not record_ids:
        return {}
    with catalog.engine.connect() as db:
        return {row.record_id: row for row in db.execute(
            select(records.c.record_id, records.c.title, records.c.unit,
                   records.c.document_date)
            .where(records.c.record_id.in_(record_ids), records.c.level <= clearance))}


# ------------------------------------------------------------------------ SQLite: FTS5 + keys


def _sqlite_found(catalog: Catalog, tree: Node | None, clearance: int, filters: _Named,
                  order: str, window: tuple[int, int], rank_limit: int) -> _Found:
    """Match in FTS5, count and order in memory (``archive.index.searchkeys``): the clearance
    and the filters are one mask over every record, given to FTS5 as a blob so that only the
    records the searcher may see are listed and scored, and scored by what they may see
    (see ``search_records``). Without a query (a browse) the mask itself is the list."""
    if tree is None:
        with catalog.engine.connect() as db:
            keys = catalog.keys.current(db)
            ids = np.flatnonzero(keys.visible(clearance, _wanted(filters))).astype(np.int64)
        return _keys_found(catalog, keys, ids, None, clearance, order, window)
    match = to_fts5(tree)
    with catalog.engine.connect() as db:
        keys = catalog.keys.current(db)
        mask = keys.visible(clearance, _wanted(filters)).view(np.uint8).tobytes()

        def scored() -> tuple[np.ndarray, np.ndarray]:
            rows = db.execute(text(
                "SELECT rowid, -bm25(records_fts) FROM records_fts WHERE records_fts MATCH :m "
                "AND substr(:mask, rowid + 1, 1) = x'01'"), {"m": match, "mask": mask}).all()
            return (np.array([r[0] for r in rows], np.int64),
                    np.array([r[1] for r in rows], np.float64))

        rank = order == "relevance"
        # bm25's statistics are the whole index's: only a searcher cleared for everything may
        # be ranked by them; anyone else by the statistics of what they may see (ranking).
        private = clearance < FULL_CLEARANCE
        if rank and not private and (not rank_limit or db.execute(text(
                "SELECT count(*) FROM records_fts WHERE records_fts MATCH :m"),
                {"m": match}).scalar_one() <= rank_limit):
            ids, scores = scored()  # few enough match at all: scored as they are found
        else:
            listed = db.execute(text(
                "SELECT group_concat(rowid) FROM records_fts WHERE records_fts MATCH :m "
                "AND substr(:mask, rowid + 1, 1) = x'01'"), {"m": match, "mask": mask}
            ).scalar_one()
            ids = np.fromstring(listed or "", dtype=np.int64, sep=",")
            rank = rank and (not rank_limit or len(ids) <= rank_limit)
            if rank and private:
                phrases = [to_fts5(term) for term in positive_terms(tree)]
                scores = visible_scores(db, phrases, ids, keys.visible(clearance, {}))
            elif rank:
                ids, scores = scored()
    # A record added since the keys were read is outside the mask: found by the next search.
    return _keys_found(catalog, keys, ids, scores if rank else None, clearance,
                       "relevance" if rank else ("newest" if order == "relevance" else order),
                       window)


def _keys_found(catalog: Catalog, keys: Keys, ids: np.ndarray, scores: np.ndarray | None,
                clearance: int, order: str, window: tuple[int, int]) -> _Found:
    """The records ``ids`` (rows of the keys) counted, faceted and put in ``order`` (by
    ``scores`` when given), the window of them listed."""
    start, stop = window
    if scores is not None:
        shown = keys.best(ids, scores, stop)[start:]
        by_id = dict(zip(ids.tolist(), scores.tolist(), strict=True))
        listing = [(keys.record(i), by_id[i]) for i in shown.tolist()]
    elif order == "title":
        chosen = np.zeros(keys.size, np.uint8)
        chosen[ids] = 1
        listing = [(r, None) for r in _by_title(
            catalog, "SELECT k.record_id FROM record_keys k WHERE k.level <= :clearance "
                     "AND substr(:mask, k.id + 1, 1) = x'01'",
            {"clearance": clearance, "mask": chosen.tobytes()}, window)]
    elif order == "oldest":
        dates = keys.date[ids].astype(np.int64)
        first = keys.best(ids, np.where(dates > 0, -dates, _UNDATED_LAST), stop)
        listing = [(keys.record(i), None) for i in first[start:].tolist()]
    else:
        listing = [(keys.record(i), None) for i in keys.newest(ids, stop)[start:].tolist()]
    facets = {"unit": keys.counts(ids, "unit"),
              "document_type": keys.counts(ids, "document_type"),
              "classification": keys.counts(ids, "classification"),
              "year": keys.years(ids),
              "signed": _signed_counts(keys.signed[ids])}
    return _Found(len(ids), facets, "relevance" if scores is not None else order, listing)


def _signed_counts(signed: np.ndarray) -> dict[str, int]:
    yes = int(signed.sum())
    return {name: n for name, n in (("signed", yes), ("unsigned", len(signed) - yes)) if n}


FOLDED_FILTERS = ("unit", "series", "document_type")
"""Filters typed as people type them: ``vp`` finds unit ``VP``, ``ke hoach`` type ``KẾ
HOẠCH``. Each is matched against the catalog's own values, folded (``fold``), and the
search then asks for every stored value that folds the same."""


@dataclass(frozen=True)
class _Named:
    """Filters with each folded one resolved to the stored values it stands for."""

    filters: Filters
    values: dict[str, list[str]]  # unit / series / document_type -> stored values


def _named_as_stored(catalog: Catalog, filters: Filters) -> _Named:
    values: dict[str, list[str]] = {}
    for name in FOLDED_FILTERS:
        typed = getattr(filters, name)
        if typed:
            wanted = fold(typed).strip()
            values[name] = [v for v in _stored_values(catalog, name)
                            if v and fold(v).strip() == wanted]
    return _Named(filters, values)


def _stored_values(catalog: Catalog, name: str) -> list[str]:
    """Every value of a key column: from the keys in memory (SQLite), or the database."""
    if catalog.dialect == "sqlite":
        with catalog.engine.connect() as db:
            return list(catalog.keys.current(db).names[name])
    with catalog.engine.connect() as db:
        return list(db.execute(text(f"SELECT DISTINCT {name} FROM record_keys")).scalars())


def _wanted(named: _Named) -> dict[str, Any]:
    filters = named.filters
    wanted: dict[str, Any] = dict(named.values)
    if filters.classification:
        wanted["classification"] = filters.classification
    if filters.date_from:
        wanted["date_from"] = int(filters.date_from.strftime("%Y%m%d"))
    if filters.date_to:
        wanted["date_to"] = int(filters.date_to.strftime("%Y%m%d"))
    for name in ("signed", "needs_review"):
        if getattr(filters, name) is not None:
            wanted[name] = getattr(filters, name)
    return wanted


# ------------------------------------------------------------------ PostgreSQL: one statement


def _sql_found(catalog: Catalog, tree: Node | None, clearance: int, filters: _Named,
               order: str, window: tuple[int, int], rank_limit: int) -> _Found:
    """One statement: the matching records the user may see (``hit``), the shown window of
    them in order, and every facet's counts, so the match is computed once, in the database.
    Without a query (a browse), every record the user may see is a hit. In title order the
    window is picked afterwards (``_by_title``), the match made again: a rare order."""
    where, params = _filters(filters, clearance)
    matched, match_params = _matched(tree, where) if tree is not None else (
        f"SELECT {_KEYS}, CAST(NULL AS double precision) AS score FROM record_keys k "
        f"WHERE {where}", {})
    params.update(match_params, start=window[0],
                  size=0 if order == "title" else window[1] - window[0],
                  rank=order == "relevance", rank_limit=rank_limit)
    facets = "".join(
        f"\n            UNION ALL SELECT '{name}', {expression}, NULL, count(*), NULL "
        f"FROM hit GROUP BY {expression}"
        for name, expression in _FACET_SQL.items())
    # Ranked when relevance is asked for and few enough match (the same rule as SQLite's).
    ranked = ("(:rank AND (:rank_limit = 0 OR (SELECT count(*) FROM hit) <= :rank_limit))")
    by_date = _OLDEST if order == "oldest" else _NEWEST  # also breaks ties of equal scores
    statement = f"""
        WITH hit AS MATERIALIZED ({matched}),
        shown AS (SELECT record_id, CASE WHEN {ranked} THEN score END AS score,
                         {ranked} AS ranked,
                         row_number() OVER (ORDER BY CASE WHEN {ranked} THEN score END DESC,
                                            {by_date}) AS position
                  FROM hit ORDER BY position LIMIT :size OFFSET :start)
        SELECT 'hit' AS facet, record_id AS value, score, position AS n, ranked FROM shown
        {facets}"""
    with catalog.engine.connect() as db:
        rows = db.execute(text(statement), params).all()
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    shown = sorted((r for r in rows if r.facet == "hit"), key=lambda r: r.n)
    for row in rows:
        if row.facet != "hit":
            counts[row.facet][row.value or ""] = counts[row.facet].get(row.value or "", 0) + row.n
    total = sum(counts["signed"].values())
    ranked_now = order == "relevance" and (not rank_limit or total <= rank_limit)
    listing = [(r.value, r.score if ranked_now else None) for r in shown]
    if order == "title":
        listing = [(r, None) for r in _by_title(catalog, matched, params, window)]
    return _Found(total, counts, "relevance" if ranked_now else (
        "newest" if order == "relevance" else order), listing)


_KEYS = ("k.record_id, k.unit, k.document_type, k.classification, k.document_date, k.signed")


def _matched(tree: Node, where: str) -> tuple[str, dict[str, Any]]:
    """SELECT of the matching records (key columns and a score, higher is better)."""
    having, params = to_pg_having(tree)
    params["any"] = " | ".join(to_tsquery(t) for t in positive_terms(tree))
    # Pages that hold a wanted word are the candidates; an excluded word must be looked for
    # on every page of a candidate record, not only on the candidate pages.
    candidates = ("p.record_id IN (SELECT record_id FROM pages "
                  "WHERE tsv @@ to_tsquery('simple', :any))" if _has_not(tree)
                  else "p.tsv @@ q.query")
    return (f"SELECT {_KEYS}, max(ts_rank(p.tsv, q.query)) AS score FROM pages p "
            f"JOIN record_keys k ON k.record_id = p.record_id "
            f"CROSS JOIN to_tsquery('simple', :any) AS q(query) "
            f"WHERE {candidates} AND {where} GROUP BY k.id HAVING {having}"), params


def _has_not(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    return isinstance(node, And | Or) and any(_has_not(n) for n in node.nodes)


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


def _filters(named: _Named, clearance: int) -> tuple[str, dict[str, Any]]:
    filters = named.filters
    clauses = ["k.level <= :clearance"]
    params: dict[str, Any] = {"clearance": clearance}
    for name, values in named.values.items():  # placeholders of their own: either dialect
        slots = {f"{name}_{n}": value for n, value in enumerate(values)}
        clauses.append(f"k.{name} IN ({', '.join(':' + s for s in slots)})" if slots
                       else "1 = 0")
        params.update(slots)
    if filters.classification:
        clauses.append("k.classification = :classification")
        params["classification"] = filters.classification
    if filters.date_from:
        clauses.append("k.document_date >= :date_from")
        params["date_from"] = filters.date_from.isoformat()
    if filters.date_to:
        clauses.append("k.document_date <= :date_to")
        params["date_to"] = filters.date_to.isoformat()
    for name in ("signed", "needs_review"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append(f"k.{name} = :{name}")
            params[name] = value
    return " AND ".join(clauses), params


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
