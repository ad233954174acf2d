"""Administrators manage accounts in the browser, as ``records users`` does on the command line:
each change made, said once after the redirect, and in the audit log under the command line's
action names; anyone else refused and logged; no administrator able to lock themselves out;
no password anywhere but in the form that sets it.

The archive is shared by the whole session: each test works on accounts of its own.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog, add_user, authenticate, get_user, set_units, units_of
from archive.index import Catalog
from records.web.app import create_app
from tests.records.web.conftest import PASSWORD, WebArchive
from tests.records.web.helpers import sign_in
from tests.records.web.test_web_access import bearer, signed_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser

NEW_PASSWORD = "plum-tangerine-47"  # set through the forms: must never be seen again


@pytest.fixture
def app(web_archive: WebArchive) -> Iterator[TestClient]:
    with TestClient(create_app(web_archive.settings)) as client:
        yield client


@pytest.fixture
def catalog(web_archive: WebArchive) -> Iterator[Catalog]:
    catalog = Catalog.open(web_archive.settings.catalog_url())
    yield catalog
    catalog.engine.dispose()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def post(client: TestClient, path: str, **form: str) -> httpx.Response:
    """Send an accounts form with the page's CSRF token (unless the form names one)."""
    form.setdefault("csrf", csrf_of(client.get("/admin/users").text))
    return client.post(path, data=form, follow_redirects=False)


def flashed(client: TestClient) -> str:
    """What the accounts page says was done (empty when it says nothing)."""
    found = re.search(r'id="flash">([^<]*)<', client.get("/admin/users").text)
    return found.group(1) if found else ""


def new_entries(web_archive: WebArchive, since: int) -> list[dict[str, Any]]:
    return AuditLog(web_archive.home).entries()[since:]


def audit_length(web_archive: WebArchive) -> int:
    return len(AuditLog(web_archive.home).entries())


