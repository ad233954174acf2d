"""Signed corrected copies: what people corrected travels in a new certified PDF/A of the
correction's version; the archival copy and every earlier copy stay as they were, and
verification checks each against the description of its own version."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pytest

from archive.access import User
from archive.index import Catalog
from archive.review import approve, correct_record, propose
from archive.signing import DevPki, Sealer, SignOptions, sign_log, verify_archive, verify_record
from archive.store import (
    CORRECTIONS,
    RecordPaths,
    corrected_copy_name,
    new_version,
    page_words,
    read_corrections,
)
from ocr.xmp import read_info
from tests.conftest import Scans
from tests.review_records import FILED, SECRET, copy_of, organisation, pristine_home

ARCHIVIST = User("lan", "archivist", 4)
SECOND = User("minh", "archivist", 4)


@pytest.fixture(scope="module")
def pristine(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pristine_home(scans, pki, tmp_path_factory, "derive", seed=74)


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    return copy_of(pristine, tmp_path)


@pytest.fixture
def catalog(home: Path) -> Catalog:
    return Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")


@pytest.fixture
def sealer(pki: DevPki) -> Sealer:
    return Sealer(organisation(pki), SignOptions())


def text_of_pdf(data: bytes, tmp_path: Path) -> str:
    file = tmp_path / f"{hashlib.sha256(data).hexdigest()[:12]}.pdf"
    file.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(file), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_a_correction_makes_a_signed_copy_that_says_it_and_the_archival_copy_stays(
        home: Path, catalog: Catalog, sealer: Sealer, tmp_path: Path) -> None:
    folder = home / "archive" / FILED
    paths = RecordPaths(folder, FILED)
    archival = paths.pdf.read_bytes()
    first = page_words(paths, 1).lines[0][0]  # type: ignore[union-attr]
    done = correct_record(home, catalog, ARCHIVIST, FILED, {"title": "Kế hoạch số hóa"},
                          "the title was the file name", vouch=None, sealer=sealer,
                          words={1: {first.id: "Zebrafinch"}})
    name = corrected_copy_name(FILED)
    assert done.correction.copy["file"] == name
    assert done.correction.copy["redrawn_pages"] == [1]
    paths = RecordPaths(folder, FILED)
    copy = paths.file(name)
    assert copy == folder / "v2" / "content" / name
    data = copy.read_bytes()
    assert hashlib.sha256(data).hexdigest() == done.correction.copy["pdf_sha256"]
    assert paths.pdf.read_bytes() == archival  # the archival copy, byte for byte

    with pikepdf.open(io.BytesIO(data)) as pdf:
        info = read_info(pdf)
        assert (info.title, info.identifier) == ("Kế hoạch số hóa", FILED)
    unsigned = data[:done.correction.copy["unsigned_size"]]
    assert pikepdf.pdfa.validate_written(io.BytesIO(unsigned), "2b").passed
    said = text_of_pdf(data, tmp_path)
    assert "Zebrafinch" in said and "Zebrafinch" not in text_of_pdf(archival, tmp_path)
    assert said.split()[1:] == text_of_pdf(archival, tmp_path).split()[1:]  # one word changed

    # A second correction makes a newer copy; the first stays in v2, and both verify.
    correct_record(home, catalog, ARCHIVIST, FILED, {"date": "2024-09-18"}, "misread day",
                   vouch=None, sealer=sealer)
    paths = RecordPaths(folder, FILED)
    assert paths.file(name, "v2").read_bytes() == data  # type: ignore[union-attr]
    newer = paths.file(name).read_bytes()  # type: ignore[union-attr]
    with pikepdf.open(io.BytesIO(newer)) as pdf:
        assert (read_info(pdf).title, read_info(pdf).date) == ("Kế hoạch số hóa", "2024-09-18")
    assert "Zebrafinch" in text_of_pdf(newer, tmp_path)  # earlier words carried forward
    roots = sealer.signer.trust_roots
    verdict = verify_record(folder, roots)
    assert verdict.ok, verdict.as_dict()
    assert "v2, v3" in verdict.checks["corrected-copies"].detail
    sign_log(home, sealer.signer, SignOptions())
    whole = verify_archive(home / "archive", roots, [sealer.signer.certificate])
    assert whole.ok, whole.as_dict()


def test_a_review_with_nothing_to_correct_makes_no_copy(
        home: Path, catalog: Catalog, sealer: Sealer) -> None:
    done = correct_record(home, catalog, ARCHIVIST, FILED, {}, "checked", vouch=None,
                          sealer=sealer)
    assert done.correction.copy == {}
    paths = RecordPaths(home / "archive" / FILED, FILED)
    assert paths.file(corrected_copy_name(FILED)) is None
    assert "corrected-copies" not in verify_record(paths.folder, sealer.signer.trust_roots).checks


def test_a_declassified_copy_says_its_new_classification(
        home: Path, catalog: Catalog, sealer: Sealer) -> None:
    proposal = propose(home, catalog, ARCHIVIST, SECRET, "internal", "published")
    done = approve(home, catalog, SECOND, proposal.id, vouch=None, sealer=sealer)
    data = (home / "archive" / SECRET / "v2" / "content" /
            corrected_copy_name(SECRET)).read_bytes()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert read_info(pdf).rights == "Classification: internal"
    assert done.correction.copy["pdf_sha256"] == hashlib.sha256(data).hexdigest()
    verdict = verify_record(home / "archive" / SECRET, sealer.signer.trust_roots)
    assert verdict.ok, verdict.as_dict()


@pytest.mark.parametrize("forgery", ["swapped in a later version", "names the archival copy",
                                     "copy of another description"])
def test_a_copy_no_correction_made_fails_verification(
        home: Path, catalog: Catalog, sealer: Sealer, forgery: str) -> None:
    folder = home / "archive" / FILED
    correct_record(home, catalog, ARCHIVIST, FILED, {"title": "Kế hoạch"}, "title",
                   vouch=None, sealer=sealer)
    paths = RecordPaths(folder, FILED)
    name = corrected_copy_name(FILED)
    acts = [a.as_dict() for a in read_corrections(paths)]
    if forgery == "swapped in a later version":  # a new version whose copy nobody made
        files = {name: paths.pdf.read_bytes()}
    elif forgery == "names the archival copy":
        acts[-1]["copy"]["file"] = f"{FILED}.pdf"
        files = {CORRECTIONS: json.dumps(acts).encode()}
    else:  # the copy's act now says another title: the signed XMP no longer matches
        acts[-1]["changes"]["title"]["after"] = "Báo cáo"
        files = {CORRECTIONS: json.dumps(acts).encode()}
    new_version(folder.parent, FILED, files, message="forged", vouch=sealer.vouch())
    verdict = verify_record(folder, sealer.signer.trust_roots)
    assert not verdict.ok
    assert [f for f in verdict.failures() if f.startswith("corrected-copies")], \
        verdict.failures()
