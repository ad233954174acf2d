"""What the web app writes to the audit log: every search, record view, download and
verification, with the signed-in user (or the token's), the query or record, the client and
the outcome; and a sign-in form sent without its CSRF token is refused, and is no sign-in."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog
from records.web.app import create_app
from tests.records.web.conftest import PASSWORD, WebArchive
from tests.records.web.helpers import sign_in

PUBLIC = "VP-2024-000001"
INTERNAL = "VP-2024-000002"
CLIENT = "testclient"  # the address Starlette's TestClient connects from


@pytest.fixture
def app(web_archive: WebArchive) -> Iterator[TestClient]:
    with TestClient(create_app(web_archive.settings)) as client:
        yield client


class Since:
    """The audit entries written after it was made (the session's archive is shared)."""

    def __init__(self, web_archive: WebArchive) -> None:
        self.audit = AuditLog(web_archive.home)
        self.before = len(self.audit.entries())

    def entries(self, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.audit.entries()[self.before:]
                if action is None or e["action"] == action]


def signed_in(client: TestClient, name: str) -> TestClient:
    done = sign_in(client, name, PASSWORD)
    assert done.status_code == 303, done.text
    return client


def bearer(web_archive: WebArchive, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {web_archive.tokens[name]}"}


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def brief(entry: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    return tuple(entry.get(key) for key in keys)


# --- 1. searches, views, downloads and verifications ---------------------------------------

def test_web_search_is_audited_with_the_user_query_result_count_and_client(
        app: TestClient, web_archive: WebArchive) -> None:
    since = Since(web_archive)
    signed_in(app, "reader")
    page = app.get("/", params={"q": "quyet"})
    assert page.status_code == 200 and PUBLIC in page.text
    answer = app.get("/api/search", params={"q": "quyet dinh"}, headers=bearer(web_archive,
                                                                                "clerk"))
    assert answer.status_code == 200
    total = answer.json()["total"]
    assert PUBLIC in [hit["record_id"] for hit in answer.json()["hits"]]

    by_page, by_api = since.entries("search")
    assert brief(by_page, "user", "query", "client", "outcome") == (
        "reader", "quyet", CLIENT, "ok")
    assert by_page["results"] >= 1
    assert brief(by_api, "user", "query", "results", "client", "outcome") == (
        "clerk", "quyet dinh", total, CLIENT, "ok")


def test_web_record_views_are_audited_and_a_view_above_the_clearance_as_denied(
        app: TestClient, web_archive: WebArchive) -> None:
    since = Since(web_archive)
    signed_in(app, "reader")
    assert app.get(f"/records/{PUBLIC}").status_code == 200
    assert app.get(f"/records/{INTERNAL}").status_code == 404  # above a public clearance
    shown = app.get(f"/api/records/{PUBLIC}", headers=bearer(web_archive, "clerk"))
    assert shown.status_code == 200 and shown.json()["descriptive"]["classification"] == "public"

    page, denied, api = since.entries("view")
    assert brief(page, "user", "record_id", "client", "outcome") == (
        "reader", PUBLIC, CLIENT, "ok")
    assert brief(denied, "user", "record_id", "client", "outcome") == (
        "reader", INTERNAL, CLIENT, "denied")
    assert brief(api, "user", "record_id", "client", "outcome") == (
        "clerk", PUBLIC, CLIENT, "ok")


def test_web_downloads_and_reads_of_the_pdf_are_audited(app: TestClient,
                                                        web_archive: WebArchive) -> None:
    since = Since(web_archive)
    signed_in(app, "reader")
    saved = app.get(f"/records/{PUBLIC}/pdf", params={"download": "true"})
    assert saved.status_code == 200 and saved.content.startswith(b"%PDF")
    assert saved.headers["content-disposition"].startswith("attachment")
    read = app.get(f"/records/{PUBLIC}/pdf")
    assert read.status_code == 200 and read.headers["content-disposition"].startswith("inline")
    fetched = app.get(f"/api/records/{PUBLIC}/pdf", headers=bearer(web_archive, "boss"))
    assert fetched.status_code == 200 and fetched.content.startswith(b"%PDF")
    refused = app.get(f"/records/{INTERNAL}/pdf", params={"download": "true"})
    assert refused.status_code == 404

    got = [brief(e, "user", "action", "record_id", "outcome") for e in since.entries()
           if e["action"] in ("download", "read")]
    assert got == [("reader", "download", PUBLIC, "ok"), ("reader", "read", PUBLIC, "ok"),
                   ("boss", "download", PUBLIC, "ok"), ("reader", "download", INTERNAL,
                                                        "denied")]


def test_web_verifications_are_audited_through_the_api_and_the_page(
        app: TestClient, web_archive: WebArchive) -> None:
    since = Since(web_archive)
    checked = app.post(f"/api/records/{PUBLIC}/verify", headers=bearer(web_archive, "clerk"))
    assert checked.status_code == 200 and checked.json()["ok"] is True
    signed_in(app, "reader")
    csrf = csrf_of(app.get(f"/records/{PUBLIC}").text)
    page = app.post(f"/records/{PUBLIC}/verify", data={"csrf": csrf})
    assert page.status_code == 200 and "every check passed" in page.text

    api, by_page = since.entries("verify")
    assert brief(api, "user", "record_id", "client", "outcome") == (
        "clerk", PUBLIC, CLIENT, "ok")
    assert brief(by_page, "user", "record_id", "client", "outcome") == (
        "reader", PUBLIC, CLIENT, "ok")


# --- 5. the sign-in form's CSRF token --------------------------------------------------

def decoded(cookie: str) -> dict[str, Any]:
    """What a session cookie holds: Starlette's is base64 JSON, then its signature."""
    data = cookie.split(".")[0]
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))


def session_of(response: Any) -> dict[str, Any] | None:
    """What the session cookie a response sets holds (None when it sets none)."""
    cookie = response.cookies.get("records_session")
    return None if cookie is None else decoded(cookie)


def held(client: TestClient) -> dict[str, Any]:
    """What the session cookie the client keeps holds."""
    return decoded(client.cookies["records_session"])


def not_signed_in(client: TestClient) -> None:
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].startswith("/login")
    assert client.get("/api/search", params={"q": "quyet"}).status_code == 401


