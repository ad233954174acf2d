"""An account's life after it is made: disabled and enabled again, a new password, another
role or clearance.

Every request looks its user up afresh (a session or a token is honoured only while the
account is active, with the role and clearance it has now), so each change here takes effect
at the next request. Disabling an account or setting its password also ends its open
sign-ins: a session begun with the old password must not outlive it. Disabling revokes its
API tokens too. Disabling keeps the row,
so the audit log's names stay attributable and the name cannot be taken by someone else.
The callers write each change to the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Connection, MetaData, String, Table, delete, insert, select, update

from archive.access.accounts import (
    MIN_PASSWORD,
    ROLES,
    AccessError,
    User,
    hash_password,
    reading,
    tokens,
    user_of,
    users,
    writing,
)
from archive.access.sessions import sessions, web_sessions
from archive.index import Catalog
from archive.store import LEVELS

# The units whose batches an account works with: records officers queue and follow batches
# of these units only. A table of its own (not a column of ``users``), so a catalog made by an
# earlier version gains it on first use without a migration.
unit_access = MetaData()
user_units = Table(
    "user_units", unit_access,
    Column("name", String(64), primary_key=True),
    Column("unit", String(64), primary_key=True),
)


def _account(db: Connection, name: str) -> User:
    row = db.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise AccessError(f"no user {name!r}")
    return user_of(row)


def _end_sessions(db: Connection, name: str) -> None:
    db.execute(delete(web_sessions).where(web_sessions.c.name == name))


def set_active(catalog: Catalog, name: str, active: bool) -> User:
    """Disable (``active=False``) or enable an account. Disabling ends its sign-ins and
    revokes its API tokens: enabling it again brings none of them back (a leaked token may be
    why it was disabled); issue new ones."""
    with writing(catalog, sessions) as db:
        user = _account(db, name)
        db.execute(update(users).where(users.c.name == name).values(active=active))
        if not active:
            _end_sessions(db, name)
            db.execute(update(tokens).where(tokens.c.name == name, tokens.c.revoked.is_(None))
                       .values(revoked=datetime.now(UTC).isoformat(timespec="seconds")))
    return user


def set_password(catalog: Catalog, name: str, password: str) -> User:
    """A new password; every sign-in made with the old one ends."""
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"the password needs at least {MIN_PASSWORD} characters")
    with writing(catalog, sessions) as db:
        user = _account(db, name)
        db.execute(update(users).where(users.c.name == name)
                   .values(password_hash=hash_password(password)))
        _end_sessions(db, name)
    return user


def set_access(catalog: Catalog, name: str, role: str | None = None,
               clearance: str | None = None) -> User:
    """Another role and/or clearance; the account's next request is judged by them."""
    if role is not None and role not in ROLES:
        raise AccessError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if clearance is not None and clearance not in LEVELS:
        raise AccessError(f"unknown clearance {clearance!r}: one of {', '.join(LEVELS)}")
    if role is None and clearance is None:
        raise AccessError("say what to change: --role, --clearance, --units")
    with writing(catalog, sessions) as db:
        before = _account(db, name)
        values = {"role": role or before.role,
                  "clearance": LEVELS.index(clearance) if clearance else before.clearance}
        db.execute(update(users).where(users.c.name == name).values(**values))
    return User(name, str(values["role"]), int(values["clearance"]))


def units_of(catalog: Catalog, name: str) -> tuple[str, ...]:
    """The units an account works for, sorted; none until an administrator assigns them (an
    officer without units sees no batches and can queue none: fail closed)."""
    with reading(catalog, unit_access) as db:
        rows = db.execute(select(user_units.c.unit).where(user_units.c.name == name)
                          .order_by(user_units.c.unit)).all()
    return tuple(r.unit for r in rows)


def set_units(catalog: Catalog, name: str, units: list[str]) -> tuple[str, ...]:
    """Replace the units an account works for (unit codes, as the roadmap and records name
    them); returns them as stored."""
    cleaned = sorted({u.strip() for u in units if u.strip()})
    bad = [u for u in cleaned if len(u) > 64 or not u.isprintable()]
    if bad:
        raise AccessError(f"not a unit code: {bad[0]!r}")
    with writing(catalog, unit_access) as db:
        _account(db, name)
        db.execute(delete(user_units).where(user_units.c.name == name))
        if cleaned:
            db.execute(insert(user_units), [{"name": name, "unit": u} for u in cleaned])
    return tuple(cleaned)
