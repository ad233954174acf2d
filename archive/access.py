"""Who may use the archive: local accounts with roles, clearances, passwords and API tokens.

Roles say what a person does (records officer, archivist, manager, administrator); the
clearance says which records they may see: every record whose classification ranks at or
below it (``archive.catalog.LEVELS``). Passwords are hashed with Argon2id; API tokens are
random, shown once, stored only as their SHA-256, and revocable. Accounts live in the
catalog's database but in tables of their own (``archive.catalog.accounts``), which
``records reindex`` never touches.

Web sign-ins are kept server-side too (``web_sessions``): the browser's signed cookie carries
only a random session id. A signed cookie alone would stay valid until it expired, even after
its user signed out, so a copied cookie could not be withdrawn; with the row gone (signed out,
or past its lifetime) the id is worth nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Float, MetaData, String, Table, delete, insert, select, update

from archive.catalog import LEVELS, Catalog, users
from archive.catalog import api_tokens as tokens

ROLES = ("officer", "archivist", "manager", "admin")
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # Argon2id with the library's current parameters

# Sign-ins of the web app: their own metadata (made by ``prepare_sessions``), never dropped.
session_schema = MetaData()
web_sessions = Table(
    "web_sessions", session_schema,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the id the cookie carries
    Column("name", String(64), nullable=False, index=True),
    Column("expires", Float, nullable=False),  # seconds since the epoch
)


class AccessError(ValueError):
    """An account cannot be made or used as asked; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    clearance: int

    @property
    def clearance_name(self) -> str:
        return LEVELS[self.clearance]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def add_user(catalog: Catalog, name: str, role: str, clearance: str, password: str) -> User:
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if clearance not in LEVELS:
        raise AccessError(f"unknown clearance {clearance!r}: one of {', '.join(LEVELS)}")
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"the password needs at least {MIN_PASSWORD} characters")
    with catalog.transaction() as db:
        if db.execute(select(users.c.name).where(users.c.name == name)).first():
            raise AccessError(f"a user {name!r} exists already")
        db.execute(insert(users).values(name=name, role=role, clearance=LEVELS.index(clearance),
                                        password_hash=_hasher.hash(password), active=True,
                                        created=_now()))
    return User(name, role, LEVELS.index(clearance))


def authenticate(catalog: Catalog, name: str, password: str) -> User | None:
    """The user if the password is right and the account active; None otherwise."""
    with catalog.engine.connect() as db:
        row = db.execute(select(users).where(users.c.name == name, users.c.active)).first()
    if row is None:
        _hasher.hash(password)  # same work as a real check: no timing hint that name is unknown
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(row.name, row.role, row.clearance)


def issue_token(catalog: Catalog, name: str) -> tuple[str, str]:
    """A new API token for the user: (token id, the secret itself, shown only this once)."""
    if get_user(catalog, name) is None:
        raise AccessError(f"no user {name!r}")
    secret = "rec_" + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(4)
    with catalog.transaction() as db:
        db.execute(insert(tokens).values(id=token_id, name=name, digest=_digest(secret),
                                         created=_now()))
    return token_id, secret


def revoke_token(catalog: Catalog, token_id: str) -> bool:
    with catalog.transaction() as db:
        done = db.execute(update(tokens).where(tokens.c.id == token_id, tokens.c.revoked.is_(None))
                          .values(revoked=_now()))
    return done.rowcount == 1


def user_for_token(catalog: Catalog, secret: str) -> User | None:
    with catalog.engine.connect() as db:
        row = db.execute(
            select(users).join(tokens, tokens.c.name == users.c.name)
            .where(tokens.c.digest == _digest(secret), tokens.c.revoked.is_(None), users.c.active)
        ).first()
    return User(row.name, row.role, row.clearance) if row else None


def get_user(catalog: Catalog, name: str) -> User | None:
    with catalog.engine.connect() as db:
        row = db.execute(select(users).where(users.c.name == name, users.c.active)).first()
    return User(row.name, row.role, row.clearance) if row else None


def prepare_sessions(catalog: Catalog) -> None:
    session_schema.create_all(catalog.engine)


def open_session(catalog: Catalog, name: str, seconds: float, now: float) -> str:
    """A new sign-in of ``name`` for ``seconds``: its secret id, for the session cookie."""
    secret = secrets.token_urlsafe(32)
    with catalog.transaction() as db:
        db.execute(delete(web_sessions).where(web_sessions.c.expires <= now))
        db.execute(insert(web_sessions).values(digest=_digest(secret), name=name,
                                               expires=now + seconds))
    return secret


def session_user(catalog: Catalog, secret: str, now: float) -> User | None:
    """The user signed in as ``secret`` if that sign-in is open, unexpired and the account
    still active; None otherwise."""
    with catalog.engine.connect() as db:
        row = db.execute(
            select(users).join(web_sessions, web_sessions.c.name == users.c.name)
            .where(web_sessions.c.digest == _digest(secret), web_sessions.c.expires > now,
                   users.c.active)
        ).first()
    return User(row.name, row.role, row.clearance) if row else None


def close_session(catalog: Catalog, secret: str) -> None:
    """Sign out: the session id stops working, whoever holds a copy of the cookie."""
    with catalog.transaction() as db:
        db.execute(delete(web_sessions).where(web_sessions.c.digest == _digest(secret)))


def list_users(catalog: Catalog) -> list[User]:
    with catalog.engine.connect() as db:
        rows = db.execute(select(users).where(users.c.active).order_by(users.c.name)).all()
    return [User(r.name, r.role, r.clearance) for r in rows]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
