"""The catalog: every record's metadata and page text, in SQL, derived from the archive.

The archive folder is the truth; the catalog is an index over it that ``records reindex``
rebuilds from the packages alone. SQLite (WAL, FTS5) is the embedded default under
``RECORDS_HOME``; PostgreSQL (a ``tsvector`` over the same folded words, GIN-indexed) serves
many machines. Both index the same thing, folded words (``archive.index.folding``), so a query
finds the same records on either, with or without diacritics.

Other wings keep tables of their own in the same database (accounts, sign-ins, failed
sign-ins: ``archive.access``). Those are not derived from the archive, so they are not
described here: each wing asks :meth:`Catalog.ensure` for its schema, and ``drop`` (a
rebuild) never touches them.
"""

from __future__ import annotations

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
    Index,
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
from archive.index.ftsindex import FTS_TABLE
from archive.index.fulltext import FullText
from archive.index.searchkeys import KeyStore
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
# PostgreSQL joins matching pages to their record by record_id and plans filtered searches
# 6x slower at p95 with only the (record_id, page) index (bench/search.py); SQLite finds
# records' pages through that index as fast, and writes 3 s less of 100,000 records without it.
Index("ix_pages_record_id", pages.c.record_id).ddl_if(dialect="postgresql")
# What search filters, counts and ranks by, one narrow row per record: facet counts join every
# matching record to it, and a narrow row makes that join twice as fast as the wide records
# row (measured in bench/search.py). Its ``id`` is the record's row in the SQLite full-text
# index (``records_fts``), which indexes the words of all the record's pages together.
record_keys = Table(
    "record_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("level", Integer, nullable=False),
    Column("unit", String(64), nullable=False),
    Column("series", Text, nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("classification", String(32), nullable=False),
    Column("document_date", String(10)),
    Column("signed", Boolean, nullable=False),
    Column("needs_review", Boolean, nullable=False),
)
# What changed in record_keys, so a copy of it held in memory (``archive.index.searchkeys``)
# knows when to read it again: ``epoch`` is new whenever the table is created (a rebuilt
# catalog reuses ids), ``generation`` counts every change, ``removals`` the changes that took a
# record away.
catalog_state = Table(
    "catalog_state", metadata,
    Column("id", Integer, primary_key=True),
    Column("epoch", String(32), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("removals", Integer, nullable=False),
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
_KEY_COLUMNS = ("unit", "series", "document_type", "classification", "document_date",
                "signed", "needs_review")
_NON_WORD = re.compile(r"[\W_]+")
# The SQLite full-text index (FTS_TABLE): one document per record, all its pages' folded words:
# a query then finds records, not pages, so nothing is grouped or sorted per page (the best
# page is picked among the shown hits only). Contentless: pages.terms holds the words.
FTS_PARTS = ("data", "idx", "docsize", "config")  # its shadow tables: the whole index


def key_values(row: dict[str, Any]) -> dict[str, Any]:
    """A record's ``record_keys`` row (without its id) from its ``records`` row."""
    values = {name: row.get(name) for name in _KEY_COLUMNS}
    values.update(record_id=row["record_id"], unit=values["unit"] or "",
                  series=values["series"] or "", document_type=values["document_type"] or "",
                  classification=row.get("classification") or "public",
                  signed=bool(values["signed"]), needs_review=bool(values["needs_review"]),
                  level=row.get("level", level_of(row.get("classification") or "")))
    return values


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
    keys: KeyStore = field(default_factory=KeyStore, compare=False, repr=False)
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
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
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
        with self.engine.begin() as db:
            if self.dialect == "sqlite":
                db.execute(text("DROP TABLE IF EXISTS pages_fts"))  # the index before records_fts
                db.execute(text(FTS_TABLE))
            elif self.dialect == "postgresql":
                # Per page: a tsvector keeps positions only up to 16,383 and 1 MB, too little
                # for a record of hundreds of pages, so pages are matched and grouped per record.
                db.execute(text(
                    "ALTER TABLE pages ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS "
                    "AS (to_tsvector('simple', terms)) STORED"))
                db.execute(text("CREATE INDEX IF NOT EXISTS pages_tsv ON pages USING gin(tsv)"))
        with self.engine.begin() as db:
            # Its own transaction, a write first: workers opening a new catalog at once must
            # not fail on each other (SQLite cannot turn a read into a write after another
            # writer committed, PostgreSQL would raise on the duplicate key).
            state = (sqlite_insert if self.dialect == "sqlite" else pg_insert)(catalog_state)
            db.execute(state.values(id=1, epoch=secrets.token_hex(8), generation=0, removals=0)
                       .on_conflict_do_nothing())
        self._backfill_keys()

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

    def _backfill_keys(self) -> None:
        """Index records a catalog of an earlier version holds without search keys."""
        with self.transaction() as db:
            missing = db.execute(select(records).where(
                records.c.record_id.not_in(select(record_keys.c.record_id)))).all()
            for row in missing:
                terms = db.execute(select(pages.c.terms).where(
                    pages.c.record_id == row.record_id).order_by(pages.c.page)).scalars().all()
                self._add_key(db, dict(row._mapping), list(terms))
            if missing:  # keys went missing behind the catalog's back: all read again
                mark_changed(db, removed=True, record_ids=[row.record_id for row in missing])

    def drop(self) -> None:
        """Drop the derived tables (records, pages, index); the other wings' tables stay."""
        with self.engine.begin() as db:
            if self.dialect == "sqlite":
                db.execute(text("DROP TABLE IF EXISTS records_fts"))
                db.execute(text("DROP TABLE IF EXISTS pages_fts"))
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
            removed = self._remove(db, row["record_id"])
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
            self._add_key(db, row, terms)
            # Last, so a PostgreSQL writer holds the row lock briefly.
            mark_changed(db, removed, [row["record_id"]])

    def _add_key(self, db: Connection, row: dict[str, Any], terms: list[str]) -> None:
        key = db.execute(insert(record_keys).values(**key_values(row))).inserted_primary_key[0]
        if self.dialect == "sqlite":
            db.execute(text("INSERT INTO records_fts(rowid, terms) VALUES (:id, :terms)"),
                       {"id": key, "terms": record_terms(terms)})

    def _remove(self, db: Connection, record_id: str) -> bool:
        """Take a record out; say whether it was in."""
        key = db.execute(select(record_keys.c.id).where(
            record_keys.c.record_id == record_id)).scalar_one_or_none()
        if self.dialect == "sqlite" and key is not None:
            # A contentless index forgets a row only when told the words it indexed.
            old = db.execute(select(pages.c.terms).where(pages.c.record_id == record_id)
                             .order_by(pages.c.page)).scalars().all()
            db.execute(text("INSERT INTO records_fts(records_fts, rowid, terms) "
                            "VALUES ('delete', :id, :terms)"),
                       {"id": key, "terms": record_terms(list(old))})
        db.execute(delete(record_keys).where(record_keys.c.record_id == record_id))
        db.execute(delete(verifications).where(verifications.c.record_id == record_id))
        db.execute(delete(pages).where(pages.c.record_id == record_id))
        db.execute(delete(records).where(records.c.record_id == record_id))
        return key is not None

    def restrict(self, record_id: str, classification: str) -> None:
        """Raise a catalogued record to ``classification`` now, before the archive's new
        version says so: a crash in between leaves the catalog stricter than the archive
        (fail closed), and cataloguing the record again makes them agree."""
        level = level_of(classification)
        with self.transaction() as db:
            for table in (records, record_keys):
                db.execute(update(table).where(table.c.record_id == record_id,
                                               table.c.level < level)
                           .values(level=level, classification=classification))
            mark_changed(db, removed=True, record_ids=[record_id])  # read the keys again

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


def renew_epoch(db: Connection) -> None:
    """Tell every copy of the catalog's derived data (search keys, full-text indexes) to
    read it all again: rows were written without naming them (a bulk load)."""
    db.execute(update(catalog_state).values(epoch=secrets.token_hex(8)))


def mark_changed(db: Connection, removed: bool, record_ids: Sequence[str] = ()) -> None:
    """Count a change to ``record_keys`` (in the changing transaction), for ``KeyStore``, and
    name the ``record_ids`` it changed for the full-text indexes."""
    generation = db.execute(update(catalog_state).values(
        generation=catalog_state.c.generation + 1,
        removals=catalog_state.c.removals + (1 if removed else 0))
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


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # A new catalog's pages are 16 KiB: a page of text and its folded words (3-4 KiB together)
    # then fills a quarter page instead of spilling over a 4 KiB one. No effect on an existing
    # catalog, whose page size stays as it was made.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the ingesting writer
    cursor.execute("PRAGMA busy_timeout=30000")
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


