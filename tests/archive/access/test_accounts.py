"""Accounts: Argon2id passwords, revocable hashed tokens, and they survive a reindex."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from archive.access import (
    AccessError,
    User,
    add_user,
    authenticate,
    close_session,
    issue_token,
    open_session,
    revoke_token,
    session_user,
    user_for_token,
)
from archive.access.accounts import tokens as api_tokens
from archive.access.accounts import users
from archive.access.sessions import web_sessions
from archive.index import Catalog, rebuild


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")


def test_passwords_are_argon2_hashes_and_checked(catalog: Catalog) -> None:
    user = add_user(catalog, "lan", "archivist", "internal", "mật khẩu dài 12")
    assert (user.role, user.clearance_name) == ("archivist", "internal")
    with catalog.engine.connect() as db:
        stored = db.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "mật khẩu" not in stored
    assert authenticate(catalog, "lan", "mật khẩu dài 12") == user
    assert authenticate(catalog, "lan", "mật khẩu dài 13") is None
    assert authenticate(catalog, "nobody", "mật khẩu dài 12") is None


@pytest.mark.parametrize(("role", "clearance", "password", "message"), [
    ("king", "internal", "long enough pw", "unknown role"),
    ("archivist", "top", "long enough pw", "unknown clearance"),
    ("archivist", "internal", "short", "at least 10"),
])
def test_bad_accounts_are_refused(catalog: Catalog, role: str, clearance: str, password: str,
                                  message: str) -> None:
    with pytest.raises(AccessError, match=message):
        add_user(catalog, "x", role, clearance, password)


def test_tokens_are_stored_hashed_and_revocable(catalog: Catalog) -> None:
    add_user(catalog, "api", "archivist", "public", "long enough pw")
    token_id, secret = issue_token(catalog, "api")
    with catalog.engine.connect() as db:
        assert secret not in str(db.execute(select(api_tokens)).all())
    assert user_for_token(catalog, secret).name == "api"  # type: ignore[union-attr]
    assert revoke_token(catalog, token_id) and not revoke_token(catalog, token_id)
    assert user_for_token(catalog, secret) is None
    with pytest.raises(AccessError, match="no user"):
        issue_token(catalog, "ghost")


def test_reindex_keeps_the_accounts(catalog: Catalog, tmp_path: Path) -> None:
    add_user(catalog, "lan", "archivist", "internal", "long enough pw")
    assert rebuild(catalog, tmp_path / "empty-archive") == 0
    assert authenticate(catalog, "lan", "long enough pw") is not None


def test_sessions_end_at_their_lifetime_and_at_sign_out(catalog: Catalog) -> None:
    add_user(catalog, "lan", "archivist", "internal", "long enough pw")
    secret = open_session(catalog, "lan", 3600, now=1000.0)
    with catalog.engine.connect() as db:
        assert secret not in str(db.execute(select(web_sessions)).all())  # stored as a digest
    assert session_user(catalog, secret, now=1000.0 + 3599) == User("lan", "archivist", 1)
    assert session_user(catalog, secret, now=1000.0 + 3600) is None  # expired
    assert session_user(catalog, secret + "x", now=1000.0) is None
    other = open_session(catalog, "lan", 3600, now=1000.0)
    close_session(catalog, secret)
    assert session_user(catalog, secret, now=1000.0) is None  # signed out
    assert session_user(catalog, other, now=1000.0) is not None  # the other sign-in stays


def test_a_disabled_account_loses_its_sessions(catalog: Catalog) -> None:
    add_user(catalog, "lan", "archivist", "internal", "long enough pw")
    secret = open_session(catalog, "lan", 3600, now=1000.0)
    with catalog.transaction() as db:
        db.execute(update(users).where(users.c.name == "lan").values(active=False))
    assert session_user(catalog, secret, now=1000.0) is None


def test_expired_sessions_are_pruned(catalog: Catalog) -> None:
    add_user(catalog, "lan", "archivist", "internal", "long enough pw")
    open_session(catalog, "lan", 60, now=1000.0)
    open_session(catalog, "lan", 60, now=2000.0)  # the first has expired by now
    with catalog.engine.connect() as db:
        assert len(db.execute(select(web_sessions)).all()) == 1
