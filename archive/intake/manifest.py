"""Per-record metadata given by the records officer in the batch's manifest.csv or .toml.

A manifest is read the way spreadsheets write it: UTF-8 with or without a byte-order mark,
UTF-16 and UTF-32 (Excel's "Unicode text"), or the office's legacy code page
(``intake.manifest_encoding``); commas, semicolons (Excel in most of Europe and in Vietnam),
tabs or bars between cells; column names in any case. A row names a document by its file
name, matched exactly, else without regard to case or Unicode normalisation when exactly one
document fits.

A manifest can raise a record's protection, so it fails closed: what cannot be applied as
written never lets a document through under the batch's defaults. A manifest that cannot be
read, a column records does not know (``clasification`` would otherwise be dropped in
silence) or a row that names no document of the batch refuses the whole folder; a row that
could be either of two documents, or two rows that disagree, refuse those documents. Refused
documents are quarantined with the reason (see ``flows.digitise``), so nothing is archived
with less than someone asked for. What is only doubtful (a bad date, a name matched by case)
is a warning, kept in the batch's ledger and its JSON.
"""

from __future__ import annotations

import codecs
import csv
import io
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from archive.store import LEVELS

FIELDS = ("title", "unit", "series", "classification", "date", "language", "document_type",
          "document_number", "issuer", "subjects")
_MAX_VALUE = 500
MAX_MANIFEST_BYTES = 16 * 2**20  # a manifest of tens of thousands of rows is a few MB
_SEPARATORS = (",", ";", "\t", "|")
# Byte-order marks, longest first: UTF-32's little-endian mark begins with UTF-16's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))


class ManifestUnreadable(ValueError):
    """The manifest as a whole cannot be read: its folder's documents are not processed."""


@dataclass(frozen=True)
class Row:
    """One row of a manifest: where it is (for messages), the document it names, its values."""

    where: str
    source: str
    fields: dict[str, str]


@dataclass
class Manifest:
    """What a folder's manifest says, and why the folder must be refused, if it must."""

    name: str = ""  # manifest.csv or manifest.toml; "" when the folder has none
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refusal: str | None = None  # set: no document of the folder may be processed

    def refuse(self, reason: str) -> None:
        self.refusal = self.refusal or reason


@dataclass
class Assignment:
    """A manifest applied to the documents of its folder, by document name."""

    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # name -> why it is not processed
    warnings: list[str] = field(default_factory=list)


def _clean(value: object) -> str:
    """One line of printable text, bounded: a manifest cell is never markup or a payload."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return unicodedata.normalize("NFC", text)[:_MAX_VALUE]


def name_key(name: str) -> str:
    """A file name as a person means it: without case, in one Unicode normalisation (a Mac
    writes "ệ" decomposed, Windows composed)."""
    return unicodedata.normalize("NFC", name).casefold()


def decode(data: bytes, legacy: str) -> tuple[str, str]:
    """The manifest's text and the encoding it was read in.

    A byte-order mark decides; text with NUL bytes and no mark is UTF-16 (the half of the
    bytes that are zero tells the order); otherwise UTF-8, else the legacy code page. Every
    decoding is strict: a byte that is not text refuses the manifest instead of guessing.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom):], encoding), encoding
    if b"\x00" in data:
        even = data[0::2].count(0)
        odd = data[1::2].count(0)
        encoding = "utf-16-le" if odd > even else "utf-16-be"
        return _strict(data, encoding), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _strict(data, legacy), legacy


