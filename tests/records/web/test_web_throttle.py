"""Repeated failed sign-ins and bad tokens are refused for a while, before any password check.

Each test signs in from addresses and as users of its own (the archive is shared by the whole
session) and moves an injected clock instead of waiting for the window to pass.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from archive.access import Attempt, AuditLog, Refused, Throttle, add_user, issue_token
from archive.access.throttle import failures
from archive.index import Catalog
from config.settings import WebSettings
from records.web.app import create_app
from tests.records.web.conftest import PASSWORD, WebArchive
from tests.records.web.helpers import Clock, sign_in

WRONG = "not the password"
WINDOW = 15 * 60


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(web_archive: WebArchive, clock: Clock) -> FastAPI:
    return create_app(web_archive.settings, clock=clock)


def from_address(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def new_user(web_archive: WebArchive, name: str) -> str:
    catalog = Catalog.open(web_archive.settings.catalog_url())
    add_user(catalog, name, "archivist", "public", PASSWORD)
    catalog.engine.dispose()
    return name


def logged(web_archive: WebArchive, **match: str) -> list[dict[str, Any]]:
    return [e for e in AuditLog(web_archive.home).entries()
            if all(e.get(key) == value for key, value in match.items())]


def test_five_failures_lock_the_name_even_for_the_right_password(
        app: FastAPI, web_archive: WebArchive, clock: Clock) -> None:
    name = new_user(web_archive, "throttle-lan")
    here, elsewhere = from_address(app, "198.51.100.1"), from_address(app, "198.51.100.2")
    for _ in range(5):
        assert sign_in(here, name, WRONG).status_code == 401
    clock.advance(60)
    refused = sign_in(here, name, PASSWORD)
    assert refused.status_code == 429
    assert "too many failed sign-ins; try again in 14 minutes" in refused.text
    assert refused.headers["retry-after"] == str(WINDOW - 60)
    assert sign_in(elsewhere, name, PASSWORD).status_code == 429  # the name, from anywhere
    throttled = logged(web_archive, action="login", user=name, outcome="throttled")
    assert [(e["client"], e["limit"]) for e in throttled] == [("198.51.100.1", "user"),
                                                              ("198.51.100.2", "user")]
    assert len(logged(web_archive, action="login", user=name, outcome="denied")) == 5

    clock.advance(WINDOW - 60 - 1)  # one second before the first failure leaves the window
    assert sign_in(here, name, PASSWORD).status_code == 429
    clock.advance(1)
    assert sign_in(here, name, PASSWORD).status_code == 303
    assert logged(web_archive, action="login", user=name, outcome="ok")


def test_refusals_do_not_extend_the_lock(app: FastAPI, web_archive: WebArchive,
                                         clock: Clock) -> None:
    name = new_user(web_archive, "throttle-minh")
    client = from_address(app, "198.51.100.3")
    for _ in range(5):
        sign_in(client, name, WRONG)
    for _ in range(10):
        clock.advance(60)
        assert sign_in(client, name, WRONG).status_code == 429
    clock.advance(WINDOW - 600)
    assert sign_in(client, name, PASSWORD).status_code == 303


def test_a_successful_sign_in_clears_the_name(app: FastAPI, web_archive: WebArchive) -> None:
    name = new_user(web_archive, "throttle-hoa")
    client = from_address(app, "198.51.100.4")
    for _ in range(4):
        assert sign_in(client, name, WRONG).status_code == 401
    assert sign_in(client, name, PASSWORD).status_code == 303
    for _ in range(4):  # without the reset, these would make 8 failures in the window
        assert sign_in(client, name, WRONG).status_code == 401
    assert sign_in(client, name, PASSWORD).status_code == 303
    assert sign_in(client, name, WRONG).status_code == 401


def test_one_address_is_limited_across_names(app: FastAPI, web_archive: WebArchive,
                                             clock: Clock) -> None:
    name = new_user(web_archive, "throttle-tuan")
    sprayer, colleague = from_address(app, "203.0.113.5"), from_address(app, "203.0.113.6")
    for n in range(20):  # one guess each at twenty names: no name reaches its own limit
        assert sign_in(sprayer, f"spray-{n}", WRONG).status_code == 401
    refused = sign_in(sprayer, name, PASSWORD)
    assert refused.status_code == 429 and "try again in 15 minutes" in refused.text
    last = logged(web_archive, action="login", user=name)[-1]
    assert (last["outcome"], last["limit"], last["client"]) == ("throttled", "client",
                                                                "203.0.113.5")
    assert sign_in(colleague, name, PASSWORD).status_code == 303  # the name is not locked
    clock.advance(WINDOW)
    assert sign_in(sprayer, name, PASSWORD).status_code == 303


def test_a_forwarding_header_does_not_escape_the_address_limit(
        app: FastAPI, web_archive: WebArchive, clock: Clock) -> None:
    """Twenty guesses, each claiming another address in X-Forwarded-For: all count against
    the address they came from (no proxy is trusted), which is then refused and logged."""
    name = new_user(web_archive, "throttle-xff")
    sprayer = from_address(app, "203.0.113.7")
    for n in range(20):
        answer = sign_in(sprayer, f"spray-{n}", WRONG, {"X-Forwarded-For": f"6.6.6.{n}"})
        assert answer.status_code == 401
    refused = sign_in(sprayer, name, PASSWORD, {"X-Forwarded-For": "6.6.6.99"})
    assert refused.status_code == 429
    last = logged(web_archive, action="login", user=name)[-1]
    assert (last["outcome"], last["limit"], last["client"]) == ("throttled", "client",
                                                                "203.0.113.7")
    assert not [e for e in AuditLog(web_archive.home).entries()
                if str(e.get("client", "")).startswith("6.6.6.")]


def test_limits_come_from_the_settings(web_archive: WebArchive, clock: Clock) -> None:
    settings = web_archive.settings.model_copy(
        update={"web": WebSettings(login_attempts=2, login_window_minutes=1)})
    name = new_user(web_archive, "throttle-an")
    client = from_address(create_app(settings, clock=clock), "198.51.100.7")
    for _ in range(2):
        assert sign_in(client, name, WRONG).status_code == 401
    refused = sign_in(client, name, PASSWORD)
    assert refused.status_code == 429 and "try again in 1 minute<" in refused.text
    clock.advance(60)
    assert sign_in(client, name, PASSWORD).status_code == 303


def test_bad_tokens_lock_the_address(app: FastAPI, web_archive: WebArchive, clock: Clock) -> None:
    catalog = Catalog.open(web_archive.settings.catalog_url())
    good = {"Authorization": f"Bearer {issue_token(catalog, 'reader')[1]}"}
    catalog.engine.dispose()
    guesser, other = from_address(app, "192.0.2.10"), from_address(app, "192.0.2.11")
    assert guesser.get("/api/search", params={"q": "x"}, headers=good).status_code == 200
    for n in range(20):
        bad = {"Authorization": f"Bearer rec_guess{n}"}
        assert guesser.get("/api/search", params={"q": "x"}, headers=bad).status_code == 401
    # A valid token still works from that address (one broken script must not lock out the
    # office behind the same NAT), but the next guess is refused without a look.
    assert guesser.get("/api/search", params={"q": "x"}, headers=good).status_code == 200
    refused = guesser.get("/api/search", params={"q": "x"}, headers={"Authorization":
                                                                    "Bearer rec_guess20"})
    assert refused.status_code == 429
    assert refused.json()["detail"] == "too many failed sign-ins; try again in 15 minutes"
    assert refused.headers["retry-after"] == str(WINDOW)
    assert sign_in(guesser, "reader", PASSWORD).status_code == 429  # one count per address
    assert other.get("/api/search", params={"q": "x"}, headers=good).status_code == 200
    mine = logged(web_archive, action="token", client="192.0.2.10")
    assert [e["outcome"] for e in mine] == ["denied"] * 20 + ["throttled"]
    assert "rec_guess" not in AuditLog(web_archive.home).path.read_text()
    clock.advance(WINDOW)
    assert guesser.get("/api/search", params={"q": "x"},
                       headers={"Authorization": "Bearer rec_guess21"}).status_code == 401


def test_concurrent_guesses_do_not_slip_past_the_limit(empty_catalog: Catalog) -> None:
    """Thirty guesses at once (on SQLite and on PostgreSQL): each is counted before its password
    is checked, so at most the limit of them may go on to a password check (a check, then a
    count, would let them all pass)."""
    throttle = Throttle(empty_catalog, WebSettings())
    with empty_catalog.transaction() as db:
        db.execute(delete(failures))  # the session's PostgreSQL keeps it between tests
    start, results = threading.Barrier(30), []

    def guess(n: int) -> None:
        start.wait()
        results.append(throttle.begin("lan", f"10.0.0.{n}"))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = [r for r in results if isinstance(r, Attempt)]
    assert len(results) == 30 and len(checked) <= 5
    assert all(isinstance(r, Refused) and r.scope == "user" for r in results if r not in checked)
    for _ in range(5 - len(checked)):  # the unchecked guesses left no trace: the rest may try
        assert isinstance(throttle.begin("lan", "10.0.1.1"), Attempt)
    assert isinstance(throttle.begin("lan", "10.0.1.1"), Refused)
