"""Helpers every bench of the project shares: scoring text, timing, memory, tables.

Benches compare the project with other tools on the same inputs in the same run, so the
measuring has to be identical for every tool: one text normalisation, one CER, one clock,
one way of counting memory. Keeping them here stops two benches from disagreeing about what
"1% CER" or "peak memory" means.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Scoring is the project's own, so tests and benchmarks measure text the same way.
from ocr.quality import edit_distance, join_eol_hyphens, normalise

__all__ = ["edit_distance", "join_eol_hyphens", "normalise"]

# Logs and pipes get a wide fixed width: rich would otherwise fold the tables to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)

# --------------------------------------------------------------------------- text and CER

@dataclass
class CerTally:
    """Micro-averaged CER: total edits over total truth characters, not a mean of rates.

    A mean of per-page rates lets a ten-character page weigh as much as a full book page.
    """

    errors: int = 0
    chars: int = 0

    def add(self, ocr: str, truth: str, *, join_hyphens: bool = False) -> float:
        """Score one unit (already extracted text) and return its own CER."""
        truth_n = normalise(truth)
        errors = edit_distance(normalise(ocr, join_hyphens=join_hyphens), truth_n)
        self.errors += errors
        self.chars += len(truth_n)
        return errors / len(truth_n) if truth_n else float(errors > 0)

    def merge(self, other: CerTally) -> None:
        self.errors += other.errors
        self.chars += other.chars

    @property
    def cer(self) -> float | None:
        return self.errors / self.chars if self.chars else None


# --------------------------------------------------------------------------- PDFs


def pdf_text(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    """The text layer as a reader's search sees it (pdftotext), optionally a page range."""
    command = ["pdftotext", "-q", "-enc", "UTF-8"]
    if first is not None:
        command += ["-f", str(first)]
    if last is not None:
        command += ["-l", str(last)]
    done = subprocess.run([*command, str(pdf), "-"], capture_output=True, check=False)
    return done.stdout.decode("utf-8", "replace")


# --------------------------------------------------------------------------- running and timing


@dataclass
class CommandResult:
    command: list[str]
    returncode: int
    seconds: float
    stderr: str


def run_command(command: Sequence[str], env: dict[str, str] | None = None,
                timeout: float | None = None) -> CommandResult:
    """Run one tool invocation, keeping its error text: a failed page must be explainable."""
    started = time.perf_counter()
    try:
        done = subprocess.run(list(command), capture_output=True, env=env, timeout=timeout,
                              check=False)
        code, err = done.returncode, done.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        code, err = -1, f"timed out after {timeout} s"
    return CommandResult(list(command), code, time.perf_counter() - started, err)


