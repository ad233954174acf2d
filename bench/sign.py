"""Signing benchmark: records' signer against stock pyHanko, the time-stamped levels,
verification, and the share of a real batch's time that goes to signing.

One run, all on this machine:

1. a development PKI in a temporary folder (its TSA/OCSP/CRL URLs on a free loopback port) and
   one real PDF/A-2b, made by ``ocr_to_pdfa`` from a rendered letter page;
2. PAdES B-B certifications of that PDF (certify, DocMDP P=1, ETSI.CAdES.detached, SHA-256),
   the same number with each signer, interleaved: records' ``sign_pdf`` with its
   ``ArchiveSigner`` (key parsed once), records' signer through the bare pyHanko call the
   peers use, stock pyHanko's ``SimpleSigner.load_pkcs12`` loaded once and reused, and stock
   pyHanko loading the PKCS#12 for every document;
3. B-T and B-LTA with records' signer against ``certomancer animate`` on loopback;
4. ``verify_bytes`` on a B-B, a B-T and a B-LTA copy (offline, certomancer stopped);
5. a batch of rendered letters through the real ``records queue`` (embedded Prefect), with
   the signing and verification seconds each ``record.json`` reports, set against the batch's
   wall and CPU time; then the batch's own copies signed and verified again, alone, for the
   CPU that work costs (the flow's event seconds are wall time on a shared thread).

Run from the project root:

    .venv/bin/python bench/sign.py [--signatures 50] [--timestamped 10] [--verifications 10]
                                   [--letters 8] [--out bench/results/sign.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import CpuMeter, console, fmt_bytes, fmt_num, fmt_pct, make_table, wait_for_quiet
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from archive.signing import (
    FIELD_NAME,
    ArchiveSigner,
    DevPki,
    Expected,
    Signature,
    SignOptions,
    expected_of,
    init_dev_pki,
    load_pkcs12,
    sign_pdf,
    trust_roots,
    verify_bytes,
)
from config.settings import SigningSettings
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from ocr.xmp import DocumentInfo
from records.samples import PageStyle, make_letter, render_batch, render_page, save_page

INFO = DocumentInfo(title="Kế hoạch số hóa", author="BỘ QUỐC PHÒNG / VĂN PHÒNG",
                    language="vi", identifier="BENCH-2024-000001", date="2024-09-16",
                    type="KẾ HOẠCH", source="12/KH-VP", rights="Classification: public",
                    publisher="BENCH", subjects=("Kế hoạch 2024",))
TICK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- timing


@dataclass
class Series:
    """Per-operation wall and CPU (this process) seconds of one contender."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)  # certomancer's, when it serves

    def time(self, work: Callable[[], object], server: int | None = None) -> None:
        before_server = _proc_cpu(server) if server else 0.0
        cpu, wall = time.process_time(), time.perf_counter()
        work()
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)
        if server:
            self.server_cpu.append(_proc_cpu(server) - before_server)

    @property
    def rate(self) -> float:
        """Operations per second of wall time, back to back."""
        return len(self.wall) / sum(self.wall)

    def summary(self) -> dict[str, Any]:
        ms = 1000 / len(self.wall)
        return {
            "count": len(self.wall), "per_second": round(self.rate, 2),
            "wall_ms_mean": round(sum(self.wall) * ms, 2),
            "wall_ms_median": round(statistics.median(self.wall) * 1000, 2),
            "cpu_ms_mean": round(sum(self.cpu) * ms, 2),
            **({"server_cpu_ms_mean": round(sum(self.server_cpu) * ms, 2)}
               if self.server_cpu else {}),
        }


