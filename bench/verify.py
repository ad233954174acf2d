"""Verification benchmark: `records verify --all` on a large archive, and what the signed log
costs an ingest.

One run, all on this machine:

1. a development PKI and one real PDF/A-2b made by ``ocr_to_pdfa`` from a rendered letter;
2. ``--records`` records (10,000) committed as the pipeline commits them: for each, the
   PDF/A's XMP given the record's own id, a PAdES B-B certification, ``store_record`` (an OCFL
   object, its version entered in the log), a signed head of the log every ``--batch``
   records (as a batch ends);
3. ``verify_archive`` over all of them, as ``records verify --all`` runs it, timed in parts:
   reading and checking the log (leaves, every head's signature, the roots, the proofs), the
   OCFL fixity of one object, and the whole verification of one record;
4. a batch of rendered letters through the real ``records queue`` into that archive, against
   the cost of what the log adds to it: one leaf appended per record (with its intent) and one
   signed head at the end, each timed on the same 10,000-record log.

Run from the project root (about 45 minutes for 10,000 records on 2 cores):

    .venv/bin/python bench/verify.py [--records 10000] [--batch 100] [--letters 8]
                                     [--out bench/results/verify.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pikepdf
from common import console, fmt_num, make_table, wait_for_quiet

from archive.signing import (
    SignOptions,
    init_dev_pki,
    load_signer,
    read_log,
    seal_certificates,
    sign_log,
    sign_pdf,
    trust_roots,
    verify_archive,
    verify_record,
    vouch_with,
)
from archive.store import (
    ArchiveLog,
    Descriptive,
    Leaf,
    check_object,
    dublin_core,
    sidecar,
    store_record,
)
from config.settings import Settings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from ocr.xmp import DocumentInfo, write_info
from records.samples import PageStyle, make_letter, render_batch, render_page, save_page

RECORDS = [sys.executable, "-m", "records.cli"]


def base_pdfa(folder: Path) -> tuple[Path, Path]:
    """One real PDF/A-2b as the pipeline makes it, and the page it was made from."""
    folder.mkdir(parents=True)
    style = PageStyle()
    page = save_page(render_page(make_letter("vie", 4, pages=1).pages[0], style, seed=4),
                     folder / "page.png", style)
    out = folder / "copy.pdf"
    ocr_to_pdfa([page], out, OcrOptions(languages="vie"), folder / "cache", DocumentInfo())
    return out, page


def with_identity(pdf: Path, info: DocumentInfo, out: Path) -> None:
    """The base PDF/A with this record's Dublin Core (verification compares it)."""
    with pikepdf.open(pdf) as doc:
        write_info(doc, info, "records")
        buffer = io.BytesIO()
        doc.save(buffer, deterministic_id=True)
    out.write_bytes(buffer.getvalue())


def build(home: Path, count: int, batch: int, work: Path) -> dict[str, Any]:
    settings = Settings(home=home)
    signer = load_signer(settings.signing, home)
    pdf, page = base_pdfa(work / "base")
    vouch = vouch_with(signer)
    started, heads = time.perf_counter(), 0
    for n in range(1, count + 1):
        record_id = f"VP-2024-{n:06d}"
        described = Descriptive(title=f"Công văn {n}", unit="VP", date="2024-09-16",
                                language="vie")
        with_identity(pdf, dublin_core(described, record_id), work / "unsigned.pdf")
        signature = sign_pdf(signer, SignOptions(), work / "unsigned.pdf", work / "signed.pdf")
        store_record(home / "archive", content_sha=f"{n:064x}", unit="VP", year=2024,
                     source=page, pdf=work / "signed.pdf", page_dirs=[], record_id=record_id,
                     vouch=vouch,
                     sidecar=sidecar(described, {"page_count": 1}, [], "bench", f"{n:064x}",
                                     page.name, signature.as_dict()))
        if n % batch == 0 or n == count:
            sign_log(home, signer, SignOptions())
            heads += 1
        if n % 500 == 0:
            console.print(f"  {n:,} records ({(time.perf_counter() - started) / n * 1000:.0f} "
                          "ms each)")
    return {"records": count, "heads": heads, "seconds": round(time.perf_counter() - started, 1)}


