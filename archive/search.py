"""Full-text and metadata search over the catalog, never above the searcher's clearance.

One hit per record: the record matches as a whole, and its page with the most hits gives a
snippet of its *original* words (the diacritics as on the page) with the hits marked. Filters
narrow the set, facets count it, results come by relevance or newest first, a page at a time.
The clearance filter is applied in the same SQL statement as the match, so no count, facet or
snippet ever reflects a record the searcher may not see.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import text

from archive.catalog import LEVELS, Catalog
from archive.fold import fold
from archive.query import (
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

SNIPPET_WORDS = 24
FACETS = ("unit", "document_type", "classification", "year", "signed")
_FACET_SQL = {"unit": "unit", "document_type": "document_type",
              "classification": "classification", "year": "substr(document_date, 1, 4)",
              "signed": "CASE WHEN signed THEN 'signed' ELSE 'unsigned' END"}
_ORDER = {"relevance": "score DESC, record_id",
          "newest": "document_date IS NULL, document_date DESC, score DESC, record_id"}


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
    score: float


@dataclass
class Results:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "hits": [asdict(h) for h in self.hits],
                "facets": self.facets}


def search(catalog: Catalog, query: str, *, clearance: int = 0, filters: Filters | None = None,
           order: Literal["relevance", "newest"] = "relevance", limit: int = 20,
           offset: int = 0) -> Results:
    """Records matching ``query`` (see ``archive.query``) that a user of ``clearance`` may see.

    A record matches when its pages together satisfy the query (``a AND b`` finds a record
    with ``a`` on one page and ``b`` on another), on both backends. Raises
    ``archive.query.QueryError`` for a query that cannot be understood.
    """
    tree = parse(query)
    statement, params = _statement(catalog, tree, clearance, filters or Filters(), order)
    params.update(limit=max(0, limit), offset=max(0, offset))
    with catalog.engine.connect() as db:
        rows = db.execute(text(statement), params).all()
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    shown = []
    for row in rows:
        if row.facet == "hit":
            shown.append(row)
        else:
            counts = facets[row.facet]
            counts[row.value or "unknown"] = counts.get(row.value or "unknown", 0) + row.n
    shown.sort(key=lambda r: r.position)
    pages = best_pages(catalog, [r.value for r in shown], tree)
    texts = catalog.page_texts(list(pages.items()))
    hits = [Hit(r.value, r.title, r.unit, r.document_date, pages[r.value],
                snippet(texts.get((r.value, pages[r.value]), ""), tree), round(r.score, 4))
            for r in shown]
    ordered = {name: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
               for name, counts in facets.items()}
    return Results(sum(facets["signed"].values()), hits, ordered)


def _statement(catalog: Catalog, tree: Node, clearance: int, filters: Filters,
               order: str) -> tuple[str, dict[str, Any]]:
    """One statement: the matching records the user may see (``hit``), the shown window of
    them in order, and every facet's counts, so the match is computed once, in the database."""
    where, params = _filters(filters, clearance)
    matched, match_params = _matched(catalog, tree, where)
    params.update(match_params)
    facets = "".join(
        f"\n            UNION ALL SELECT '{name}', {expression}, NULL, NULL, NULL, NULL, "
        f"count(*), NULL FROM hit GROUP BY {expression}"
        for name, expression in _FACET_SQL.items())
    statement = f"""
        WITH hit AS MATERIALIZED ({matched}),
        shown AS (SELECT record_id, score, row_number() OVER (ORDER BY {_ORDER[order]}) AS position
                  FROM hit ORDER BY {_ORDER[order]} LIMIT :limit OFFSET :offset)
        SELECT 'hit' AS facet, s.record_id AS value, r.title, r.unit, r.document_date,
               s.score, NULL AS n, s.position
        FROM shown s JOIN records r ON r.record_id = s.record_id{facets}"""
    return statement, params


_KEYS = ("k.record_id, k.unit, k.document_type, k.classification, k.document_date, k.signed")


def _matched(catalog: Catalog, tree: Node, where: str) -> tuple[str, dict[str, Any]]:
    """SELECT of the matching records (key columns and a score, higher is better)."""
    if catalog.dialect == "sqlite":
        # CROSS JOIN keeps the full-text index as the outer loop: it is the selective part.
        return (f"SELECT {_KEYS}, -bm25(records_fts) AS score FROM records_fts "
                f"CROSS JOIN record_keys k ON k.id = records_fts.rowid "
                f"WHERE records_fts MATCH :match AND {where}"), {"match": to_fts5(tree)}
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
    terms = positive_terms(tree)
    best: dict[str, tuple[int, int]] = {}  # record -> (hits, -page)
    for record_id, page, words in catalog.page_terms(record_ids):
        score = (len(_hit_spans(words, terms)), -page)
        if record_id not in best or score > best[record_id]:
            best[record_id] = score
    return {record_id: -best[record_id][1] if record_id in best else 1
            for record_id in record_ids}


def _filters(filters: Filters, clearance: int) -> tuple[str, dict[str, Any]]:
    clauses = ["k.level <= :clearance"]
    params: dict[str, Any] = {"clearance": clearance}
    for name in ("unit", "series", "document_type", "classification"):
        value = getattr(filters, name)
        if value:
            clauses.append(f"k.{name} = :{name}")
            params[name] = value
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
    hit_tokens = [i for i, t in enumerate(tokens)
                  if any(s < t.end() and e > t.start() for s, e in spans)]
    start = _best_window(hit_tokens, len(tokens), words)
    chosen = tokens[start: start + words]
    out = []
    for token in chosen:
        out.append(_marked(original, token.start(), token.end(), spans))
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
    for first in hit_tokens:
        count = sum(1 for h in hit_tokens if first <= h < first + width)
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