def _proc_cpu(pid: int) -> float:
    """User + system seconds of another process so far (from /proc), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return 0.0
    values = stat[stat.rfind(")") + 2:].split()
    return (int(values[11]) + int(values[12])) / TICK


def interleave(contenders: list[tuple[Series, Callable[[int], object]]], rounds: int,
               server: int | None = None) -> CpuMeter:
    """One untimed warm-up each, then *rounds* rounds of one operation per contender.

    The order turns every round, so a busy spell of the machine (other people's tests) is
    spread over every contender instead of landing on whichever ran last.
    """
    for _, work in contenders:
        work(-1)
    with CpuMeter() as meter:
        for index in range(rounds):
            shift = index % len(contenders)
            for series, work in contenders[shift:] + contenders[:shift]:
                series.time(lambda w=work, i=index: w(i), server)
    return meter


# --------------------------------------------------------------------------- preparation


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_pdfa(folder: Path) -> tuple[Path, int]:
    """One real searchable PDF/A-2b, as the pipeline makes it, from a rendered letter page."""
    folder.mkdir(parents=True)
    style = PageStyle()
    text = make_letter("vie", 4, pages=1).pages[0]
    page = save_page(render_page(text, style, seed=4), folder / "page.png", style)
    out = folder / "copy.pdf"
    ocr_to_pdfa([page], out, OcrOptions(languages="vie"), folder / "cache", INFO)
    return out, 1


@contextmanager
def animate(pki: DevPki) -> Iterator[subprocess.Popen[bytes]]:
    """certomancer's TSA, OCSP responder and CRLs for the PKI, on loopback (as the tests do)."""
    port = int(pki.service_url.rsplit(":", 1)[1])
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("certomancer")), "--config",
         str(pki.certomancer_config), "animate", "--port", str(port), "--no-web-ui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                raise SystemExit("certomancer animate died: "
                                 + process.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise SystemExit("certomancer animate did not open its port within 30 s")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- signing


def bare_pyhanko(signer: signers.Signer, src: Path, dest: Path) -> None:
    """What code using pyHanko directly writes: the same metadata records' sign_pdf uses at
    B-B (certification, DocMDP P=1, PAdES subfilter, SHA-256, reason), nothing else."""
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, certify=True, md_algorithm="sha256",
        docmdp_permissions=fields.MDPPerm(1), subfilter=fields.SigSeedSubFilter.PADES,
        reason="Archival copy")
    writer = IncrementalPdfFileWriter(io.BytesIO(src.read_bytes()), strict=False)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(writer, output=out)
    dest.write_bytes(out.getvalue())


def stock_signer(p12: Path, passphrase: bytes) -> signers.SimpleSigner:
    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=passphrase)
    if signer is None:
        raise SystemExit(f"stock pyHanko could not open {p12}")
    return signer


def count_sign_raw(signer: signers.SimpleSigner, src: Path, dest: Path) -> int:
    """How often one PDF signature calls sign_raw (each call re-parses a stock signer's key).

    pyHanko first signs once for nothing to size the /Contents placeholder (SimpleSigner
    ignores ``dry_run``), then for real.
    """
    calls = []
    original = signer.sign_raw

    def counted(data: bytes, digest_algorithm: str) -> bytes:
        calls.append(len(data))
        return original(data, digest_algorithm)

    signer.sign_raw = counted  # type: ignore[method-assign]
    bare_pyhanko(signer, src, dest)
    return len(calls)


def check(data: bytes, roots: list, what: str, sig: Signature | None = None) -> None:
    """Every output compared must be a valid certification: a fast broken signer wins nothing."""
    expected = Expected(sig.pdf_sha256, sig.as_dict(), INFO) if sig else Expected()
    verdict = verify_bytes(data, roots, expected)
    if not verdict.ok:
        raise SystemExit(f"{what}: the signed copy fails verification: {verdict.failures()}")


