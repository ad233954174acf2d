"""Manifests read the way spreadsheets write them, and applied so that they fail closed: a row
that cannot be applied as written never lets a document through under the batch's defaults."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

import pytest

from archive.intake import assign, read_manifest

HEADER = "Source;Title;Classification\r\n"
ROW = "s.png;Prüfbericht über Đoàn;Secret\r\n"


def _write(folder: Path, data: bytes, name: str = "manifest.csv") -> Path:
    (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("encoding,bom,separator", [
    ("cp1252", b"", ";"),          # Excel "CSV" on German Windows (no Đ there: see below)
    ("cp1258", b"", ";"),          # Excel "CSV" on Vietnamese Windows
    ("utf-16-le", codecs.BOM_UTF16_LE, "\t"),  # Excel "Unicode text"
    ("utf-16-le", b"", ","),       # UTF-16 without a mark
    ("utf-16-be", codecs.BOM_UTF16_BE, ","),
    ("utf-8", codecs.BOM_UTF8, ";"),  # Excel "CSV UTF-8"
    ("utf-32-le", codecs.BOM_UTF32_LE, "|"),
])
def test_spreadsheet_encodings_and_separators_are_read(tmp_path: Path, encoding: str, bom: bytes,
                                                      separator: str) -> None:
    title = "Prüfbericht über Doan" if encoding == "cp1252" else "Prüfbericht über Đoàn"
    text = (HEADER + f"s.png;{title};Secret\r\n").replace(";", separator)
    manifest = read_manifest(_write(tmp_path, bom + text.encode(encoding)))
    assert manifest.refusal is None, manifest.refusal
    [row] = manifest.rows
    assert row.source == "s.png"
    assert row.fields == {"title": title, "classification": "secret"}
    legacy = encoding.startswith("cp")
    assert any("not Unicode" in w for w in manifest.warnings) == legacy


def test_bytes_that_are_no_text_refuse_the_folder(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path, b"source,classification\nx\x81.png,secret\n"))
    assert manifest.refusal is not None and "cannot be read" in manifest.refusal
    applied = assign(manifest, ["x.png", "y.png"])
    assert set(applied.refused) == {"x.png", "y.png"}
    assert all(r.startswith("not processed: manifest.csv cannot be read")
               for r in applied.refused.values())


def test_a_name_that_differs_only_in_case_is_matched_when_unambiguous(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path, b"source,classification\nS.PNG,secret\n"))
    applied = assign(manifest, ["s.png", "t.png"])
    assert applied.fields == {"s.png": {"classification": "secret"}}
    assert applied.refused == {}
    assert any("'S.PNG' taken as 's.png'" in w for w in applied.warnings)


def test_decomposed_accents_in_a_file_name_match_the_composed_row(tmp_path: Path) -> None:
    composed = "Công văn.png"
    manifest = read_manifest(_write(tmp_path, f"source,classification\n{composed},secret\n"
                                    .encode()))
    decomposed = unicodedata.normalize("NFD", composed)
    applied = assign(manifest, [decomposed])
    assert applied.fields == {decomposed: {"classification": "secret"}}


def test_an_ambiguous_name_refuses_every_document_it_could_be(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path, b"source,classification\nS.PNG,secret\n"))
    applied = assign(manifest, ["s.png", "S.png", "t.png"])
    assert set(applied.refused) == {"s.png", "S.png"}
    assert "could be any of 's.png', 'S.png'" in applied.refused["s.png"]
    assert applied.fields == {}


def test_a_row_naming_no_document_refuses_the_folder(tmp_path: Path) -> None:
    """Whether the folder or one file of it was queued: the row was meant for one of them."""
    manifest = read_manifest(_write(tmp_path, b"source,classification\nscan-1.png,secret\n"))
    whole = assign(manifest, ["scan_1.png", "b.png"])
    assert set(whole.refused) == {"scan_1.png", "b.png"}
    assert "manifest.csv line 2 names 'scan-1.png', which is not in the folder" \
        in whole.refused["b.png"]
    wrong_separator = read_manifest(_write(tmp_path, b"source;classification\na.pdf,secret\n"))
    assert set(assign(wrong_separator, ["a.pdf"]).refused) == {"a.pdf"}


def test_a_quote_left_open_does_not_swallow_the_rows_after_it(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path, b'source;title;classification\n'
                                    b'a.pdf;"Unclosed;secret\nb.pdf;x;secret\n'))
    assert manifest.refusal is not None
    assert set(assign(manifest, ["a.pdf", "b.pdf"]).refused) == {"a.pdf", "b.pdf"}
    spans = read_manifest(_write(tmp_path, b'source,title,classification\n"a.pdf\nb.pdf",t,'
                                 b'secret\n'))
    assert spans.refusal is not None and "line break" in spans.refusal
    multiline = read_manifest(_write(tmp_path, b'source,title\na.pdf,"two\nlines"\n'))
    assert multiline.refusal is None and multiline.rows[0].fields["title"] == "two lines"


@pytest.mark.parametrize(("names", "expected"), [
    (["manifest.csv", "manifest.toml"], "has 2 manifests"),
    (["manifest.xlsx"], "not a form records reads"),
    (["manifest.txt"], "not a form records reads"),
])
def test_a_manifest_records_cannot_read_alone_refuses_the_folder(
        tmp_path: Path, names: list[str], expected: str) -> None:
    for name in names:
        (tmp_path / name).write_bytes(b"source,classification\na.png,secret\n")
    manifest = read_manifest(tmp_path)
    assert manifest.refusal is not None and expected in manifest.refusal


def test_a_manifest_in_other_case_is_read_and_never_a_document(tmp_path: Path) -> None:
    from ocr.inputs import batch_children

    (tmp_path / "Manifest.CSV").write_bytes(b"source,classification\na.png,secret\n")
    (tmp_path / "a.png").write_bytes(b"")
    assert read_manifest(tmp_path).rows[0].fields == {"classification": "secret"}
    assert [p.name for p in batch_children(tmp_path)] == ["a.png"]


def test_a_linked_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").symlink_to("/dev/zero")
    manifest = read_manifest(tmp_path)
    assert manifest.refusal is not None and "not a regular file" in manifest.refusal


def test_an_unknown_column_refuses_the_folder(tmp_path: Path) -> None:
    """A misspelt column would otherwise be dropped, and the record archived as public."""
    manifest = read_manifest(_write(tmp_path, b"source,clasification\na.png,secret\n"))
    applied = assign(manifest, ["a.png"])
    assert "columns records does not know: 'clasification'" in applied.refused["a.png"]


@pytest.mark.parametrize("text,expected", [
    ("source,classification\na.png,secret,extra\n", "more cells than the header"),
    ("source,classification\n,secret\n", "names no source file"),
    ("title,classification\nx,secret\n", "no 'source' column"),
    ("source,Source\na.png,a.png\n", "names a column twice"),
    ("", "no 'source' column"),
])
def test_rows_that_cannot_be_applied_refuse_the_folder(tmp_path: Path, text: str,
                                                       expected: str) -> None:
    manifest = read_manifest(_write(tmp_path, text.encode()))
    assert manifest.refusal is not None and expected in manifest.refusal


def test_rows_that_disagree_refuse_their_document(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path, b"source,classification\na.png,secret\n"
                                    b"A.png,public\nb.png,internal\n"))
    applied = assign(manifest, ["a.png", "b.png"])
    assert "manifest.csv line 2 and manifest.csv line 3 give different values for it" \
        in applied.refused["a.png"]
    assert applied.fields == {"b.png": {"classification": "internal"}}


def test_empty_rows_a_spreadsheet_leaves_are_ignored(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path, b"source;classification\r\na.png;secret\r\n"
                                    b";\r\n;\r\n"))
    assert manifest.refusal is None and len(manifest.rows) == 1


def test_toml_manifests_fail_closed_too(tmp_path: Path) -> None:
    good = read_manifest(_write(tmp_path, b'[[record]]\nsource = "A.png"\nclassification = '
                                b'"Secret"\ndate = 2024-05-31\n', "manifest.toml"))
    assert good.refusal is None
    assert good.rows[0].fields == {"classification": "secret", "date": "2024-05-31"}
    bad = read_manifest(_write(tmp_path, b'[[record]]\nsource = "a.png"\nclasification = '
                               b'"secret"\n', "manifest.toml"))
    assert bad.refusal is not None and "'clasification'" in bad.refusal
    nested = read_manifest(_write(tmp_path, b'[[record]]\nsource = "a.png"\n[record.x]\ny=1\n',
                                  "manifest.toml"))
    assert nested.refusal is not None and "plain values" in nested.refusal


def test_values_are_cleaned_and_unknown_levels_are_read_as_the_highest(tmp_path: Path) -> None:
    manifest = read_manifest(_write(tmp_path, b"source,title,classification,date\n"
                                    b'a.png,"=cmd|\' /C calc\'!A0\x07",topsecret,2024-13-45\n'))
    [row] = manifest.rows
    assert "\x07" not in row.fields["title"]
    text = "\n".join(manifest.warnings)
    assert "classification 'topsecret' is not one of public" in text
    assert "date '2024-13-45' is not a date" in text
    from archive.store import level_of
    assert level_of("topsecret") == level_of("secret")


def test_no_manifest_is_no_refusal(tmp_path: Path) -> None:
    manifest = read_manifest(tmp_path)
    assert manifest.refusal is None and manifest.rows == []
    assert assign(manifest, ["a.png"]).refused == {}