def time_verification(home: Path) -> dict[str, Any]:
    settings = Settings(home=home)
    roots = trust_roots(settings.signing, home)
    seals = seal_certificates(settings.signing, home)
    archive = home / "archive"
    begin = time.perf_counter()
    state = read_log(home, roots, seals)
    log_seconds = time.perf_counter() - begin
    sample = sorted(p.name for p in archive.iterdir() if p.name.startswith("VP-"))[:50]
    fixity = [_timed(lambda r=r: check_object(archive / r)) for r in sample]
    whole = [_timed(lambda r=r: verify_record(archive / r, roots, state.record_check))
             for r in sample]
    begin = time.perf_counter()
    verdict = verify_archive(archive, roots, seals)
    seconds = time.perf_counter() - begin
    if not verdict.ok:
        raise SystemExit("the benchmark archive does not verify: "
                         + json.dumps(verdict.as_dict())[:2000])
    return {"records": len(verdict.records), "seconds": round(seconds, 1),
            "records_per_second": round(len(verdict.records) / seconds, 2),
            "log_check_seconds": round(log_seconds, 2), "heads": len(state.heads),
            "object_fixity_ms_median": round(statistics.median(fixity) * 1000, 2),
            "record_ms_median": round(statistics.median(whole) * 1000, 2)}


def _timed(work: Any) -> float:
    begin = time.perf_counter()
    work()
    return time.perf_counter() - begin


def time_ingest(home: Path, letters: int, work: Path) -> dict[str, Any]:
    """A real batch into the big archive, and the log's share of it."""
    batch = work / "batch"
    render_batch(batch, letters=letters, units=("VP",))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    begin = time.perf_counter()
    done = subprocess.run([*RECORDS, "queue", str(batch), "--unit", "VP", "--json"], env=env,
                          capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - begin
    if done.returncode not in (0, 3):
        raise SystemExit(f"records queue failed: {done.stderr[-2000:]}")
    archived = sum(d["status"] == "archived" for d in json.loads(done.stdout)["documents"])
    log = ArchiveLog(home)
    leaf = Leaf("VP-2099-000001", "v1", "0" * 128)
    appends = [_timed(lambda: log.append(leaf)) for _ in range(50)]
    # Take the 50 leaves out again: they name no object, and would fail the next verify.
    lines = log.leaves_path.read_bytes().splitlines()[:-50]
    log.leaves_path.write_bytes(b"".join(line + b"\n" for line in lines))
    settings = Settings(home=home)
    signer = load_signer(settings.signing, home)
    signing = [_timed(lambda: sign_log(home, signer, SignOptions())) for _ in range(3)]
    added = archived * statistics.median(appends) + statistics.median(signing)
    return {"letters": letters, "archived": archived, "batch_seconds": round(wall, 1),
            "append_ms_median": round(statistics.median(appends) * 1000, 3),
            "sign_head_ms_median": round(statistics.median(signing) * 1000, 1),
            "log_seconds_per_batch": round(added, 3),
            "log_share_of_batch": round(added / wall, 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100, help="records per signed head")
    parser.add_argument("--letters", type=int, default=8, help="letters in the timed batch")
    parser.add_argument("--out", type=Path, default=Path("bench/results/verify.json"))
    parser.add_argument("--settle", type=float, default=30, help="wait this long for quiet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="records-bench-verify-") as scratch:
        root = Path(scratch)
        home = root / "home"
        init_dev_pki(home)
        console.print(f"building {args.records:,} records")
        built = build(home, args.records, args.batch, root / "work")
        wait_for_quiet(args.settle)
        console.print("verify --all")
        verified = time_verification(home)
        console.print("a batch into the same archive")
        ingest = time_ingest(home, args.letters, root / "ingest")
        shutil.rmtree(home, ignore_errors=True)
    results = {"date": datetime.now().isoformat(timespec="seconds"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores",
               "build": built, "verify": verified, "ingest": ingest}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(make_table("verification and the log", ["", "value"], [
        ("records verified", f"{verified['records']:,}"),
        ("verify --all", f"{verified['seconds']} s, "
                         f"{fmt_num(verified['records_per_second'])} records/s"),
        ("  the log as a whole", f"{verified['log_check_seconds']} s "
                                 f"({verified['heads']} signed heads)"),
        ("  one object's OCFL fixity", f"{verified['object_fixity_ms_median']} ms"),
        ("  one record, every check", f"{verified['record_ms_median']} ms"),
        ("batch of letters", f"{ingest['archived']} records, {ingest['batch_seconds']} s"),
        ("  log: append a leaf", f"{ingest['append_ms_median']} ms"),
        ("  log: sign a head", f"{ingest['sign_head_ms_median']} ms"),
        ("  log's share of the batch", f"{ingest['log_share_of_batch'] * 100:.2f}%"),
    ]))


if __name__ == "__main__":
    main()
