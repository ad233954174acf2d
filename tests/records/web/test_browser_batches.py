"""A day at work in a real browser. A records officer uploads a batch with one broken file,
watches it finish, takes the broken original back and queues it again fixed; an archivist then
finds the new record by browsing, narrows by clicking a facet, pages forward and back, and
opens the record at the page of a hit. The batches run for real (``records queue`` with
embedded Prefect, Tesseract, signing) on a copy of the web archive."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest
from PIL import Image

from archive.access import add_user, set_units
from archive.index import Catalog
from archive.intake import Ledger
from config.settings import Settings
from tests.conftest import Scans, free_port
from tests.records.web.conftest import PASSWORD, WebArchive, records_env, wait_for_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

BATCH_SECONDS = 600  # a batch on a busy 2-core machine: Prefect's start, OCR, signing


@dataclass(frozen=True)
class Office:
    url: str
    home: Path


@pytest.fixture(scope="module")
def office(web_archive: WebArchive, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Office]:
    """``records serve`` on a copy of the web archive (the batches here add records other
    tests must not find), clerk working for VP."""
    home = tmp_path_factory.mktemp("office") / "home"
    shutil.copytree(web_archive.home, home)
    catalog = Catalog.open(Settings(home=home).catalog_url())
    set_units(catalog, "clerk", ["VP"])
    add_user(catalog, "lan", "archivist", "internal", PASSWORD)
    catalog.engine.dispose()
    config = home.parent / "records.toml"
    config.write_text("[web]\npage_size = 2\n")  # a few records make pages to turn
    port = free_port()
    log_path = home.parent / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "records.cli", "serve", "--port",
                                    str(port)],
                                   env={**records_env(home), "RECORDS_CONFIG": str(config)},
                                   stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for_port(port, process, log_path)
            yield Office(f"http://127.0.0.1:{port}", home)
        finally:
            process.terminate()
            process.wait(10)


def signed_in_page(browser: Browser, office: Office, name: str) -> Page:
    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(office.url + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(office.url + "/")
    return page


def wait_until_ended(page: Page) -> str:
    """The batch page's state once the live updates say the batch ended."""
    page.wait_for_function(
        "() => ['finished', 'failed', 'interrupted', 'could not start'].includes("
        "document.querySelector('#batch-state strong').textContent)",
        timeout=BATCH_SECONDS * 1000)
    return page.inner_text("#batch-state strong")


def two_page_pdf(scans: Scans, target: Path) -> tuple[Path, str]:
    """A scanner's image PDF of two letters' pages, and a word that only its second page
    holds (plain letters, long: the default English model reads it as printed)."""
    first, first_text = scans.page("vie", seed=71)
    second, second_text = scans.page("deu", seed=73)
    with Image.open(first) as one, Image.open(second) as two:
        one.convert("L").save(target, save_all=True, append_images=[two.convert("L")],
                              resolution=300)
    words = {w.strip(".,:;()") for w in first_text.split()}
    only_second = sorted((w for w in (w.strip(".,:;()") for w in second_text.split())
                          if w.isascii() and w.isalpha() and len(w) >= 9 and w not in words),
                         key=len, reverse=True)
    return target, only_second[0]


def test_an_officer_queues_a_batch_and_an_archivist_finds_its_record(
        office: Office, browser: Browser, scans: Scans, tmp_path: Path) -> None:
    good, word = two_page_pdf(scans, tmp_path / "letter-71.pdf")
    officer_queues_follows_and_requeues(office, browser, scans, tmp_path, good)
    archivist_browses_narrows_pages_and_opens_at_the_hit(office, browser, word)


