"""Full-text and metadata search over the catalog, never above the searcher's clearance.

One hit per record: the page that matches best, with a snippet of its *original* words (the
diacritics as on the page) and the hits marked. Filters narrow the set, facets count it,
results come by relevance or newest first, a page at a time. The clearance filter is applied
in the same SQL statement as the match, so no count, facet or snippet ever reflects a record
the searcher may not see.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import select, text

from archive.catalog import LEVELS, Catalog, records
from archive.fold import fold
from archive.query import Node, Term, parse, positive_terms, to_fts5, to_tsquery

SNIPPET_WORDS = 24
# Only what ordering and facets need travels back for every match.
_COLUMNS = ("r.record_id, r.unit, r.document_type, r.classification, r.document_date, "
            "r.signed")
FACETS = ("unit", "document_type", "classification", "year", "signed")


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

    Raises ``archive.query.QueryError`` for a query that cannot be understood.
    """
    tree = parse(query)
    rows = _matching(catalog, tree, clearance, filters or Filters())
    if order == "newest":
        rows.sort(key=lambda r: (r["document_date"] or "", r["score"]), reverse=True)
    else:
        rows.sort(key=lambda r: r["score"], reverse=True)
    window = rows[offset: offset + max(0, limit)]
    titles = _titles(catalog, [r["record_id"] for r in window])
    hits = [Hit(r["record_id"], titles.get(r["record_id"], ""), r["unit"], r["document_date"],
                r["page"], snippet(catalog.page_text(r["record_id"], r["page"]), tree),
                round(r["score"], 4)) for r in window]
    return Results(len(rows), hits, _facets(rows))


def _matching(catalog: Catalog, tree: Node, clearance: int,
              filters: Filters) -> list[dict[str, Any]]:
    where, params = _filters(filters, clearance)
    if catalog.dialect == "sqlite":
        sql = f"""
            WITH matched AS MATERIALIZED (
                SELECT rowid AS id, bm25(pages_fts) AS rank FROM pages_fts
                WHERE pages_fts MATCH :match),
            best AS (
                -- SQLite takes the bare column (page) from the row holding the min()
                SELECT p.record_id AS record_id, p.page AS page, min(m.rank) AS rank
                FROM matched m JOIN pages p ON p.id = m.id GROUP BY p.record_id)
            SELECT {_COLUMNS}, best.page AS page, -best.rank AS score
            FROM best JOIN records r ON r.record_id = best.record_id WHERE {where}"""
        params["match"] = to_fts5(tree)
    else:
        sql = f"""
            WITH best AS (
                SELECT DISTINCT ON (p.record_id) p.record_id, p.page,
                       ts_rank(p.tsv, q.query) AS rank
                FROM pages p, to_tsquery('simple', :match) AS q(query)
                WHERE p.tsv @@ q.query ORDER BY p.record_id, rank DESC)
            SELECT {_COLUMNS}, best.page AS page, best.rank AS score
            FROM best JOIN records r ON r.record_id = best.record_id WHERE {where}"""
        params["match"] = to_tsquery(tree)
    with catalog.engine.connect() as db:
        return [dict(row._mapping) for row in db.execute(text(sql), params)]


def _titles(catalog: Catalog, record_ids: list[str]) -> dict[str, str]:
    """Titles of the page of hits only: every match is counted, only these are shown."""
    if not record_ids:
        return {}
    with catalog.engine.connect() as db:
        rows = db.execute(select(records.c.record_id, records.c.title)
                          .where(records.c.record_id.in_(record_ids)))
        return {record_id: title for record_id, title in rows}


def _filters(filters: Filters, clearance: int) -> tuple[str, dict[str, Any]]:
    clauses = ["r.level <= :clearance"]
    params: dict[str, Any] = {"clearance": clearance}
    for name in ("unit", "series", "document_type", "classification"):
        value = getattr(filters, name)
        if value:
            clauses.append(f"r.{name} = :{name}")
            params[name] = value
    if filters.date_from:
        clauses.append("r.document_date >= :date_from")
        params["date_from"] = filters.date_from.isoformat()
    if filters.date_to:
        clauses.append("r.document_date <= :date_to")
        params["date_to"] = filters.date_to.isoformat()
    for name in ("signed", "needs_review"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append(f"r.{name} = :{name}")
            params[name] = value
    return " AND ".join(clauses), params


def _facets(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    def value(row: dict[str, Any], name: str) -> str:
        if name == "year":
            return (row["document_date"] or "")[:4] or "unknown"
        if name == "signed":
            return "signed" if row["signed"] else "unsigned"
        return row[name] or "unknown"

    return {name: dict(Counter(value(r, name) for r in rows).most_common())
            for name in FACETS}


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