def bench_b_b(pki: DevPki, pdf: Path, out: Path, roots: list, passphrase: bytes,
              rounds: int) -> dict[str, Any]:
    p12 = pki.pkcs12("organisation")
    started = time.perf_counter()
    archive_signer: ArchiveSigner = load_pkcs12(p12, passphrase, "organisation", roots)
    records_load = time.perf_counter() - started
    started = time.perf_counter()
    reused = stock_signer(p12, passphrase)
    stock_load = time.perf_counter() - started
    # What stock SimpleSigner.sign_raw does before every signature: parse the DER key again.
    key_der = reused.signing_key.dump()
    parse = Series("key parse")
    for _ in range(max(10, rounds)):
        parse.time(lambda: serialization.load_der_private_key(key_der, password=None))
    raw_calls = count_sign_raw(stock_signer(p12, passphrase), pdf, out / "counted.pdf")

    def path(tag: str, index: int) -> Path:
        return out / f"{tag}-{'warm' if index < 0 else index}.pdf"

    records = Series("records sign_pdf (ArchiveSigner, key loaded once)")
    records_bare = Series("records ArchiveSigner, bare pyHanko call")
    peer = Series("stock pyHanko SimpleSigner, loaded once")
    naive = Series("stock pyHanko, PKCS#12 loaded per document")
    options = SignOptions(level="B-B")
    meter = interleave([
        (records, lambda i: sign_pdf(archive_signer, options, pdf, path("records", i))),
        (records_bare, lambda i: bare_pyhanko(archive_signer.signer, pdf,
                                              path("records-bare", i))),
        (peer, lambda i: bare_pyhanko(reused, pdf, path("stock", i))),
        (naive, lambda i: bare_pyhanko(stock_signer(p12, passphrase), pdf, path("naive", i))),
    ], rounds)
    sig = sign_pdf(archive_signer, options, pdf, out / "b-b.pdf")
    check((out / "b-b.pdf").read_bytes(), roots, "records B-B", sig)
    sizes = {}
    for series, tag in ((records_bare, "records-bare"), (peer, "stock"), (naive, "naive")):
        check(path(tag, 0).read_bytes(), roots, series.name)
        sizes[series.name] = path(tag, 0).stat().st_size
    sizes[records.name] = path("records", 0).stat().st_size
    return {
        "signer": archive_signer, "b_b_copy": (out / "b-b.pdf", sig), "meter": meter,
        "series": [records, records_bare, peer, naive],
        "sizes": sizes,
        "load_seconds": {"records load_pkcs12": records_load,
                         "stock SimpleSigner.load_pkcs12": stock_load},
        "key_parse": parse, "sign_raw_calls": raw_calls,
    }


def bench_timestamped(pki: DevPki, pdf: Path, out: Path, signer: ArchiveSigner,
                      rounds: int) -> dict[str, Any]:
    series, copies = {}, {}
    with animate(pki) as server:
        contenders = []
        for level in ("B-T", "B-LTA"):
            options = SignOptions(level=level, tsa_url=pki.tsa_url)  # type: ignore[arg-type]
            series[level] = Series(level)

            def work(index: int, options: SignOptions = options, level: str = level) -> None:
                tag = "warm" if index < 0 else index
                sign_pdf(signer, options, pdf, out / f"{level}-{tag}.pdf")

            contenders.append((series[level], work))
        meter = interleave(contenders, rounds, server.pid)
        for level in ("B-T", "B-LTA"):
            options = SignOptions(level=level, tsa_url=pki.tsa_url)  # type: ignore[arg-type]
            copy = out / f"{level.lower()}.pdf"
            copies[level] = (copy, sign_pdf(signer, options, pdf, copy))
    # certomancer is stopped now: the copies must verify offline.
    for level, (copy, sig) in copies.items():
        check(copy.read_bytes(), signer.trust_roots, f"records {level}", sig)
    return {"series": series, "copies": copies, "meter": meter,
            "sizes": {level: copy.stat().st_size for level, (copy, _) in copies.items()}}


def bench_verify(copies: dict[str, tuple[Path, Signature]], roots: list,
                 rounds: int) -> dict[str, Any]:
    series, contenders = {}, []
    for level, (copy, sig) in copies.items():
        data = copy.read_bytes()
        expected = Expected(sig.pdf_sha256, sig.as_dict(), INFO)
        series[level] = Series(level)
        contenders.append((series[level],
                           lambda _i, d=data, e=expected: verify_bytes(d, roots, e)))
    meter = interleave(contenders, rounds)
    return {"series": series, "meter": meter}


