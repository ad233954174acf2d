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

from archive.index import Catalog, search_records
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
    assert {"records", "pages", "verifications", "progress", "users",
            "api_tokens", "web_sessions"} <= tables


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_table_made_between_the_look_and_the_create_is_taken_as_made(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The race the test above leaves to timing, made to happen every time: just before this
    process creates the ``pages`` table, another connection creates it (SQLAlchemy has
    already looked and found it missing). The CREATE fails; looking again finds it."""
    from sqlalchemy import Connection, Table, create_engine, event

    from archive.index.catalog import pages

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        url = new_database(request.getfixturevalue("postgres_url"), "records_raced")
    other = create_engine(url)
    raced: list[str] = []

    def another_process_first(target: Table, connection: Connection, **kw: object) -> None:
        if not raced:
            raced.append(target.name)
            target.create(other)

    event.listen(pages, "before_create", another_process_first)
    try:
        catalog = Catalog.open(url)
    finally:
        event.remove(pages, "before_create", another_process_first)
        other.dispose()
    assert raced == ["pages"]
    assert {"records", "pages"} <= set(inspect(catalog.engine).get_table_names())
    catalog.engine.dispose()


def test_a_catalog_of_an_earlier_version_loses_its_retired_search_tables(
        empty_catalog: Catalog) -> None:
    """The databases' own full-text indexes and the search keys are no longer read: opening
    a catalog that has them drops them (they cost every ingest a write), and it searches."""
    sqlite = empty_catalog.dialect == "sqlite"
    with empty_catalog.transaction() as db:
        db.execute(text("CREATE TABLE record_keys (id INTEGER PRIMARY KEY, record_id TEXT)"))
        if sqlite:
            db.execute(text("CREATE VIRTUAL TABLE records_fts USING fts5(terms, content='')"))
        else:
            db.execute(text("ALTER TABLE pages ADD COLUMN tsv tsvector GENERATED ALWAYS "
                            "AS (to_tsvector('simple', terms)) STORED"))
            db.execute(text("CREATE INDEX pages_tsv ON pages USING gin(tsv)"))
    reopened = Catalog.open(empty_catalog.engine.url.render_as_string(hide_password=False))
    tables = set(inspect(reopened.engine).get_table_names())
    assert not tables & {"record_keys", "records_fts"}
    assert "tsv" not in {c["name"] for c in inspect(reopened.engine).get_columns("pages")}
    reopened.add({"record_id": "VP-2024-000001", "title": "t", "unit": "VP",
                  "classification": "public", "level": 0}, ["Quyết định lưu trữ"])
    assert search_records(reopened, "quyet").total == 1


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
