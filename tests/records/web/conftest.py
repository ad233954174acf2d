"""An archive with three signed records of different classifications, and three users; and,
for the tests that drive a real browser, ``records serve`` on it and Debian's chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from archive.access import add_user, issue_token
from archive.index import Catalog, index_package
from archive.signing import DevPki, SignOptions, load_signer, sign_log, sign_pdf, vouch_with
from archive.store import Descriptive, Event, dublin_core, sidecar, store_record
from config.settings import Settings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from tests.conftest import Scans, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PASSWORD = "correct horse battery"
RECORDS = {  # record id -> (language, seed, classification)
    "VP-2024-000001": ("vie", 61, "public"),
    "VP-2024-000002": ("vie", 62, "internal"),
    "HA-2024-000001": ("deu", 63, "secret"),
}
USERS = {"reader": ("archivist", "public"), "clerk": ("officer", "internal"),
         "boss": ("admin", "secret")}
CHROMIUM = Path(os.environ.get("RECORDS_CHROMIUM", "/usr/bin/chromium"))
SERVER_DEADLINE = 60  # seconds for ``records serve`` to open its port (a cold import is slow)


@dataclass(frozen=True)
class WebArchive:
    home: Path
    settings: Settings
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def web_archive(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory
                ) -> WebArchive:
    home = tmp_path_factory.mktemp("web") / "home"
    shutil.copytree(pki.folder, home / "keys")
    settings = Settings(home=home)
    signer = load_signer(settings.signing, home)
    catalog = Catalog.open(settings.catalog_url())
    work = tmp_path_factory.mktemp("web-work")
    for record_id, (language, seed, classification) in RECORDS.items():
        page, _ = scans.page(language, seed=seed)
        described = Descriptive(title=f"Letter {seed}", unit=record_id.split("-")[0],
                                classification=classification, date=f"2024-05-{seed % 9 + 1:02d}",
                                language=language)
        unsigned, signed = work / f"{record_id}.pdf", work / f"{record_id}.signed.pdf"
        result = ocr_to_pdfa([page], unsigned, OcrOptions(languages=language), work / "cache",
                             dublin_core(described, record_id))
        signature = sign_pdf(signer, SignOptions(), unsigned, signed)
        stored = store_record(
            home / "archive", content_sha=record_id.lower().ljust(64, "0"), unit=described.unit,
            year=2024, source=page, pdf=signed, page_dirs=[p.path for p in result.pages],
            record_id=record_id, vouch=vouch_with(signer),
            sidecar=sidecar(described, {"page_count": 1},
                            [Event("received", "success"), Event("stored", "success")], "web",
                            "x", page.name,
                            signature.as_dict()))
        index_package(catalog, stored.path)
    sign_log(home, signer, SignOptions())
    tokens = {}
    for name, (role, clearance) in USERS.items():
        add_user(catalog, name, role, clearance, PASSWORD)
        tokens[name] = issue_token(catalog, name)[1]
    catalog.engine.dispose()
    return WebArchive(home, settings, tokens)


def records_env(home: Path) -> dict[str, str]:
    """This process's environment for a ``records`` command on ``home``: none of the
    developer's own RECORDS_ or PREFECT_ settings leak into it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    return env


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path,
                  deadline: float = SERVER_DEADLINE) -> None:
    """Return once ``port`` accepts connections. A server that died or never opened it fails
    the tests here, with its own words, rather than as a confusing browser error later."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise RuntimeError(f"records serve exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')}")
        time.sleep(0.2)
    process.terminate()
    process.wait(10)
    raise RuntimeError(f"records serve did not open port {port} within {deadline} s:\n"
                       f"{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def server(web_archive: WebArchive) -> Iterator[str]:
    """``records serve`` as a user starts it, on a free loopback port; its base URL. One for
    the session: starting it costs seconds, and no test depends on its memory being fresh."""
    port = free_port()
    # stderr to a file, not a pipe: a pipe nobody reads would block the server once full.
    log_path = web_archive.home.parent / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "records.cli", "serve", "--port", str(port)],
            env=records_env(web_archive.home), stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for_port(port, process, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (Playwright's own browser builds would be
    downloaded from a CDN, which CI cannot reach). One per module, not per session: while
    Playwright's sync API is open it runs an event loop in the main thread, and any later
    test that calls ``asyncio.run`` there (pyHanko's signing does) would fail."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no chromium at {CHROMIUM} (make system installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # With the PDF viewer in a frame of its own (PdfOopif, on by default in Chromium 156),
        # Playwright reports the viewer's internal load of a framed PDF as the page itself
        # navigating to the PDF, and then looks for the page's elements in the wrong document.
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-features=PdfOopif"])
        yield launched
        launched.close()
