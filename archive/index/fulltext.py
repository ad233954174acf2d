"""The full-text engine: tantivy, one index per classification level.

Why tantivy: it ranks every match of a word found on a quarter of 100,000 records in a few
milliseconds, with exact counts and facet aggregations (``bench/search.py``), where SQLite's
FTS5 bm25 needs 300 ms and PostgreSQL's ts_rank seconds. It is embedded: an index is a folder
of files beside the catalog, read through memory maps.

Why one index per level: BM25 weighs a word by how many documents of its index hold it. A
searcher's ranking must not move when records above their clearance are added, or it would
tell them those records exist. Each record is indexed in the index of its own level. A
searcher reads the indexes at or below their clearance; each index's scores are re-weighted
from its own statistics to those of all the indexes the searcher reads (a boost per word:
its idf over what they may see, over its idf in that index), and the hits are merged. This is
Elasticsearch's query-then-fetch over shards, with its "dfs" step done by boosts. Document
lengths stay each index's own.

Nothing here knows the catalog: ``archive.index.catalog`` keeps these indexes in step with it
(:meth:`FullText.apply`) and asks them (:meth:`FullText.search`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from archive.index.query import And, Node, Not, Or, Term, positive_terms
from archive.store import LEVELS

FACETS = ("unit", "document_type", "classification", "year", "signed")
ORDER_FIELDS = {"newest": "newest", "oldest": "oldest", "title": "title_key"}
MAX_EXPANSIONS = 1024  # a prefix starting more words than this is matched, not scored
FORMAT = 2  # of the indexes' schema: indexes of another format are made anew
HEAP_BYTES = 64_000_000  # per writer: what tantivy buffers before it writes a segment
REBUILD_HEAP_BYTES = 256_000_000  # shared by a rebuilding writer's threads: fewer segments
_UNDATED_OLDEST = 99_999_999  # undated records come last in "oldest" order too


@dataclass(frozen=True)
class Indexed:
    """One record as the engine holds it: what is searched, filtered, counted and sorted."""

    record_id: str
    level: int
    unit: str
    series: str
    document_type: str
    classification: str
    day: int  # yyyymmdd; 0 when the date is unknown
    signed: bool
    needs_review: bool
    title_key: str  # see ``title_key``
    terms: str  # the folded words of all its pages, in page order


@dataclass(frozen=True)
class Narrowing:
    """Filters as stored values: each folded filter already resolved to the values it names."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # unit, series, type
    classification: str | None = None
    day_from: int | None = None
    day_to: int | None = None
    signed: bool | None = None
    needs_review: bool | None = None


@dataclass
class Matched:
    """What a search found: the total, each facet's counts and the window of hits in order
    (record id, score: None unless ranked by relevance)."""

    total: int
    facets: dict[str, dict[str, int]]
    shown: list[tuple[str, float | None]]


@functools.cache
def _schema() -> Any:
    """The one schema every index is made with (queries name its fields)."""
    return schema()


_KEYWORDS = ("unit", "series", "document_type", "classification", "year", "signed",
             "title_key", "newest", "oldest")
_NUMBERS = ("level", "day", "review")
FIELDS = ("terms", "record_id", *_KEYWORDS, *_NUMBERS, "tiebreak")  # an index's whole schema


def schema() -> Any:
    builder = tantivy.SchemaBuilder()
    # The words are folded by the catalog (archive.index.folding): split on spaces, nothing more.
    builder.add_text_field("terms", tokenizer_name="whitespace", index_option="position")
    builder.add_text_field("record_id", stored=True, tokenizer_name="raw")
    for name in _KEYWORDS:
        builder.add_text_field(name, tokenizer_name="raw", fast=True)
    for name in _NUMBERS:
        builder.add_integer_field(name, indexed=True, fast=True)
    # Orders equal scores the same way on every machine (see ``_ties_in_order``).
    builder.add_integer_field("tiebreak", fast=True)
    return builder.build()