# --------------------------------------------------------------------------- the batch


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_batch(pki: DevPki, scratch: Path, letters: int, seed: int) -> dict[str, Any]:
    batch, home = scratch / "batch", scratch / "home"
    rendered = render_batch(batch, letters=letters, seed=seed)
    pages = sum(len(truth.pages) for _, truth in rendered)
    shutil.copytree(pki.folder, home / "keys")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDS_", "PREFECT_"))}
    env["RECORDS_HOME"] = str(home)
    command = [str(Path(sys.executable).with_name("records")), "queue", str(batch),
               "--unit", "BENCH", "--json"]
    cpu_before = _children_cpu()
    with CpuMeter() as meter:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    cpu = _children_cpu() - cpu_before
    if done.returncode not in (0, 3):
        console.print(done.stderr[-3000:])
        raise SystemExit(f"records queue failed with exit {done.returncode}")
    report = json.loads(done.stdout)
    signed, verified, levels, sizes = [], [], set(), []
    records = sorted((home / "archive").glob("*/record.json"))
    for path in records:
        record = json.loads(path.read_text(encoding="utf-8"))
        for event in record.get("provenance", []):
            if event["type"] == "signed" and event.get("seconds") is not None:
                signed.append(event["seconds"])
            elif event["type"] == "verified" and event.get("seconds") is not None:
                verified.append(event["seconds"])
        if record.get("signature"):
            levels.add(record["signature"]["level"])
            pdf = path.parent / f"{path.parent.name}.pdf"
            if pdf.is_file():
                sizes.append(pdf.stat().st_size)
    # The CLI's JSON names the batch; its ledger entry says when the flow started and ended.
    ledger = home / "batches" / f"{report['batch_id']}.json"
    flow = None
    if ledger.is_file():
        entry = json.loads(ledger.read_text(encoding="utf-8"))
        if entry.get("started") and entry.get("finished"):
            flow = (datetime.fromisoformat(entry["finished"])
                    - datetime.fromisoformat(entry["started"])).total_seconds()
    counts: dict[str, int] = {}
    for document in report.get("documents", []):
        counts[document["status"]] = counts.get(document["status"], 0) + 1
    return {
        "letters": letters, "pages": pages, "documents": len(report.get("documents", [])),
        "counts": counts, "records": len(records),
        "levels": sorted(levels), "exit_code": done.returncode,
        "wall_seconds": meter.wall, "flow_seconds": flow, "cpu_seconds": cpu,
        "foreign_cores": meter.foreign_cores,
        "threads": os.cpu_count() or 1,
        "signed": signed, "verified": verified,
        "mean_pdf_bytes": statistics.mean(sizes) if sizes else None,
    }


def replay_batch(home: Path, signer: ArchiveSigner, out: Path) -> dict[str, Any]:
    """Sign and verify the batch's own copies again, alone on one thread, to get their CPU.

    The flow's event seconds are wall time on a thread that shares the GIL and the cores with
    OCR; this gives what the same work costs in CPU: each record's unsigned PDF/A (the prefix
    of the archived file the record names) certified again with the same key, and the
    archived copy verified as the flow verifies it (``verify_bytes``, the record's
    expectations).
    """
    sign, verify = Series("batch copies: sign again"), Series("batch copies: verify again")
    out.mkdir()
    for record_dir in sorted(p.parent for p in (home / "archive").glob("*/record.json")):
        record_id, expected, record = expected_of(record_dir)
        if not record.get("signature"):
            continue
        data = (record_dir / f"{record_id}.pdf").read_bytes()
        unsigned = out / f"{record_id}.unsigned.pdf"
        unsigned.write_bytes(data[: record["signature"]["unsigned_size"]])
        options = SignOptions(level=record["signature"]["level"],
                              docmdp=record["signature"]["docmdp"])
        if options.level != "B-B":
            continue  # a time-stamped batch would need the TSA running; the flow signs B-B here
        sign.time(lambda u=unsigned, r=record_id, o=options:
                  sign_pdf(signer, o, u, out / f"{r}.pdf"))
        verify.time(lambda d=data, e=expected, r=record_id: _must_pass(d, signer, e, r))
    return {"sign": sign, "verify": verify}


def _must_pass(data: bytes, signer: ArchiveSigner, expected: Expected, record_id: str) -> None:
    verdict = verify_bytes(data, signer.trust_roots, expected, record_id)
    if not verdict.ok:
        raise SystemExit(f"{record_id}: the archived copy fails verification: "
                         f"{verdict.failures()}")


# --------------------------------------------------------------------------- reporting


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _foreign(meter: CpuMeter) -> str:
    value = meter.foreign_cores
    text = f"{value:.2f}"
    return f"[red]{text}[/red]" if value > 0.25 else text


