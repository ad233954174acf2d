"""Web sign-ins, kept server-side: the browser's signed cookie carries only a random id.

A signed cookie alone would stay valid until it expired, even after its user signed out, so a
copied cookie could not be withdrawn. With the sign-in kept here, signing out (or the end of
its lifetime, or the account's end) makes the id worth nothing at once. Like the accounts,
these rows are not derived from the archive: a rebuild of the catalog never drops them.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Column, Float, MetaData, String, Table, delete, insert, select

from archive.access.accounts import User, digest, reading, user_of, users, writing
from archive.index import Catalog

sessions = MetaData()
web_sessions = Table(
    "web_sessions", sessions,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the id the cookie carries
    Column("name", String(64), nullable=False, index=True),
    Column("expires", Float, nullable=False),  # seconds since the epoch
)


def open_session(catalog: Catalog, name: str, seconds: float, now: float) -> str:
    """A new sign-in of ``name`` for ``seconds``: its secret id, for the session cookie."""
    secret = secrets.token_urlsafe(32)
    with writing(catalog, sessions) as db:
        db.execute(delete(web_sessions).where(web_sessions.c.expires <= now))
        db.execute(insert(web_sessions).values(digest=digest(secret), name=name,
                                               expires=now + seconds))
    return secret


def session_user(catalog: Catalog, secret: str, now: float) -> User | None:
    """The user signed in as ``secret`` if that sign-in is open, unexpired and the account
    still active; None otherwise."""
    with reading(catalog, sessions) as db:
        row = db.execute(
            select(users).join(web_sessions, web_sessions.c.name == users.c.name)
            .where(web_sessions.c.digest == digest(secret), web_sessions.c.expires > now,
                   users.c.active)
        ).first()
    return user_of(row) if row else None


def close_session(catalog: Catalog, secret: str) -> None:
    """Sign out: the session id stops working, whoever holds a copy of the cookie."""
    with writing(catalog, sessions) as db:
        db.execute(delete(web_sessions).where(web_sessions.c.digest == digest(secret)))
