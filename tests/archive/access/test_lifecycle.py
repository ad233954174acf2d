"""An account's life: disabled (its sign-ins and tokens stop at once), enabled, a new password
(the old sign-ins end), another role or clearance (the next request is judged by it); on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from archive.access import (
    AccessError,
    User,
    add_user,
    authenticate,
    issue_token,
    list_users,
    open_session,
    session_user,
    set_access,
    set_active,
    set_password,
    user_for_token,
)
from archive.index import Catalog

OLD, NEW = "correct horse battery", "another long passphrase"


@pytest.fixture
def signed_in(empty_catalog: Catalog) -> tuple[Catalog, str, str]:
    """A catalog with one archivist, signed in once and holding one token (the session's
    PostgreSQL keeps accounts across tests: they are not the catalog's to drop)."""
    from archive.access.accounts import accounts
    from archive.access.sessions import sessions

    for tables in (sessions, accounts):
        tables.drop_all(empty_catalog.engine)
    add_user(empty_catalog, "anna", "archivist", "internal", OLD)
    session = open_session(empty_catalog, "anna", 3600, now=1000.0)
    _, token = issue_token(empty_catalog, "anna")
    return empty_catalog, session, token


def test_a_disabled_account_stops_everywhere_at_once(signed_in: tuple[Catalog, str, str]
                                                    ) -> None:
    catalog, session, token = signed_in
    set_active(catalog, "anna", active=False)
    assert session_user(catalog, session, 1001.0) is None
    assert user_for_token(catalog, token) is None
    assert authenticate(catalog, "anna", OLD) is None
    assert list_users(catalog) == []
    assert list_users(catalog, disabled=True) == [(User("anna", "archivist", 1), False)]
    set_active(catalog, "anna", active=True)
    assert user_for_token(catalog, token) is None  # revoked, not suspended
    assert session_user(catalog, session, 1001.0) is None  # ended, not suspended
    assert authenticate(catalog, "anna", OLD) == User("anna", "archivist", 1)


def test_a_new_password_ends_the_sign_ins_made_with_the_old(
        signed_in: tuple[Catalog, str, str]) -> None:
    catalog, session, token = signed_in
    with pytest.raises(AccessError, match="at least"):
        set_password(catalog, "anna", "short")
    set_password(catalog, "anna", NEW)
    assert session_user(catalog, session, 1001.0) is None
    assert authenticate(catalog, "anna", OLD) is None
    assert authenticate(catalog, "anna", NEW) == User("anna", "archivist", 1)
    assert user_for_token(catalog, token) is not None  # tokens are revoked one by one


def test_a_new_role_or_clearance_holds_from_the_next_request(
        signed_in: tuple[Catalog, str, str]) -> None:
    catalog, session, token = signed_in
    assert set_access(catalog, "anna", clearance="public") == User("anna", "archivist", 0)
    assert session_user(catalog, session, 1001.0) == User("anna", "archivist", 0)
    assert set_access(catalog, "anna", role="manager") == User("anna", "manager", 0)
    assert user_for_token(catalog, token) == User("anna", "manager", 0)
    for wrong in ({"role": "king"}, {"clearance": "cosmic"}, {}):
        with pytest.raises(AccessError):
            set_access(catalog, "anna", **wrong)
    with pytest.raises(AccessError, match="no user"):
        set_active(catalog, "nobody", active=False)