def report_b_b(result: dict[str, Any], rounds: int) -> dict[str, Any]:
    records, _, peer, naive = result["series"]
    rows, summaries = [], {}
    for series in result["series"]:
        summary = series.summary()
        summary["pdf_bytes"] = result["sizes"][series.name]
        summary["records_speedup"] = round(records.rate / series.rate, 3)
        summaries[series.name] = summary
        rows.append([series.name, fmt_num(series.rate, 1), fmt_num(summary["wall_ms_mean"]),
                     fmt_num(summary["wall_ms_median"]), fmt_num(summary["cpu_ms_mean"]),
                     f"{summary['records_speedup']:.2f}x"])
    console.print(make_table(
        f"PAdES B-B certification of one PDF/A ({rounds} signatures each, interleaved; "
        f"others' cores {_foreign(result['meter'])})",
        ["signer", "sig/s", "wall ms/sig", "median ms", "CPU ms/sig", "records sign_pdf x"],
        rows))
    parse = result["key_parse"].summary()
    loads = {k: round(v * 1000, 2) for k, v in result["load_seconds"].items()}
    console.print(make_table(
        "Where the difference comes from", ["step", "ms"],
        [*[[k, fmt_num(v)] for k, v in loads.items()],
         ["RSA key re-parse (stock sign_raw, each signature): wall",
          fmt_num(parse["wall_ms_mean"])],
         ["RSA key re-parse: CPU", fmt_num(parse["cpu_ms_mean"])],
         ["sign_raw calls per PDF signature (pyHanko's size-estimating dry run + the real "
          "one)", str(result["sign_raw_calls"])]]))
    ratios = {
        "records_vs_stock_reused": _ratio(records.rate, peer.rate),
        "records_vs_stock_per_document": _ratio(records.rate, naive.rate),
        "records_cpu_vs_stock_reused": _ratio(sum(peer.cpu), sum(records.cpu)),
        "records_cpu_vs_stock_per_document": _ratio(sum(naive.cpu), sum(records.cpu)),
    }
    return {"signers": summaries, "ratios": {k: round(v, 3) for k, v in ratios.items() if v},
            "load_ms": loads, "key_parse_ms": parse,
            "sign_raw_calls_per_signature": result["sign_raw_calls"],
            "foreign_cores": round(result["meter"].foreign_cores, 3)}


def report_timestamped(result: dict[str, Any], rounds: int, tsa_url: str) -> dict[str, Any]:
    rows, summaries = [], {}
    for level, series in result["series"].items():
        summary = series.summary()
        summary["pdf_bytes"] = result["sizes"][level]
        summaries[level] = summary
        rows.append([level, fmt_num(series.rate, 1), fmt_num(summary["wall_ms_mean"]),
                     fmt_num(summary["wall_ms_median"]), fmt_num(summary["cpu_ms_mean"]),
                     fmt_num(summary["server_cpu_ms_mean"]), fmt_bytes(summary["pdf_bytes"])])
    console.print(make_table(
        f"records sign_pdf with certomancer on loopback ({rounds} each, interleaved; "
        f"others' cores {_foreign(result['meter'])})",
        ["level", "sig/s", "wall ms/sig", "median ms", "CPU ms/sig (ours)",
         "certomancer CPU ms/sig", "signed size"], rows))
    console.print(f"[dim]TSA {tsa_url}: time-stamp, OCSP and CRL requests are loopback round "
                  "trips to a local certomancer, so a real TSA/OCSP over a network adds its "
                  "latency per request.[/dim]")
    return {"levels": summaries, "tsa_url": tsa_url, "network": "loopback",
            "foreign_cores": round(result["meter"].foreign_cores, 3)}


def report_verify(result: dict[str, Any], rounds: int, sizes: dict[str, int]) -> dict[str, Any]:
    rows, summaries = [], {}
    for level, series in result["series"].items():
        summary = series.summary()
        summary["pdf_bytes"] = sizes[level]
        summaries[level] = summary
        rows.append([level, fmt_num(series.rate, 1), fmt_num(summary["wall_ms_mean"]),
                     fmt_num(summary["cpu_ms_mean"]), fmt_bytes(sizes[level])])
    console.print(make_table(
        f"verify_bytes, offline ({rounds} each, interleaved; "
        f"others' cores {_foreign(result['meter'])})",
        ["copy", "verifications/s", "wall ms", "CPU ms", "size"], rows))
    return {"levels": summaries, "foreign_cores": round(result["meter"].foreign_cores, 3)}