def test_sign_in_without_the_csrf_token_is_refused_and_is_no_sign_in(
        app: TestClient, web_archive: WebArchive) -> None:
    since = Since(web_archive)
    done = app.post("/login", data={"username": "reader", "password": PASSWORD},
                    follow_redirects=False)
    assert done.status_code == 403 and "the form has expired" in done.text
    assert "location" not in done.headers
    assert session_of(done) is None and "records_session" not in app.cookies
    not_signed_in(app)
    assert since.entries("login") == []  # neither a sign-in nor a failed one


def test_sign_in_with_a_wrong_csrf_token_is_refused_and_is_no_sign_in(
        app: TestClient, web_archive: WebArchive) -> None:
    since = Since(web_archive)
    with TestClient(create_app(web_archive.settings)) as other:
        theirs = csrf_of(other.get("/login").text)  # another browser's valid token
    mine = csrf_of(app.get("/login").text)
    for wrong in (theirs, mine[:-1], "x" * len(mine)):
        assert wrong != mine
        done = app.post("/login", data={"username": "reader", "password": PASSWORD,
                                        "csrf": wrong}, follow_redirects=False)
        assert done.status_code == 403 and "the form has expired" in done.text, wrong
        assert "location" not in done.headers
        assert session_of(done) is None  # no new session cookie
        assert held(app) == {"csrf": mine}  # the browser's still holds the form token only
        not_signed_in(app)
    assert since.entries("login") == []

    signed = sign_in(app, "reader", PASSWORD)  # the same form with its own token signs in
    assert signed.status_code == 303 and "sid" in (session_of(signed) or {})
    assert "sid" in held(app)
    assert app.get("/", follow_redirects=False).status_code == 200
    [login] = since.entries("login")
    assert brief(login, "user", "client", "outcome") == ("reader", CLIENT, "ok")
