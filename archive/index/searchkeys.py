"""The catalog's search keys held in memory, one numpy array per column.

A word on a quarter of the archive matches tens of thousands of records. Counting them per
unit, type, classification, year and signature state in SQL means one B-tree lookup per
matching record (58 ms for 50,000 matches at 100,000 records, measured by bench/search.py);
with the keys in arrays indexed by the record's row in the full-text index, the same counts
are a few ``bincount`` calls over the match list, well under a millisecond. The clearance and
the filters become one boolean mask over all records, which the full-text query also uses to
score only what the searcher may see.

The arrays are a copy of ``record_keys`` and must never be stale: a record shown above the
searcher's clearance would be a leak. Every read first compares the catalog's change counters
(``catalog_state``, bumped in the same transaction as each change) and the highest row id with
the snapshot's. New records are appended (the common case while a batch is ingested); a removed
record, a rebuilt catalog or a lower highest id make the next read load everything again. Only
``archive.index.catalog.Catalog`` writes ``record_keys``: the keys are derived data like the rest.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

# Above every clearance: a row id with no record behind it is never visible.
NOWHERE = np.int8(127)
CODED = ("unit", "series", "document_type", "classification")
_COLUMNS = ("id", "level", "signed", "needs_review", "document_date", "record_id", *CODED)
# One aggregate row per load: json_group_array keeps NULLs and any character in a value, and
# all arrays of one aggregate list the rows in the same order.
_LOAD = ("SELECT " + ", ".join(f"json_group_array({c})" for c in _COLUMNS)
         + " FROM record_keys WHERE id > :after")
_STATE = ("SELECT epoch, generation, removals, (SELECT max(id) FROM record_keys) "
          "FROM catalog_state")


@dataclass(frozen=True)
class Keys:
    """One snapshot of every record's search keys; arrays are indexed by ``record_keys.id``.

    Immutable: a refresh builds a new snapshot, so a search running in another thread keeps
    a consistent one.
    """

    state: tuple[Any, ...] = ("", -1, -1, None)  # epoch, generation, removals, max id
    # UTF-8 bytes: a quarter of numpy's str, and they sort as SQLite compares record ids.
    record_id: np.ndarray = field(default_factory=lambda: np.array([b""]))
    level: np.ndarray = field(default_factory=lambda: np.array([NOWHERE], np.int8))
    date: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int32))  # yyyymmdd, 0: none
    signed: np.ndarray = field(default_factory=lambda: np.zeros(1, bool))
    needs_review: np.ndarray = field(default_factory=lambda: np.zeros(1, bool))
    codes: dict[str, np.ndarray] = field(
        default_factory=lambda: {name: np.full(1, -1, np.int32) for name in CODED})
    names: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {name: () for name in CODED})

    def record(self, row: int) -> str:
        """The record id at ``row``."""
        return bytes(self.record_id[row]).decode()

    @property
    def size(self) -> int:
        """One more than the highest row id held."""
        return len(self.level)

    def visible(self, clearance: int, wanted: dict[str, Any]) -> np.ndarray:
        """Boolean mask over row ids: records at or below ``clearance`` that have every
        ``wanted`` value (column name -> value, or a list of values any of which will do;
        ``date_from``/``date_to`` as yyyymmdd)."""
        mask = self.level <= clearance
        for name, value in wanted.items():
            if name in CODED:
                wanted_values = value if isinstance(value, list | tuple) else [value]
                codes = [self.names[name].index(v) for v in wanted_values
                         if v in self.names[name]]
                mask &= np.isin(self.codes[name], codes)
            elif name == "date_from":
                mask &= self.date >= value
            elif name == "date_to":
                mask &= (self.date > 0) & (self.date <= value)
            elif name in ("signed", "needs_review"):
                mask &= getattr(self, name) == bool(value)
            else:
                raise ValueError(f"no search key {name!r}")
        return mask

    def counts(self, ids: np.ndarray, name: str) -> dict[str, int]:
        """How many of the records ``ids`` have each value of ``name`` (a coded column)."""
        found = np.bincount(self.codes[name][ids], minlength=len(self.names[name]))
        return {self.names[name][code]: int(n) for code, n in enumerate(found) if n}

    def years(self, ids: np.ndarray) -> dict[str, int]:
        """Records per year of their date ("" for those without one)."""
        values, found = np.unique(self.date[ids] // 10000, return_counts=True)
        return {(str(int(v)) if v else ""): int(n) for v, n in zip(values, found, strict=True)}

    def newest(self, ids: np.ndarray, stop: int) -> np.ndarray:
        """The first ``stop`` of ``ids`` newest first (undated last), ties by record id."""
        return self._top(ids, self.date[ids].astype(np.int64), stop)

    def best(self, ids: np.ndarray, scores: np.ndarray, stop: int) -> np.ndarray:
        """The first ``stop`` of ``ids`` by score, highest first, ties by record id."""
        return self._top(ids, scores, stop)

    def _top(self, ids: np.ndarray, key: np.ndarray, stop: int) -> np.ndarray:
        # Only the head is sorted: the rows at or above the stop-th key, ties included,
        # which is a few dozen rows out of tens of thousands.
        if stop <= 0 or not len(ids):
            return ids[:0]
        if stop < len(ids):
            bound = np.partition(key, len(key) - stop)[len(key) - stop]
            head = key >= bound
            ids, key = ids[head], key[head]
        order = np.lexsort((self.record_id[ids], -key))
        return ids[order][:stop]


class KeyStore:
    """The latest :class:`Keys` of one catalog, refreshed on read; safe across threads."""

    def __init__(self) -> None:
        self._keys = Keys()
        self._lock = threading.Lock()

    def current(self, db: Connection) -> Keys:
        """The keys as the catalog holds them now (reads the change counters first)."""
        state = tuple(db.execute(text(_STATE)).one())
        with self._lock:
            keys = self._keys
            if state != keys.state:
                keys = self._keys = _refreshed(db, keys, state)
            return keys


def _refreshed(db: Connection, keys: Keys, state: tuple[Any, ...]) -> Keys:
    epoch, _generation, removals, top = state
    old_epoch, _, old_removals, old_top = keys.state
    grown = (epoch == old_epoch and removals == old_removals and old_top is not None
             and top is not None and top >= old_top)
    return _appended(keys, db, old_top, state) if grown else _appended(Keys(), db, 0, state)


def _appended(keys: Keys, db: Connection, after: int, state: tuple[Any, ...]) -> Keys:
    """``keys`` with the rows after id ``after`` added."""
    columns = dict(zip(_COLUMNS, (json.loads(value) for value in
                                  db.execute(text(_LOAD), {"after": after}).one()), strict=True))
    ids = np.array(columns["id"], np.int64)
    size = max(keys.size, int(ids.max()) + 1 if len(ids) else 0, (state[3] or 0) + 1)

    def grow(old: np.ndarray, values: Any, fill: Any) -> np.ndarray:
        values = np.asarray(values) if len(ids) else np.asarray([], old.dtype)
        # Strings widen to the longest value; numbers keep their column's type.
        kind = np.promote_types(old.dtype, values.dtype) if old.dtype.kind == "S" else old.dtype
        new = np.full(size, fill, kind)
        new[: len(old)] = old
        new[ids] = values
        return new

    dates = [_yyyymmdd(d) for d in columns["document_date"]]
    codes, names = {}, {}
    for name in CODED:
        index = {value: code for code, value in enumerate(keys.names[name])}
        new = [index.setdefault(value or "", len(index)) for value in columns[name]]
        codes[name] = grow(keys.codes[name], new, -1)
        names[name] = tuple(index)
    return Keys(
        state=state,
        record_id=grow(keys.record_id, [r.encode() for r in columns["record_id"]], b""),
        level=grow(keys.level, columns["level"], NOWHERE),
        date=grow(keys.date, dates, 0),
        signed=grow(keys.signed, [bool(v) for v in columns["signed"]], False),
        needs_review=grow(keys.needs_review, [bool(v) for v in columns["needs_review"]], False),
        codes=codes, names=names)


def _yyyymmdd(day: str | None) -> int:
    """An ISO date as the number 20240916; 0 for none (or one the catalog should not hold)."""
    digits = (day or "").replace("-", "")
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0
