"""Every page of the web app is usable by everyone: no axe-core violation at WCAG 2.1 AA, at a
desktop's width and at a phone's, and nothing to scroll sideways on a 375 px wide phone.

A page is added to the checks by one line in ``PAGES``. A page with a known fault another
change will fix gets a line in ``KNOWN``: a strict xfail, so the suite says so, and fails as
soon as the fault is gone (then delete the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import pytest

from archive.intake import BatchReport, DocumentStatus, Ledger
from tests.records.web.browsing import (
    WIDTHS,
    assert_accessible,
    assert_no_horizontal_scroll,
    open_as,
)
from tests.records.web.conftest import WebArchive

if TYPE_CHECKING:
    from playwright.sync_api import Browser


class Shown(NamedTuple):
    name: str
    path: str
    user: str | None  # signed in as this user first; None: not signed in


BATCH = "20261203-080000-0000a110"
PAGES = [
    Shown("sign-in", "/login", None),
    Shown("search", "/?q=cong+hoa", "boss"),
    Shown("browse", "/", "reader"),
    Shown("grid", "/?view=grid&order=title", "boss"),
    Shown("nothing-found", "/?q=cong+hoa&unit=HA&signed=no", "boss"),
    Shown("record", "/records/VP-2024-000001", "boss"),
    Shown("roadmap", "/roadmap", "boss"),
    Shown("milestones", "/roadmap?period=2024", "boss"),  # the period with milestones to set
    Shown("batches", "/batches", "boss"),
    Shown("batch", f"/batches/{BATCH}", "boss"),
    Shown("upload", "/batches/new", "boss"),
    Shown("accounts", "/admin/users", "boss"),
    Shown("review-queue", "/review", "boss"),
    Shown("editor", "/records/VP-2024-000002/edit", "boss"),  # with the form to lower it
    Shown("version", "/records/VP-2024-000001/versions/v1", "boss"),
    Shown("page-words", "/records/VP-2024-000002/pages/1/text", "boss"),  # boxes on the scan
    Shown("diff", "/records/VP-2024-000001/diff?from=v1&to=v1", "boss"),
]

@pytest.fixture(scope="module", autouse=True)
def a_batch(web_archive: WebArchive) -> None:
    """A finished batch in the ledger: one document archived, one quarantined, one the
    viewer may not name (the page's three kinds of row)."""
    Ledger(web_archive.home).save(BatchReport(
        BATCH, [], state="finished", unit="VP", classification="public",
        warnings=["manifest.csv: the column 'Title' read as 'title'"], documents=[
            DocumentStatus("letter.png", "VP", "VP-2024-000001", "archived", pages=1,
                           pages_done=1, classification="public"),
            DocumentStatus("broken.pdf", "VP", None, "quarantined", "the PDF is damaged",
                           classification="public"),
            DocumentStatus("old.png", "VP", None, "archived")]))


# (check, page name, width) -> the violation ids: faults in templates this change leaves alone.
KNOWN: dict[tuple[str, str, int], str] = {}


def cases(check: str, widths: tuple[int, ...]) -> list[object]:
    """The pages at the widths ``check`` runs at, the known faults marked strict xfail."""
    params = []
    for shown in PAGES:
        for width in widths:
            reason = KNOWN.get((check, shown.name, width))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(shown, width, marks=marks, id=f"{shown.name}-{width}"))
    return params


@pytest.mark.parametrize(("shown", "width"), cases("axe", (1280, 375)))
def test_page_has_no_accessibility_violations(server: str, browser: Browser, shown: Shown,
                                              width: int) -> None:
    page = open_as(browser, server, shown.path, shown.user, WIDTHS[width])
    assert_accessible(page)
    page.context.close()


@pytest.mark.parametrize(("shown", "width"), cases("scroll", (375,)))
def test_page_fits_a_phone_without_sideways_scrolling(server: str, browser: Browser,
                                                      shown: Shown, width: int) -> None:
    page = open_as(browser, server, shown.path, shown.user, WIDTHS[width])
    assert_no_horizontal_scroll(page)
    page.context.close()
