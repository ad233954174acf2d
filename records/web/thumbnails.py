"""Small pictures of a record's pages, for lists of results and a record's page strip: PNGs
200 px wide, drawn by poppler's ``pdftoppm`` from the signed archival PDF.

Drawn on first request and kept under ``RECORDS_HOME/cache/thumbnails/<record>/``: a page of
results asks for twenty at once, and drawing one costs a ``pdftoppm`` process (tens of
milliseconds) where a kept one costs a file read. ``pdftoppm`` is run directly, one process
writing the PNG to a pipe; ``pdf2image`` (which wraps it) would start ``pdfinfo`` first and
decode and re-encode the picture. A kept picture is named after the PDF it was drawn from (its
path in the record's object, its size and time), so a new version of a record (a redacted
page, say) is drawn anew and never shown as it was. Each picture is written whole or not at
all (``write_atomic``) and, like everything in the home, is its user's alone (0600 in 0700
folders): a thumbnail of a secret page is as secret as the page. Who may see it is the
caller's business: ``records.web.shared.thumbnail`` checks the clearance first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
from pathlib import Path

from archive.store import RecordPaths, write_atomic
from config.errors import RecordsError

WIDTH = 200  # pixels; the templates reserve 200x283, an A4 page upright, for each <img>
TIMEOUT = 30.0  # seconds for one page; a page of a signed archival copy takes milliseconds
PNG = b"\x89PNG\r\n\x1a\n"
WAIT = 10.0  # seconds a request waits for a drawing slot before it is told to come back


class ThumbnailFailed(RecordsError):
    """A page could not be drawn; the reason says so without the server's paths."""


class Busy(ThumbnailFailed):
    """Every drawing slot stayed taken: try again in a moment."""


class Drawing:
    """How many pages are drawn at once (a ``pdftoppm`` each; about one per core), and one
    drawing per picture: twenty browsers asking for the same new page wait for one process
    instead of starting twenty. One per app (``WebContext``)."""

    STRIPES = 64  # locks shared by pictures, by hash: a lock per picture would pile up

    def __init__(self, at_once: int | None = None) -> None:
        self._slots = threading.BoundedSemaphore(at_once or os.cpu_count() or 2)
        self._locks = [threading.Lock() for _ in range(self.STRIPES)]

    def kept(self, home: Path, paths: RecordPaths, page: int, wait: float = WAIT,
             width: int = WIDTH) -> Path:
        """The kept picture of ``page`` (from 1) of the record's signed PDF, ``width`` pixels
        wide, drawn if need be. Raises ``ThumbnailFailed`` (``Busy`` when no slot came free
        within ``wait`` seconds), and what reading the record raises (``ObjectDamaged``,
        ``OSError``) when its files are gone."""
        pdf = paths.pdf
        kept = _kept_path(home, paths.record_id, pdf, page, width)
        if kept.is_file():
            return kept
        with self._locks[hash(kept) % self.STRIPES]:
            if kept.is_file():  # drawn while this request waited for the lock
                return kept
            if not self._slots.acquire(timeout=wait):
                raise Busy("the server is drawing other pages; try again in a moment")
            try:
                _private_folders(home, kept.parent)
                write_atomic(kept, render_page(pdf, page, paths.record_id, width))
            finally:
                self._slots.release()
        return kept


def _kept_path(home: Path, record_id: str, pdf: Path, page: int, width: int) -> Path:
    seen = pdf.stat()
    version = hashlib.sha256(f"{pdf}\0{seen.st_size}\0{seen.st_mtime_ns}".encode()).hexdigest()
    size = "" if width == WIDTH else f"-w{width}"  # thumbnails keep the names they had
    return home / "cache" / "thumbnails" / record_id / f"{page}-{version[:16]}{size}.png"


def _private_folders(home: Path, folder: Path) -> None:
    """Make ``folder`` and the folders between it and the home, each 0700 when made here."""
    parts = folder.relative_to(home).parts
    for depth in range(1, len(parts) + 1):
        home.joinpath(*parts[:depth]).mkdir(mode=0o700, exist_ok=True)


def render_page(pdf: Path, page: int, record_id: str, width: int = WIDTH,
                timeout: float = TIMEOUT) -> bytes:
    """``page`` of ``pdf`` as a PNG ``width`` pixels wide (its height as the page's shape
    gives), drawn by ``pdftoppm`` into a pipe."""
    command = ["pdftoppm", "-png", "-singlefile", "-f", str(page), "-l", str(page),
               "-scale-to-x", str(width), "-scale-to-y", "-1", str(pdf)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ThumbnailFailed("pdftoppm (poppler-utils) is not installed") from None
    except subprocess.TimeoutExpired:
        raise ThumbnailFailed(f"drawing page {page} of {record_id} took longer than "
                              f"{timeout:.0f} s") from None
    if done.returncode or not done.stdout.startswith(PNG):
        # Poppler's own words name the file on the server: for the server's log, not readers.
        logging.getLogger("records").warning(
            "pdftoppm could not draw page %d of %s: %s", page, record_id,
            done.stderr.decode("utf-8", "replace").strip()[:500])
        raise ThumbnailFailed(f"page {page} of {record_id} cannot be drawn "
                              f"(pdftoppm exit {done.returncode})")
    return done.stdout