def _document(record: Indexed) -> Any:
    return tantivy.Document(
        terms=record.terms, record_id=record.record_id, unit=record.unit, series=record.series,
        document_type=record.document_type, classification=record.classification,
        year=str(record.day // 10_000) if record.day else "",
        signed="signed" if record.signed else "unsigned", title_key=record.title_key,
        level=record.level, day=record.day, review=int(record.needs_review),
        tiebreak=tiebreak(record.record_id),
        # Sorted as bytes, ascending: the date (newest: its complement), then the record id.
        newest=f"{_UNDATED_OLDEST - record.day:08d}{record.record_id}",
        oldest=f"{record.day or _UNDATED_OLDEST:08d}{record.record_id}")


def title_key(words: str, title: str, record_id: str) -> str:
    """What title order compares: the title's folded ``words`` (``Đơn`` among the D's), then
    the title as written, then the id; untitled records last. Compared as UTF-8 bytes, the
    order of code points, the same on every machine whatever its collation."""
    return "\x1f".join(("0" + words if words else "1", title, record_id))


def tiebreak(record_id: str) -> int:
    """A record's place among records of equal score: a digest of its id (a number, which
    tantivy reads for thousands of hits at once where reading the ids would take longer)."""
    return int.from_bytes(hashlib.blake2b(record_id.encode(), digest_size=8).digest(), "big",
                          signed=True)


def _idf(documents: int, holding: int) -> float:
    """tantivy's (Lucene's) BM25 idf."""
    return math.log(1 + (documents - holding + 0.5) / (holding + 0.5))


@dataclass
class FullText:
    """The indexes of one catalog, in ``folder`` (one sub-folder per level, made on first use).

    Readers need no lock: a searcher sees the commit it was opened on. Writers are serialised
    by the caller (the catalog holds a lock file while it applies changes)."""

    folder: Path
    _indexes: dict[int, Any] = field(default_factory=dict, repr=False)
    _shown: tuple[str, int] = ("", -1)  # the state this process's searchers were opened on

    def show(self, state: tuple[str, int]) -> None:
        """Search what the indexes hold at ``state`` (reloaded when another process, or this
        one, committed since they were last opened)."""
        if state != self._shown:
            self.reload()
            self._shown = state

    def index(self, level: int) -> Any:
        if level not in self._indexes:
            path = self.folder / f"level-{level}"
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._indexes[level] = tantivy.Index(schema(), path=str(path))
        return self._indexes[level]

    def reload(self) -> None:
        """See what other processes committed since."""
        for index in self._indexes.values():
            index.reload()

    def apply(self, records: Iterable[Indexed], gone: Iterable[str]) -> None:
        """Take ``gone`` record ids out of every index, then put ``records`` (each replacing
        an earlier entry of it) in the index of its level. Indexes commit lowest level first:
        a record raised in level leaves the lower index before it enters the higher one, and
        one lowered enters the lower before it leaves the higher, so a crash in between never
        shows it below its level (a later apply of the same changes puts it right)."""
        by_level: dict[int, list[Indexed]] = {}
        for record in records:
            by_level.setdefault(record.level, []).append(record)
        removed = {*gone, *(r.record_id for group in by_level.values() for r in group)}
        for level in range(len(LEVELS)):
            # A writer (and a commit, a new segment) only where something changes: the
            # index a record enters, and those it is in now.
            held = self._held(level, removed)
            if not by_level.get(level) and not held:
                continue
            writer = self.index(level).writer(HEAP_BYTES, 1)
            for record_id in held:
                writer.delete_documents_by_term("record_id", record_id)
            for record in by_level.get(level, []):
                writer.add_document(_document(record))
            writer.commit()
            writer.wait_merging_threads()
        self.reload()

    def _held(self, level: int, record_ids: set[str]) -> list[str]:
        """Those of ``record_ids`` the index of ``level`` holds now (or held: counts keep
        deleted documents until a merge, and deleting twice is harmless)."""
        if not self._holds_any(level):
            return []
        self.index(level).reload()  # what it holds now, not when this process last searched
        searcher = self.index(level).searcher()
        return [r for r in record_ids if searcher.doc_freq("record_id", r)]

    def _current_format(self, level: int) -> bool:
        try:
            meta = json.loads((self.folder / f"level-{level}" / "meta.json").read_text())
        except (OSError, ValueError):
            return False
        return {f.get("name") for f in meta.get("schema", [])} == set(FIELDS)

    def _holds_any(self, level: int) -> bool:
        return (self.folder / f"level-{level}" / "meta.json").is_file()

    def rebuild(self, records: Iterable[Indexed]) -> None:
        """Every index emptied and filled with ``records`` (a rebuilt catalog: new rows)."""
        with self.rebuilding() as add:
            for record in records:
                add(record)

    @contextmanager
    def rebuilding(self) -> Iterator[Callable[[Indexed], None]]:
        """Every index emptied, then filled with the records given to the function yielded,
        committed when the block ends (nothing changes if it raises). Writers use every core
        (a rebuild is all the work there is); an applied change uses one."""
        writers: dict[int, Any] = {}

        def writer(level: int) -> Any:
            if level not in writers:
                writers[level] = self.index(level).writer(REBUILD_HEAP_BYTES)
                writers[level].delete_all_documents()
            return writers[level]

        for level in range(len(LEVELS)):
            if self._holds_any(level) and not self._current_format(level):
                # Written by an earlier version (tantivy refuses to open it with this schema).
                self._indexes.pop(level, None)
                shutil.rmtree(self.folder / f"level-{level}")
            if self._holds_any(level):
                writer(level)
        yield lambda record: writer(record.level).add_document(_document(record))
        for level in sorted(writers):
            writers[level].commit()
            writers[level].wait_merging_threads()
        self.reload()

    def values(self, name: str, clearance: int) -> set[str]:
        """Every value of the keyword field ``name`` (unit, series, ...) of the live records a
        searcher of ``clearance`` may see."""
        found: set[str] = set()
        for searcher in self._readable(clearance):
            found.update(value for value, count in searcher.terms_with_prefix(
                name, "", filter_query=tantivy.Query.all_query()) if count)
        return found

    def _readable(self, clearance: int) -> list[Any]:
        """A searcher on each non-empty index at or below ``clearance``."""
        readable = [self.index(level).searcher() for level in range(clearance + 1)
                    if self._holds_any(level)]
        return [s for s in readable if s.num_docs]

    def search(self, tree: Node | None, clearance: int, narrowing: Narrowing, order: str,
               window: tuple[int, int]) -> Matched:
        """The records matching ``tree`` (None: every record) that a searcher of
        ``clearance`` may see, narrowed; counted, faceted, and the ``window`` of them in
        ``order`` (relevance, or ``ORDER_FIELDS``)."""
        readable = self._readable(clearance)
        weights = _Weights.over(readable, tree)
        start, stop = window
        ranked = order == "relevance" and tree is not None
        if not ranked and order not in ORDER_FIELDS:
            order = "newest"  # nothing to rank by
        # Ranked: one hit more than shown, to see whether equal scores run past the window.
        wanted = stop + 1 if ranked else max(stop, 1)  # tantivy refuses a limit of 0
        total, facets, tops = 0, {name: {} for name in FACETS}, []
        for searcher in readable:
            query = self._query(tree, clearance, narrowing, weights.scaled(searcher))
            found = _top(searcher, query, order, wanted, count=True)
            if not found.count:
                continue
            total += found.count
            tops.append((searcher, query, found.hits))
            _add_facets(facets, searcher.aggregate(query, {
                name: {"terms": {"field": name, "size": 65_000}} for name in FACETS}))
        hits = _merged(tops, ranked)
        while ranked and _tie_runs_past(hits, stop) and _more_alike(tops, hits[stop - 1].key,
                                                                    wanted):
            wanted *= 8  # a common word can score thousands alike: few rounds
            tops = [(s, q, _top(s, q, order, wanted).hits) for s, q, _ in tops]
            hits = _merged(tops, ranked)
        if ranked:
            hits = _ties_in_order(hits, start, stop)
        shown = [(hit.record_id(), hit.key if ranked else None) for hit in hits[start:stop]]
        return Matched(total, facets, shown)

    def _query(self, tree: Node | None, clearance: int, narrowing: Narrowing,
               weight: _Scaled) -> Any:
        index_schema = _schema()
        clauses = [tantivy.Query.range_query(index_schema, "level", tantivy.FieldType.Integer,
                                             0, clearance)]
        if tree is not None:
            clauses.append(_compiled(index_schema, tree, weight))
        clauses += _narrowed(index_schema, narrowing)
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, c) for c in clauses])


