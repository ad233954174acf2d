"""An archivist's session in a real browser: Playwright driving Debian's chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.web.conftest import PASSWORD, WebArchive

CHROMIUM = Path(os.environ.get("RECORDS_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def server(web_archive: WebArchive) -> Iterator[str]:
    """``records serve`` as a user starts it, on a free loopback port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(web_archive.home)
    process = subprocess.Popen([sys.executable, "-m", "records.cli", "serve", "--port",
                                str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "died")
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.skip(f"no chromium at {CHROMIUM} (make system installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


def test_search_read_download_and_verify(server: str, browser: object,
                                         tmp_path: Path) -> None:
    page = browser.new_context(accept_downloads=True).new_page()  # type: ignore[attr-defined]
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

    with page.expect_download() as download_info:
        page.click("#download")
    saved = tmp_path / "copy.pdf"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    page.click("text=Verify now")
    page.wait_for_selector("#verdict")
    assert "every check passed" in page.inner_text("#verdict")

    page.goto(server + "/records/HA-2024-000001")  # above the clerk's clearance
    assert "no such record" in page.content()
    page.goto(server + "/")
    page.click("text=Sign out")
    page.wait_for_url("**/login")
    page.goto(server + "/records/VP-2024-000001")
    assert "/login" in page.url  # the session is gone