def run_parallel(commands: Sequence[Sequence[str]], jobs: int,
                 env: dict[str, str] | None = None,
                 timeout: float | None = None) -> tuple[float, list[CommandResult]]:
    """Run commands *jobs* at a time, as a user would drive a one-file-per-call tool.

    Returns the wall time of the whole set and each command's result, in input order.
    """
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(lambda c: run_command(c, env, timeout), commands))
    return time.perf_counter() - started, results


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` gives seconds, frozen at exit."""
    started = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - started
    end.append(time.perf_counter())


# --------------------------------------------------------------------------- CPU


def _own_cpu_seconds() -> float:
    """CPU used by this process and every descendant it has reaped (children's children
    count once their parent has waited for them)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMeter:
    """Wall time, our CPU time and everybody else's over a block of work.

    On a shared machine a bench can be slowed by someone's test run; ``foreign_cores``
    (average cores busy outside our process tree) says when a wall time is not to be trusted.
    CPU seconds of the tool itself are much less disturbed than its wall time.
    """

    wall: float = 0.0
    cpu: float = 0.0
    machine: float = 0.0
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __enter__(self) -> CpuMeter:
        self._start = (time.perf_counter(), _own_cpu_seconds(), _machine_busy_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu, machine = self._start
        self.wall = time.perf_counter() - wall
        self.cpu = _own_cpu_seconds() - cpu
        self.machine = _machine_busy_seconds() - machine

    @property
    def foreign_cores(self) -> float:
        return max(0.0, self.machine - self.cpu) / self.wall if self.wall else 0.0


def wait_for_quiet(max_wait: float, threshold: float = 0.25, window: float = 1.0) -> float:
    """Wait (at most *max_wait* s) until the machine is idle apart from us; return the load.

    On a machine shared with other people's test runs, a timed run started in a busy
    spell measures them as much as the tool. Returns the busy cores seen in the last window.
    """
    deadline = time.perf_counter() + max_wait
    while True:
        with CpuMeter() as meter:
            time.sleep(window)
        if meter.foreign_cores < threshold or time.perf_counter() >= deadline:
            return meter.foreign_cores


def machine_load() -> float:
    """One-minute load average: printed so a reader can judge how quiet the machine was."""
    return os.getloadavg()[0]


# --------------------------------------------------------------------------- memory

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Proc:
    ppid: int
    comm: str
    start: int  # clock ticks after boot: tells a reused pid from the process we saw
    ticks: int  # CPU: its own, and that of the children it has reaped


def snapshot() -> dict[int, Proc]:
    """Every process we can see, read once: cheaper than one /proc scan per question on a
    2-core machine the bench shares with what it measures."""
    table: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue  # ended while we looked
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        table[int(entry.name)] = Proc(int(fields[1]), comm, int(fields[19]), ticks)
    return table


def descendants(table: dict[int, Proc], root: int) -> list[int]:
    """*root* and every process under it."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found, todo = [], [root] if root in table else []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def process_tree(root: int, include_root: bool = True) -> list[int]:
    """The pids under *root* (its children, their children, ...)."""
    found = descendants(snapshot(), root)
    return found if include_root else [pid for pid in found if pid != root]


def rss_bytes(pid: int) -> int:
    """Resident set size of one process, 0 if it has gone."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class Sampling:
    """Calls ``sample()`` every ``interval`` seconds on a thread while the ``with`` lasts.

    For dataclasses with ``interval``, ``_stop`` (an Event) and ``_thread`` fields."""

    interval: float
    _stop: threading.Event
    _thread: threading.Thread | None

    def sample(self) -> object:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> Self:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=type(self).__name__,
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@dataclass
class PeakMemory(Sampling):
    """Peak of the summed RSS of a process tree, sampled every *interval* seconds.

    Tools that fork one process per page use far more memory together than any one of them
    does; sampling the whole tree catches that. Shared pages are counted once per process,
    so the figure is an upper bound, and spikes shorter than the interval can be missed.
    """

    root: int = field(default_factory=os.getpid)
    include_root: bool = False  # the bench's own memory is not the tool's
    interval: float = 0.2
    peak: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def sample(self) -> int:
        """Sum the tree's RSS now (also callable by hand, e.g. right after a run)."""
        total = sum(rss_bytes(pid) for pid in process_tree(self.root, self.include_root))
        self.peak = max(self.peak, total)
        self.samples += 1
        return total



def max_rss_bytes(who: int = resource.RUSAGE_SELF) -> int:
    """getrusage's max RSS (Linux reports KiB): for RUSAGE_CHILDREN, the largest one child."""
    return resource.getrusage(who).ru_maxrss * 1024


# --------------------------------------------------------------------------- formatting


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - loop always returns


def fmt_pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def fmt_num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def verdict(ok: bool | None) -> str:
    """A coloured pass/fail for a target, or a dash when it could not be measured."""
    if ok is None:
        return "[dim]n/a[/dim]"
    return "[green]met[/green]" if ok else "[red]missed[/red]"


def make_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
               right_from: int = 1) -> Table:
    """A rich table with text in the first *right_from* columns and numbers after them."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for index, name in enumerate(columns):
        table.add_column(name, justify="left" if index < right_from else "right")
    for row in rows:
        table.add_row(*row)
    return table


# --------------------------------------------------------------------------- PostgreSQL


def as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass(frozen=True)
class PrivatePostgres:
    """A PostgreSQL server of the bench's own, on loopback, trusting the user "records"."""

    bin_dir: Path
    port: int
    pid: int  # the postmaster: not our child, its CPU is read from /proc
    version: str

    def createdb(self, name: str) -> None:
        subprocess.run([str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "records", name], check=True, capture_output=True)

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://records@127.0.0.1:{self.port}/{database}"


@contextmanager
def private_postgres(prefix: str, settings: dict[str, str] | None = None
                     ) -> Iterator[PrivatePostgres]:
    """Start one from Debian's binaries (as tests/conftest.py does), with ``settings`` as
    ``-c`` options; stop it and remove its data afterwards, whatever happens."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL server binaries absent (make system installs postgresql)")
    bin_dir = found[-1].parent
    # Not under the bench's own (private) folder: the server runs as postgres.
    data = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = " ".join([f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                        *(f"-c {k}={v}" for k, v in (settings or {}).items())])
    started = False
    try:
        subprocess.run(as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                                    "-U", "records", "-E", "UTF8", "--no-locale"]),
                       check=True, capture_output=True)
        subprocess.run(as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l",
                                    str(data / "server.log"), "-o", options, "start"]),
                       check=True, capture_output=True)
        started = True
        pid = int((data / "postmaster.pid").read_text(encoding="ascii").split()[0])
        version = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True,
                                 text=True, check=False).stdout.strip()
        yield PrivatePostgres(bin_dir, port, pid, version)
    finally:
        if started:
            subprocess.run(as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                        "stop"]), capture_output=True, check=False)
        shutil.rmtree(data, ignore_errors=True)