@dataclass(frozen=True)
class _Scaled:
    """A word list's boost in one index: its idf over the indexes read, over its idf here;
    and each prefix's words (over the indexes read), scored as words are."""

    visible: dict[str, float]
    own: dict[str, float]
    expansions: dict[str, list[str]]

    def __call__(self, words: Sequence[str]) -> float:
        if any(w not in self.own for w in words):
            return 1.0  # an excluded word: it scores nothing
        mine = sum(self.own[w] for w in words)
        return sum(self.visible[w] for w in words) / mine if mine else 1.0


@dataclass(frozen=True)
class _Weights:
    documents: int
    holding: dict[str, int]
    expansions: dict[str, list[str]]

    @classmethod
    def over(cls, searchers: list[Any], tree: Node | None) -> _Weights:
        """The statistics of the live records the searcher may see. tantivy's own counts
        (``doc_freq``, a prefix's words) include records deleted from an index until its
        segments merge, such as one just raised out of it: they are never used here."""
        terms = positive_terms(tree) if tree else []
        holding: dict[str, int] = {}
        expansions: dict[str, list[str]] = {}
        for term in terms:
            if term.prefix and len(term.words) == 1:
                found: dict[str, int] = {}
                for searcher in searchers:
                    for word, count in searcher.terms_with_prefix(
                            "terms", term.words[0], filter_query=tantivy.Query.all_query()):
                        if count:
                            found[word] = found.get(word, 0) + count
                if len(found) <= MAX_EXPANSIONS:
                    expansions[term.words[0]] = sorted(found)
                    holding.update(found)
            else:
                holding.update((w, sum(_live(s, w) for s in searchers)) for w in term.words)
        return cls(sum(s.num_docs for s in searchers), holding, expansions)

    def scaled(self, searcher: Any) -> _Scaled:
        """Boosts for one index: tantivy scores with its own idf, counted over every document
        of the index, deleted ones included (measured: tantivy 0.27); the boost replaces it
        with the idf over what the searcher may see."""
        visible = {w: _idf(self.documents, n) for w, n in self.holding.items()}
        every = _every(searcher)
        own = {w: _idf(every, searcher.doc_freq("terms", w)) for w in self.holding}
        return _Scaled(visible, own, self.expansions)


