"""Saved searches: an account's named searches, to run again with one click.

A saved search is a name and the query string of the search page (``q=...&unit=VP``), nothing
more: running it runs a search within the clearance the account has *then*, so a search saved
before a clearance was lowered shows no more than the account may see now. Each account sees
and deletes only its own. The query string is stored re-encoded from its parsed fields, so
what is kept is only ever ``name=value`` pairs, never markup or a URL elsewhere; the front end
parses it again, keeping only the fields it knows, before it makes a link of it. Like the
accounts, these rows are the users' own, not derived from the archive: a rebuild of the
catalog never drops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
)

from archive.access.accounts import reading, writing
from archive.index import Catalog, fold
from config.errors import UsageError

MAX_NAME = 100  # characters
MAX_QUERY = 4000  # characters of query string: the search's own limit is 2,000 for the words
MAX_SAVED = 200  # per account: a list people read, not a store

saving = MetaData()
saved_searches_table = Table(
    "saved_searches", saving,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(64), nullable=False, index=True),  # the account's name
    Column("name", String(MAX_NAME), nullable=False),
    Column("query", Text, nullable=False),  # a query string, re-encoded (see the module)
    Column("created", String(32), nullable=False),
    UniqueConstraint("owner", "name"),
)


class SavedSearchError(UsageError, ValueError):
    """A search cannot be saved as asked; the message says why."""


@dataclass(frozen=True)
class SavedSearch:
    id: int
    owner: str
    name: str
    query: str  # a query string: name=value pairs, URL-encoded
    created: str


def _of(row: Row[Any]) -> SavedSearch:
    return SavedSearch(row.id, row.owner, row.name, row.query, row.created)


def clean_query(query_string: str) -> str:
    """``query_string`` as only its ``name=value`` pairs, re-encoded: whatever it held besides
    (a fragment, markup, a second question mark) is encoded as data or dropped."""
    return urlencode(parse_qsl(query_string.lstrip("?"), keep_blank_values=False))


def save_search(catalog: Catalog, owner: str, name: str, query_string: str) -> SavedSearch:
    """Keep the search ``query_string`` as ``name`` for the account ``owner``; a search of
    the same name is replaced (saving again updates it)."""
    name = " ".join(name.split())
    query = clean_query(query_string)
    if not name:
        raise SavedSearchError("give the search a name")
    if len(name) > MAX_NAME:
        raise SavedSearchError(f"the name is too long: at most {MAX_NAME} characters")
    if not name.isprintable():
        raise SavedSearchError("the name holds characters that cannot be shown")
    if len(query) > MAX_QUERY:
        raise SavedSearchError(f"the search is too long to save: at most {MAX_QUERY:,} "
                               "characters")
    with writing(catalog, saving) as db:
        db.execute(delete(saved_searches_table).where(saved_searches_table.c.owner == owner,
                                                      saved_searches_table.c.name == name))
        kept = db.execute(select(func.count()).select_from(saved_searches_table)
                          .where(saved_searches_table.c.owner == owner)).scalar_one()
        if kept >= MAX_SAVED:
            raise SavedSearchError(f"at most {MAX_SAVED} saved searches: delete one first")
        created = datetime.now(UTC).isoformat(timespec="seconds")
        saved_id = db.execute(insert(saved_searches_table).values(
            owner=owner, name=name, query=query, created=created)).inserted_primary_key[0]
    return SavedSearch(int(saved_id), owner, name, query, created)


def saved_searches(catalog: Catalog, owner: str) -> list[SavedSearch]:
    """The account's saved searches, by name (case and accents aside, as people read)."""
    with reading(catalog, saving) as db:
        rows = db.execute(select(saved_searches_table)
                          .where(saved_searches_table.c.owner == owner)).all()
    return sorted((_of(row) for row in rows), key=lambda s: (fold(s.name), s.name, s.id))


def delete_saved_search(catalog: Catalog, owner: str, saved_id: int) -> bool:
    """Delete the account's saved search ``saved_id``; False if it has none of that id (one
    of another account's is never touched)."""
    with writing(catalog, saving) as db:
        gone = db.execute(delete(saved_searches_table).where(
            saved_searches_table.c.id == saved_id, saved_searches_table.c.owner == owner))
    return bool(gone.rowcount)