def officer_queues_follows_and_requeues(office: Office, browser: Browser, scans: Scans,
                                        tmp_path: Path, good: Path) -> None:
    broken = tmp_path / "broken-scan.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage, no pages\n%%EOF")
    page = signed_in_page(browser, office, "clerk")
    page.click("text=Batches")
    page.click("#queue-link")
    offered = page.locator("#unit option").all_inner_texts()
    assert len(offered) == 1 and offered[0].startswith("VP")  # clerk's one unit of 24
    page.select_option("#classification", "internal")
    page.set_input_files("#files", [str(good), str(broken)])
    page.click("#queue")
    page.wait_for_url(f"{office.url}/batches/2*")
    batch_id = urlparse(page.url).path.rsplit("/", 1)[1]
    # Live: the state changes on the page without a reload, by server-sent events.
    assert wait_until_ended(page) == "finished"
    rows = page.locator("#documents tbody tr")
    assert rows.count() == 2
    archived = page.locator("tr.doc-archived")
    assert archived.locator("a").first.inner_text().startswith("VP-")
    quarantined = page.locator("tr.doc-quarantined")
    assert "broken-scan.pdf" in quarantined.inner_text()
    assert quarantined.locator(".reason").inner_text().strip()  # the reason is shown
    report = Ledger(office.home).get(batch_id)
    assert report is not None and report.counts() == {"archived": 1, "quarantined": 1}
    assert report.classification == "internal" and report.unit == "VP"
    assert [d.classification for d in report.documents] == ["internal", "internal"]
    # `records status` reads the same ledger the page shows.
    status = json.loads(subprocess.run(
        [sys.executable, "-m", "records.cli", "status", batch_id, "--json"],
        env=records_env(office.home), capture_output=True, text=True, check=True).stdout)
    assert status["effective_state"] == "finished"
    assert {d["source"]: d["status"] for d in status["documents"]} == {
        good.name: "archived", "broken-scan.pdf": "quarantined"}

    with page.expect_download() as download:
        quarantined.locator("a.original").click()
    assert Path(download.value.path()).read_bytes() == broken.read_bytes()

    quarantined.locator("a.requeue").click()
    assert "broken-scan.pdf" in page.inner_text("#replacing")
    assert page.input_value("#classification") == "internal"  # as the first batch asked
    fixed, _ = scans.page("vie", seed=72)
    page.set_input_files("#files", [str(fixed)])
    page.click("#queue")
    page.wait_for_url(f"{office.url}/batches/2*")
    again = urlparse(page.url).path.rsplit("/", 1)[1]
    assert again != batch_id
    assert wait_until_ended(page) == "finished"
    assert page.locator("tr.doc-archived").count() == 1, page.inner_text("main")
    page.goto(f"{office.url}/batches/{batch_id}")
    assert "queued again as" in page.inner_text("tr.doc-quarantined")
    assert batch_id in page.content()
    page.goto(f"{office.url}/batches")
    listed = page.locator("#batches tbody tr td:first-child").all_inner_texts()
    assert batch_id in listed and again in listed
    page.context.close()


def archivist_browses_narrows_pages_and_opens_at_the_hit(office: Office, browser: Browser,
                                                         word: str) -> None:
    page = signed_in_page(browser, office, "lan")  # an archivist cleared for internal
    # Browse without typing: every record lan may see, newest first, two to a page, each
    # with its first page's thumbnail, drawn.
    total = int(page.inner_text("#total").split()[0])
    assert total == 4  # two of the web archive's, two the officer queued; not the secret one
    assert page.locator(".hit").count() == 2
    page.wait_for_function("() => [...document.querySelectorAll('.hit img')].every("
                           "i => i.complete && i.naturalWidth > 0)")
    # A facet value is a filter one click away.
    page.click("a.facet-filter:text-is('internal')")
    page.wait_for_url("**classification=internal**")
    assert int(page.inner_text("#total").split()[0]) == 3
    first = page.locator(".hit h2 a").all_inner_texts()
    # Forward and back: the filter holds on every page.
    page.click("#next")
    page.wait_for_url("**page=2**")
    assert "classification=internal" in page.url
    assert page.locator(".hit").count() == 1
    assert page.locator(".hit h2 a").all_inner_texts()[0] not in first
    page.click("#previous")
    page.wait_for_url("**page=1**")
    assert page.locator(".hit h2 a").all_inner_texts() == first
    # A word only the second page holds: the hit opens the record at that page.
    page.fill("input[name=q]", word.lower())
    page.press("input[name=q]", "Enter")
    page.wait_for_selector(".hit")
    assert "page 2" in page.inner_text(".hit .muted")
    page.click(".hit h2 a")
    page.wait_for_selector("#pdf")
    assert page.get_attribute("#pdf", "src").endswith("/pdf#page=2")  # type: ignore[union-attr]
    assert page.locator("a.page-link").count() == 2  # a thumbnail for each page
    page.context.close()


def test_an_interrupted_upload_leaves_no_batch(office: Office, browser: Browser) -> None:
    """The connection drops halfway through a file: no batch, no folder, nothing queued."""
    page = signed_in_page(browser, office, "clerk")
    page.goto(office.url + "/batches")
    rows_before = page.locator("#batches tbody tr").count()
    page.goto(office.url + "/batches/new")
    token = page.get_attribute("input[name=csrf]", "value")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    before = sorted((office.home / "uploads").glob("*")) if (office.home / "uploads").is_dir() \
        else []
    boundary = "cut"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"unit\"\r\n\r\nVP\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"big.tif\"\r\n\r\n").encode() + b"I" * 300_000
    port = int(urlparse(office.url).port or 80)
    uploads = office.home / "uploads"
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"POST /batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + f"Cookie: {cookie}\r\nContent-Type: multipart/form-data; "
                      f"boundary={boundary}\r\nContent-Length: 10000000\r\n\r\n".encode()
                    + head)
        # The file is being received (on disk, in a partial folder) when the line drops.
        wait_for(lambda: any(p.stat().st_size for p in uploads.glob("*.partial/big.tif")),
                 "the upload to reach the disk")
    wait_for(lambda: not list(uploads.glob("*.partial")), "the partial upload to be removed")
    after = sorted(uploads.glob("*"))
    leftovers = [p.name for p in after if p not in before and p.name != "logs"]
    assert leftovers == []
    page.goto(office.url + "/batches")
    assert page.locator("#batches tbody tr").count() == rows_before  # no batch was made


def wait_for(done: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Poll until ``done``; fail naming ``what`` if it never is."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.1)
