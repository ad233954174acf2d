"""No path shows a record above the user's clearance; every access is in the audit log."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog, revoke_token
from archive.index import Catalog
from archive.store import RecordPaths
from config.settings import Settings
from records.web.app import create_app
from tests.records.web.conftest import PASSWORD, WebArchive

SECRET = "HA-2024-000001"
INTERNAL = "VP-2024-000002"
PUBLIC = "VP-2024-000001"


@pytest.fixture
def app(web_archive: WebArchive) -> Iterator[TestClient]:
    with TestClient(create_app(web_archive.settings)) as client:
        yield client


def signed_in(client: TestClient, name: str) -> TestClient:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": name, "password": PASSWORD, "csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


def bearer(web_archive: WebArchive, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {web_archive.tokens[name]}"}


def test_anonymous_gets_nothing(app: TestClient) -> None:
    assert app.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert app.get(f"/records/{PUBLIC}", follow_redirects=False).status_code == 303
    for path in ("/api/search?q=quyet", f"/api/records/{PUBLIC}", f"/api/records/{PUBLIC}/pdf"):
        assert app.get(path).status_code == 401
    assert app.post(f"/api/records/{PUBLIC}/verify").status_code == 401


def test_wrong_password_is_refused_and_logged(app: TestClient, web_archive: WebArchive) -> None:
    page = app.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = app.post("/login", data={"username": "reader", "password": "guess-guess-1",
                                    "csrf": csrf})
    assert done.status_code == 401 and "Wrong name or password" in done.text
    last = AuditLog(web_archive.home).entries()[-1]
    assert (last["action"], last["user"], last["outcome"]) == ("login", "reader", "denied")
    assert "guess-guess-1" not in json.dumps(AuditLog(web_archive.home).entries())


@pytest.mark.parametrize(("user", "visible"), [
    ("reader", {PUBLIC}), ("clerk", {PUBLIC, INTERNAL}), ("boss", {PUBLIC, INTERNAL, SECRET}),
])
def test_each_path_respects_clearance(app: TestClient, web_archive: WebArchive, user: str,
                                      visible: set[str]) -> None:
    query = "nghia OR digit* OR akten OR behorde* OR freundlichen"  # hits all three letters
    api = app.get("/api/search", params={"q": query}, headers=bearer(web_archive, user)).json()
    assert {h["record_id"] for h in api["hits"]} == visible
    assert api["total"] == len(visible)
    assert sum(api["facets"]["classification"].values()) == len(visible)
    assert all(r not in json.dumps(api) for r in set(RECORDS) - visible)

    signed_in(app, user)
    page = app.get("/", params={"q": query}).text
    assert set(re.findall(r'href="/records/([^"]+)"', page)) == visible
    for record_id in RECORDS:
        allowed = record_id in visible
        for path in (f"/records/{record_id}", f"/records/{record_id}/pdf?download=true"):
            assert app.get(path).status_code == (200 if allowed else 404), path
        for path in (f"/api/records/{record_id}", f"/api/records/{record_id}/pdf"):
            got = app.get(path, headers=bearer(web_archive, user))
            assert got.status_code == (200 if allowed else 404), path
        got = app.post(f"/api/records/{record_id}/verify", headers=bearer(web_archive, user))
        assert got.status_code == (200 if allowed else 404)
        if allowed:
            assert got.json()["ok"], got.json()
    hidden = AuditLog(web_archive.home).entries()
    assert any(e["outcome"] == "denied" and e["user"] == user for e in hidden) == (
        len(visible) < 3)


RECORDS = (PUBLIC, INTERNAL, SECRET)


def test_download_is_the_signed_copy_and_is_logged(app: TestClient,
                                                    web_archive: WebArchive) -> None:
    got = app.get(f"/api/records/{PUBLIC}/pdf", headers=bearer(web_archive, "reader"))
    archived = RecordPaths(web_archive.home / "archive" / PUBLIC, PUBLIC).pdf
    assert got.content == archived.read_bytes()
    assert got.headers["content-type"] == "application/pdf"
    assert "attachment" in got.headers["content-disposition"]
    last = AuditLog(web_archive.home).entries()[-1]
    assert (last["user"], last["action"], last["record_id"]) == ("reader", "download", PUBLIC)


def test_paths_outside_the_archive_are_not_records(app: TestClient,
                                                    web_archive: WebArchive) -> None:
    for sneaky in ("..%2F..%2Fkeys%2Fpassphrase", "..", "VP-2024-000001%2F..%2F..",
                   "%2Fetc%2Fpasswd"):
        got = app.get(f"/api/records/{sneaky}/pdf", headers=bearer(web_archive, "boss"))
        assert got.status_code == 404
        assert b"PRIVATE" not in got.content and b"root:" not in got.content


def test_forms_need_the_csrf_token(app: TestClient) -> None:
    signed_in(app, "reader")
    assert app.post(f"/records/{PUBLIC}/verify", data={}).status_code == 403
    page = app.get(f"/records/{PUBLIC}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = app.post(f"/records/{PUBLIC}/verify", data={"csrf": csrf})
    assert done.status_code == 200 and "every check passed" in done.text


def test_revoked_token_stops_working(app: TestClient, web_archive: WebArchive) -> None:
    from archive.access import issue_token

    catalog = Catalog.open(web_archive.settings.catalog_url())
    token_id, secret = issue_token(catalog, "clerk")
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.get("/api/search", params={"q": "nghia"}, headers=headers).status_code == 200
    assert revoke_token(catalog, token_id)
    assert app.get("/api/search", params={"q": "nghia"}, headers=headers).status_code == 401


def test_malformed_query_is_a_message_not_a_trace(app: TestClient,
                                                  web_archive: WebArchive) -> None:
    got = app.get("/api/search", params={"q": '"unclosed'}, headers=bearer(web_archive, "boss"))
    assert got.status_code == 400 and "never closed" in got.json()["detail"]
    deep = app.get("/api/search", params={"q": "(" * 900 + "x" + ")" * 900},
                   headers=bearer(web_archive, "boss"))
    assert deep.status_code == 400 and "too deeply nested" in deep.json()["detail"]
    signed_in(app, "boss")
    page = app.get("/", params={"q": "(unclosed"})
    assert page.status_code == 200 and "never closed" in page.text


def test_openapi_schema_lists_the_api(app: TestClient, web_archive: WebArchive) -> None:
    assert app.get("/openapi.json").status_code == 401
    schema = app.get("/openapi.json", headers=bearer(web_archive, "reader")).json()
    assert {"/api/search", "/api/records/{record_id}", "/api/records/{record_id}/pdf",
            "/api/records/{record_id}/verify"} <= set(schema["paths"])


def test_audit_log_detects_deletion_insertion_edit_and_truncation(
        web_archive: WebArchive, tmp_path: object) -> None:
    home = web_archive.home
    AuditLog(home).record("tester", "search", query="x")
    AuditLog(home).record("tester", "view", record_id=PUBLIC)
    head = AuditLog(home).record("tester", "download", record_id=PUBLIC)
    assert AuditLog(home).verify(head) == []
    path = AuditLog(home).path
    original = path.read_bytes()
    lines = original.splitlines()
    try:
        path.write_bytes(b"\n".join(lines[:-3] + lines[-2:]) + b"\n")  # deleted entry
        assert AuditLog(home).verify()
        path.write_bytes(b"\n".join([*lines[:-1], lines[-2], lines[-1]]) + b"\n")  # inserted
        assert AuditLog(home).verify()
        path.write_bytes(original.replace(b'"user": "tester"', b'"user": "nobody"'))  # edited
        assert AuditLog(home).verify()
        path.write_bytes(b"\n".join(lines[:-1]) + b"\n")  # the tail cut off
        assert AuditLog(home).verify() == [] and AuditLog(home).verify(head)
    finally:
        path.write_bytes(original)
    assert AuditLog(home).verify(head) == []


def test_roadmap_is_for_managers_and_administrators(app: TestClient,
                                                    web_archive: WebArchive) -> None:
    assert app.get("/api/roadmap", headers=bearer(web_archive, "reader")).status_code == 403
    assert app.get("/api/roadmap", headers=bearer(web_archive, "clerk")).status_code == 403
    data = app.get("/api/roadmap", headers=bearer(web_archive, "boss")).json()
    vp = next(u for u in data["units"] if u["unit"] == "VP")
    assert vp["records"] == 2 and vp["signed"] == 2  # computed from the archive
    assert len(data["units"]) == 24
    signed_in(app, "reader")
    assert app.get("/roadmap").status_code == 403
    denied = [e for e in AuditLog(web_archive.home).entries()
              if e["action"] == "roadmap" and e.get("outcome") == "denied"]
    assert {e["user"] for e in denied} >= {"reader", "clerk"}


def test_milestone_form_needs_a_manager_and_csrf(app: TestClient,
                                                 web_archive: WebArchive) -> None:
    signed_in(app, "boss")
    page = app.get("/roadmap", params={"period": "2024"})
    assert page.status_code == 200 and "network-3-offices" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    refused = app.post("/roadmap/milestones/network-3-offices",
                       data={"status": "done", "csrf": "forged"})
    assert refused.status_code == 403
    done = app.post("/roadmap/milestones/network-3-offices",
                    data={"status": "done", "note": "three offices linked", "csrf": csrf},
                    follow_redirects=False)
    assert done.status_code == 303
    assert "boss" in app.get("/roadmap", params={"period": "2024"}).text
    bad = app.post("/roadmap/milestones/network-3-offices", data={"status": "finished",
                                                                  "csrf": csrf})
    assert bad.status_code == 400 and "is not one of" in bad.text


# The API's description too is for signed-in callers only (FastAPI's own answered anyone).
PUBLIC_ROUTES = {("GET", "/login"), ("POST", "/login")}
MANAGER_ROUTES = {"/roadmap", "/roadmap/milestones/{milestone_id}", "/api/roadmap"}


def every_route(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route the app has: a route added later is walked too."""
    def walk(routes: Iterable[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            # FastAPI 0.150 keeps an included router (pages, api, auth) as one entry of the
            # app's routes; earlier versions copied its routes in. Walk into it either way.
            if hasattr(route, "effective_route_contexts"):
                yield from walk(route.effective_route_contexts())
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    yield method, route.path

    return sorted(walk(client.app.routes))  # type: ignore[attr-defined]


def call(client: TestClient, method: str, path: str, record_id: str,
         headers: dict[str, str] | None = None) -> object:
    url = path.replace("{record_id}", record_id).replace("{milestone_id}", "hsm-seal")
    data = {"status": "done", "csrf": "none"} if method == "POST" else None
    return client.request(method, url, headers=headers, data=data, follow_redirects=False)


def test_every_route_wants_a_signed_in_user(app: TestClient) -> None:
    walked = every_route(app)
    assert len(walked) >= 14
    for method, path in walked:
        if (method, path) in PUBLIC_ROUTES:
            continue
        got = call(app, method, path, PUBLIC)
        assert got.status_code in (401, 303, 403), (method, path, got.status_code)
        if got.status_code == 303:
            assert got.headers["location"].startswith("/login"), (method, path)


@pytest.mark.parametrize(("user", "role"), [("reader", "archivist"), ("clerk", "officer")])
def test_every_route_as_each_role_hides_what_is_above_clearance(
        app: TestClient, web_archive: WebArchive, user: str, role: str) -> None:
    """Every route, by token and by session, asked for the secret record: never 200 with it,
    never its id or title in a body; the roadmap refused to those who are not managers."""
    signed_in(app, user)
    for method, path in every_route(app):
        if (method, path) in PUBLIC_ROUTES:
            continue
        for headers in (bearer(web_archive, user), None):
            got = call(app, method, path, SECRET, headers)
            if "{record_id}" in path:
                assert got.status_code in (403, 404), (method, path, got.status_code)
            if path in MANAGER_ROUTES:
                assert got.status_code == 403, (role, method, path, got.status_code)
            assert SECRET not in got.text and "Letter 63" not in got.text, (method, path)


def test_every_match_is_ranked_and_scores_are_shown_to_the_fully_cleared(
        web_archive: WebArchive) -> None:
    with TestClient(create_app(web_archive.settings)) as client:
        query = "nghia OR digit* OR akten OR behorde* OR freundlichen"
        api = client.get("/api/search", params={"q": query},
                         headers=bearer(web_archive, "boss")).json()
        assert api["order"] == "relevance" and api["total"] == 3
        assert all(h["score"] is not None for h in api["hits"])
        reader = client.get("/api/search", params={"q": query},
                            headers=bearer(web_archive, "reader")).json()
        assert reader["order"] == "relevance" and reader["total"] == 1
        assert [h["score"] for h in reader["hits"]] == [None]  # comparable only within a view


def test_a_record_whose_files_are_gone_is_said_not_a_server_error(
        web_archive: WebArchive, tmp_path: Path) -> None:
    """Search still knows it; its page, PDF and API answer 410 with the reason, and logged."""
    home = tmp_path / "home"
    shutil.copytree(web_archive.home, home)
    folder = home / "archive" / PUBLIC
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)
    with TestClient(create_app(Settings(home=home)), raise_server_exceptions=False) as client:
        headers = bearer(web_archive, "reader")
        for path in (f"/api/records/{PUBLIC}", f"/api/records/{PUBLIC}/pdf"):
            got = client.get(path, headers=headers)
            assert got.status_code == 410 and "records verify" in got.json()["detail"]
        verified = client.post(f"/api/records/{PUBLIC}/verify", headers=headers)
        assert verified.status_code == 200 and not verified.json()["ok"]
        assert "deleted" in verified.json()["checks"]["log"]["detail"]
    assert AuditLog(home).entries()[-2]["outcome"] == "damaged"


def test_pages_of_results_keep_every_filter(web_archive: WebArchive) -> None:
    """Page 2 keeps the filters (it used to drop them), there is a previous page, and the
    signed and needs-review selects keep their value."""
    settings = web_archive.settings
    one_a_page = settings.model_copy(  # three records: three pages
        update={"web": settings.web.model_copy(update={"page_size": 1})})
    with TestClient(create_app(one_a_page)) as app:
        _pages_keep_filters(app)


def _pages_keep_filters(app: TestClient) -> None:
    signed_in(app, "boss")
    query = "nghia OR digit* OR akten OR behorde* OR freundlichen"
    # Every record here is open in the review queue (no type, number or issuer was read).
    first = app.get("/", params={"q": query, "order": "newest", "signed": "yes",
                                 "review": "yes", "from": "2024-01-01"}).text
    found = re.search(r'href="\?([^"]+)" rel="next"', first)
    assert found is not None
    link = html.unescape(found.group(1))
    kept = dict(parse_qsl(link))
    assert kept == {"q": query, "order": "newest", "signed": "yes", "review": "yes",
                    "from": "2024-01-01", "page": "2"}
    assert first.count('<option value="yes" selected>yes</option>') == 2  # both selects
    second = app.get("/?" + link).text
    found = re.search(r'href="\?([^"]+)" rel="prev"', second)
    assert found is not None
    back = html.unescape(found.group(1))
    assert dict(parse_qsl(back)) == {**kept, "page": "1"}
    shown = [re.findall(r'href="/records/([^"]+)"', page) for page in (first, second)]
    assert len(shown[0]) == len(shown[1]) == 1 and shown[0] != shown[1]


def test_a_facet_value_is_a_filter_one_click_away(app: TestClient) -> None:
    signed_in(app, "boss")
    query = "nghia OR digit* OR akten OR behorde* OR freundlichen"
    page = app.get("/", params={"q": query, "order": "newest"}).text
    links = {html.unescape(text): html.unescape(href) for href, text in re.findall(
        r'<a href="\?([^"]+)" class="facet-filter">([^<]+)</a>', page)}
    assert {"HA", "VP", "secret", "2024"} <= set(links)
    assert dict(parse_qsl(links["HA"])) == {"q": query, "order": "newest", "unit": "HA"}
    assert dict(parse_qsl(links["2024"]))["from"] == "2024-01-01"
    narrowed = app.get("/?" + links["HA"]).text
    assert set(re.findall(r'href="/records/([^"]+)"', narrowed)) == {SECRET}
    assert 'name="unit" value="HA"' in narrowed
