"""Relevance from what the searcher may see: BM25 over visible statistics (SQLite).

FTS5's ``bm25()`` weighs each phrase of a query by how many rows of the *whole* index hold it,
and normalises lengths by the whole index's average. For a searcher not cleared for every
level, that would let records they may not see reorder the ones they do: a secret record
holding one word lowers that word's weight in a public user's ranking. So for them records
ranks with FTS5's own formula (k1 = 1.2, b = 0.75, an IDF floored at 1e-6) over statistics of
what they may see only:

- ``N``: the records at or below their clearance;
- ``n(p)``: those of them holding the phrase ``p``;
- ``avgdl``: the mean length of the records being ranked (the visible matches).

The ingredient FTS5 does not hand to Python is each phrase's frequency in each record. It is
recovered exactly from FTS5's own one-phrase ``bm25()``, a known function of that frequency
given the index's totals (read from the index's averages record), and then is a count again:
so words, phrases and prefixes rank exactly as they match. A test holds the recovery to FTS5's
own scores.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, text

K1, B = 1.2, 0.75
IDF_FLOOR = 1e-6  # FTS5's: a phrase in more than half the rows still counts a little


@dataclass(frozen=True)
class Stats:
    """What BM25 weighs a phrase by: the rows counted, how many hold each phrase, their
    average length."""

    rows: int
    holding: dict[str, int]  # phrase -> rows holding it
    avgdl: float

    def idf(self, phrase: str) -> float:
        n = self.holding.get(phrase, 0)
        return max(math.log((self.rows - n + 0.5) / (n + 0.5)), IDF_FLOOR)


def _varints(blob: bytes) -> list[int]:
    """SQLite's big-endian varints, as FTS5 stores its totals and row sizes."""
    values, value, count = [], 0, 0
    for byte in blob:
        count += 1
        if count == 9:
            values.append((value << 8) | byte)
            value, count = 0, 0
        elif byte & 0x80:
            value = (value << 7) | (byte & 0x7F)
        else:
            values.append((value << 7) | byte)
            value, count = 0, 0
    return values


def index_stats(db: Connection, phrases: list[str]) -> Stats:
    """The whole index's statistics, as FTS5's ``bm25()`` sees them."""
    block = db.execute(text("SELECT block FROM records_fts_data WHERE id = 1")).scalar()
    rows, tokens = [*_varints(block), 0, 0][:2] if block else (0, 0)
    holding = {p: db.execute(text("SELECT count(*) FROM records_fts WHERE records_fts MATCH "
                                  ":p"), {"p": p}).scalar_one() for p in set(phrases)}
    return Stats(rows, holding, tokens / rows if rows else 0.0)


def lengths(db: Connection, ids: np.ndarray) -> np.ndarray:
    """Each record's length in indexed words, in the order of ``ids``."""
    if not len(ids):
        return np.zeros(0)
    found = dict(db.execute(text(
        "SELECT id, sz FROM records_fts_docsize WHERE id IN (SELECT value FROM json_each(:ids))"),
        {"ids": json.dumps(ids.tolist())}).all())
    return np.array([(_varints(found.get(i) or b"") or [0])[0] for i in ids.tolist()], float)


def frequencies(db: Connection, phrase: str, ids: np.ndarray, length: np.ndarray,
                index: Stats) -> np.ndarray:
    """How often ``phrase`` occurs in each record of ``ids`` (0 where it does not), recovered
    from FTS5's one-phrase bm25: score = idf * f (k1 + 1) / (f + k1 (1 - b + b D / avgdl))."""
    wanted = np.zeros(int(ids.max()) + 1 if len(ids) else 1, np.uint8)
    wanted[ids] = 1
    scored = dict(db.execute(text(
        "SELECT rowid, -bm25(records_fts) FROM records_fts WHERE records_fts MATCH :p "
        "AND substr(:mask, rowid + 1, 1) = x'01'"), {"p": phrase, "mask": wanted.tobytes()}
    ).all())
    score = np.array([scored.get(i, 0.0) for i in ids.tolist()])
    norm = K1 * (1 - B + B * length / index.avgdl) if index.avgdl else np.full(len(ids), K1)
    share = score / index.idf(phrase)  # f (k1 + 1) / (f + norm), below k1 + 1
    return np.rint(share * norm / np.maximum(K1 + 1 - share, 1e-12))


def bm25(stats: Stats, phrases: list[str], freq: dict[str, np.ndarray],
         length: np.ndarray) -> np.ndarray:
    """FTS5's BM25 for each record, under ``stats`` (each phrase of the query counted as
    often as it occurs in it, as FTS5 does)."""
    norm = K1 * (1 - B + B * length / stats.avgdl) if stats.avgdl else np.full(len(length), K1)
    score = np.zeros(len(length))
    for phrase in phrases:
        f = freq[phrase]
        score += stats.idf(phrase) * f * (K1 + 1) / (f + norm)
    return score


def visible_scores(db: Connection, phrases: list[str], ids: np.ndarray,
                   visible: np.ndarray) -> np.ndarray:
    """BM25 of the records ``ids`` (the searcher's matches) for the query's positive
    ``phrases`` (FTS5 syntax), over the statistics of the rows ``visible`` (a mask over row
    ids: what the searcher may see) and of ``ids``."""
    length = lengths(db, ids)
    index = index_stats(db, phrases)
    freq = {p: frequencies(db, p, ids, length, index) for p in set(phrases)}
    mask = visible.view(np.uint8).tobytes()
    holding = {p: db.execute(text(
        "SELECT count(*) FROM records_fts WHERE records_fts MATCH :p "
        "AND substr(:mask, rowid + 1, 1) = x'01'"), {"p": p, "mask": mask}).scalar_one()
        for p in set(phrases)}
    avgdl = float(length.mean()) if len(length) else 0.0
    return bm25(Stats(int(visible.sum()), holding, avgdl), phrases, freq, length)
