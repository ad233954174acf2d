"""A sign-in ends: after its lifetime (server-side and in the cookie's signature), and at sign-out.

Each check replays the very cookie that worked a moment before, sent by hand, so a browser
dropping an expired cookie cannot make a test pass: the server itself must refuse it.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import httpx
import itsdangerous.timed
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import WebSettings
from records.web.app import create_app
from tests.records.web.conftest import PASSWORD, WebArchive
from tests.records.web.helpers import Clock, sign_in

HOUR = 3600
PAGE, API = "/", "/api/search?q=nghia"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def session_cookie(web_archive: WebArchive, clock: Clock,
                   hours: float | None = None) -> tuple[FastAPI, TestClient, str]:
    """An app (whose sign-ins last ``hours``, default: the shipped setting), a client signed
    in to it, and that client's session cookie."""
    settings = web_archive.settings
    if hours is not None:
        settings = settings.model_copy(update={"web": WebSettings(session_hours=hours)})
    app = create_app(settings, clock=clock)
    client = TestClient(app)
    done = sign_in(client, "reader", PASSWORD)
    assert done.status_code == 303
    lifetime = round(settings.web.session_hours * HOUR)
    assert f"Max-Age={lifetime};" in done.headers["set-cookie"]
    return app, client, client.cookies["records_session"]


def replay(app: FastAPI, cookie: str) -> tuple[httpx.Response, httpx.Response]:
    """The search page and the API, asked with ``cookie`` and nothing else."""
    client = TestClient(app)
    headers = {"Cookie": f"records_session={cookie}"}
    return (client.get(PAGE, headers=headers, follow_redirects=False),
            client.get(API, headers=headers))


def assert_signed_in(app: FastAPI, cookie: str) -> None:
    page, api = replay(app, cookie)
    assert page.status_code == 200 and "Sign in" not in page.text
    assert api.status_code == 200 and "hits" in api.json()


def assert_refused(app: FastAPI, cookie: str) -> None:
    page, api = replay(app, cookie)
    assert page.status_code == 303 and page.headers["location"] == f"/login?next={PAGE}"
    assert api.status_code == 401


def test_a_sign_in_ends_after_its_lifetime_on_the_server(web_archive: WebArchive,
                                                         clock: Clock) -> None:
    """The server's own record of the sign-in expires (the cookie's signature is still fresh:
    only the injected clock moves)."""
    app, _, cookie = session_cookie(web_archive, clock, hours=2)
    clock.advance(2 * HOUR - 60)
    assert_signed_in(app, cookie)
    clock.advance(120)
    assert_refused(app, cookie)


def test_a_cookie_signed_longer_ago_than_the_lifetime_is_refused(
        web_archive: WebArchive, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cookie's signature is too old (the server's record would still be open: the
    injected clock stays), as for a cookie kept past its Max-Age."""
    app, _, cookie = session_cookie(web_archive, clock)
    signed_at = time.time()

    def later(hours: float) -> None:  # the time as itsdangerous reads it, and only there
        monkeypatch.setattr(itsdangerous.timed, "time",
                            SimpleNamespace(time=lambda: signed_at + hours * HOUR))

    later(8 - 1 / 60)
    assert_signed_in(app, cookie)
    later(8 + 1 / 60)
    assert_refused(app, cookie)


def test_the_default_lifetime_is_eight_hours(web_archive: WebArchive, clock: Clock) -> None:
    assert web_archive.settings.web.session_hours == 8
    app, _, cookie = session_cookie(web_archive, clock)
    clock.advance(8 * HOUR - 60)
    assert_signed_in(app, cookie)
    clock.advance(120)
    assert_refused(app, cookie)


def test_signing_out_ends_the_session_even_for_a_kept_copy_of_the_cookie(
        web_archive: WebArchive, clock: Clock) -> None:
    app, client, cookie = session_cookie(web_archive, clock)
    assert_signed_in(app, cookie)
    page = client.get(PAGE).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "records_session=null" in out.headers["set-cookie"]  # the browser forgets it
    assert_refused(app, cookie)  # and the copy kept is worth nothing
    assert client.get(PAGE, follow_redirects=False).status_code == 303