@dataclass(frozen=True)
class _Hit:
    """One hit of one index: its score (or sort key), and where to read its record id."""

    key: Any
    searcher: Any
    address: Any

    def record_id(self) -> str:
        return str(self.searcher.doc(self.address).get_first("record_id"))


def _top(searcher: Any, query: Any, order: str, limit: int, count: bool = False) -> Any:
    """The first ``limit`` hits of one index by score (relevance) or by ``ORDER_FIELDS``."""
    if order not in ORDER_FIELDS:
        return searcher.search(query, limit, count=count)
    return searcher.search(query, limit, count=count, order=tantivy.Order.Asc,
                           order_by_field=ORDER_FIELDS[order])


def _merged(tops: list[tuple[Any, Any, list[Any]]], ranked: bool) -> list[_Hit]:
    """The hits of every index in one order: scores high to low, or sort keys ascending."""
    hits = [_Hit(key, searcher, address) for searcher, _, found in tops
            for key, address in found]
    hits.sort(key=lambda hit: -hit.key if ranked else hit.key)
    return hits


def _tie_runs_past(hits: list[_Hit], stop: int) -> bool:
    """Whether the last hit shown and the first not shown score the same (which of equal
    hits is shown must not depend on how an index happens to be laid out)."""
    return 0 < stop < len(hits) and hits[stop].key == hits[stop - 1].key


def _more_alike(tops: list[tuple[Any, Any, list[Any]]], score: float, fetched: int) -> bool:
    """Whether an index may hold more hits of ``score`` than the ``fetched`` it gave: it
    gave all it was asked for, the last of them still scoring as much."""
    return any(len(found) == fetched and found[-1][0] >= score for _, _, found in tops)


def _ties_in_order(hits: list[_Hit], start: int, stop: int) -> list[_Hit]:
    """Equal scores in ``tiebreak`` order, where it matters: within the window and in runs
    of equal scores crossing its edges. tantivy orders them by where each document happens
    to lie in its index, which differs between machines and backends; this way every one
    shows the same hits in the same order. The tiebreaks of a run are read at once from
    each index's fast field (thousands of a common word's equal scores in a millisecond)."""
    if start >= len(hits) or stop <= start:
        return hits
    low, high = hits[min(stop, len(hits)) - 1].key, hits[start].key
    first = next(i for i, hit in enumerate(hits) if hit.key <= high)
    last = max(i for i, hit in enumerate(hits) if hit.key >= low) + 1
    run = hits[first:last]
    by_index: dict[int, list[_Hit]] = {}
    for hit in run:
        by_index.setdefault(id(hit.searcher), []).append(hit)
    order: dict[int, int] = {}
    for group in by_index.values():
        values = group[0].searcher.fast_field_values("tiebreak", [h.address for h in group])
        order.update((id(h), v if v is not None else 0) for h, v in zip(group, values,
                                                                          strict=True))
    hits[first:last] = sorted(run, key=lambda hit: (-hit.key, order[id(hit)]))
    return hits