def _strict(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ManifestUnreadable(f"it is not text in {encoding} (byte {exc.start + 1}); "
                                 "save it as CSV UTF-8") from None
    if "\x00" in text:
        raise ManifestUnreadable(f"it holds NUL characters when read as {encoding}; "
                                 "save it as CSV UTF-8")
    return text


def _separator(header: str) -> str:
    """The separator that makes the header name a ``source`` column (most columns wins)."""
    best, columns = "", 0
    for separator in _SEPARATORS:
        names = next(csv.reader([header], delimiter=separator), [])
        if "source" in (_column(n) for n in names) and len(names) > columns:
            best, columns = separator, len(names)
    if not best:
        raise ManifestUnreadable("its first line has no 'source' column")
    return best


def _column(name: str | None) -> str:
    return _clean(name).lower()


def _accept(manifest: Manifest, where: str, row: dict[str, object]) -> None:
    values = {_column(k): _clean(v) for k, v in row.items() if k is not None}
    if None in row:
        manifest.refuse(f"{where} has more cells than the header has columns")
        return
    broken = [_column(k) for k, v in row.items()
              if _column(k) in ("source", "classification") and isinstance(v, str)
              and any(ch in v for ch in "\r\n")]
    if broken:  # a name or a level never spans lines: a quote was left open before it
        manifest.refuse(f"{where}: its {broken[0]} runs over a line break (a quotation mark "
                        "left open?)")
        return
    if not any(values.values()):
        return  # the empty rows a spreadsheet leaves at the end
    source = values.pop("source", "")
    if not source:
        manifest.refuse(f"{where} names no source file")
        return
    given = {k: v for k, v in values.items() if k in FIELDS and v}
    if "classification" in given:
        given["classification"] = given["classification"].lower()
    manifest.warnings += [f"{where}: {problem}" for problem in _problems(given)]
    manifest.rows.append(Row(where, source, given))


def _unknown_columns(manifest: Manifest, names: list[str]) -> None:
    """A column records does not know refuses the manifest: a misspelt ``clasification``
    would otherwise be dropped, and the records archived as the batch's default."""
    unknown = sorted({n for n in map(_column, names) if n not in FIELDS and n != "source"})
    if unknown:
        listed = ", ".join(map(repr, unknown))
        manifest.refuse(f"{manifest.name} has columns records does not know: {listed} "
                        f"(the known ones are source, {', '.join(FIELDS)})")
    if len(set(map(_column, names))) < len(names):
        manifest.refuse(f"{manifest.name} names a column twice")


def _problems(values: dict[str, str]) -> list[str]:
    """What in a row will not be taken as written. An unknown classification is kept as
    given and read as the highest level (the catalog fails closed), so a typo hides a
    record rather than showing it to everyone; the warning says how to correct it."""
    problems = []
    level = values.get("classification")
    if level is not None and level not in LEVELS:
        problems.append(f"classification {level!r} is not one of {', '.join(LEVELS)}; the "
                        "record is treated as secret until it is corrected")
    day = values.get("date")
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            problems.append(f"date {day!r} is not a date (YYYY-MM-DD); ignored")
    return problems


def _read_csv(manifest: Manifest, text: str) -> None:
    header = text.splitlines()[0] if text.strip() else ""
    # strict: a quote left open must not swallow the rows after it into one cell
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_separator(header),
                            strict=True)
    _unknown_columns(manifest, list(reader.fieldnames or []))
    for row in reader:
        _accept(manifest, f"{manifest.name} line {reader.line_num}", row)


def _read_toml(manifest: Manifest, text: str) -> None:
    data = tomllib.loads(text)
    records = data.get("record", [])
    if set(data) - {"record"} or not isinstance(records, list):
        raise ManifestUnreadable("it must hold only [[record]] tables")
    for number, row in enumerate(records, start=1):
        where = f"{manifest.name} record {number}"
        if not isinstance(row, dict) or any(isinstance(v, dict | list) for v in row.values()):
            manifest.refuse(f"{where} is not a table of plain values")
            continue
        _unknown_columns(manifest, list(row))
        _accept(manifest, where, row)


def is_manifest_name(name: str) -> bool:
    """Whether a file in a batch folder is meant as its manifest (``Manifest.CSV`` and
    ``manifest.xlsx`` too): such a file is never a document, and only the two forms records
    reads are accepted."""
    return name.lower().startswith("manifest.")


