"""Opening a catalog is safe from many processes at once: the tables another process made
between our look and our CREATE are taken as made."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import inspect

from archive.index import Catalog


def _open(url: str) -> None:
    Catalog.open(url).engine.dispose()


def test_many_processes_open_a_new_catalog_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        pool.map(_open, [url] * 12)
    tables = set(inspect(Catalog.open(url).engine).get_table_names())
    assert {"records", "pages", "record_keys", "verifications", "progress"} <= tables
