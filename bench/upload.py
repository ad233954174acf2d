"""Upload bench: a batch sent through the web app's form, against copying the same bytes.

An officer's browser sends a batch as one multipart form; the web app must write it to disk
as it arrives, never holding it in memory. Two figures, on the same file in the same run:

- time: the upload (until the app answers "queued") against a plain copy of the same bytes
  to the same disk with fsync (the floor: no upload can store bytes faster than the disk);
- memory: the web server's peak resident size (VmHWM) before and after the upload. Held in
  memory, a 500 MB upload would add 500 MB; streamed, it adds a few.

The file is random bytes named ``scan.tif``: the batch it becomes quarantines it at once
("not an image"), so the run measures receiving, not OCR. Run from the project root:

    .venv/bin/python bench/upload.py [--mb 500] [--out bench/results/upload.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import console, make_table
from load import Home, web_app

from archive.intake import load_upload

PASSWORD = "upload-bench-password"  # a throw-away account in a throw-away home
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def peak_kib(pid: int) -> int:
    """A process's peak resident size so far (Linux's VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def make_input(path: Path, mb: int) -> None:
    with path.open("wb") as out:
        for _ in range(mb):
            out.write(os.urandom(1 << 20))


def copy_seconds(source: Path, target: Path) -> float:
    """The floor: the same bytes copied to the same disk, flushed as the upload's are."""
    started = time.perf_counter()
    shutil.copyfile(source, target)
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())
    return time.perf_counter() - started


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=600)
    token = CSRF_FIELD.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf": token})
    return client


def upload(client: httpx.Client, scan: Path) -> tuple[float, str]:
    """Send the form as a browser does; seconds until the app answers, and the batch id."""
    token = CSRF_FIELD.search(client.get("/batches/new").text).group(1)  # type: ignore[union-attr]
    started = time.perf_counter()
    with scan.open("rb") as handle:
        answer = client.post("/batches", data={"csrf": token, "unit": "VP",
                                               "classification": "public"},
                             files={"files": (scan.name, handle, "image/tiff")},
                             follow_redirects=False)
    seconds = time.perf_counter() - started
    if answer.status_code != 303:
        raise RuntimeError(f"upload refused ({answer.status_code}): {answer.text[-300:]}")
    return seconds, answer.headers["location"].rsplit("/", 1)[1]


def wait_for_end(home: Path, batch_id: str, seconds: float = 300) -> None:
    """The batch the upload became runs in a process of its own: let it end before the home
    is removed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = load_upload(home, batch_id)
        if record is not None and record.exit_code is not None:
            return
        time.sleep(0.5)


def measure(mb: int, work: Path) -> dict[str, Any]:
    home = Home(work, timeout=600)
    home.logs.mkdir(parents=True)
    home.path.mkdir()
    home.cli(["users", "add", "clerk", "--role", "officer", "--clearance", "internal",
              "--password-stdin"], "users.log", stdin=PASSWORD + "\n")
    home.cli(["users", "set", "clerk", "--units", "VP"], "units.log")
    scan = work / "scan.tif"
    make_input(scan, mb)
    copied = copy_seconds(scan, work / "copy.tif")
    with web_app(home) as (base, server, _):
        client = signed_in(base)
        try:
            client.get("/batches/new")  # every import and template loaded before the "before"
            before = peak_kib(server.pid)
            uploaded, batch_id = upload(client, scan)
            after = peak_kib(server.pid)
        finally:
            client.close()
        stored = home.path / "uploads" / batch_id / scan.name
        if stored.stat().st_size != scan.stat().st_size:
            raise RuntimeError("the stored upload is not the file sent")
        wait_for_end(home.path, batch_id)
    return {"mb": mb, "upload_seconds": round(uploaded, 2), "copy_seconds": round(copied, 2),
            "upload_mb_s": round(mb / uploaded, 1), "copy_mb_s": round(mb / copied, 1),
            "upload_over_copy": round(uploaded / copied, 2),
            "server_peak_mib_before": round(before / 1024, 1),
            "server_peak_mib_after": round(after / 1024, 1),
            "server_peak_growth_mib": round((after - before) / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("bench/results/upload.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="records-upload-bench-") as scratch:
        result = measure(args.mb, Path(scratch))
    console.print(make_table("upload", ["what", "value"],
                             [[key, str(value)] for key, value in result.items()]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
