"""Review and correction in a real browser: an archivist works through the review queue and
corrects a title that search then finds; two administrators lower a classification.

The corrections are new versions of records, so this module serves a copy of the session's
archive with a server of its own: the session's server keeps showing the records as made.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from archive.access import add_user
from archive.index import Catalog
from config.settings import Settings
from tests.conftest import free_port
from tests.records.web.browsing import assert_accessible, assert_no_horizontal_scroll
from tests.records.web.conftest import PASSWORD, WebArchive, records_env, wait_for_port
from tests.records.web.test_web_access import PUBLIC, SECRET

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

NEW_TITLE = "Quyết định về lưu trữ hồ sơ"


@pytest.fixture(scope="module")
def review_server(web_archive: WebArchive, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[str]:
    """``records serve`` on a copy of the session's archive with a second administrator."""
    home = tmp_path_factory.mktemp("browser-review") / "home"
    shutil.copytree(web_archive.home, home)
    catalog = Catalog.open(Settings(home=home).catalog_url())
    add_user(catalog, "second", "admin", "secret", PASSWORD)
    catalog.engine.dispose()
    port = free_port()
    log_path = home.parent / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "records.cli", "serve", "--port", str(port)],
            env=records_env(home), stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for_port(port, process, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


def sign_in(browser: Browser, server: str, name: str, path: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{server}/login?next={path}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + path)
    return page


def press(page: Page, selector: str) -> None:
    """Activate a control by keyboard: below the record's PDF frame a mouse click can land in
    the frame (see test_browser.py)."""
    page.focus(selector)
    page.keyboard.press("Enter")


def test_an_archivist_corrects_a_title_from_the_review_queue(review_server: str,
                                                             browser: Browser) -> None:
    page = sign_in(browser, review_server, "reader", "/review")
    assert page.locator("#queue li[data-record]").count() == 1  # public records only
    assert "no type was read" in page.inner_text("#queue")
    page.click("#queue h3 a")
    page.wait_for_url(f"{review_server}/records/{PUBLIC}")
    press(page, "#edit")
    page.wait_for_url(f"{review_server}/records/{PUBLIC}/edit")
    assert page.input_value("#f-title") == "Letter 61"
    page.fill("#f-title", NEW_TITLE)
    page.fill("#f-why", "the subject line of the letter")
    page.click("text=Save the correction")
    page.wait_for_url(f"{review_server}/records/{PUBLIC}")
    assert page.inner_text("h1") == NEW_TITLE
    assert "Corrected title: saved as v2." in page.inner_text("#flash")
    assert "corrected by reader" in page.inner_text("#metadata")
    assert "the subject line of the letter" in page.inner_text("#history")
    assert_accessible(page)  # the page with its history and the form to compare versions

    press(page, "#compare button")
    page.wait_for_url(re.compile(r".*/diff\?from=v1&to=v2$"))
    assert NEW_TITLE in page.inner_text("#changes")
    assert_accessible(page)
    assert_no_horizontal_scroll(page)

    # A misread word, corrected on the page image: the box on the scan leads to its field.
    page.goto(f"{review_server}/records/{PUBLIC}")
    press(page, "#correct-words")
    page.wait_for_url(f"{review_server}/records/{PUBLIC}/pages/1/text")
    first = page.locator("#words input[name^=w_]").first
    box = page.locator(f".scan a[href='#{first.get_attribute('id')}']")
    assert box.bounding_box()["width"] > 0  # drawn over the scan
    first.fill("Zebrafinch")
    page.fill("#f-why", "misread on the scan")
    page.press("#f-why", "Enter")
    page.wait_for_selector("#flash")
    assert "Corrected 1 word on page 1: saved as v3." in page.inner_text("#flash")
    page.goto(review_server + "/?q=zebrafinch")
    page.wait_for_selector(".hit")
    assert page.inner_text(".snippet mark") == "Zebrafinch"

    page.goto(review_server + "/")
    page.fill("input[name=q]", "luu tru ho so")  # typed without diacritics
    page.press("input[name=q]", "Enter")
    page.wait_for_selector(".hit")
    assert page.locator(".hit h2 a").all_inner_texts() == [NEW_TITLE]
    page.goto(review_server + "/review")
    assert page.locator("#queue li[data-record]").count() == 0  # a person acted on it
    page.context.close()


def test_a_second_person_approves_a_declassification(review_server: str,
                                                     browser: Browser) -> None:
    proposer = sign_in(browser, review_server, "boss", f"/records/{SECRET}/edit")
    proposer.select_option("#p-to", "internal")
    proposer.fill("#p-why", "the plan was published")
    proposer.click("form.lower button[type=submit]")
    proposer.wait_for_url(f"{review_server}/records/{SECRET}")
    assert "Proposed lowering secret to internal" in proposer.inner_text("#flash")
    assert proposer.locator("#proposals button", has_text="Approve").count() == 0
    proposer.context.close()

    approver = sign_in(browser, review_server, "second", f"/records/{SECRET}")
    assert "proposed by boss" in approver.inner_text("#proposals")
    assert_accessible(approver)  # the page with a proposal to decide
    assert_no_horizontal_scroll(approver)
    press(approver, "#proposals button:has-text('Approve')")
    approver.wait_for_selector("#flash")
    assert "is now internal" in approver.inner_text("#flash")
    assert "classification internal" in approver.inner_text(".meta")
    assert approver.locator("#proposals").count() == 0
    assert "second" in approver.inner_text("#history")
    approver.context.close()