def report_batch(batch: dict[str, Any], replay: dict[str, Series]) -> dict[str, Any]:
    sign_s, verify_s = sum(batch["signed"]), sum(batch["verified"])
    wall, cpu, threads = batch["wall_seconds"], batch["cpu_seconds"], batch["threads"]
    sign_cpu, verify_cpu = sum(replay["sign"].cpu), sum(replay["verify"].cpu)
    replayed = len(replay["sign"].cpu)
    figures = {
        **{k: v for k, v in batch.items() if k not in ("signed", "verified")},
        "signatures": len(batch["signed"]),
        "signing_seconds": round(sign_s, 4), "verification_seconds": round(verify_s, 4),
        "signing_seconds_per_record": (round(sign_s / len(batch["signed"]), 4)
                                       if batch["signed"] else None),
        "verification_seconds_per_record": (round(verify_s / len(batch["verified"]), 4)
                                            if batch["verified"] else None),
        "signing_share_of_wall": _ratio(sign_s, wall),
        "verification_share_of_wall": _ratio(verify_s, wall),
        "signing_share_of_thread_time": _ratio(sign_s, wall * threads),
        "signing_share_of_flow": _ratio(sign_s, batch["flow_seconds"] or 0),
        "signing_seconds_over_cpu": _ratio(sign_s, cpu),
        "verification_seconds_over_cpu": _ratio(verify_s, cpu),
        "replayed_copies": replayed,
        "replayed_signing_cpu_seconds": round(sign_cpu, 4),
        "replayed_signing_wall_seconds": round(sum(replay["sign"].wall), 4),
        "replayed_verification_cpu_seconds": round(verify_cpu, 4),
        "replayed_verification_wall_seconds": round(sum(replay["verify"].wall), 4),
        "signing_cpu_share_of_batch_cpu": _ratio(sign_cpu, cpu),
        "verification_cpu_share_of_batch_cpu": _ratio(verify_cpu, cpu),
    }
    if replayed != len(batch["signed"]):
        console.print(f"[yellow]only {replayed} of {len(batch['signed'])} signed copies were "
                      "replayed (time-stamped levels need the TSA)[/yellow]")
    console.print(make_table(
        f"records queue: {batch['letters']} letters, {batch['pages']} pages, "
        f"{figures['signatures']} signed ({', '.join(batch['levels']) or 'none'}; "
        f"{', '.join(f'{n} {k}' for k, n in batch['counts'].items())}); "
        f"{threads} worker threads; others' cores "
        f"{'[red]' if batch['foreign_cores'] > 0.25 else ''}{batch['foreign_cores']:.2f}",
        ["figure", "seconds", "share"],
        [["batch wall (whole command, incl. Prefect start-up)", fmt_num(wall, 1), "100%"],
         ["flow (ledger started -> finished, 1 s resolution)",
          fmt_num(batch["flow_seconds"], 1),
          fmt_pct(_ratio(batch["flow_seconds"], wall) if batch["flow_seconds"] else None, 1)],
         ["batch CPU (CLI + Prefect + Tesseracts, getrusage children)", fmt_num(cpu, 1),
          f"{cpu / wall:.2f} cores"],
         ["signing (sum of 'signed' events)", fmt_num(sign_s, 2),
          f"{fmt_pct(figures['signing_share_of_wall'])} of wall"],
         ["  per record", fmt_num(figures["signing_seconds_per_record"], 3), ""],
         ["  of thread time (wall x threads)", "",
          fmt_pct(figures["signing_share_of_thread_time"])],
         ["  of the flow's time", "", fmt_pct(figures["signing_share_of_flow"])],
         ["  over batch CPU (event wall seconds / CPU seconds)", "",
          fmt_pct(figures["signing_seconds_over_cpu"])],
         ["  CPU: the same copies signed again alone (records sign_pdf)", fmt_num(sign_cpu, 2),
          f"{fmt_pct(figures['signing_cpu_share_of_batch_cpu'])} of batch CPU"],
         ["verification (sum of 'verified' events)", fmt_num(verify_s, 2),
          f"{fmt_pct(figures['verification_share_of_wall'])} of wall"],
         ["  per record", fmt_num(figures["verification_seconds_per_record"], 3), ""],
         ["  over batch CPU", "", fmt_pct(figures["verification_seconds_over_cpu"])],
         ["  CPU: the same copies verified again alone (verify_bytes)", fmt_num(verify_cpu, 2),
          f"{fmt_pct(figures['verification_cpu_share_of_batch_cpu'])} of batch CPU"],
         ["signing + verification CPU", fmt_num(sign_cpu + verify_cpu, 2),
          f"{fmt_pct(_ratio(sign_cpu + verify_cpu, cpu))} of batch CPU"]],
        right_from=1))
    return figures