def read_manifest(batch: Path, legacy_encoding: str = "cp1258") -> Manifest:
    """Read the batch folder's manifest.csv or manifest.toml, if it has one.

    ``legacy_encoding`` is the code page of a manifest that is not Unicode. Windows
    Vietnamese (cp1258) is the default: it reads every German letter as Windows Western
    (cp1252) does, and Vietnamese as well. Several manifests, one in another form (an Excel
    workbook, "Unicode text" saved as .txt), a link or an oversized file refuse the folder:
    reading one of them, or none, could drop what another asks for.
    """
    try:
        found = sorted(p for p in batch.iterdir() if is_manifest_name(p.name))
    except OSError:
        found = []
    if not found:
        return Manifest()
    path = found[0]
    manifest = Manifest(path.name)
    readers = {"manifest.csv": _read_csv, "manifest.toml": _read_toml}
    if len(found) > 1:
        manifest.refuse(f"the folder has {len(found)} manifests "
                        f"({', '.join(p.name for p in found)}); keep one")
    elif path.name.lower() not in readers:
        manifest.refuse(f"{path.name} is not a form records reads: save it as manifest.csv "
                        "(CSV, any encoding) or write manifest.toml")
    elif path.is_symlink() or not path.is_file():
        manifest.refuse(f"{path.name} is not a regular file")
    elif path.stat().st_size > MAX_MANIFEST_BYTES:
        manifest.refuse(f"{path.name} is larger than {MAX_MANIFEST_BYTES // 2**20} MB")
    if manifest.refusal:
        return manifest
    try:
        text, encoding = decode(path.read_bytes(), legacy_encoding)
        if path.name.lower() == "manifest.toml" and encoding != "utf-8":
            raise ManifestUnreadable(f"a TOML file must be UTF-8, not {encoding}")
        readers[path.name.lower()](manifest, text)
    except (OSError, ManifestUnreadable, csv.Error, tomllib.TOMLDecodeError,
            RecursionError) as exc:
        manifest.refuse(f"{path.name} cannot be read: {_one_line(exc)}")
        return manifest
    if encoding not in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        manifest.warnings.append(f"{path.name} is not Unicode; it was read as {encoding}")
    return manifest


def _one_line(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def assign(manifest: Manifest, names: list[str]) -> Assignment:
    """Apply a folder's manifest to the documents in it (``names``: every document there,
    queued or not). A row that names none of them refuses them all: it was meant for one
    of them (a typo, a separator the header does not use, a name in another code page), and
    which one cannot be told."""
    result = Assignment(warnings=list(manifest.warnings))
    if manifest.refusal:
        reason = f"not processed: {manifest.refusal}; correct the manifest and queue again"
        result.refused = dict.fromkeys(names, reason)
        return result
    claims: dict[str, list[Row]] = {}
    unmatched: list[Row] = []
    for row in manifest.rows:
        target = _target(row, names, result)
        if target is None:
            unmatched.append(row)
        elif target:
            claims.setdefault(target, []).append(row)
    if unmatched:
        row = unmatched[0]
        reason = (f"not processed: {row.where} names {row.source!r}, which is not in the "
                  "folder; correct the manifest and queue again")
        result.refused = dict.fromkeys(names, reason)
        return result
    for name, rows in claims.items():
        if len({tuple(sorted(r.fields.items())) for r in rows}) > 1:
            result.refused[name] = (f"not processed: {' and '.join(r.where for r in rows)} "
                                    "give different values for it; keep one row")
        elif name not in result.refused:
            result.fields[name] = rows[0].fields
    return result


def _target(row: Row, names: list[str], result: Assignment) -> str | None:
    """The document a row names: its exact name, else the one whose name differs only in
    case or normalisation. "" when it is ambiguous (those documents are refused)."""
    if row.source in names:
        return row.source
    fits = [n for n in names if name_key(n) == name_key(row.source)]
    if len(fits) == 1:
        result.warnings.append(f"{row.where}: {row.source!r} taken as {fits[0]!r}, the one "
                               "document whose name differs from it only in case")
        return fits[0]
    for name in fits:
        result.refused[name] = (f"not processed: {row.where} names {row.source!r}, which "
                                f"could be any of {', '.join(map(repr, fits))}; name one exactly")
    return "" if fits else None
