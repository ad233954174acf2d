"""Who may use the archive: local accounts with roles, clearances, passwords and API tokens.

Roles say what a person does (records officer, archivist, manager, administrator); the
clearance says which records they may see: every record whose classification ranks at or
below it (``archive.store.LEVELS``). Passwords are hashed with Argon2id; API tokens are
random, shown once, stored only as their SHA-256, and revocable. Accounts live in the
catalog's database but in tables of their own (``accounts`` below), made on first use
(``Catalog.ensure``) and never touched by ``records reindex``: they are not derived from the
archive.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    insert,
    select,
    update,
)

from archive.index import Catalog
from archive.store import LEVELS
from config.errors import UsageError
from config.vocabulary import ROLES as ROLES  # re-exported

MIN_PASSWORD = 10

_hasher = PasswordHasher()  # Argon2id with the library's current parameters

accounts = MetaData()
users = Table(
    "users", accounts,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("clearance", Integer, nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created", String(32), nullable=False),
)
tokens = Table(
    "api_tokens", accounts,
    Column("id", String(16), primary_key=True),
    Column("name", String(64), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created", String(32), nullable=False),
    Column("revoked", String(32)),
)


class AccessError(UsageError, ValueError):
    """An account cannot be made or used as asked; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    clearance: int

    @property
    def clearance_name(self) -> str:
        return LEVELS[self.clearance]


@contextmanager
def reading(catalog: Catalog, *schemas: MetaData) -> Iterator[Connection]:
    """A connection to the catalog's database, the accounts tables (and ``schemas``) made."""
    for schema in (accounts, *schemas):
        catalog.ensure(schema)
    with catalog.engine.connect() as db:
        yield db


@contextmanager
def writing(catalog: Catalog, *schemas: MetaData) -> Iterator[Connection]:
    """A transaction on the catalog's database, the accounts tables (and ``schemas``) made."""
    for schema in (accounts, *schemas):
        catalog.ensure(schema)
    with catalog.transaction() as db:
        yield db


def user_of(row: Row[Any]) -> User:
    return User(row.name, row.role, row.clearance)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# A new account's name: letters, digits and . _ @ - of ASCII. Any other alphabet would let
# "boss" spelt with a Cyrillic o pass for "boss" in every listing and in the audit log.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def add_user(catalog: Catalog, name: str, role: str, clearance: str, password: str) -> User:
    if not NAME.fullmatch(name):
        raise AccessError(f"an account's name is 1 to 64 ASCII letters, digits, '.', '_', "
                          f"'@' or '-', starting with a letter or digit (not {name[:64]!r})")
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if clearance not in LEVELS:
        raise AccessError(f"unknown clearance {clearance!r}: one of {', '.join(LEVELS)}")
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"the password needs at least {MIN_PASSWORD} characters")
    with writing(catalog) as db:
        if db.execute(select(users.c.name).where(users.c.name == name)).first():
            raise AccessError(f"a user {name!r} exists already")
        db.execute(insert(users).values(name=name, role=role, clearance=LEVELS.index(clearance),
                                        password_hash=hash_password(password), active=True,
                                        created=_now()))
    return User(name, role, LEVELS.index(clearance))


def hash_password(password: str) -> str:
    """How a password is stored: its Argon2id hash, never itself."""
    return _hasher.hash(password)


def authenticate(catalog: Catalog, name: str, password: str) -> User | None:
    """The user if the password is right and the account active; None otherwise."""
    with reading(catalog) as db:
        row = db.execute(select(users).where(users.c.name == name, users.c.active)).first()
    if row is None:
        _hasher.hash(password)  # same work as a real check: no timing hint that name is unknown
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user_of(row)


def issue_token(catalog: Catalog, name: str) -> tuple[str, str]:
    """A new API token for the user: (token id, the secret itself, shown only this once)."""
    if get_user(catalog, name) is None:
        raise AccessError(f"no user {name!r}")
    secret = "rec_" + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(4)
    with writing(catalog) as db:
        db.execute(insert(tokens).values(id=token_id, name=name, digest=digest(secret),
                                         created=_now()))
    return token_id, secret


def revoke_token(catalog: Catalog, token_id: str) -> bool:
    with writing(catalog) as db:
        done = db.execute(update(tokens).where(tokens.c.id == token_id, tokens.c.revoked.is_(None))
                          .values(revoked=_now()))
    return done.rowcount == 1


def user_for_token(catalog: Catalog, secret: str) -> User | None:
    with reading(catalog) as db:
        row = db.execute(
            select(users).join(tokens, tokens.c.name == users.c.name)
            .where(tokens.c.digest == digest(secret), tokens.c.revoked.is_(None), users.c.active)
        ).first()
    return user_of(row) if row else None


def get_user(catalog: Catalog, name: str) -> User | None:
    with reading(catalog) as db:
        row = db.execute(select(users).where(users.c.name == name, users.c.active)).first()
    return user_of(row) if row else None


def list_users(catalog: Catalog, disabled: bool = False) -> list[tuple[User, bool]]:
    """The accounts with whether each is active: the active ones, or all with ``disabled``."""
    query = select(users).order_by(users.c.name)
    with reading(catalog) as db:
        rows = db.execute(query if disabled else query.where(users.c.active)).all()
    return [(user_of(r), bool(r.active)) for r in rows]


def digest(secret: str) -> str:
    """How a secret (an API token, a session id) is stored: its SHA-256, never itself."""
    return hashlib.sha256(secret.encode()).hexdigest()
