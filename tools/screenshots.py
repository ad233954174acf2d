#!/usr/bin/env python3
"""Screenshots of the web app's pages for docs/screenshots/, made the same way every time, so
the pictures in the docs show what the app looks like now rather than what it once did.

    .venv/bin/python tools/screenshots.py
    RECORDS_HOME=~/records-home RECORDS_SCREENSHOT_PASSWORD=... \\
        .venv/bin/python tools/screenshots.py --user NAME

Without RECORDS_HOME it builds the demo archive (``records demo``, as ``make demo`` does) in
a temporary folder and adds the accounts the pages are seen as; with it, it shows that archive
and signs in as the existing account ``--user`` with the password in
RECORDS_SCREENSHOT_PASSWORD (never on the command line, where the process list shows it), and
adds nothing. Either way it starts ``records serve`` on a free loopback port and drives
Debian's chromium (RECORDS_CHROMIUM) with Playwright. A page is added by one line in PAGES.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize

ROOT = Path(__file__).resolve().parents[1]
RECORDS = [sys.executable, "-m", "records.cli"]
CHROMIUM = Path(os.environ.get("RECORDS_CHROMIUM", "/usr/bin/chromium"))
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}
RECORD = "{record}"  # in a path: the first record the search finds, whatever ids the demo made
BATCH = "{batch}"  # in a path: the newest batch, the demo's own
SEARCH = "cong hoa"  # typed without diacritics, as archivists do


class Shot(NamedTuple):
    name: str  # docs/screenshots/<name>.png
    path: str
    user: str | None  # signed in as this account first; None: not signed in
    viewport: ViewportSize


PAGES = [
    Shot("sign-in", "/login", None, DESKTOP),
    Shot("browse", "/?view=grid", "boss", DESKTOP),
    Shot("search", f"/?q={quote(SEARCH)}", "boss", DESKTOP),
    Shot("record", f"/records/{RECORD}", "boss", DESKTOP),
    Shot("roadmap", "/roadmap", "boss", DESKTOP),
    Shot("batches", "/batches", "boss", DESKTOP),
    Shot("batch", f"/batches/{BATCH}", "boss", DESKTOP),
    Shot("upload", "/batches/new", "boss", DESKTOP),
    Shot("accounts", "/admin/users", "boss", DESKTOP),
    Shot("batch-375", f"/batches/{BATCH}", "boss", PHONE),
    Shot("search-375", f"/?q={quote(SEARCH)}", "boss", PHONE),
    Shot("record-375", f"/records/{RECORD}", "boss", PHONE),
]
DEMO_USERS = {"boss": ("admin", "secret")}  # name -> (role, clearance), made in the demo


def environment(home: Path, own: bool) -> dict[str, str]:
    """The environment of the ``records`` commands: for a demo archive (``own``), none of the
    caller's RECORDS_ or PREFECT_ settings, which could point the demo at a real catalog."""
    env = {k: v for k, v in os.environ.items()
           if not (own and k.startswith(("RECORDS_", "PREFECT_")))}
    return {**env, "RECORDS_HOME": str(home)}


def records(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run a ``records`` command; its output, or stop with what it said."""
    done = subprocess.run([*RECORDS, *args], env=env, input=stdin, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"records {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def make_demo(env: dict[str, str]) -> dict[str, str]:
    """The demo archive (``make demo``'s) and its accounts; their passwords, made up now."""
    print(f"building the demo archive in {env['RECORDS_HOME']} (about a minute)",
          file=sys.stderr)
    records(env, "demo")
    passwords = {}
    for name, (role, clearance) in DEMO_USERS.items():
        passwords[name] = secrets.token_urlsafe(16)
        records(env, "users", "add", name, "--role", role, "--clearance", clearance,
                "--password-stdin", stdin=passwords[name] + "\n")
    return passwords


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(env: dict[str, str], log: Path, deadline: float = 60) -> Iterator[str]:
    """``records serve`` on a free port while the block runs; its base URL. A server that
    never opens its port stops the script with the server's own words."""
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen([*RECORDS, "serve", "--port", str(port)],
                                   env=env,
                                   stdout=subprocess.DEVNULL, stderr=sink)
        try:
            wait_for_port(port, process, log, deadline)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path,
                  deadline: float) -> None:
    stop = time.monotonic() + deadline
    while time.monotonic() < stop and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"records serve did not open port {port}:\n"
                       f"{log.read_text(errors='replace')}")


def first_record(env: dict[str, str]) -> str:
    """The id of the best hit for SEARCH: the record page shows one the search leads to."""
    hits = json.loads(records(env, "search", SEARCH, "--json", "--limit", "1"))["hits"]
    if not hits:
        sys.exit(f"no record matches {SEARCH!r}: the record pages cannot be shown")
    return hits[0]["record_id"]


def newest_batch(env: dict[str, str]) -> str:
    """The id of the newest batch (the demo's): the batch page shows one."""
    found = json.loads(records(env, "status", "--json"))
    if not found:
        sys.exit("the archive has no batch: the batch page cannot be shown")
    return str(found[0]["batch_id"])


def shoot(browser: Browser, server: str, shot: Shot, password: str, out: Path) -> Path:
    """Open the page as a user would (through the sign-in form) and save what the screen
    shows: the first screenful, as someone opening the page sees it."""
    page = browser.new_context(viewport=shot.viewport).new_page()
    if shot.user:
        page.goto(f"{server}/login?next={quote(shot.path, safe='')}")
        page.fill("input[name=username]", shot.user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(server + shot.path)
    else:
        page.goto(server + shot.path)
    page.wait_for_load_state("networkidle")  # the record's PDF viewer, in its frame
    target = out / f"{shot.name}.png"
    page.screenshot(path=str(target))
    page.context.close()
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", help="with RECORDS_HOME: the account every page is seen as")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        sys.exit(f"no chromium at {CHROMIUM} (make system installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="records-screenshots-") as scratch:
        given = os.environ.get("RECORDS_HOME")
        if given:
            password = os.environ.get("RECORDS_SCREENSHOT_PASSWORD")
            if not (args.user and password):
                parser.error("with RECORDS_HOME, name --user and set "
                             "RECORDS_SCREENSHOT_PASSWORD")
            env = environment(Path(given), own=False)
            pages = [s._replace(user=args.user if s.user else None) for s in PAGES]
            passwords = {args.user: password}
        else:
            env, pages = environment(Path(scratch) / "home", own=True), PAGES
            passwords = make_demo(env)
        record, batch = first_record(env), newest_batch(env)
        args.out.mkdir(parents=True, exist_ok=True)
        with serving(env, Path(scratch) / "serve.log") as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            for shot in pages:
                shot = shot._replace(path=shot.path.replace(RECORD, record)
                                     .replace(BATCH, batch))
                saved = shoot(browser, server, shot, passwords.get(shot.user or "", ""),
                              args.out)
                print(saved.relative_to(ROOT) if saved.is_relative_to(ROOT) else saved)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
