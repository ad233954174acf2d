"""The roadmap dashboard's milestones: the note a manager wrote is shown again (escaped), and
what a form did is said once from the session, never from a query parameter anyone can write."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from records.web.app import create_app
from tests.records.web.conftest import WebArchive
from tests.records.web.test_web_access import signed_in

MILESTONE = "scanning-station-south"  # period 2025; the other tests set other milestones


@pytest.fixture
def app(web_archive: WebArchive) -> Iterator[TestClient]:
    with TestClient(create_app(web_archive.settings)) as client:
        yield client


def set_milestone(client: TestClient, status: str, note: str) -> str:
    """Send the milestone form; the redirect's location."""
    page = client.get("/roadmap", params={"period": "2025"}).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post(f"/roadmap/milestones/{MILESTONE}",
                       data={"status": status, "note": note, "csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    return done.headers["location"]


def milestone_row(page: str) -> str:
    """The milestone's row of the milestones table (its title is in the per-unit tables too)."""
    table = page[page.index(">Milestones</h2>"):]
    row = re.search(r"<tr>\s*<td>Scanning station installed[^<]*</td>(.*?)</tr>", table, re.S)
    assert row is not None, page[-3000:]
    return row.group(1)


def test_the_current_note_is_shown_escaped(app: TestClient) -> None:
    signed_in(app, "boss")
    set_milestone(app, "in progress", "<b>ordered</b> & due in May")
    row = milestone_row(app.get("/roadmap", params={"period": "2025"}).text)
    assert '<td class="note">&lt;b&gt;ordered&lt;/b&gt; &amp; due in May</td>' in row
    assert "<b>ordered" not in row
    set_milestone(app, "done", "installed")
    row = milestone_row(app.get("/roadmap", params={"period": "2025"}).text)
    assert '<td class="note">installed</td>' in row and "ordered" not in row


def test_what_was_set_is_said_once_from_the_session(app: TestClient) -> None:
    signed_in(app, "boss")
    location = set_milestone(app, "blocked", "")
    assert location == "/roadmap?period=2025" and "message" not in location
    shown = app.get(location).text
    assert re.search(rf'<p class="ok" role="status" id="flash">milestone {MILESTONE} set to '
                     r"blocked</p>", shown)
    assert 'id="flash"' not in app.get(location).text  # once


def test_a_message_in_the_url_is_not_shown(app: TestClient) -> None:
    signed_in(app, "boss")
    for message in ("<script>alert(1)</script>", "Your account is locked: call 555-0100"):
        page = app.get("/roadmap", params={"message": message})
        assert page.status_code == 200
        for part in ("alert(1)", "script&gt;", "account is locked", "555-0100"):
            assert part not in page.text
        assert 'class="ok"' not in page.text
