"""An archivist's session in a real browser: Playwright driving Debian's chromium."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tests.records.web.conftest import PASSWORD, WebArchive, records_env

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_search_read_download_and_verify(server: str, browser: Browser,
                                         tmp_path: Path) -> None:
    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(server + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")

    page.fill("input[name=q]", "cong hoa xa hoi")  # typed without diacritics
    page.press("input[name=q]", "Enter")
    page.wait_for_selector(".hit")
    titles = page.locator(".hit h2 a").all_inner_texts()
    assert sorted(titles) == ["Letter 61", "Letter 62"]  # not the secret German letter
    assert page.locator(".snippet mark").first.inner_text() == "CỘNG"  # the page's spelling
    assert "2 records" in page.inner_text("#total")
    assert "HA-2024-000001" not in page.content()

    page.click("text=Letter 62")
    page.wait_for_selector("#metadata")
    assert "internal" in page.inner_text("main")
    assert "PAdES B-B" in page.inner_text("#signature")
    assert "stored" in page.inner_text("#provenance")
    frame = page.locator("iframe")
    assert frame.get_attribute("src") == "/records/VP-2024-000002/pdf"

    # The record page's controls sit below its PDF, which Chromium shows in a frame of its
    # own process. A mouse click right after the scroll that brings a control into view is
    # routed by where things were before it, so on a busy machine it lands in the PDF frame
    # (seen in CI: the frame took focus, nothing was sent). Keyboard activation goes to the
    # focused control, as it does for a person using the keyboard.
    with page.expect_download() as caught:
        page.focus("#download")
        page.keyboard.press("Enter")
    saved = tmp_path / "copy.pdf"
    caught.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
    assert caught.value.suggested_filename == "VP-2024-000002.pdf"

    page.focus("text=Verify now")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verdict")
    assert "every check passed" in page.inner_text("#verdict")

    page.goto(server + "/records/HA-2024-000001")  # above the clerk's clearance
    assert "no such record" in page.content()
    page.goto(server + "/")
    page.click("text=Sign out")
    page.wait_for_url("**/login")
    page.goto(server + "/records/VP-2024-000001")
    assert "/login" in page.url  # the session is gone


def test_roadmap_report_and_dashboard_render_their_charts(server: str, browser: Browser,
                                                          web_archive: WebArchive,
                                                          tmp_path: Path) -> None:
    """The self-contained HTML report opened from disk, then the same dashboard signed in."""
    report = tmp_path / "roadmap.html"
    made = subprocess.run([sys.executable, "-m", "records.cli", "roadmap", "--html",
                           str(report)], env=records_env(web_archive.home), capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "")  # nothing to fetch: readable offline
    context = browser.new_context()
    requests: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    burnups = page.locator("svg.burnup")
    assert burnups.count() >= 6
    assert burnups.first.bounding_box()["height"] > 50  # laid out, not hidden
    assert page.locator("svg.bars rect.bar").count() >= 1  # VP's signed share
    assert page.locator("table.heat tbody tr").count() == 24
    assert page.locator("table.heat td[data-status]").count() >= 24 * 8
    assert page.locator("figure[data-target=pages] polyline.actual").count() == 1
    assert requests == [report.as_uri()]
    assert page.pdf()[:5] == b"%PDF-"  # it prints

    page = browser.new_context().new_page()
    page.goto(server + "/login?next=/roadmap")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/roadmap")
    assert page.locator("svg.burnup").count() == burnups.count()
    assert "VP" in page.inner_text("#unit-VP h3")
    page.select_option("select[name=period]", "2024")
    page.click("text=Show")
    page.wait_for_selector("text=Network extended to three offices")
    page.select_option("select[aria-label='status of network-3-offices']", "in progress")
    page.locator("form[action='/roadmap/milestones/network-3-offices'] button").click()
    page.wait_for_selector("text=set to in progress")
