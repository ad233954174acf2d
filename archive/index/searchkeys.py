"""The catalog's search keys held in memory, one numpy array per column.

Matching, counting and ranking are the full-text indexes' (``archive.index.fulltext``); these
keys now serve SQLite processes the stored values of the unit, series and type columns, so a
filter typed without case or diacritics names the values it stands for (``search``), and a
record's id by its row.

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
