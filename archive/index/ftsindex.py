"""The process that builds a catalog's SQLite full-text index during a bulk load.

``python -m archive.index.ftsindex PATH`` reads pickled lists of (rowid, words) from its standard
input, a ``None`` last, into a new FTS5 table at PATH (a scratch file: no journal, nothing to
recover), merges the index into one segment, and prints ``indexed``, or the error. It imports
nothing but the standard library, so it starts in milliseconds beside the loader (see
``archive.index.bulkload``).
"""

from __future__ import annotations

import pickle
import sqlite3
import sys
import traceback
from typing import BinaryIO

# The catalog creates its own table from this statement too (archive.index.catalog imports it), so
# the shadow tables built here can be copied into the catalog's as they are.
FTS_TABLE = ("CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5(terms, content='', "
             "tokenize='unicode61 remove_diacritics 0')")


def build(path: str, source: BinaryIO) -> None:
    """Index every batch read from ``source`` into a new FTS5 table at ``path``."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(FTS_TABLE)
        while (words := pickle.load(source)) is not None:
            db.execute("BEGIN")
            db.executemany("INSERT INTO records_fts(rowid, terms) VALUES (?, ?)", words)
            db.execute("COMMIT")
        db.execute("INSERT INTO records_fts(records_fts) VALUES ('optimize')")
    finally:
        db.close()


def main() -> int:
    try:
        build(sys.argv[1], sys.stdin.buffer)
    except BaseException:
        print(traceback.format_exc(limit=3), flush=True)
        return 1
    print("indexed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
