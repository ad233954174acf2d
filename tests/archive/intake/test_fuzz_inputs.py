"""Fuzzing what officers and scanners hand over: the manifest reader and the metadata
extractor take any text without raising, and what they return stays within bounds."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.intake import FIELDS, extract_fields, read_manifest

# Text the way OCR and spreadsheets produce it: letters with marks, digits, punctuation, the
# separators and quotes of CSV and TOML, control characters, line breaks.
ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
CELLS = st.text(alphabet=ALPHABET, max_size=60)
LETTERISH = st.text(alphabet=st.sampled_from(list(
    "abcdđeêghiklmnoôơpqrstuưvxyáàảãạấầẩẫậếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    "ABCDĐEÊGHIKLMNOÔƠPQRSTUƯVXYÄÖÜäöüß0123456789 /-.,:;()\"'\n\t§№"
    "QUYẾTĐỊNHCÔNGVĂNSốngàythángnămBescheidDatumRef")), max_size=400)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.lists(CELLS, max_size=8), rows=st.lists(st.lists(CELLS, max_size=10),
                                                          max_size=6))
def test_any_csv_manifest_is_read_or_reported(header: list[str], rows: list[list[str]]
                                              ) -> None:
    with tempfile.TemporaryDirectory() as folder:
        batch = Path(folder)
        text = "\n".join(",".join(r) for r in [["source", *header], *rows])
        (batch / "manifest.csv").write_text(text, encoding="utf-8", errors="surrogatepass")
        check(read_manifest(batch))


@settings(max_examples=100, deadline=2000)
@given(raw=st.binary(max_size=400))
def test_any_bytes_as_manifest(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        batch = Path(folder)
        (batch / "manifest.csv").write_bytes(raw)
        check(read_manifest(batch))
        (batch / "manifest.csv").unlink()
        (batch / "manifest.toml").write_bytes(b"[[record]]\nsource = 'x'\n" + raw)
        check(read_manifest(batch))


def check(manifest: object) -> None:
    for source, fields in manifest.rows.items():  # type: ignore[attr-defined]
        assert source and len(source) <= 500
        assert set(fields) <= set(FIELDS)
        for value in fields.values():
            assert value.isprintable() and len(value) <= 500 and value == value.strip()
    assert all(isinstance(w, str) for w in manifest.warnings)  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(pages=st.lists(LETTERISH, min_size=0, max_size=3),
       language=st.sampled_from([None, "vie", "deu", "eng", "vie+eng"]))
def test_the_extractor_takes_any_text(pages: list[str], language: str | None) -> None:
    found = extract_fields(pages, language)
    if found.document_date is not None:
        assert date.fromisoformat(found.document_date)
    for value in found.as_dict().values():
        assert value is None or (value.strip() == value and value and "\n" not in value)


def test_the_extractor_does_not_backtrack_on_long_lines() -> None:
    """A page of one endless line of separators (a scanner's streak) is read in bounded time."""
    for line in ("Số: " + "/" * 20000, "ngày " + "1 " * 10000, "V/v " + "-" * 20000,
                 "QUYẾT ĐỊNH " * 2000, "Az.: " + "a-" * 10000):
        started = time.perf_counter()
        extract_fields([line], None)
        assert time.perf_counter() - started < 5, line[:20]


def test_hostile_manifest_columns_and_values_are_named_not_obeyed(tmp_path: Path) -> None:
    """Extra columns (one posing as a record id, one as a spreadsheet formula), an unknown
    classification, a bad date, a row for a file that is not there: each is a warning."""
    from archive.intake import read_manifest, unknown_sources

    (tmp_path / "manifest.csv").write_text(
        "source,title,classification,date,record_id,=cmd|' /c calc'!A1\n"
        'letter.png,"=HYPERLINK(""http://x"")",topsecret,2024-13-45,LT-2024-999999,1\n'
        "gone.png,Minutes,public,2024-01-31,,\n", encoding="utf-8")
    manifest = read_manifest(tmp_path)
    assert manifest.rows["letter.png"] == {"title": '=HYPERLINK("http://x")',
                                           "classification": "topsecret",
                                           "date": "2024-13-45"}
    text = "\n".join(manifest.warnings)
    assert "unknown columns ignored: =cmd|' /c calc'!A1, record_id" in text
    assert "classification 'topsecret' is not one of public" in text and "secret" in text
    assert "date '2024-13-45' is not a date" in text
    assert unknown_sources(manifest, {"letter.png"}) == [
        "manifest names 'gone.png', which is not in the batch"]
    from archive.store import level_of
    assert level_of("topsecret") == level_of("secret")  # unknown levels fail closed