# --------------------------------------------------------------------------- main


def environment() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {name: version(name) for name in
                     ("pyhanko", "pyhanko-certvalidator", "cryptography", "certomancer",
                      "pikepdf", "prefect")},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "key": "RSA 2048 (development PKI), SHA-256, PKCS#1 v1.5",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=50,
                        help="B-B signatures per signer (default 50)")
    parser.add_argument("--timestamped", type=int, default=10,
                        help="B-T and B-LTA signatures each (default 10)")
    parser.add_argument("--verifications", type=int, default=10,
                        help="verifications per copy (default 10)")
    parser.add_argument("--letters", type=int, default=8, help="letters in the batch")
    parser.add_argument("--seed", type=int, default=5, help="seed of the rendered batch")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="wait up to S seconds for a quiet machine before each part")
    parser.add_argument("--out", type=Path, default=Path("bench/results/sign.json"))
    args = parser.parse_args()
    env = environment()
    console.print(f"{env['cpu_count']} cores ({env['machine']}, {env['system']}), Python "
                  f"{env['python']}, pyHanko {env['versions']['pyhanko']}, cryptography "
                  f"{env['versions']['cryptography']}; load {env['load_average_1min']}")
    results: dict[str, Any] = {"environment": env}
    with tempfile.TemporaryDirectory(prefix="records-bench-sign-") as tmp:
        scratch = Path(tmp)
        started = time.perf_counter()
        pki = init_dev_pki(scratch / "pki-home", service_url=f"http://127.0.0.1:{free_port()}")
        pdf, pages = make_pdfa(scratch / "pdfa")
        console.print(f"dev PKI and a {pages}-page PDF/A ({fmt_bytes(pdf.stat().st_size)}) in "
                      f"{time.perf_counter() - started:.0f} s")
        results["pdf"] = {"pages": pages, "bytes": pdf.stat().st_size}
        roots = trust_roots(SigningSettings(), pki.folder.parent)
        passphrase = pki.passphrase_file.read_bytes().strip()
        out = scratch / "signed"
        out.mkdir()

        if args.settle:
            wait_for_quiet(args.settle)
        b_b = bench_b_b(pki, pdf, out, roots, passphrase, args.signatures)
        results["b_b"] = report_b_b(b_b, args.signatures)

        if args.settle:
            wait_for_quiet(args.settle)
        timestamped = bench_timestamped(pki, pdf, out, b_b["signer"], args.timestamped)
        results["timestamped"] = report_timestamped(timestamped, args.timestamped, pki.tsa_url)

        copies = {"B-B": b_b["b_b_copy"], **timestamped["copies"]}
        sizes = {level: copy.stat().st_size for level, (copy, _) in copies.items()}
        if args.settle:
            wait_for_quiet(args.settle)
        results["verification"] = report_verify(
            bench_verify(copies, roots, args.verifications), args.verifications, sizes)

        if args.settle:
            wait_for_quiet(args.settle)
        console.print(f"running records queue on {args.letters} rendered letters ...")
        batch = bench_batch(pki, scratch, args.letters, args.seed)
        replay = replay_batch(scratch / "home", b_b["signer"], scratch / "replay")
        results["batch"] = report_batch(batch, replay)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
