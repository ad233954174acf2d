"""Fuzzing what officers and scanners hand over: the manifest reader and the metadata
extractor take any text without raising, and what they return stays within bounds."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.intake import FIELDS, Manifest, extract_fields, read_manifest

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


def check(manifest: Manifest) -> None:
    """Whatever the bytes: rows hold only known, clean fields, or the folder is refused."""
    for row in manifest.rows:
        assert row.source and len(row.source) <= 500
        assert set(row.fields) <= set(FIELDS)
        for value in row.fields.values():
            assert value.isprintable() and len(value) <= 500 and value == value.strip()
    assert all(isinstance(w, str) for w in manifest.warnings)
    assert manifest.refusal is None or "\n" not in manifest.refusal


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
