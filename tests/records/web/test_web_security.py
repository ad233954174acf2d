"""What the web app tells browsers and believes of them: security headers on every answer, no
caching of records, the API described only to signed-in users and without third-party
scripts, a CSRF token for session-authenticated API calls that act, the Secure cookie flag
behind TLS, no server paths or accounts in what readers see, disabled accounts stopping at
once, and no forwarding header believed from anyone not named a proxy."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog, add_user, issue_token, set_active
from archive.index import Catalog
from records.web.app import create_app
from tests.records.web.conftest import PASSWORD, WebArchive
from tests.records.web.test_web_access import PUBLIC, bearer, signed_in


@pytest.fixture
def app(web_archive: WebArchive) -> Iterator[TestClient]:
    with TestClient(create_app(web_archive.settings)) as client:
        yield client


def test_every_answer_carries_the_security_headers(app: TestClient) -> None:
    login = app.get("/login")
    assert "frame-ancestors 'self'" in login.headers["content-security-policy"]
    policy = login.headers["content-security-policy"]
    # Scripts from the app's own files only: nothing inline, nothing from elsewhere.
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert login.headers["x-content-type-options"] == "nosniff"
    signed_in(app, "reader")
    for path in (f"/records/{PUBLIC}", f"/records/{PUBLIC}/pdf", f"/api/records/{PUBLIC}",
                 "/?q=nghia"):
        got = app.get(path)
        assert got.status_code == 200, path
        assert got.headers["cache-control"] == "no-store", path
        assert got.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'self'" in got.headers["content-security-policy"], path
    pdf = app.get(f"/records/{PUBLIC}/pdf")
    assert pdf.headers["content-security-policy"] == "frame-ancestors 'self'"


def test_the_api_is_described_to_signed_in_users_without_third_party_scripts(
        app: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        got = app.get(path, follow_redirects=False)
        assert got.status_code == 303 and got.headers["location"].startswith("/login"), path
    signed_in(app, "reader")
    docs = app.get("/docs")
    assert docs.status_code == 200 and "/api/search" in docs.text
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()
    assert app.get("/redoc", follow_redirects=False).headers["location"] == "/docs"


def test_an_api_call_that_acts_needs_the_csrf_token_with_a_session(
        app: TestClient, web_archive: WebArchive) -> None:
    signed_in(app, "reader")
    url = f"/api/records/{PUBLIC}/verify"
    assert app.post(url).status_code == 403  # the session cookie alone
    page = app.get(f"/records/{PUBLIC}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert app.post(url, headers={"X-CSRF-Token": csrf}).json()["ok"]
    fresh = TestClient(create_app(web_archive.settings))
    assert fresh.post(url, headers=bearer(web_archive, "reader")).json()["ok"]  # a program


def test_the_session_cookie_is_secure_when_served_over_tls(web_archive: WebArchive) -> None:
    settings = web_archive.settings.model_copy(
        update={"web": web_archive.settings.web.model_copy(update={"secure_cookies": True})})
    client = TestClient(create_app(settings), base_url="https://testserver")
    page = client.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()
    assert page.headers["strict-transport-security"].startswith("max-age=")
    plain = TestClient(create_app(web_archive.settings)).get("/login")
    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "strict-transport-security" not in plain.headers


def test_readers_see_no_server_paths_or_accounts_in_provenance(
        app: TestClient, web_archive: WebArchive) -> None:
    for user in ("reader", "boss"):
        record = app.get(f"/api/records/{PUBLIC}", headers=bearer(web_archive, user)).json()
        events = record["provenance"] + record["later_events"]
        agents = {e.get("agent") for e in events}
        if user == "reader":
            assert agents <= {""}, agents
            assert not any(str(e.get("detail", "")).startswith("/") for e in events)
        else:
            assert any("@" in (a or "") for a in agents)  # administrators see it whole
    checked = app.post(f"/api/records/{PUBLIC}/verify", headers=bearer(web_archive, "reader"))
    assert checked.json()["ok"] and "path" not in checked.json()
    assert str(web_archive.home) not in checked.text
    page = signed_in(app, "reader").get(f"/records/{PUBLIC}").text
    provenance = page[page.index('<table id="provenance">'):]
    provenance = provenance[:provenance.index("</table>")]
    assert str(web_archive.home) not in page and "@" not in provenance


def test_a_disabled_account_is_refused_at_once(web_archive: WebArchive) -> None:
    catalog = Catalog.open(web_archive.settings.catalog_url())
    add_user(catalog, "leaver", "archivist", "public", PASSWORD)
    _, token = issue_token(catalog, "leaver")
    with TestClient(create_app(web_archive.settings)) as client:
        signed_in(client, "leaver")
        assert client.get("/api/search?q=nghia").status_code == 200
        set_active(catalog, "leaver", active=False)
        assert client.get("/api/search?q=nghia").status_code == 401
        assert client.get("/", follow_redirects=False).status_code == 303
        got = client.get("/api/search?q=nghia", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 401


def test_records_serve_believes_no_forwarding_header(web_archive: WebArchive,
                                                     server: str) -> None:
    """The real server: uvicorn believes X-Forwarded-For from loopback unless told not to."""
    httpx.get(f"{server}/api/search?q=x", timeout=10,
              headers={"Authorization": "Bearer rec_wrong", "X-Forwarded-For": "6.6.6.6"})
    last = AuditLog(web_archive.home).entries()[-1]
    assert (last["action"], last["outcome"]) == ("token", "denied"), json.dumps(last)
    assert last["client"] == "127.0.0.1"


def test_a_named_proxy_is_believed(web_archive: WebArchive, tmp_path: Path) -> None:
    settings = web_archive.settings.model_copy(
        update={"web": web_archive.settings.web.model_copy(
            update={"trusted_proxies": ["testclient"]})})
    with TestClient(create_app(settings)) as client:
        client.get("/api/search?q=x", headers={"Authorization": "Bearer rec_wrong",
                                               "X-Forwarded-For": "10.1.2.3"})
    last = AuditLog(web_archive.home).entries()[-1]
    assert last["client"] == "10.1.2.3"
