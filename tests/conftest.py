"""Shared fixtures: rendered scans (no corpus needed), the corpus when present, a clean home."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.index import Catalog
from archive.signing import DevPki, init_dev_pki
from ocr.options import OcrOptions
from ocr.pipeline import ocr_to_pdfa
from ocr.quality import cer
from ocr.xmp import DocumentInfo
from records.samples import PageStyle, make_letter, render_page, save_page
from tests.waiting import wait_until

__all__ = ["Scans", "cer", "corpus_path", "pdftotext"]

ROOT = Path(__file__).resolve().parents[1]


def corpus_path() -> Path:
    return Path(os.environ.get("RECORDS_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_path()
    if not (path / "MANIFEST.tsv").is_file():
        pytest.skip(f"corpus absent at {path} (set RECORDS_CORPUS to run corpus tests)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """One development PKI for the session (RSA keys take a while), its services on a free port."""
    home = tmp_path_factory.mktemp("pki-home")
    return init_dev_pki(home, service_url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture(scope="session")
def animator(pki: DevPki) -> Iterator[DevPki]:
    """certomancer's TSA, OCSP responder and CRLs for the session PKI, served on loopback."""
    port = pki.service_url.rsplit(":", 1)[1]
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("certomancer")), "--config",
         str(pki.certomancer_config), "animate", "--port", port, "--no-web-ui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", int(port))) == 0

    wait_until(listening, f"certomancer's TSA and OCSP on port {port}", 30, process=process)
    yield pki
    process.terminate()
    process.wait(10)


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass(frozen=True)
class PgServer:
    url: str  # SQLAlchemy URL of the "records" database
    data: Path
    bin_dir: Path
    port: int
    options: str

    def restart(self, down_seconds: float = 0) -> None:
        """Stop (fast: connections are dropped), stay down a while, start again: an operator's
        restart or a failover."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        """Stop fast: open connections are dropped, new ones refused."""
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._ctl("start", "-o", self.options)

    def _ctl(self, *args: str) -> None:
        # -l: the server must not inherit our pipes, or waiting for them never ends
        subprocess.run(_as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-w",
                                     "-l", str(self.data / "server.log"), *args]), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A private PostgreSQL server on loopback for the session (Debian's binaries)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server binaries absent (make system installs postgresql)")
    bin_dir = found[-1].parent
    # Not under pytest's temporary folder: that is private to us, and the server runs as postgres.
    data = Path(tempfile.mkdtemp(prefix="records-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                                 "-U", "records", "-E", "UTF8", "--no-locale"]),
                   check=True, capture_output=True)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l",
                                 str(data / "server.log"), "-o", options, "start"]),
                   check=True, capture_output=True)
    try:
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                        "records", "records"], check=True, capture_output=True)
        yield PgServer(f"postgresql+psycopg://records@127.0.0.1:{port}/records", data,
                       bin_dir, port, options)
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                     "stop"]), capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres: PgServer) -> str:
    return postgres.url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: DevPki) -> Path:
    """A fresh RECORDS_HOME with the session's development PKI, and nothing from the user's
    environment."""
    target = tmp_path / "home"
    shutil.copytree(pki.folder, target / "keys")
    monkeypatch.setenv("RECORDS_HOME", str(target))
    for name in list(os.environ):
        if name.startswith("RECORDS_") and name not in ("RECORDS_HOME", "RECORDS_CORPUS"):
            monkeypatch.delenv(name)
    return target


def pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True).stdout.decode("utf-8")


class Scans:
    """Renders single letter pages on demand, once per style, for the whole session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def page(self, language: str = "vie", seed: int = 1, name: str | None = None,
             **style: object) -> tuple[Path, str]:
        """One rendered page and its exact text."""
        look = PageStyle(**style)  # type: ignore[arg-type]
        suffix = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "tiff-g4": ".tif"
                  }.get(look.encoding, ".pdf")
        path = self.folder / (name or f"{language}-{seed}-{abs(hash(look))}{suffix}")
        text = make_letter(language, seed, pages=1).pages[0]
        if not path.exists():
            save_page(render_page(text, look, seed=seed), path, look)
        return path, text


@pytest.fixture(scope="session")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    return Scans(tmp_path_factory.mktemp("scans"))


INFO = DocumentInfo(title="Kế hoạch số hóa", author="BỘ QUỐC PHÒNG / VĂN PHÒNG",
                    language="vi", identifier="VP-2024-000001", date="2024-09-16",
                    type="KẾ HOẠCH", source="12/KH-VP", rights="Classification: public",
                    publisher="VP", subjects=("Kế hoạch 2024",))


@pytest.fixture(scope="session")
def pdfa(scans: Scans, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real searchable PDF/A-2b with Dublin Core, as the pipeline makes it."""
    page, _ = scans.page("vie", seed=4)
    folder = tmp_path_factory.mktemp("pdfa")
    out = folder / "copy.pdf"
    ocr_to_pdfa([page], out, OcrOptions(languages="vie"), folder / "cache", INFO)
    return out




@pytest.fixture(params=["sqlite", "postgresql"])
def empty_catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Catalog]:
    """An empty catalog on each backend: SQLite in a temporary folder, and the session's
    PostgreSQL (emptied first)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('catalog') / 'catalog.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    # The full-text indexes in a folder of the test's own (a server catalog's default is in
    # the user's cache, shared by every test of the session on the same URL).
    catalog = Catalog.open(url, search_index=tmp_path_factory.mktemp("search"))
    catalog.drop()
    catalog.create()
    yield catalog
    catalog.engine.dispose()


def new_database(postgres_url: str, name: str) -> str:
    """A fresh database on the session's PostgreSQL (dropped first if a test left it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        db.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (``RECORDS_PROMISES_STRICT=1``), fail the run when a test that proves one of the
    README's promises (``tests/promises.toml``) was skipped: a row CI does not exercise is
    not a promise kept, and a skip would otherwise hide it in a green run."""
    if os.environ.get("RECORDS_PROMISES_STRICT") != "1":
        return
    from tests.test_promises import promised_tests

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    promised = promised_tests()
    missed = sorted({report.nodeid for report in skipped
                     if report.nodeid.split("[")[0] in promised})
    if missed and reporter:
        reporter.write_line("promised tests skipped (RECORDS_PROMISES_STRICT=1):", red=True)
        for nodeid in missed:
            reporter.write_line(f"  {nodeid}", red=True)
    if missed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
