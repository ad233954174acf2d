"""Opening a catalog is safe from many processes at once: the tables another process made
between our look and our CREATE are taken as made, on SQLite and on PostgreSQL, the catalog's
own tables and the accounts, sessions and sign-in throttle that other wings keep there (two
`records queue` started at once on a fresh home used to fail with "table users already
exists")."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from archive.index import Catalog
from tests.conftest import new_database


def _open(url: str) -> None:
    from archive.access.accounts import accounts
    from archive.access.sessions import sessions
    from archive.access.throttle import schema

    catalog = Catalog.open(url)
    for tables in (accounts, sessions, schema):
        catalog.ensure(tables)
    catalog.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_many_processes_open_a_new_catalog_at_once(backend: str, tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        url = new_database(request.getfixturevalue("postgres_url"), "records_race")
    context = multiprocessing.get_context("spawn")
    with context.Pool(6) as pool:
        pool.map(_open, [url] * 12)
    engine = Catalog.open(url).engine
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"records", "pages", "record_keys", "verifications", "progress", "users",
            "api_tokens", "web_sessions"} <= tables


def test_a_catalog_of_an_earlier_version_gets_the_review_columns(
        empty_catalog: Catalog) -> None:
    """Catalogs made before the review queue lack its columns: opening one adds them (empty
    until ``records reindex``), instead of every search failing on a missing column."""
    with empty_catalog.transaction() as db:
        for column in ("review_reasons", "reviewed_by"):
            db.execute(text(f"ALTER TABLE records DROP COLUMN {column}"))
    reopened = Catalog.open(empty_catalog.engine.url.render_as_string(hide_password=False))
    columns = {c["name"] for c in inspect(reopened.engine).get_columns("records")}
    assert {"review_reasons", "reviewed_by"} <= columns
    reopened.add({"record_id": "VP-2024-000001", "title": "t", "unit": "VP",
                  "classification": "public", "level": 0, "review_reasons": "no date was read",
                  "needs_review": True}, ["một trang"])
    assert reopened.get("VP-2024-000001")["review_reasons"] == "no date was read"
    reopened.engine.dispose()
