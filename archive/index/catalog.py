"""The catalog: every record's metadata and page text, in SQL, derived from the archive.

The archive folder is the truth; the catalog is an index over it that ``records reindex``
rebuilds from the packages alone. SQLite (WAL) is the embedded default under ``RECORDS_HOME``;
PostgreSQL serves many machines. Either holds each page's text and its folded words
(``archive.index.folding``); the full-text indexes searched (``archive.index.fulltext``) are
made from those words on each machine, so a query finds the same records on either backend,
with or without diacritics. The databases' own full-text indexes (SQLite's FTS5,
PostgreSQL's ``tsvector``) are not used: they ranked a common word 20 to 50 times slower
(``bench/search.py``), and a catalog made by an earlier version loses them when opened.

Other wings keep tables of their own in the same database (accounts, sign-ins, failed
sign-ins: ``archive.access``). Those are not derived from the archive, so they are not
described here: each wing asks :meth:`Catalog.ensure` for its schema, and ``drop`` (a
rebuild) never touches them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from archive.index.attention import review_reasons
from archive.index.folding import fold
from archive.index.fulltext import FullText
from archive.store import (
    RecordPaths,
    descriptive_from,
    home_of,
    is_corrected,
    level_of,
    read_checks,
    read_corrections,
    record_events,
    replayed,
)

metadata = MetaData()
records = Table(
    "records", metadata,
    Column("record_id", String(64), primary_key=True),
    Column("title", Text, nullable=False, default=""),
    Column("unit", String(64), nullable=False, index=True),
    Column("series", Text, nullable=False, default=""),
    Column("document_type", String(64), nullable=False, default="", index=True),
    Column("document_number", String(128), nullable=False, default=""),
    Column("document_date", String(10), index=True),  # ISO date, NULL when unknown
    Column("issuer", Text, nullable=False, default=""),
    Column("language", String(32), nullable=False, default=""),
    Column("classification", String(32), nullable=False),
    Column("level", Integer, nullable=False, index=True),  # index of classification in LEVELS
    Column("signed", Boolean, nullable=False, default=False),
    Column("signature_level", String(8), nullable=False, default=""),
    Column("signer_identity", String(16), nullable=False, default=""),
    # Open in the review queue: reasons for a person (``review_reasons``, "; "-joined), and
    # no person has acted on it yet (``reviewed_by``: who last corrected or reviewed it).
    Column("needs_review", Boolean, nullable=False, default=False),
    Column("review_reasons", Text, nullable=False, default=""),
    Column("reviewed_by", String(64), nullable=False, default=""),
    Column("pages", Integer, nullable=False, default=0),
    Column("mean_confidence", Float),
    Column("batch_id", String(64), nullable=False, default=""),
    Column("archived_at", String(32), nullable=False, default=""),
    Column("pdf_sha256", String(64), nullable=False, default=""),
)
pages = Table(
    "pages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False),
    Column("page", Integer, nullable=False),
    Column("text", Text, nullable=False),  # as recognised, NFC: snippets are cut from it
    Column("terms", Text, nullable=False),  # folded words separated by spaces: what is indexed
    UniqueConstraint("record_id", "page"),
)
# Where the catalog's derived copies stand (each machine's full-text indexes): ``epoch`` is new
# whenever rows were written without naming themselves (a new or bulk-loaded catalog),
# ``generation`` counts every change. ``removals`` is no longer read (it served search keys
# held in memory); it stays because catalogs of earlier versions require it.
catalog_state = Table(
    "catalog_state", metadata,
    Column("id", Integer, primary_key=True),
    Column("epoch", String(32), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("removals", Integer, nullable=False, default=0),
)
# Which records changed, by the catalog generation that changed them, for the full-text
# indexes (``archive.index.fulltext``): each machine's indexes apply what changed after the
# generation they hold. Generations are taken under catalog_state's row lock, held to the
# commit, so a generation is never seen committed before a smaller one.
index_changes = Table(
    "index_changes", metadata,
    Column("generation", Integer, nullable=False, index=True),
    Column("record_id", String(64), nullable=False),
)
# Every verification of a record (at archiving, by `records verify`, by the fixity audit):
# the roadmap's "share passing verification" on any past date is the last outcome by then.
verifications = Table(
    "verifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, index=True),
    Column("at", String(32), nullable=False),
    Column("ok", Boolean, nullable=False),
)
# What became of each document of each batch (archived, quarantined, failed), for whom: the
# roadmap counts quarantined documents per unit. Rebuilt from the batch ledgers by reindex.
progress = Table(
    "progress", metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("source", Text, primary_key=True),
    Column("unit", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("record_id", String(64)),
    Column("pages", Integer, nullable=False, default=0),
    Column("reason", Text),
    Column("at", String(32), nullable=False),
)


# Columns added to ``records`` since the first catalogs, with their SQL type (both dialects).
ADDED_COLUMNS = {"review_reasons": "TEXT NOT NULL DEFAULT ''",
                 "reviewed_by": "VARCHAR(64) NOT NULL DEFAULT ''"}


@dataclass(frozen=True)
class CatalogTables:
    """The tables the roadmap reads its facts from (``archive.roadmap.progress``)."""

    records: Table
    pages: Table
    verifications: Table
    progress: Table


TABLES = CatalogTables(records, pages, verifications, progress)
_NON_WORD = re.compile(r"[\W_]+")
# What catalogs of earlier versions hold and nothing reads any more: dropped when opened.
_RETIRED_SQLITE = ("records_fts", "pages_fts", "record_keys")
_RETIRED_POSTGRESQL = ("DROP INDEX IF EXISTS pages_tsv",
                       "ALTER TABLE pages DROP COLUMN IF EXISTS tsv",
                       "DROP TABLE IF EXISTS record_keys")


def terms_of(page_text: str) -> str:
    return _NON_WORD.sub(" ", fold(unicodedata.normalize("NFC", page_text))).strip()


def record_terms(page_terms: list[str]) -> str:
    """What the record-level index holds: the pages' words in page order. A phrase may run
    over a page break, as the sentence on paper does."""
    return " ".join(page_terms)


@dataclass
class Catalog:
    """A catalog database; ``url`` is any SQLAlchemy URL (sqlite:///..., postgresql+psycopg://)."""

    engine: Engine
    # Where this machine keeps the catalog's full-text indexes (``fulltext``).
    search_index: Path | None = field(default=None, compare=False)
    _fulltext: FullText | None = field(default=None, compare=False, repr=False)
    # The other wings' schemas made on this database by this object (see ``ensure``).
    _ensured: set[int] = field(default_factory=set, compare=False, repr=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @classmethod
    def open(cls, url: str, search_index: Path | None = None) -> Catalog:
        """The catalog at ``url``, its tables made if missing. ``search_index``: the local
        folder of its full-text indexes (default: beside a SQLite file; for a server, a folder
        per catalog in this user's cache)."""
        engine = create_engine(url, future=True, pool_pre_ping=True)
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            # A fresh home: an administrator's first command may be `records users add`.
            Path(engine.url.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if engine.dialect.name == "sqlite":
            busy = float(engine.url.query.get("timeout", SQLITE_BUSY_SECONDS))
            event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy=busy))
        catalog = cls(engine, search_index=search_index or _default_index(engine))
        catalog.create()
        return catalog

    def fulltext(self) -> FullText:
        """This process's handle on the full-text indexes (``archive.index.textsync`` keeps
        them in step; search through it)."""
        if self._fulltext is None:
            self._fulltext = FullText(self.search_index or _default_index(self.engine))
        return self._fulltext

    def ensure(self, schema: MetaData) -> None:
        """Make another wing's tables in this database if they are missing, once per object:
        their owners call this before each use, so it must cost nothing the second time."""
        if id(schema) not in self._ensured:
            create_tables(schema, self.engine)
            self._ensured.add(id(schema))

    def create(self) -> None:
        create_tables(metadata, self.engine)
        self._add_columns()
        self._drop_retired()
        if self.dialect == "postgresql":
            self._compress_pages()
        with self.engine.connect() as db:
            # Opening a catalog that has its state writes nothing, so a batch starts while
            # another program holds the write lock (its writes wait and are retried later).
            if db.execute(select(catalog_state.c.id)).first() is not None:
                return
        with self.engine.begin() as db:
            # Its own transaction, a write first: workers opening a new catalog at once must
            # not fail on each other (SQLite cannot turn a read into a write after another
            # writer committed, PostgreSQL would raise on the duplicate key).
            state = (sqlite_insert if self.dialect == "sqlite" else pg_insert)(catalog_state)
            db.execute(state.values(id=1, epoch=secrets.token_hex(8), generation=0, removals=0)
                       .on_conflict_do_nothing())

    def _compress_pages(self) -> None:
        """Store page texts compressed by lz4 rather than PostgreSQL's default pglz: a page
        with its folded words (3-4 KB) is compressed on the way in, and with pglz a bulk load
        of 20,000 records took 8.9 s instead of 6.4 (``bench/search.py --records 20000
        --backends postgresql``, run once with this method made a no-op). Rows already
        stored stay as they are; a server built without lz4 keeps pglz."""
        if (self.engine.dialect.server_version_info or (0,)) < (14,):
            return  # column compression came with PostgreSQL 14
        with self.engine.connect() as db:
            kinds = set(db.execute(text(
                "SELECT attcompression FROM pg_attribute WHERE attrelid = 'pages'::regclass "
                "AND attname IN ('text', 'terms')")).scalars())
        if kinds == {"l"}:
            return
        with suppress(OperationalError, ProgrammingError), self.engine.begin() as db:
            db.execute(text("ALTER TABLE pages ALTER COLUMN text SET COMPRESSION lz4, "
                            "ALTER COLUMN terms SET COMPRESSION lz4"))

    def _drop_retired(self) -> None:
        """Drop what a catalog of an earlier version holds for search and nothing reads now
        (looked for first: dropping takes a lock every other process would wait for)."""
        inspector = inspect(self.engine)
        tables = set(inspector.get_table_names())
        if self.dialect == "sqlite":
            statements = [f"DROP TABLE IF EXISTS {t}" for t in _RETIRED_SQLITE if t in tables]
        else:
            retired = "record_keys" in tables or "tsv" in {
                c["name"] for c in inspector.get_columns("pages")}
            statements = list(_RETIRED_POSTGRESQL) if retired else []
        for statement in statements:
            with suppress(OperationalError, ProgrammingError), self.engine.begin() as db:
                db.execute(text(statement))  # another process may have dropped it meanwhile

    def _add_columns(self) -> None:
        """Give a catalog made by an earlier version the columns added since (empty: a
        ``records reindex`` fills them from the archive)."""
        have = {c["name"] for c in inspect(self.engine).get_columns("records")}
        missing = [c for c in ADDED_COLUMNS if c not in have]
        for name in missing:
            # Another process may add it meanwhile: what failed is looked at again below.
            with suppress(OperationalError, ProgrammingError), self.engine.begin() as db:
                db.execute(text(f"ALTER TABLE records ADD COLUMN {name} {ADDED_COLUMNS[name]}"))
        have = {c["name"] for c in inspect(self.engine).get_columns("records")}
        if set(ADDED_COLUMNS) - have:
            raise RuntimeError(f"the catalog lacks {', '.join(set(ADDED_COLUMNS) - have)}")

    def drop(self) -> None:
        """Drop the derived tables (records, pages, changes); the other wings' tables stay."""
        metadata.drop_all(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as db:
            yield db

    def add(self, row: dict[str, Any], page_texts: list[str],
            checks: Sequence[tuple[str, bool]] = ()) -> None:
        """Put one record (replacing an earlier entry of it), its pages and its verifications
        so far (time, passed), in one transaction."""
        with self.transaction() as db:
            self._remove(db, row["record_id"])
            db.execute(insert(records).values(**row))
            if checks:
                db.execute(insert(verifications), [
                    {"record_id": row["record_id"], "at": at, "ok": ok} for at, ok in checks])
            terms = [terms_of(page_text) for page_text in page_texts]
            rows = [{"record_id": row["record_id"], "page": number, "terms": page_terms,
                     "text": unicodedata.normalize("NFC", page_text)}
                    for number, (page_text, page_terms)
                    in enumerate(zip(page_texts, terms, strict=True), start=1)]
            if rows:
                db.execute(insert(pages), rows)
            # Last, so a PostgreSQL writer holds the row lock briefly.
            mark_changed(db, [row["record_id"]])

    @staticmethod
    def _remove(db: Connection, record_id: str) -> None:
        """Take a record out (nothing happens if it is not in)."""
        db.execute(delete(verifications).where(verifications.c.record_id == record_id))
        db.execute(delete(pages).where(pages.c.record_id == record_id))
        db.execute(delete(records).where(records.c.record_id == record_id))

    def restrict(self, record_id: str, classification: str) -> None:
        """Raise a catalogued record to ``classification`` now, before the archive's new
        version says so: a crash in between leaves the catalog stricter than the archive
        (fail closed), and cataloguing the record again makes them agree."""
        level = level_of(classification)
        with self.transaction() as db:
            db.execute(update(records).where(records.c.record_id == record_id,
                                             records.c.level < level)
                       .values(level=level, classification=classification))
            mark_changed(db, [record_id])

    def checks(self, record_id: str) -> list[tuple[str, bool]]:
        """Every verification of a record the catalog knows: (time, passed), oldest first."""
        with self.engine.connect() as db:
            return [(at, bool(ok)) for at, ok in db.execute(
                select(verifications.c.at, verifications.c.ok)
                .where(verifications.c.record_id == record_id).order_by(verifications.c.at))]

    def add_check(self, record_id: str, at: str, ok: bool) -> None:
        """Note one more verification of a catalogued record."""
        with self.transaction() as db:
            db.execute(insert(verifications).values(record_id=record_id, at=at, ok=ok))

    def get(self, record_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as db:
            row = db.execute(select(records).where(records.c.record_id == record_id)).first()
        return dict(row._mapping) if row else None

    def page_terms(self, record_ids: list[str]) -> list[tuple[str, int, str]]:
        """(record id, page, folded words) of every page of these records."""
        with self.engine.connect() as db:
            return [tuple(r) for r in db.execute(  # type: ignore[misc]
                select(pages.c.record_id, pages.c.page, pages.c.terms)
                .where(pages.c.record_id.in_(record_ids)))]

    def page_texts(self, wanted: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The recognised text of these (record id, page) pairs, in one query."""
        if not wanted:
            return {}
        # Two plain IN lists, pairs picked here: SQLite does not search its (record_id, page)
        # index for a list of row values, and reads all pages instead.
        pairs = set(wanted)
        with self.engine.connect() as db:
            return {(r, n): t for r, n, t in db.execute(
                select(pages.c.record_id, pages.c.page, pages.c.text)
                .where(pages.c.record_id.in_({r for r, _ in pairs}),
                       pages.c.page.in_({n for _, n in pairs}))) if (r, n) in pairs}

    def ids(self) -> set[str]:
        """The id of every record catalogued."""
        with self.engine.connect() as db:
            return set(db.execute(select(records.c.record_id)).scalars())

    def count(self) -> int:
        with self.engine.connect() as db:
            return db.execute(select(func.count()).select_from(records)).scalar_one()


def create_tables(schema: MetaData, engine: Engine, attempts: int = 5) -> None:
    """Make the tables of ``schema`` that are missing, safely when several processes open a
    new catalog at once: SQLAlchemy looks before it creates, so two of them can both find a
    table missing and the second CREATE fails. Looking again finds it made; a failure that
    persists is real and raised."""
    for attempt in range(attempts):
        try:
            schema.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def renew_epoch(db: Connection) -> tuple[str, int]:
    """Tell every machine's full-text indexes to read the catalog all again: rows are written
    without naming themselves (a bulk load). Returns the new (epoch, generation)."""
    epoch = secrets.token_hex(8)
    generation = db.execute(update(catalog_state).values(epoch=epoch)
                            .returning(catalog_state.c.generation)).scalar_one()
    return epoch, generation


def mark_changed(db: Connection, record_ids: Sequence[str]) -> None:
    """Name the ``record_ids`` a transaction changes, under a new catalog generation, for
    the full-text indexes (call it in the changing transaction)."""
    generation = db.execute(update(catalog_state).values(
        generation=catalog_state.c.generation + 1)
        .returning(catalog_state.c.generation)).scalar_one()
    if record_ids:
        db.execute(insert(index_changes), [{"generation": generation, "record_id": record_id}
                                           for record_id in record_ids])


def _default_index(engine: Engine) -> Path:
    """Beside a SQLite file (``catalog.sqlite`` -> ``catalog.search``); otherwise in this
    user's cache, a folder per database (named by a digest of its URL without password)."""
    database = engine.url.database or ""
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return Path(database).with_suffix(".search")
    named = engine.url.render_as_string(hide_password=True)
    return (Path.home() / ".cache" / "records" / "search"
            / hashlib.sha256(named.encode()).hexdigest()[:16])


SQLITE_BUSY_SECONDS = 30.0
"""How long a SQLite write waits for another program's lock, unless the URL says
(``?timeout=``, from ``catalog.busy_timeout_seconds``)."""


def _sqlite_pragmas(connection: Any, _record: Any, busy: float = SQLITE_BUSY_SECONDS) -> None:
    cursor = connection.cursor()
    # A new catalog's pages are 16 KiB: a page of text and its folded words (3-4 KiB together)
    # then fills a quarter page instead of spilling over a 4 KiB one. No effect on an existing
    # catalog, whose page size stays as it was made.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the ingesting writer
    cursor.execute(f"PRAGMA busy_timeout={round(busy * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# ------------------------------------------------------------------ from the archive's packages


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    """The catalog row of a ``record.json`` (with its current description and, under
    ``corrections``, the people's acts on it: see :func:`read_package`)."""
    described = record.get("descriptive", {})
    technical = record.get("technical", {})
    signature = record.get("signature") or {}
    date = described.get("date") or None
    stored = [e["time"] for e in record.get("provenance", []) if e.get("type") == "stored"]
    classification = described.get("classification") or "public"
    reasons = review_reasons(record)
    acts = record.get("corrections") or []
    reviewed_by = str(acts[-1].get("by", "")) if acts else ""
    return {
        "record_id": record["record_id"],
        "title": described.get("title", ""),
        "unit": described.get("unit", ""),
        "series": described.get("series", ""),
        "document_type": described.get("document_type", ""),
        "document_number": described.get("document_number", ""),
        "document_date": date if date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else None,
        "issuer": described.get("issuer", ""),
        "language": described.get("language", ""),
        "classification": classification,
        "level": level_of(classification),
        "signed": bool(signature),
        "signature_level": signature.get("level", ""),
        "signer_identity": (signature.get("signer") or {}).get("identity", ""),
        "needs_review": bool(reasons) and not reviewed_by,
        "review_reasons": "; ".join(reasons),
        "reviewed_by": reviewed_by,
        "pages": int(technical.get("page_count") or 0),
        "mean_confidence": technical.get("mean_confidence"),
        "batch_id": record.get("batch_id", ""),
        "archived_at": stored[-1] if stored else "",
        "pdf_sha256": signature.get("pdf_sha256") or technical.get("pdf_sha256", ""),
    }


def index_package(catalog: Catalog, record_dir: Path,
                  later_checks: list[dict[str, Any]] | None = None) -> str:
    """Catalog one committed record object; return its id. ``later_checks`` are its entries
    of the checks log (None: read them from the log; a record just committed has none)."""
    row, texts, checks = read_package(record_dir, later_checks)
    catalog.add(row, texts, checks)
    return row["record_id"]


def read_package(record_dir: Path, later_checks: list[dict[str, Any]] | None = None
                 ) -> tuple[dict[str, Any], list[str], list[tuple[str, bool]]]:
    """What the catalog holds of one committed record object: row, page texts, checks."""
    paths = RecordPaths(record_dir, record_dir.name)
    record = paths.read_sidecar()
    # What people corrected counts, not what the machine first read.
    acts = read_corrections(paths)
    record = {**record, "descriptive": asdict(replayed(descriptive_from(record), acts,
                                                       paths.record_id)),
              "corrections": [act.as_dict() for act in acts]}
    state = paths.inventory.state()
    # A page people corrected is searched by its corrected words (the OCR's stay stored).
    recognised = sorted(logical for logical in state if logical.startswith("pages/")
                        and logical.endswith(".txt") and not is_corrected(logical))
    pages = [fixed if (fixed := logical.removesuffix(".txt") + ".corrected.txt") in state
             else logical for logical in recognised]
    texts = [paths.folder.joinpath(paths.inventory.content_path(logical) or logical)
             .read_text(encoding="utf-8") for logical in pages]
    if later_checks is None:
        later_checks = read_checks(home_of(record_dir.parent)).get(paths.record_id, [])
    return row_of(record), texts, checks_of(record, record_events(paths) + later_checks)


def checks_of(record: dict[str, Any], later: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Every verification of a record: before it was stored (its provenance), and after (the
    checks log, and the events its versions carry)."""
    found = [(e["time"], e.get("outcome") == "success") for e in record.get("provenance", [])
             if e.get("type") == "verified"]
    found += [(e["time"], e.get("outcome") == "success") for e in later
              if e.get("type") in ("verified", "fixity")]
    return sorted(found)