def _live(searcher: Any, word: str) -> int:
    """Live documents holding ``word`` (a count, which skips deleted documents)."""
    query = tantivy.Query.term_query(_schema(), "terms", word)
    return int(searcher.search(query, 1, count=True).count)


def _every(searcher: Any) -> int:
    """Every document of the index, deleted ones included, as tantivy's BM25 counts them:
    each holds ``signed`` or ``unsigned``, and term counts include deleted documents."""
    return int(searcher.doc_freq("signed", "signed") + searcher.doc_freq("signed", "unsigned"))


def _compiled(index_schema: Any, node: Node, weight: _Scaled) -> Any:
    """The query tree as a tantivy query; words and phrases boosted by ``weight``."""
    if isinstance(node, Term):
        words = list(node.words)
        if node.prefix and len(words) == 1:
            # Every word it starts matches (the regex); each scores as that word would.
            every = tantivy.Query.regex_query(index_schema, "terms", re.escape(words[0]) + ".*")
            scored = [(tantivy.Occur.Should, tantivy.Query.boost_query(
                tantivy.Query.term_query(index_schema, "terms", word), weight([word])))
                for word in weight.expansions.get(words[0], [])]
            return tantivy.Query.boolean_query([(tantivy.Occur.Must, tantivy.Query.boost_query(
                every, 0.0)), *scored]) if scored else every
        if node.prefix:
            return tantivy.Query.phrase_prefix_query(index_schema, "terms", words)
        query = (tantivy.Query.term_query(index_schema, "terms", words[0]) if len(words) == 1
                 else tantivy.Query.phrase_query(index_schema, "terms", words))
        return tantivy.Query.boost_query(query, weight(words))
    if isinstance(node, Or):
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, _compiled(index_schema, n, weight)) for n in node.nodes])
    if isinstance(node, And):
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.MustNot, _compiled(index_schema, n.node, weight))
             if isinstance(n, Not) else (tantivy.Occur.Must, _compiled(index_schema, n, weight))
             for n in node.nodes])
    raise ValueError(f"cannot search for {node!r} alone")


def _narrowed(index_schema: Any, narrowing: Narrowing) -> list[Any]:
    clauses = [tantivy.Query.term_set_query(index_schema, name, list(values)) if values
               else tantivy.Query.empty_query() for name, values in narrowing.values.items()]
    if narrowing.classification:
        clauses.append(tantivy.Query.term_query(index_schema, "classification",
                                                narrowing.classification))
    if narrowing.day_from or narrowing.day_to:
        clauses.append(tantivy.Query.range_query(
            index_schema, "day", tantivy.FieldType.Integer, narrowing.day_from or 1,
            narrowing.day_to or _UNDATED_OLDEST))
    if narrowing.signed is not None:
        clauses.append(tantivy.Query.term_query(
            index_schema, "signed", "signed" if narrowing.signed else "unsigned"))
    if narrowing.needs_review is not None:
        clauses.append(tantivy.Query.term_query(index_schema, "review",
                                                int(narrowing.needs_review)))
    return clauses


def _add_facets(facets: dict[str, dict[str, int]], aggregated: dict[str, Any]) -> None:
    for name in FACETS:
        counts = facets[name]
        for bucket in aggregated.get(name, {}).get("buckets", []):
            key = str(bucket["key"])
            counts[key] = counts.get(key, 0) + int(bucket["doc_count"])


def read_state(folder: Path) -> tuple[str, int]:
    """(catalog epoch, generation) the indexes in ``folder`` hold; ("", -1) when none."""
    try:
        state = json.loads((folder / "state.json").read_text())
        if state.get("format") != FORMAT:
            return "", -1  # indexes of another format: made anew
        return str(state["epoch"]), int(state["generation"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "", -1


def write_state(folder: Path, epoch: str, generation: int) -> None:
    """Note what the indexes hold, atomically (written aside, then renamed over)."""
    aside = folder / f".state.{os.getpid()}.json"
    aside.write_text(json.dumps({"epoch": epoch, "generation": generation,
                                 "format": FORMAT}))
    os.replace(aside, folder / "state.json")