class Controls(HTMLParser):
    """A page's form controls (name, type) and whether a <label> holds each."""

    def __init__(self) -> None:
        super().__init__()
        self.open_labels = 0
        self.controls: list[tuple[str, str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        if tag == "label":
            self.open_labels += 1
        elif tag in ("input", "select", "textarea") and given.get("type") != "hidden":
            self.controls.append((given.get("name") or "", given.get("type") or tag,
                                  self.open_labels > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def test_administrators_see_every_account(app: TestClient, catalog: Catalog) -> None:
    add_user(catalog, "adm-listed", "officer", "internal", PASSWORD)
    set_units(catalog, "adm-listed", ["VP", "HN"])
    add_user(catalog, "adm-gone", "archivist", "public", PASSWORD)
    signed_in(app, "boss")
    post(app, "/admin/users/disable", name="adm-gone")
    page = app.get("/admin/users")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    rows = {name: re.sub(r"<[^>]+>|\s+", " ", row) for name, row in re.findall(
        r'<tr data-name="([^"]+)">(.*?)<details>', page.text, re.S)}
    assert {"reader", "clerk", "boss", "adm-listed", "adm-gone"} <= set(rows)
    assert rows["adm-listed"].split() == ["adm-listed", "officer", "internal", "HN,", "VP",
                                          "active"]
    assert rows["adm-gone"].split()[-1] == "disabled"
    assert rows["boss"].split()[:5] == ["boss", "(you)", "admin", "secret", "none"]
    # Every control has a label around it; the table scrolls inside its own box on a phone.
    parsed = Controls()
    parsed.feed(page.text)
    assert len(parsed.controls) >= 5 + 4 * len(rows)
    assert all(labelled for _, _, labelled in parsed.controls), parsed.controls
    assert re.search(r'<div class="scroll"[^>]*>\s*<table class="accounts"', page.text)
    assert '<a href="/admin/users">Accounts</a>' in page.text  # the header's link
    assert '<a href="/admin/users">Accounts</a>' not in signed_in(app, "reader").get("/").text


@pytest.mark.parametrize("name", ["reader", "clerk", "adm-manager"])
def test_anyone_else_is_refused_and_it_is_logged(app: TestClient, web_archive: WebArchive,
                                                 catalog: Catalog, name: str) -> None:
    if name == "adm-manager":
        add_user(catalog, name, "manager", "secret", PASSWORD)
    add_user(catalog, f"adm-victim-{name}", "archivist", "public", PASSWORD)
    signed_in(app, name)
    csrf = csrf_of(app.get("/").text)  # a real token of the session: still refused
    since = audit_length(web_archive)
    assert app.get("/admin/users").status_code == 403
    for path, form in (("/admin/users/disable", {}), ("/admin/users/password",
                                                      {"password": NEW_PASSWORD}),
                       ("/admin/users/access", {"role": "admin", "clearance": "secret"}),
                       ("/admin/users/units", {"units": "VP"}),
                       ("/admin/users", {"role": "admin", "clearance": "secret",
                                         "password": NEW_PASSWORD})):
        got = app.post(path, data={"csrf": csrf, "name": f"adm-victim-{name}", **form})
        assert got.status_code == 403, path
        assert "accounts are managed by administrators" in got.text
    assert app.post("/admin/users/disable", data={}).status_code == 403  # before any field
    token = app.get("/admin/users", headers=bearer(web_archive, "reader"))
    assert token.status_code == 403
    entries = new_entries(web_archive, since)
    assert [(e["action"], e["outcome"]) for e in entries] == [("accounts", "denied")] * 8
    assert {e["user"] for e in entries} == {name, "reader"}
    assert get_user(catalog, f"adm-victim-{name}") is not None
    assert get_user(catalog, f"adm-victim-{name}-2") is None
    assert authenticate(catalog, f"adm-victim-{name}", PASSWORD) is not None


def test_an_account_is_added_with_its_units_and_said_once(
        app: TestClient, web_archive: WebArchive, catalog: Catalog,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signed_in(app, "boss")
    since = audit_length(web_archive)
    done = post(app, "/admin/users", name="adm-new", role="archivist", clearance="internal",
                password=NEW_PASSWORD, units="VP, HN,,")
    assert done.status_code == 303 and done.headers["location"] == "/admin/users"
    shown = app.get(done.headers["location"]).text
    assert re.search(r'id="flash">added adm-new \(archivist, cleared internal\), working for '
                     r"HN, VP<", shown)
    assert flashed(app) == ""  # said once
    assert units_of(catalog, "adm-new") == ("HN", "VP")
    entries = new_entries(web_archive, since)
    assert [(e["user"], e["action"], e["target"]) for e in entries] == [
        ("boss", "user-added", "adm-new"), ("boss", "user-units", "adm-new")]
    assert (entries[0]["role"], entries[0]["clearance"], entries[1]["units"]) == (
        "archivist", "internal", ["HN", "VP"])
    assert sign_in(TestClient(app.app), "adm-new", NEW_PASSWORD).status_code == 303
    logged = AuditLog(web_archive.home).path.read_text()
    assert NEW_PASSWORD not in logged and NEW_PASSWORD not in shown
    assert NEW_PASSWORD not in caplog.text


def test_each_change_is_made_audited_and_said(app: TestClient, web_archive: WebArchive,
                                              catalog: Catalog) -> None:
    add_user(catalog, "adm-target", "archivist", "public", PASSWORD)
    signed_in(app, "boss")
    since = audit_length(web_archive)
    steps = [
        ("/admin/users/disable", {}, "adm-target disabled: signed out everywhere, its tokens "
                                     "revoked"),
        ("/admin/users/enable", {}, "adm-target enabled (its old tokens stay revoked)"),
        ("/admin/users/password", {"password": NEW_PASSWORD},
         "password of adm-target set; its sign-ins ended"),
        ("/admin/users/access", {"role": "manager", "clearance": "internal"},
         "adm-target is now manager, cleared internal"),
        ("/admin/users/units", {"units": " VP ,HN,"}, "adm-target works for HN, VP"),
        ("/admin/users/units", {"units": ""}, "adm-target works for no unit"),
    ]
    for path, form, said in steps:
        done = post(app, path, name="adm-target", **form)
        assert done.status_code == 303 and done.headers["location"] == "/admin/users", path
        assert flashed(app) == said
        if path.endswith("disable"):
            assert get_user(catalog, "adm-target") is None
            assert sign_in(TestClient(app.app), "adm-target", PASSWORD).status_code == 401
    assert authenticate(catalog, "adm-target", PASSWORD) is None
    user = authenticate(catalog, "adm-target", NEW_PASSWORD)
    assert user is not None and (user.role, user.clearance_name) == ("manager", "internal")
    assert units_of(catalog, "adm-target") == ()
    entries = [e for e in new_entries(web_archive, since) if e["action"] != "login"]
    assert [e["action"] for e in entries] == ["user-disabled", "user-enabled", "password-set",
                                              "user-changed", "user-units", "user-units"]
    assert {(e["user"], e["target"], e["outcome"]) for e in entries} == {
        ("boss", "adm-target", "ok")}
    assert (entries[3]["role"], entries[3]["clearance"]) == ("manager", "internal")
    assert [e["units"] for e in entries[4:]] == [["HN", "VP"], []]
    assert NEW_PASSWORD not in json.dumps(entries)


def test_every_form_checks_the_csrf_token(app: TestClient, web_archive: WebArchive,
                                          catalog: Catalog) -> None:
    add_user(catalog, "adm-forged", "archivist", "public", PASSWORD)
    signed_in(app, "boss")
    since = audit_length(web_archive)
    for path, form in (("/admin/users/disable", {}), ("/admin/users/enable", {}),
                       ("/admin/users/password", {"password": NEW_PASSWORD}),
                       ("/admin/users/access", {"role": "admin", "clearance": "secret"}),
                       ("/admin/users/units", {"units": "VP"}),
                       ("/admin/users", {"role": "admin", "clearance": "secret",
                                         "password": NEW_PASSWORD})):
        name = "adm-forged-new" if path == "/admin/users" else "adm-forged"
        for csrf in ("forged", ""):
            got = post(app, path, name=name, csrf=csrf, **form)
            assert got.status_code == 403 and "the form has expired" in got.text, path
    assert new_entries(web_archive, since) == []
    user = authenticate(catalog, "adm-forged", PASSWORD)
    assert user is not None and user.role == "archivist" and not units_of(catalog, "adm-forged")
    assert get_user(catalog, "adm-forged-new") is None


@pytest.mark.parametrize(("path", "form", "said"), [
    ("/admin/users", {"name": "adm-short", "role": "archivist", "clearance": "public",
                      "password": "short-pw1"}, "the password needs at least 10 characters"),
    ("/admin/users", {"name": "reader", "role": "archivist", "clearance": "public",
                      "password": NEW_PASSWORD}, "a user &#39;reader&#39; exists already"),
    ("/admin/users", {"name": "adm-role", "role": "wizard", "clearance": "public",
                      "password": NEW_PASSWORD}, "unknown role &#39;wizard&#39;"),
    ("/admin/users", {"name": "x" * 65, "role": "archivist", "clearance": "public",
                      "password": NEW_PASSWORD}, "a name is 1 to 64 printable characters"),
    ("/admin/users", {"name": "b\u043ess", "role": "admin", "clearance": "secret",  # Cyrillic o
                      "password": NEW_PASSWORD}, "an account&#39;s name is 1 to 64 ASCII"),
    ("/admin/users", {"name": "adm-units", "role": "archivist", "clearance": "public",
                      "password": NEW_PASSWORD, "units": "VP,\x07"},
     "added adm-units (archivist, cleared public), but not its units: not a unit code"),
    ("/admin/users/password", {"name": "reader", "password": "short-pw1"},
     "the password needs at least 10 characters"),
    ("/admin/users/access", {"name": "nobody-here", "role": "archivist",
                             "clearance": "public"}, "no user &#39;nobody-here&#39;"),
    ("/admin/users/access", {"name": "reader", "role": "archivist", "clearance": "top"},
     "unknown clearance &#39;top&#39;"),
    ("/admin/users/units", {"name": "nobody-here", "units": "VP"}, "no user &#39;nobody-here&#39;"),
    ("/admin/users/disable", {"name": "nobody-here"}, "no user &#39;nobody-here&#39;"),
])
def test_a_refused_change_is_one_line_on_the_page(app: TestClient, path: str,
                                                  form: dict[str, str], said: str) -> None:
    signed_in(app, "boss")
    got = post(app, path, **form)
    assert got.status_code == 400 and "text/html" in got.headers["content-type"]
    error = re.search(r'<p class="error" role="alert" id="error">([^<]*)</p>', got.text)
    assert error is not None and error.group(1).startswith(said), got.text[-2000:]
    assert "\n" not in error.group(1)
    assert "short-pw1" not in got.text and NEW_PASSWORD not in got.text
    assert 'id="accounts"' in got.text  # the page itself, to try again


def test_an_administrator_cannot_lock_themselves_out(app: TestClient, web_archive: WebArchive,
                                                     catalog: Catalog) -> None:
    add_user(catalog, "adm-self", "admin", "secret", PASSWORD)
    signed_in(app, "adm-self")
    since = audit_length(web_archive)
    disabled = post(app, "/admin/users/disable", name="adm-self")
    assert disabled.status_code == 400
    assert "you cannot disable your own account" in disabled.text
    for role in ("manager", "archivist", "officer"):
        demoted = post(app, "/admin/users/access", name="adm-self", role=role,
                       clearance="secret")
        assert demoted.status_code == 400
        assert "you cannot take away your own administrator role" in demoted.text
    user = get_user(catalog, "adm-self")
    assert user is not None and user.role == "admin"
    assert app.get("/admin/users").status_code == 200  # still signed in, still an admin
    entries = new_entries(web_archive, since)
    assert [(e["action"], e["outcome"], e["target"]) for e in entries] == [
        ("user-disabled", "refused", "adm-self")] + [("user-changed", "refused", "adm-self")] * 3
    # Their own clearance they may change, keeping the role; another admin may demote them.
    assert post(app, "/admin/users/access", name="adm-self", role="admin",
                clearance="internal").status_code == 303
    assert post(signed_in(TestClient(app.app), "boss"), "/admin/users/disable",
                name="adm-self").status_code == 303


def test_the_page_is_accessible_and_fits_a_phone(server: str, browser: Browser) -> None:
    """axe-core finds no WCAG 2.1 AA violation, with a row's forms opened too, at a desktop's
    and a phone's width; at 375 px the page does not scroll sideways."""
    from tests.records.web.browsing import (
        WIDTHS,
        assert_accessible,
        assert_no_horizontal_scroll,
        open_as,
    )

    for width in (1280, 375):
        page = open_as(browser, server, "/admin/users", "boss", WIDTHS[width])
        assert page.locator("#accounts").is_visible()
        assert_accessible(page)
        page.locator("tr[data-name=reader] summary").click()
        assert page.locator("tr[data-name=reader] input[name=units]").is_visible()
        assert_accessible(page)
        if width == 375:
            assert_no_horizontal_scroll(page)
        page.context.close()
