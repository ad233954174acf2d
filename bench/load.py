"""Load bench: archivists searching and downloading through the web app while a batch ingests.

One RECORDS_HOME under a temporary folder, one ``records serve`` on a free loopback port, and
``--clients`` archivists (threads, each with its own keep-alive HTTP connection: most through
the JSON API with a Bearer token, ``--browsers`` of them through the HTML pages with a signed-in
session) that search, open a hit and download its signed PDF, over and over. Phases, in order:

0. one archivist: one API client alone, ``--seconds``/2 s: a request's own latency, with nobody
   ahead of it in the server's queue (the crowd's latency is mostly that queue: with no think
   time, 20 archivists wait on each other, latency = clients / throughput);
1. idle: the archivists alone, ``--seconds`` s;
2. ingest alone: ``records queue`` (embedded Prefect) of a ``--pages``-page batch, no clients;
3. ingest under load: another batch of the same size and make-up (other scans, so nothing is
   deduplicated), with the archivists running until it is archived;
4. idle after: the archivists alone again, to tell ingest from drift (a bigger catalog, a
   longer audit log).

Run from the project root:

    .venv/bin/python bench/load.py [--clients 20] [--browsers 5] [--seconds 60] [--pages 24]
        [--seed-pages 16] [--think 0] [--workers 0] [--clearance internal] [--queries 60]
        [--warmup 5]
        [--out bench/results/load.json] [--workdir DIR] [--settle S] [--timeout S] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import (
    _machine_busy_seconds,
    console,
    descendants,
    fmt_num,
    make_table,
    snapshot,
    wait_for_quiet,
)
from scale import (
    RECORDS,
    clean_env,
    environment,
    free_port,
    on_terminate,
    progress,
    run_cli,
    spawn,
    stop,
    tail,
    tree_seconds,
    write_manifest,
)

from archive.access import AuditLog
from archive.index import Catalog, search_records
from archive.intake import Ledger
from archive.store import LEVELS
from records.samples import LANGUAGES, render_batch

KINDS = ("search (API)", "search (page)", "record (API)", "record (page)", "pdf")
PASSWORD = "load-bench-password"  # a throw-away account in a throw-away home
USER = "archivist"
BUSY = 0.25  # others' cores above this: wall times are not to be trusted (as the other benches)
PAGES_PER_LETTER = 1.5  # render_batch's mean over its four shapes
SEEDS = {"seed": 101, "alone": 202, "under_load": 303}  # one set of scans per batch
RECORD_LINK = re.compile(r'href="/records/([A-Z0-9]{1,16}-\d{4}-\d{6})"')
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
TOTAL = re.compile(r'id="total">(\d+) record')
SHOWN_ERRORS = 5  # per phase, printed and kept in the JSON
KEPT_ERRORS = 50  # per archivist, over the whole run


# --------------------------------------------------------------------------- scans


@dataclass(frozen=True)
class Batch:
    """One rendered batch folder: what an ingest is given, and what its rate is per."""

    path: Path
    pages: int
    documents: int
    languages: dict[str, int]  # documents per language


def render(dest: Path, pages: int, seed: int) -> Batch:
    """Letters in the project's three languages (the demo's make-up: folders of PNGs, G4
    TIFFs, JPEGs, PNGs; some turned, skewed, noisy), cut at the first record that reaches
    *pages* pages. Another seed gives other scans of the same kinds, so batches of the same
    size cost about the same to recognise and are never taken for duplicates."""
    letters = max(1, round(pages / PAGES_PER_LETTER))
    while True:
        shutil.rmtree(dest, ignore_errors=True)
        rendered = render_batch(dest, letters=letters, seed=seed, languages=LANGUAGES)
        if sum(len(truth.pages) for _, truth in rendered) >= pages:
            break
        letters += 2
    kept: list[tuple[Path, int, str]] = []
    for path, truth in rendered:
        if sum(n for _, n, _ in kept) < pages:
            kept.append((path, len(truth.pages), truth.language))
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    write_manifest(dest / "manifest.csv", dest, {p.name for p, _, _ in kept})
    counts: dict[str, int] = {}
    for _, _, language in kept:
        counts[language] = counts.get(language, 0) + 1
    return Batch(dest, sum(n for _, n, _ in kept), len(kept), counts)


# --------------------------------------------------------------------------- the records home


@dataclass
class Home:
    """The temporary RECORDS_HOME, and how every `records` command of the bench is run."""

    work: Path
    timeout: float

    @property
    def path(self) -> Path:
        return self.work / "home"

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def env(self) -> dict[str, str]:
        return clean_env(RECORDS_HOME=str(self.path))

    def cli(self, args: list[str], log: str, stdin: str | None = None) -> str:
        """One `records` command that must succeed; its stdout."""
        if stdin is None:
            done = run_cli(args, self.env(), self.logs / log, timeout=self.timeout)
            code, output = done.code, done.stdout
        else:
            ran = subprocess.run([*RECORDS, *args], env=self.env(), input=stdin, text=True,
                                 capture_output=True, timeout=self.timeout, check=False)
            code, output = ran.returncode, ran.stdout
            (self.logs / log).write_text(ran.stderr, encoding="utf-8")
        if code != 0:
            raise RuntimeError(f"records {' '.join(args)} failed ({code}):\n"
                               + tail(self.logs / log))
        return output

    def audit_bytes(self) -> int:
        log = self.path / "audit" / "audit.jsonl"
        return log.stat().st_size if log.is_file() else 0


def set_up(home: Home, batch: Batch, clearance: str) -> str:
    """Keys, a first archive to search (its ingest also makes the embedded Prefect database,
    a first-use cost the timed batches must not pay), an archivist and their API token."""
    home.cli(["keys", "init"], "keys.log")
    progress(f"archiving the first {batch.pages} pages (untimed; creates Prefect's database) ...")
    ingest(home, batch, "seed")
    home.cli(["users", "add", USER, "--role", "archivist", "--clearance", clearance,
              "--password-stdin"], "users.log", stdin=PASSWORD + "\n")
    token = home.cli(["users", "token", USER], "token.log").split()
    return next(word for word in token if word.startswith("rec_"))


@dataclass(frozen=True)
class Ingest:
    """One `records queue` run: what it archived, and both of its clocks."""

    pages: int
    documents: int
    archived: int
    not_archived: list[str]
    exit_code: int
    wall_seconds: float
    start: float  # perf_counter at launch
    end: float  # ... and at exit
    flow: tuple[float, float] | None  # the flow's start and end (ledger), on the same clock

    @property
    def flow_seconds(self) -> float | None:
        return self.flow[1] - self.flow[0] if self.flow else None

    def per_minute(self, seconds: float | None) -> float | None:
        return round(self.pages * 60 / seconds, 1) if seconds else None


def ingest(home: Home, batch: Batch, name: str) -> Ingest:
    """`records queue BATCH --json` (embedded: the flow in the command's process), timed from
    launch to exit, and the flow's own time from its batch ledger."""
    log = home.logs / f"queue-{name}.log"
    started = time.perf_counter()
    process = spawn([*RECORDS, "queue", str(batch.path), "--unit", "LOAD", "--json"],
                    home.env(), log, stdout=subprocess.PIPE)
    try:
        out, _ = process.communicate(timeout=home.timeout)
    except subprocess.TimeoutExpired:
        stuck = hung(process.pid, home.path)
        stop(process, signal.SIGKILL, 0)
        raise RuntimeError(f"records queue ({name}) still running after {home.timeout:.0f} s; "
                           f"what it was doing:\n{stuck}\n{tail(log)}") from None
    except BaseException:
        stop(process, signal.SIGKILL, 0)
        raise
    ended = time.perf_counter()
    if process.returncode not in (0, 3):
        raise RuntimeError(f"records queue ({name}) failed ({process.returncode}):\n"
                           + tail(log))
    report = json.loads(out)
    docs = report["documents"]
    return Ingest(sum(d["pages"] for d in docs), len(docs),
                  sum(d["status"] == "archived" for d in docs),
                  [f"{d['source']}: {d['status']} {d['reason'] or ''}".strip()
                   for d in docs if d["status"] != "archived"],
                  process.returncode, round(ended - started, 1), started, ended,
                  flow_window(home.path, report["batch_id"]))


def hung(root: int, home: Path) -> str:
    """A hung ingest, described before it is killed: each process under it with its state
    and the kernel function it waits in, and the batch ledger's pages done."""
    table = snapshot()
    lines = []
    for pid in descendants(table, root):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            wchan = Path(f"/proc/{pid}/wchan").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        lines.append(f"  {pid} {state} {wchan or '-'} {command.decode(errors='replace')[:150]}")
    for report in Ledger(home).find()[:1]:
        lines.append(f"  ledger {report.batch_id}: {report.state}, pages "
                     f"{report.pages_done}/{report.pages_total}, " + ", ".join(
                         f"{d.source} {d.status} {d.pages_done}/{d.pages}"
                         for d in report.documents))
    return "\n".join(lines)


def flow_window(home: Path, batch_id: str) -> tuple[float, float] | None:
    """When the flow itself ran, from its ledger (1 s resolution), on perf_counter's clock:
    `records queue` first imports Python and starts an embedded Prefect server (tens of
    seconds on a busy 2-core machine), during which no page is recognised."""
    found = Ledger(home).find(batch_id)
    if not found or not found[0].finished:
        return None
    offset = time.time() - time.perf_counter()
    return (datetime.fromisoformat(found[0].started).timestamp() - offset,
            datetime.fromisoformat(found[0].finished).timestamp() - offset)


# --------------------------------------------------------------------------- queries


def pick_queries(home: Path, clearance: int, count: int, seed: int) -> list[str]:
    """What archivists type, taken from the archived text so that it finds something: the
    catalog's folded words (no diacritics, as people type Vietnamese), Vietnamese as two
    syllables (a quoted phrase or both words), German and English as single words and a few
    prefixes. Only queries with hits within the archivist's clearance are kept."""
    rng = random.Random(seed)
    rows = read_catalog(home, "SELECT r.language, p.terms FROM pages p JOIN records r "
                              "ON r.record_id = p.record_id WHERE r.level <= ?", (clearance,))
    candidates: list[str] = []
    for language, terms in rows:
        words = terms.split()
        for _ in range(6):
            candidates.append(query_from(words, language, rng))
    catalog = Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")
    try:
        found = [q for q in dict.fromkeys(c for c in candidates if c)
                 if search_records(catalog, q, clearance=clearance, limit=1).total > 0]
    finally:
        catalog.engine.dispose()
    rng.shuffle(found)
    return found[:count]


def query_from(words: list[str], language: str, rng: random.Random) -> str:
    """One query cut from a page's folded words ("" when the page offers none)."""
    if language == "vie":
        pairs = [(a, b) for a, b in pairwise(words)
                 if len(a) > 1 and len(b) > 1 and (a + b).isalpha()]
        if not pairs:
            return ""
        a, b = rng.choice(pairs)
        return f'"{a} {b}"' if rng.random() < 0.5 else f"{a} {b}"
    long = [w for w in words if len(w) >= 5 and w.isalpha()]
    if not long:
        return ""
    word = rng.choice(long)
    return f"{word[:4]}*" if rng.random() < 0.15 else word


def visible_records(home: Path, clearance: int) -> list[str]:
    """Records the archivist may open: where a visit goes when its search found nothing."""
    rows = read_catalog(home, "SELECT record_id FROM records WHERE level <= ?", (clearance,))
    return [r[0] for r in rows]


def read_catalog(home: Path, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Read-only, and closed at once: the bench must hold no lock on the live catalog."""
    with contextlib.closing(sqlite3.connect(f"file:{home / 'catalog.sqlite'}?mode=ro",
                                            uri=True)) as db:
        return db.execute(sql, params).fetchall()


# --------------------------------------------------------------------------- the web app


@contextlib.contextmanager
def web_app(home: Home, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """`records serve` on a free loopback port with ``workers`` processes (0: its default, one
    per core), until it answers; stopped on the way out (SIGINT: uvicorn's own graceful stop),
    whatever happens."""
    port = free_port()
    started = time.perf_counter()
    process = spawn([*RECORDS, "serve", "--host", "127.0.0.1", "--port", str(port),
                     *(["--workers", str(workers)] if workers else [])],
                    home.env(), home.logs / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not answers(base):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("records serve did not start:\n"
                                   + tail(home.logs / "serve.log"))
            time.sleep(0.2)
        yield base, process, time.perf_counter() - started
    finally:
        stop(process, signal.SIGINT, 15)


def answers(base: str) -> bool:
    """The login page needs no account: it answers as soon as the app has started."""
    try:
        return httpx.get(base + "/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --------------------------------------------------------------------------- archivists


@dataclass
class Sample:
    """One request as the archivist saw it; kept raw so any window can be cut afterwards."""

    kind: str
    start: float  # perf_counter when the request was sent
    seconds: float  # until the whole body was read
    ok: bool
    size: int
    hits: int | None = None  # records a search listed (its first page: snippets made)
    total: int | None = None  # records it matched


@dataclass
class Archivist:
    """One person at the web app, in a loop: search, open a hit, download its PDF.

    API users send their token; browser users sign in through the login form (its CSRF
    token) and read the HTML pages, as a person with a browser does. Every answer is
    checked: any non-2xx, wrong content or exception is an error."""

    number: int
    base: str
    token: str | None  # None: a browser session
    queries: list[str]
    fallback: list[str]
    think: float
    samples: list[Sample] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=60,
                                 follow_redirects=False)
        self.rng = random.Random(self.number)

    @property
    def browser(self) -> bool:
        return self.token is None

    def sign_in(self) -> None:
        """The login form as a browser fills it in: its CSRF token, then the POST."""
        form = self.http.get("/login")
        token = CSRF_FIELD.search(form.text)
        answer = self.http.post("/login", data={"username": USER, "password": PASSWORD,
                                                "csrf": token.group(1) if token else "",
                                                "next": "/"})
        if answer.status_code != 303 or answer.headers.get("location") != "/":
            raise RuntimeError(f"archivist {self.number} could not sign in: "
                               f"{answer.status_code} {answer.text[:200]}")

    def run(self, halt: threading.Event) -> None:
        while not halt.is_set():
            self.visit(halt)
            if self.think:
                halt.wait(self.rng.expovariate(1 / self.think))

    def visit(self, halt: threading.Event) -> None:
        """One search, then (unless stopped) one of its hits read and downloaded."""
        found = self.search(self.rng.choice(self.queries))
        if halt.is_set():
            return
        record = self.rng.choice(found or self.fallback)
        if self.record(record) and not halt.is_set():
            self.pdf(record)

    def search(self, query: str) -> list[str]:
        total = None
        if self.browser:
            answer = self.timed("search (page)", "/", {"q": query}, html_check)
            found = RECORD_LINK.findall(answer.text) if answer else []
            counted = TOTAL.search(answer.text) if answer else None
            total = int(counted.group(1)) if counted else None
        else:
            answer = self.timed("search (API)", "/api/search", {"q": query}, search_check)
            found = [h["record_id"] for h in answer.json()["hits"]] if answer else []
            total = answer.json()["total"] if answer else None
        self.samples[-1].hits, self.samples[-1].total = len(found), total
        return found

    def record(self, record_id: str) -> bool:
        if self.browser:
            return self.timed("record (page)", f"/records/{record_id}", None,
                              html_check) is not None
        return self.timed("record (API)", f"/api/records/{record_id}", None,
                          record_check(record_id)) is not None

    def pdf(self, record_id: str) -> None:
        if self.browser:
            self.timed("pdf", f"/records/{record_id}/pdf", {"download": "true"}, pdf_check)
        else:
            self.timed("pdf", f"/api/records/{record_id}/pdf", None, pdf_check)

    def timed(self, kind: str, path: str, params: dict[str, str] | None,
              check: Callable[[httpx.Response], str]) -> httpx.Response | None:
        """One GET, timed to its last byte; the answer if it is right, else None (noted)."""
        started = time.perf_counter()
        try:
            answer = self.http.get(path, params=params)
            problem = check(answer)
        except Exception as exc:  # a refused connection, a timeout, bad JSON: all errors
            answer, problem = None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        self.samples.append(Sample(kind, started, seconds, not problem,
                                   len(answer.content) if answer is not None else 0))
        if problem:
            self.note_error(kind, path, params, answer, problem)
            return None
        return answer

    def note_error(self, kind: str, path: str, params: dict[str, str] | None,
                   answer: httpx.Response | None, problem: str) -> None:
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append({"time": time.perf_counter(), "kind": kind, "path": path,
                                "params": params, "status": answer.status_code if answer
                                is not None else None, "problem": problem,
                                "body": answer.text[:300] if answer is not None else ""})

    def close(self) -> None:
        self.http.close()


def ok_status(answer: httpx.Response) -> str:
    return "" if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"


def html_check(answer: httpx.Response) -> str:
    """A page (not a redirect to the login form: redirects are not followed, so a lost
    session is a non-2xx and counts as an error)."""
    if problem := ok_status(answer):
        return problem
    return "" if answer.headers.get("content-type", "").startswith("text/html") else \
        f"not HTML: {answer.headers.get('content-type')}"


def search_check(answer: httpx.Response) -> str:
    """The API's search shape: an error page with status 200 would not pass."""
    if problem := ok_status(answer):
        return problem
    data = answer.json()
    return "" if isinstance(data.get("total"), int) and isinstance(data.get("hits"), list) \
        else "no total or hits in the answer"


def record_check(record_id: str) -> Callable[[httpx.Response], str]:
    """The record asked for, not another one (a mixed-up answer under load is an error)."""
    def check(answer: httpx.Response) -> str:
        if problem := ok_status(answer):
            return problem
        return "" if answer.json().get("record_id") == record_id else "another record"
    return check


def pdf_check(answer: httpx.Response) -> str:
    """A whole PDF: a download cut short under load must not pass as a fast one."""
    if problem := ok_status(answer):
        return problem
    length = answer.headers.get("content-length")
    if not answer.content.startswith(b"%PDF"):
        return "not a PDF"
    if length is not None and int(length) != len(answer.content):
        return f"cut short: {len(answer.content)} of {length} bytes"
    return ""


@dataclass
class Crowd:
    """The archivists, each on its own thread while a phase runs."""

    people: list[Archivist]
    _halt: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._halt = threading.Event()
        self._threads = [threading.Thread(target=p.run, args=(self._halt,), daemon=True,
                                          name=f"archivist-{p.number}") for p in self.people]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Let each finish the request it is in (its latency counts), then join."""
        self._halt.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def samples(self, start: float, end: float) -> list[Sample]:
        """Requests sent within [start, end]: the phase's own."""
        return [s for p in self.people for s in p.samples if start <= s.start <= end]

    def errors(self, start: float, end: float) -> list[dict[str, Any]]:
        return sorted((e for p in self.people for e in p.errors if start <= e["time"] <= end),
                      key=lambda e: e["time"])


def make_crowd(base: str, token: str, args: argparse.Namespace, queries: list[str],
               fallback: list[str]) -> Crowd:
    """*clients* archivists, *browsers* of them spread evenly among the others, signed in."""
    browsers = {args.clients * i // args.browsers for i in range(args.browsers)}
    people = []
    for number in range(args.clients):
        person = Archivist(number, base, None if number in browsers else token, queries,
                           fallback, args.think)
        if person.browser:
            person.sign_in()
        people.append(person)
    return Crowd(people)


# --------------------------------------------------------------------------- measuring


@dataclass
class Meter:
    """Wall time and who used the cores over a phase: the web app (a live process, read from
    /proc), the load generator (this process), the ingest (a child reaped within the phase,
    with its Prefect server and Tesseracts) and everybody else on the machine."""

    server: int
    wall: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    _start: tuple[float, ...] = ()

    @staticmethod
    def _read(server: int) -> tuple[float, ...]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (time.perf_counter(), tree_seconds([server]), own.ru_utime + own.ru_stime,
                kids.ru_utime + kids.ru_stime, _machine_busy_seconds())

    def __enter__(self) -> Meter:
        self._start = self._read(self.server)
        return self

    def __exit__(self, *exc: object) -> None:
        now = self._read(self.server)
        wall, server, own, kids, machine = (b - a for a, b in zip(self._start, now, strict=True))
        self.wall = wall
        others = max(0.0, machine - server - own - kids)
        self.cores = {name: round(value / wall, 2) if wall else 0.0 for name, value in
                      (("web_app", server), ("load_generator", own), ("ingest", kids),
                       ("others", others))}


def mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def percentile(ordered: list[float], share: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), of sorted values."""
    if len(ordered) == 1:
        return ordered[0]
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency(samples: list[Sample]) -> dict[str, Any] | None:
    """n, p50, p95, p99, max and mean in ms of the requests (errors included: a slow
    failure is still a wait)."""
    if not samples:
        return None
    ordered = sorted(s.seconds * 1000 for s in samples)
    return {"n": len(ordered), "p50": round(percentile(ordered, 0.50), 1),
            "p95": round(percentile(ordered, 0.95), 1),
            "p99": round(percentile(ordered, 0.99), 1), "max": round(ordered[-1], 1),
            "mean": round(sum(ordered) / len(ordered), 1)}


def clients_figures(crowd: Crowd, start: float, end: float) -> dict[str, Any]:
    """What the archivists saw between *start* and *end*."""
    samples = crowd.samples(start, end)
    seconds = end - start
    errors = crowd.errors(start, end)
    return {"wall_seconds": round(seconds, 1), "requests": len(samples),
            "requests_per_second": round(len(samples) / seconds, 1) if seconds else None,
            "errors": sum(not s.ok for s in samples),
            "first_errors": [{k: v for k, v in e.items() if k != "time"}
                             for e in errors[:SHOWN_ERRORS]],
            "downloaded_bytes": sum(s.size for s in samples if s.kind == "pdf"),
            "searches_with_hits": sum(bool(s.hits) for s in samples),
            "searches": sum(s.kind.startswith("search") for s in samples),
            "search_hits_listed_mean": mean([s.hits for s in samples if s.hits is not None]),
            "search_matched_mean": mean([s.total for s in samples if s.total is not None]),
            "latency_ms": {kind: latency([s for s in samples if s.kind == kind])
                           for kind in KINDS},
            "latency_ms_all": latency(samples)}


def crowd_phase(crowd: Crowd, server: int, home: Home, seconds: float) -> dict[str, Any]:
    """The archivists alone for *seconds*."""
    with Meter(server) as meter:
        crowd.start()
        start = time.perf_counter()
        time.sleep(seconds)
        end = time.perf_counter()
        crowd.stop()
    clients = clients_figures(crowd, start, end)
    return {"wall_seconds": round(end - start, 1), "cores": meter.cores, "clients": clients,
            "web_app_cpu_ms_per_request": round(meter.cores["web_app"] * meter.wall * 1000
                                                / clients["requests"], 1)
            if clients["requests"] else None,
            "audit_log_bytes": home.audit_bytes()}


def ingest_phase(crowd: Crowd | None, server: int, home: Home, batch: Batch,
                 name: str) -> dict[str, Any]:
    """One batch archived, with the archivists running throughout (or none): their requests
    sent while `records queue` ran are the phase's."""
    with Meter(server) as meter:
        if crowd:
            crowd.start()
        try:
            done = ingest(home, batch, name)
        finally:
            if crowd:
                crowd.stop()
    result: dict[str, Any] = {"wall_seconds": done.wall_seconds, "cores": meter.cores,
                              "ingest": ingest_figures(done),
                              "audit_log_bytes": home.audit_bytes()}
    if crowd:
        start, end = done.flow or (done.start, done.end)
        result["clients"] = clients_figures(crowd, start, end)
        result["clients"]["window"] = "flow" if done.flow else "command"
        whole = result["clients_whole_command"] = clients_figures(crowd, done.start, done.end)
        result["web_app_cpu_ms_per_request"] = round(
            meter.cores["web_app"] * meter.wall * 1000 / whole["requests"], 1) \
            if whole["requests"] else None
    return result


def ingest_figures(done: Ingest) -> dict[str, Any]:
    """Both rates: the command's (what an officer waits for) and the flow's (the pages)."""
    return {"pages": done.pages, "documents": done.documents, "archived": done.archived,
            "not_archived": done.not_archived, "exit_code": done.exit_code,
            "wall_seconds": done.wall_seconds,
            "flow_seconds": round(done.flow_seconds, 1) if done.flow_seconds else None,
            "command_overhead_seconds": round(done.wall_seconds - done.flow_seconds, 1)
            if done.flow_seconds else None,
            "pages_per_minute": done.per_minute(done.wall_seconds),
            "pages_per_minute_flow": done.per_minute(done.flow_seconds)}


def warm_up(crowd: Crowd, seconds: float) -> None:
    """Untimed: the first requests import, compile templates and fill SQLite's cache."""
    if seconds > 0:
        crowd.start()
        time.sleep(seconds)
        crowd.stop()


def audit_append_ms(home: Path, work: Path, appends: int = 20) -> dict[str, Any]:
    """What one audit entry costs (every request writes one) on the log the run left, and on
    an empty log: ``ChainedLog.append`` (archive.store) re-reads the whole log, under an
    exclusive lock, to chain each new line, so its cost grows with the log."""
    log = AuditLog(home).path
    found = {"log_bytes": log.stat().st_size if log.is_file() else 0,
             "log_entries": log.read_bytes().count(b"\n") if log.is_file() else 0}
    for name, where in (("this_log", home), ("empty_log", work / "empty-audit")):
        times = []
        for _ in range(appends):
            started = time.perf_counter()
            AuditLog(where).record("load-bench", "probe")
            times.append((time.perf_counter() - started) * 1000)
        found[f"{name}_ms_median"] = round(sorted(times)[len(times) // 2], 2)
    return found


def git_state() -> dict[str, Any]:
    """Which code was measured: the commit, and the project files changed since (others
    edit the working tree while benches run)."""
    root = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=False).stdout.strip()
    status = subprocess.run(["git", "status", "--porcelain", "--", "records", "archive",
                             "flows", "ocr", "config"], cwd=root, capture_output=True,
                            text=True, check=False).stdout.splitlines()
    return {"commit": head, "changed_since": [line[3:] for line in status]}


# --------------------------------------------------------------------------- ratios and report


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """None when either side is missing or zero: a ratio of nothing is not 0."""
    return round(numerator / denominator, 2) if numerator and denominator else None


def ratios(phases: dict[str, Any]) -> dict[str, Any]:
    """Under load over idle, side by side: ingest speed, and the archivists' latency and
    throughput during ingest (and afterwards) over the idle server's."""
    alone, loaded = phases["ingest_alone"]["ingest"], phases["ingest_under_load"]["ingest"]
    idle = phases["idle"]["clients"]
    during = phases["ingest_under_load"]["clients"]
    after = phases["idle_after"]["clients"]
    found: dict[str, Any] = {
        "ingest_ppm_under_load_over_alone": ratio(loaded["pages_per_minute"],
                                                  alone["pages_per_minute"]),
        "ingest_ppm_flow_under_load_over_alone": ratio(loaded["pages_per_minute_flow"],
                                                       alone["pages_per_minute_flow"]),
        "requests_per_second_during_ingest_over_idle": ratio(during["requests_per_second"],
                                                             idle["requests_per_second"]),
    }
    pairs = (("during_ingest_over_idle", during, idle),
             ("idle_after_over_idle", after, idle),
             ("during_ingest_over_idle_after", during, after))
    for label, phase, baseline in pairs:
        for kind in (*KINDS, "all"):
            now, base = latency_of(phase, kind), latency_of(baseline, kind)
            for stat in ("p50", "p95"):
                found[f"{stat}_{label}.{kind}"] = ratio(now and now[stat], base and base[stat])
    return found


def latency_of(clients: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return clients["latency_ms_all"] if kind == "all" else clients["latency_ms"][kind]


def others(value: float) -> str:
    return f"[red]{value:.2f}[/red]" if value > BUSY else f"{value:.2f}"


def latency_table(results: dict[str, Any]) -> None:
    """Per request kind, the three phases with archivists side by side."""
    phases, found = results["phases"], results["ratios"]
    columns = ["request", "idle n", "idle p50", "idle p95", "idle p99",
               "ingest n", "ingest p50", "ingest p95", "ingest p99", "p50 x", "p95 x",
               "after p50", "after p95"]
    rows = []
    for kind in (*KINDS, "all"):
        idle = latency_of(phases["idle"]["clients"], kind) or {}
        during = latency_of(phases["ingest_under_load"]["clients"], kind) or {}
        after = latency_of(phases["idle_after"]["clients"], kind) or {}
        rows.append([kind, str(idle.get("n", 0)), *(fmt_num(idle.get(s)) for s in
                                                   ("p50", "p95", "p99")),
                     str(during.get("n", 0)), *(fmt_num(during.get(s)) for s in
                                                ("p50", "p95", "p99")),
                     fmt_num(found[f"p50_during_ingest_over_idle.{kind}"], 2),
                     fmt_num(found[f"p95_during_ingest_over_idle.{kind}"], 2),
                     fmt_num(after.get("p50")), fmt_num(after.get("p95"))])
    args = results["arguments"]
    console.print(make_table(
        f"{args['clients']} archivists ({args['browsers']} in browsers), latency ms: idle "
        "server / during ingest / idle after (x: during ingest over idle)", columns, rows))
    alone = phases["one_archivist"]["clients"]
    console.print(make_table(
        "one archivist alone (API, nobody else in the queue), latency ms",
        ["request", "n", "p50", "p95", "p99"],
        [[kind, str((latency_of(alone, kind) or {}).get("n", 0)),
          *(fmt_num((latency_of(alone, kind) or {}).get(s)) for s in ("p50", "p95", "p99"))]
         for kind in (*KINDS, "all")]))


def phases_table(results: dict[str, Any]) -> None:
    """Throughput, errors and who used the cores, per phase: the context of every figure."""
    rows = []
    for name, phase in results["phases"].items():
        clients = phase.get("clients")
        cores = phase["cores"]
        figures = ["-"] * 7
        if clients:
            figures = [fmt_num(clients["wall_seconds"], 0) + " s", str(clients["requests"]),
                       fmt_num(clients["requests_per_second"]),
                       f"[red]{clients['errors']}[/red]" if clients["errors"] else "0",
                       f"{clients['searches_with_hits']}/{clients['searches']}",
                       f"{fmt_num(clients['search_hits_listed_mean'])} / "
                       f"{fmt_num(clients['search_matched_mean'])}",
                       fmt_num(phase.get("web_app_cpu_ms_per_request"))]
        rows.append([name.replace("_", " "), f"{phase['wall_seconds']:.0f} s", *figures,
                     fmt_num(cores["web_app"], 2), fmt_num(cores["load_generator"], 2),
                     fmt_num(cores["ingest"], 2), others(cores["others"]),
                     f"{phase['audit_log_bytes'] / 1e6:.1f} MB"])
    console.print(make_table(
        "phases (archivists' figures during ingest: while the flow ran; cores: average busy)",
        ["phase", "wall", "measured", "requests", "req/s", "errors", "searches with hits",
         "hits shown / matched", "web app CPU ms/req", "web app cores", "load gen cores",
         "ingest cores", "others' cores", "audit log"], rows))


def ingest_table(results: dict[str, Any]) -> None:
    """The two timed batches and their ratio, on both clocks."""
    rows = []
    for name in ("ingest_alone", "ingest_under_load"):
        done = results["phases"][name]["ingest"]
        rows.append([name.replace("_", " "), str(done["pages"]),
                     f"{done['archived']}/{done['documents']}", fmt_num(done["wall_seconds"]),
                     fmt_num(done["flow_seconds"], 0),
                     fmt_num(done["command_overhead_seconds"], 0),
                     fmt_num(done["pages_per_minute"]), fmt_num(done["pages_per_minute_flow"])])
    found = results["ratios"]
    rows.append(["under load / alone", "", "", "", "", "",
                 fmt_num(found["ingest_ppm_under_load_over_alone"], 2),
                 fmt_num(found["ingest_ppm_flow_under_load_over_alone"], 2)])
    console.print(make_table(
        "ingest (`records queue`, embedded Prefect)",
        ["batch", "pages", "archived", "wall s", "flow s (ledger)", "start-up + exit s",
         "pages/min (wall)", "pages/min (flow)"], rows))


def ratios_table(results: dict[str, Any]) -> None:
    """The answers asked for, in one place: under load over idle, both ways."""
    found = results["ratios"]
    rows = [["ingest pages/min under load / alone (wall)",
             fmt_num(found["ingest_ppm_under_load_over_alone"], 2)],
            ["ingest pages/min under load / alone (flow)",
             fmt_num(found["ingest_ppm_flow_under_load_over_alone"], 2)],
            ["requests/s during ingest / idle",
             fmt_num(found["requests_per_second_during_ingest_over_idle"], 2)],
            ["p50 during ingest / idle (all requests)",
             fmt_num(found["p50_during_ingest_over_idle.all"], 2)],
            ["p95 during ingest / idle (all requests)",
             fmt_num(found["p95_during_ingest_over_idle.all"], 2)],
            ["p50 during ingest / idle after (all requests)",
             fmt_num(found["p50_during_ingest_over_idle_after.all"], 2)],
            ["p95 during ingest / idle after (all requests)",
             fmt_num(found["p95_during_ingest_over_idle_after.all"], 2)],
            ["p50 idle after / idle (all requests: drift)",
             fmt_num(found["p50_idle_after_over_idle.all"], 2)],
            ["p95 idle after / idle (all requests: drift)",
             fmt_num(found["p95_idle_after_over_idle.all"], 2)],
            [f"errors (must be 0) in all {results['errors']['requests']} requests, warm-up "
             "included", str(results["errors"]["total"])]]
    console.print(make_table("ratios", ["", "value"], rows))


def show_errors(results: dict[str, Any]) -> None:
    """The first errors of each phase, with their answer: a count alone explains nothing."""
    for name, phase in results["phases"].items():
        for error in (phase.get("clients") or {}).get("first_errors", []):
            console.print(f"[red]error[/red] ({name}) {error['kind']} {error['path']} "
                          f"{error['params'] or ''}: {error['problem']} "
                          f"{error['body'][:160]!r}", markup=True, highlight=False)


def report(results: dict[str, Any], out: Path) -> None:
    """The tables on the console and every figure in the JSON."""
    env = results["environment"]
    console.print(f"{env['cpu_count']} cores, {env['tesseract']}, uvicorn "
                  f"{env['versions']['uvicorn']}; load {env['load_average_1min']} -> "
                  f"{env['load_average_1min_after']}; {results['total_seconds']:.0f} s in all")
    phases_table(results)
    ingest_table(results)
    latency_table(results)
    ratios_table(results)
    show_errors(results)
    probe = results["audit_append"]
    console.print(f"audit log after the run: {probe['log_entries']} entries, "
                  f"{probe['log_bytes'] / 1e6:.1f} MB; one entry appended: "
                  f"{probe['this_log_ms_median']} ms (on an empty log: "
                  f"{probe['empty_log_ms_median']} ms)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {out}")


# --------------------------------------------------------------------------- main


def arguments() -> argparse.Namespace:
    """Defaults sized for about 7-10 minutes on 2 cores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="archivists at once")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes of `records serve` (0: its default, one per core)")
    parser.add_argument("--browsers", type=int, default=5,
                        help="of them, how many use the HTML pages with a session")
    parser.add_argument("--seconds", type=float, default=60,
                        help="length of each idle-server phase")
    parser.add_argument("--pages", type=int, default=24,
                        help="pages of each timed ingest batch (records stay whole)")
    parser.add_argument("--seed-pages", type=int, default=16,
                        help="pages archived first, for the archivists to find")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause in s between an archivist's visits (0: none)")
    parser.add_argument("--clearance", default="internal", choices=LEVELS,
                        help="the archivists' clearance")
    parser.add_argument("--queries", type=int, default=60, help="distinct queries typed")
    parser.add_argument("--warmup", type=float, default=5.0, help="untimed seconds first")
    parser.add_argument("--out", type=Path, default=Path("bench/results/load.json"))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="make the temporary folder here (default: the system's)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="wait up to S s for a quiet machine before each phase")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds one ingest may take (default 120 + 20 per page)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.timeout = args.timeout or 120 + 20 * max(args.pages, args.seed_pages)
    if not 0 <= args.browsers <= args.clients:
        parser.error("--browsers must be between 0 and --clients")
    return args


def quiet(settle: float) -> None:
    if settle > 0:
        progress(f"others' cores before the phase: {wait_for_quiet(settle):.2f}")


def prepare(work: Path, args: argparse.Namespace) -> dict[str, Batch]:
    """All three batches first: rendering takes CPU and must not fall into a timed phase."""
    progress(f"rendering scans into {work} ...")
    sizes = {"seed": args.seed_pages, "alone": args.pages, "under_load": args.pages}
    scans = {name: render(work / "scans" / name, sizes[name], SEEDS[name]) for name in sizes}
    for name, batch in scans.items():
        progress(f"  {name}: {batch.pages} pages, {batch.documents} records {batch.languages}")
    return scans


def measure(home: Home, base: str, server: int, token: str,
            args: argparse.Namespace, scans: dict[str, Batch]) -> dict[str, Any]:
    """The four phases, in order, with one crowd of archivists throughout."""
    clearance = LEVELS.index(args.clearance)
    queries = pick_queries(home.path, clearance, args.queries, seed=7)
    fallback = visible_records(home.path, clearance)
    if not queries or not fallback:
        raise RuntimeError("the first batch gave no record or query within the clearance")
    crowd = make_crowd(base, token, args, queries, fallback)
    phases: dict[str, Any] = {}
    try:
        warm_up(crowd, args.warmup)
        quiet(args.settle)
        # One archivist alone: what a request costs with nobody ahead of it in the queue.
        alone = Crowd([next(p for p in crowd.people if not p.browser)])
        progress(f"one archivist (API) for {args.seconds / 2:.0f} s ...")
        phases["one_archivist"] = crowd_phase(alone, server, home, args.seconds / 2)
        quiet(args.settle)
        progress(f"idle: {args.clients} archivists for {args.seconds:.0f} s ...")
        phases["idle"] = crowd_phase(crowd, server, home, args.seconds)
        quiet(args.settle)
        progress(f"ingest alone: {scans['alone'].pages} pages, no archivists ...")
        phases["ingest_alone"] = ingest_phase(None, server, home, scans["alone"], "alone")
        quiet(args.settle)
        progress(f"ingest under load: {scans['under_load'].pages} pages, "
                 f"{args.clients} archivists ...")
        phases["ingest_under_load"] = ingest_phase(crowd, server, home, scans["under_load"],
                                                   "under-load")
        progress(f"idle after: {args.clients} archivists for {args.seconds:.0f} s ...")
        phases["idle_after"] = crowd_phase(crowd, server, home, args.seconds)
    finally:
        crowd.stop()
        for person in crowd.people:
            person.close()
    everything = [s for p in crowd.people for s in p.samples]
    return {"queries": queries, "records_visible_at_start": len(fallback), "phases": phases,
            "errors": {"total": sum(not s.ok for s in everything), "requests": len(everything),
                       "zero": all(s.ok for s in everything)}}


def clean_up(work: Path, keep: bool, failed: list[bool]) -> None:
    """Remove the temporary folder after a good run; keep it (and say where) otherwise."""
    if failed[0] or keep:
        progress(f"kept {work}" + (" (the run failed)" if failed[0] else ""))
    else:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Everything in one temporary folder, removed afterwards unless --keep, or unless the
    run failed (its logs and home are then kept for a look, and named)."""
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="records-load-", dir=args.workdir))
        failed = [True]
        stack.callback(clean_up, work, args.keep, failed)
        home = Home(work, args.timeout)
        home.logs.mkdir()
        scans = prepare(work, args)
        token = set_up(home, scans["seed"], args.clearance)
        base, server, started = stack.enter_context(web_app(home, args.workers))
        progress(f"records serve answered after {started:.1f} s on {base}")
        results["server_start_seconds"] = round(started, 1)
        results["input"] = {name: {"pages": b.pages, "documents": b.documents,
                                   "languages": b.languages, "seed": SEEDS[name]}
                            for name, b in scans.items()}
        results.update(measure(home, base, server.pid, token, args, scans))
        results["audit_append"] = audit_append_ms(home.path, work)
        failed[0] = False


def main() -> None:
    """Exit status 1 when any request failed: zero errors is a requirement, not a figure."""
    signal.signal(signal.SIGTERM, on_terminate)
    args = arguments()
    started = time.perf_counter()
    results: dict[str, Any] = {"arguments": {k: str(v) if isinstance(v, Path) else v
                                             for k, v in vars(args).items()}}
    results["environment"] = {**environment(), "git": git_state()}
    results["environment"]["versions"].update(
        {n: version(n) for n in ("uvicorn", "fastapi", "starlette", "httpx")})
    run(args, results)
    results["environment"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    results["total_seconds"] = round(time.perf_counter() - started)
    results["ratios"] = ratios(results["phases"])
    report(results, args.out)
    if not results["errors"]["zero"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
