"""A page that cannot be shown is answered with a page of the app (its header, a heading, the
reason in one line, a way back); the API keeps answering JSON. A record above the reader's
clearance looks exactly like a record that does not exist, and a server error tells nothing of
its cause, with the security headers every answer carries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient

from archive.index import SearchIndexBusy
from records.web import shared
from records.web.app import create_app
from records.web.errors import SERVER_ERROR
from tests.records.web.conftest import WebArchive
from tests.records.web.test_web_access import INTERNAL, PUBLIC, SECRET, bearer, signed_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

EXPIRED = "the form has expired; reload the page and try again"


@pytest.fixture
def app(web_archive: WebArchive) -> Iterator[TestClient]:
    with TestClient(create_app(web_archive.settings)) as client:
        yield client


def reason(got: httpx.Response) -> str:
    found = re.search(r'<p class="error" id="reason">([^<]*)</p>', got.text)
    assert found is not None, got.text[:500]
    return found.group(1)


def is_page(got: httpx.Response) -> bool:
    return got.headers["content-type"].startswith("text/html") and "<h1>" in got.text


def test_a_missing_page_or_record_is_a_page_and_the_api_stays_json(
        app: TestClient, web_archive: WebArchive) -> None:
    signed_in(app, "reader")
    missing = app.get("/records/VP-2024-999999")
    assert missing.status_code == 404 and is_page(missing)
    assert reason(missing) == "no such record"
    assert "reader (archivist, cleared public)" in missing.text  # the header, signed in
    assert '<a href="/" id="to-search">' in missing.text
    nowhere = app.get("/no/such/page")
    assert nowhere.status_code == 404 and reason(nowhere) == "There is no such page."
    wrong_method = app.post("/")
    assert wrong_method.status_code == 405 and is_page(wrong_method)
    assert wrong_method.headers["allow"] == "GET"  # the exception's headers are kept
    assert app.get("/records/VP-2024-999999/pdf").status_code == 404
    assert is_page(app.get("/records/VP-2024-999999/pdf"))
    # The API: JSON exactly as before, for a session and for a token alike.
    for headers in (None, bearer(web_archive, "reader")):
        api = app.get("/api/records/VP-2024-999999", headers=headers)
        assert (api.status_code, api.json()) == (404, {"detail": "no such record"})
    assert app.get("/api/no-such-call").json() == {"detail": "Not Found"}
    anonymous = TestClient(app.app).get("/no/such/page")
    assert anonymous.status_code == 404 and is_page(anonymous)
    assert "Sign out" not in anonymous.text


def test_a_record_above_clearance_looks_exactly_like_one_that_does_not_exist(
        app: TestClient) -> None:
    signed_in(app, "reader").get("/")  # the session's form token made: no new cookie below
    for path in ("/records/{}", "/records/{}/pdf", "/records/{}/pdf?download=true"):
        hidden, absent = app.get(path.format(SECRET)), app.get(path.format("HA-2024-999999"))
        assert hidden.status_code == absent.status_code == 404
        assert is_page(hidden), path
        assert hidden.text == absent.text, path
        assert dict(hidden.headers) == dict(absent.headers), path
        assert SECRET not in hidden.text and "Letter 63" not in hidden.text
    page = app.get(f"/records/{INTERNAL}")  # above a reader's clearance, below a clerk's
    assert page.text == app.get("/records/VP-2024-999999").text


def test_an_expired_form_says_to_reload_with_a_link_back(app: TestClient) -> None:
    signed_in(app, "reader")
    url = f"/records/{PUBLIC}/verify"
    for referer, back in ((f"http://testserver/records/{PUBLIC}?tab=1", f"/records/{PUBLIC}?tab=1"),
                          ("http://testserver/", "/"),
                          ("https://elsewhere.example/records/x", "/"),
                          ("http://testserver.evil.example/records/x", "/"),
                          ("javascript:alert(1)", "/"),
                          ("http://testserver//elsewhere.example/x", "/"),
                          (None, "/")):
        headers = {"Referer": referer} if referer else {}
        got = app.post(url, data={"csrf": "forged"}, headers=headers)
        assert got.status_code == 403 and is_page(got)
        assert "<h1>The form has expired</h1>" in got.text
        assert reason(got) == EXPIRED
        link = re.search(r'<a href="([^"]*)" id="back">Reload the page and try again</a>',
                         got.text)
        assert link is not None and link.group(1) == back, (referer, got.text[-600:])
    api = app.post(f"/api/records/{PUBLIC}/verify")  # a session without X-CSRF-Token
    assert (api.status_code, api.json()) == (403, {"detail": EXPIRED})


def test_a_request_that_does_not_fit_is_a_400_page(app: TestClient,
                                                   web_archive: WebArchive) -> None:
    signed_in(app, "boss")
    got = app.get("/", params={"q": "x", "page": "0"})
    assert got.status_code == 400 and is_page(got)
    assert reason(got) == ("The request cannot be used: page: Input should be greater than or "
                           "equal to 1")
    token = re.search(r'name="csrf" value="([^"]+)"', app.get("/").text)
    assert token is not None
    form = app.post("/login", data={"csrf": token.group(1), "username": "boss"})  # no password
    assert form.status_code == 400 and reason(form).endswith("password: Field required")
    api = app.get("/api/search", params={"q": "x", "page": "0"},
                  headers=bearer(web_archive, "boss"))
    assert api.status_code == 422  # the API as it was: FastAPI's list of problems
    assert api.json()["detail"][0]["loc"] == ["query", "page"]


def test_a_server_error_is_a_page_saying_nothing_of_its_cause(
        web_archive: WebArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    """An injected fault in a record's page: a 500 page (or JSON for the API) with a generic
    line, the security headers, and no word of the exception; the exception itself still
    reaches the server, which logs it."""
    def fault(*_args: object) -> None:
        raise RuntimeError("boom in /srv/records/keys SELECT password_hash FROM users")

    monkeypatch.setattr(shared, "record_view", fault)
    app = create_app(web_archive.settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        signed_in(client, "reader")
        answers = [client.get(f"/records/{PUBLIC}"),
                   client.get(f"/api/records/{PUBLIC}", headers=bearer(web_archive, "reader"))]
        page, api = answers
        assert page.status_code == 500 and is_page(page) and reason(page) == SERVER_ERROR
        assert "reader (archivist" in page.text
        assert (api.status_code, api.json()) == (500, {"detail": SERVER_ERROR})
        for got in answers:
            for leak in ("boom", "/srv/records", "password_hash", "RuntimeError", "Traceback"):
                assert leak not in got.text
            assert "default-src 'none'" in got.headers["content-security-policy"]
            assert got.headers["x-content-type-options"] == "nosniff"
            assert got.headers["x-frame-options"] == "SAMEORIGIN"
            assert got.headers["referrer-policy"] == "same-origin"
            assert got.headers["cache-control"] == "no-store"
        assert client.get("/").status_code == 200  # the session lives on
    with TestClient(app) as raising, pytest.raises(RuntimeError, match="boom"):
        signed_in(raising, "reader").get(f"/records/{PUBLIC}")


def test_the_error_page_is_accessible_and_fits_a_phone(server: str, browser: Browser) -> None:
    from tests.records.web.browsing import (
        WIDTHS,
        assert_accessible,
        assert_no_horizontal_scroll,
        open_as,
    )

    for width in (1280, 375):
        page = open_as(browser, server, "/", "boss", WIDTHS[width])
        page.goto(f"{server}/records/HA-2024-999999")
        assert page.locator("#reason").inner_text() == "no such record"
        assert_accessible(page)
        if width == 375:
            assert_no_horizontal_scroll(page)
        page.context.close()


def test_a_search_during_a_reindex_says_so_and_the_api_says_retry(
        web_archive: WebArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    """The search index held by a rebuild (injected here; the wait itself is tested in
    tests/archive/index/test_textsync.py): the page says why in its error line, the API
    answers 503 with Retry-After, so a script knows to come back."""
    busy = SearchIndexBusy("search is unavailable while its index is rebuilt (records "
                           "reindex); try again in a few minutes")

    def rebuilding(*_args: object) -> None:
        raise busy

    monkeypatch.setattr(shared, "run_search", rebuilding)
    with TestClient(create_app(web_archive.settings)) as client:
        signed_in(client, "reader")
        page = client.get("/", params={"q": "quyet"})
        assert page.status_code == 200 and busy.reason in page.text
        api = client.get("/api/search", params={"q": "quyet"},
                         headers=bearer(web_archive, "reader"))
        assert api.status_code == 503 and api.headers["retry-after"] == "60"
        assert api.json() == {"detail": busy.reason}
