"""Corrections of a record's description: new versions that leave every earlier one as it was
(byte for byte, and verifiable), with who, when and why; raised at once, lowered by two
people; never by someone not cleared for the record."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from archive.access import AccessError, AuditLog, User, add_user, set_units
from archive.index import Catalog, Filters, browse_records, index_package, search_records
from archive.review import (
    CorrectionRefused,
    approve,
    correct_record,
    open_proposals,
    propose,
    refuse,
    review_queue,
)
from archive.roadmap import load_facts
from archive.signing import DevPki, SignOptions, sign_log, verify_archive, vouch_with
from archive.store import (
    CORRECTIONS,
    Change,
    Correction,
    ObjectDamaged,
    RecordPaths,
    UnknownRecord,
    current_descriptive,
    new_version,
    page_words,
    read_corrections,
)
from tests.conftest import Scans
from tests.review_records import FILED, SECRET, copy_of, organisation, pristine_home

ARCHIVIST = User("lan", "archivist", 2)  # cleared to restricted
SECOND = User("minh", "archivist", 4)  # cleared to secret
OFFICER = User("hoa", "officer", 4)
MANAGER = User("tuan", "manager", 4)
_signer = organisation


@pytest.fixture(scope="module")
def pristine(scans: Scans, pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with two signed, catalogued records under a signed head of the log."""
    return pristine_home(scans, pki, tmp_path_factory, "review", seed=70)


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    return copy_of(pristine, tmp_path)


@pytest.fixture
def catalog(home: Path) -> Catalog:
    return Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")


def digests(folder: Path) -> dict[str, str]:
    """Every file of an object, by path: what a version's files were, to compare later."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_correction_is_a_new_version_and_every_earlier_one_stays(
        home: Path, catalog: Catalog, pki: DevPki) -> None:
    signer = _signer(pki)
    folder = home / "archive" / FILED
    before = digests(folder / "v1")
    done = correct_record(home, catalog, ARCHIVIST, FILED,
                          {"title": "Kế hoạch số hóa tài liệu", "document_type": "KẾ HOẠCH"},
                          "the title was the scan's file name", vouch=vouch_with(signer),
                          seen_version="v1")
    assert done.correction.version == "v2"
    assert done.descriptive.title == "Kế hoạch số hóa tài liệu"
    again = correct_record(home, catalog, ARCHIVIST, FILED, {"date": "2024-09-18"},
                           "misread day", vouch=vouch_with(signer))
    assert again.correction.version == "v3"

    paths = RecordPaths(folder, FILED)
    assert paths.inventory.head == "v3"
    assert digests(folder / "v1") == before  # the archived version, byte for byte
    assert paths.file(f"{FILED}.pdf") == folder / "v1" / "content" / f"{FILED}.pdf"
    assert paths.read_sidecar()["descriptive"]["title"] == "scan-0042"  # as archived
    # Each version reads as it was.
    assert current_descriptive(paths, version="v1").title == "scan-0042"
    assert current_descriptive(paths, version="v2").date == "2024-09-16"
    now = current_descriptive(paths)
    assert (now.title, now.date) == ("Kế hoạch số hóa tài liệu", "2024-09-18")
    assert now.sources["title"].startswith("corrected by lan, ")
    assert now.sources["issuer"] == "extracted"
    acts = read_corrections(paths)
    assert [(a.version, a.by, a.why) for a in acts] == [
        ("v2", "lan", "the title was the scan's file name"), ("v3", "lan", "misread day")]
    assert acts[0].changes["title"].before == "scan-0042"

    # The whole history verifies: every version's files and its vouched leaf in the log.
    sign_log(home, signer, SignOptions())
    verdict = verify_archive(home / "archive", signer.trust_roots, [signer.certificate])
    assert verdict.ok, verdict.as_dict()
    # Search shows, filters and counts by the corrected description.
    found = search_records(catalog, "cộng hòa", clearance=4,
                           filters=Filters(document_type="ke hoach"))
    assert {h.record_id: h.title for h in found.hits}[FILED] == "Kế hoạch số hóa tài liệu"
    assert catalog.get(FILED)["title"] == "Kế hoạch số hóa tài liệu"
    actions = [(e["action"], e["record_id"]) for e in AuditLog(home).entries()]
    assert actions.count(("correct", FILED)) == 2


def test_the_review_queue_lists_what_needs_a_person_until_someone_acts(
        home: Path, catalog: Catalog) -> None:
    queue = review_queue(catalog, SECOND)
    assert [e.record_id for e in queue.entries] == [FILED]  # the manifest-described one: not
    assert queue.entries[0].reasons == ["title is the file name: no subject line was read",
                                        "no type was read", "no document number was read"]
    assert queue.per_unit == {"VP": 1}
    correct_record(home, catalog, ARCHIVIST, FILED, {}, "checked against the paper",
                   vouch=None)
    assert review_queue(catalog, SECOND).total == 0
    row = catalog.get(FILED)
    assert (row["needs_review"], row["reviewed_by"]) == (False, "lan")
    assert "no type was read" in row["review_reasons"]  # kept: why it was reviewed


def test_the_roadmap_counts_what_is_open_and_what_was_reviewed(home: Path,
                                                               catalog: Catalog) -> None:
    def counts() -> tuple[int, int, int]:
        facts = load_facts(catalog)
        day = max(facts.daily["VP"])
        return tuple(facts.total("VP", c, day, day) for c in ("records", "review", "reviewed"))

    assert counts() == (2, 1, 0)
    correct_record(home, catalog, ARCHIVIST, FILED, {"document_type": "KẾ HOẠCH"},
                   "read off the paper", vouch=None)
    assert counts() == (2, 0, 1)  # reviewed: out of the open share, into the reviewed one


def test_lowering_takes_a_second_person_cleared_for_the_record(
        home: Path, catalog: Catalog) -> None:
    with pytest.raises(CorrectionRefused, match="declassification"):
        correct_record(home, catalog, SECOND, SECRET, {"classification": "internal"},
                       "no longer sensitive", vouch=None)
    proposal = propose(home, catalog, SECOND, SECRET, "internal", "the plan was published")
    with pytest.raises(CorrectionRefused, match="already has an open"):
        propose(home, catalog, SECOND, SECRET, "public", "again")
    with pytest.raises(AccessError, match="second person"):
        approve(home, catalog, SECOND, proposal.id, vouch=None)
    with pytest.raises(UnknownRecord):  # cleared to restricted: the record is not there
        approve(home, catalog, ARCHIVIST, proposal.id, vouch=None)
    assert catalog.get(SECRET)["classification"] == "secret"
    assert open_proposals(catalog, ARCHIVIST.clearance) == []  # not even the proposal

    other = User("thu", "admin", 4)
    done = approve(home, catalog, other, proposal.id, vouch=None)
    assert done.correction.approved_by == "thu" and done.correction.by == "thu"
    assert catalog.get(SECRET)["classification"] == "internal"
    assert catalog.get(SECRET)["level"] == 1
    assert open_proposals(catalog, 4) == []
    actions = [e["action"] for e in AuditLog(home).entries() if e["record_id"] == SECRET]
    assert actions == ["declassify-propose", "correct", "declassify-approve"]


def test_a_proposal_can_be_refused_and_then_nothing_changes(home: Path,
                                                            catalog: Catalog) -> None:
    proposal = propose(home, catalog, SECOND, SECRET, "public", "published")
    assert refuse(home, catalog, User("thu", "admin", 4), proposal.id).state == "refused"
    with pytest.raises(CorrectionRefused, match="refused already"):
        approve(home, catalog, User("thu", "admin", 4), proposal.id, vouch=None)
    assert catalog.get(SECRET)["classification"] == "secret"
    assert RecordPaths(home / "archive" / SECRET, SECRET).inventory.head == "v1"


def test_raising_is_one_act_and_reaches_the_catalog(home: Path, catalog: Catalog) -> None:
    correct_record(home, catalog, SECOND, FILED, {"classification": "confidential"},
                   "names an informant", vouch=None)
    assert catalog.get(FILED)["classification"] == "confidential"
    assert browse_records(catalog, clearance=2).total == 0  # gone for the lower cleared
    with pytest.raises(UnknownRecord):
        correct_record(home, catalog, ARCHIVIST, FILED, {"title": "x"}, "y", vouch=None)


def test_a_raise_reaches_the_catalog_before_the_archive(home: Path, catalog: Catalog,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between the two leaves the record stricter, never looser."""
    import archive.review.edit as edit

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(edit, "new_version", crash)
    with pytest.raises(OSError):
        correct_record(home, catalog, SECOND, FILED, {"classification": "secret"},
                       "names a source", vouch=None)
    assert catalog.get(FILED)["level"] == 4
    assert RecordPaths(home / "archive" / FILED, FILED).inventory.head == "v1"


@pytest.mark.parametrize(("user", "error", "words"), [
    (ARCHIVIST, UnknownRecord, SECRET),  # above clearance: as if there were no such record
    (MANAGER, AccessError, "may not correct"),
    (OFFICER, AccessError, "not one of yours"),
])
def test_who_may_not_correct(home: Path, catalog: Catalog, user: User,
                             error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        correct_record(home, catalog, user, SECRET, {"title": "x"}, "y", vouch=None)
    assert RecordPaths(home / "archive" / SECRET, SECRET).inventory.head == "v1"


def test_an_officer_corrects_their_own_units_records(home: Path, catalog: Catalog) -> None:
    add_user(catalog, OFFICER.name, "officer", "secret", "correct horse battery")
    set_units(catalog, OFFICER.name, ["VP"])
    done = correct_record(home, catalog, OFFICER, FILED, {"issuer": "VĂN PHÒNG"}, "letterhead",
                          vouch=None)
    assert done.descriptive.issuer == "VĂN PHÒNG"


@pytest.mark.parametrize(("edits", "words"), [
    ({"unit": "HA"}, "the unit decides"),
    ({"record_id": "x"}, "no field 'record_id'"),
    ({"date": "16.09.2024"}, "not a date"),
    ({"classification": "top"}, "not one of"),
    ({"language": "Vietnamese"}, "Tesseract"),
    ({"title": "   "}, "cannot be empty"),
    ({"title": "a\x00b"}, "control characters"),
    ({"title": "x" * 501}, "at most 500"),
    ({"title": "scan-0042"}, "nothing to correct"),
])
def test_bad_corrections_are_refused_and_change_nothing(home: Path, catalog: Catalog,
                                                        edits: dict, words: str) -> None:
    with pytest.raises(CorrectionRefused, match=words):
        correct_record(home, catalog, ARCHIVIST, FILED, edits, "because", vouch=None)
    assert RecordPaths(home / "archive" / FILED, FILED).inventory.head == "v1"


def test_a_stale_form_is_refused(home: Path, catalog: Catalog) -> None:
    correct_record(home, catalog, ARCHIVIST, FILED, {"title": "First"}, "one", vouch=None)
    with pytest.raises(CorrectionRefused, match="changed since you opened it"):
        correct_record(home, catalog, SECOND, FILED, {"title": "Second"}, "two", vouch=None,
                       seen_version="v1")
    assert catalog.get(FILED)["title"] == "First"


def test_corrections_at_once_are_all_kept(home: Path, catalog: Catalog) -> None:
    """Two people saving at the same moment: both changes are in the record, one version
    each (without the record's lock the second rename dropped the first's version)."""
    errors: list[BaseException] = []

    def save(field: str, value: str) -> None:
        try:
            correct_record(home, catalog, SECOND, FILED, {field: value}, field, vouch=None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=args)
               for args in (("title", "Kế hoạch"), ("document_number", "12/KH-VP"),
                            ("series", "Kế hoạch"), ("issuer", "VĂN PHÒNG"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    paths = RecordPaths(home / "archive" / FILED, FILED)
    assert paths.inventory.head == "v5"
    now = current_descriptive(paths)
    assert (now.title, now.document_number, now.series, now.issuer) == (
        "Kế hoạch", "12/KH-VP", "Kế hoạch", "VĂN PHÒNG")


def test_a_raise_committed_meanwhile_stops_who_it_puts_out_of_reach(
        home: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog is read before the record's lock is taken; a raise committed in between
    must still stop the act (an approval of a lower classification by someone no longer
    cleared would make a secret record public)."""
    import archive.review.declassify as declassify
    import archive.review.edit as edit

    proposal = propose(home, catalog, SECOND, FILED, "public", "published")
    stale = catalog.get(FILED)  # internal, as the approver's catalog read saw it
    correct_record(home, catalog, SECOND, FILED, {"classification": "secret",
                                                 "title": "Op Nightfall"}, "a source", vouch=None)
    for module in (edit, declassify):
        monkeypatch.setattr(module, "editable_record", lambda *_args: stale)
    with pytest.raises(UnknownRecord):
        approve(home, catalog, ARCHIVIST, proposal.id, vouch=None)
    with pytest.raises(CorrectionRefused, match="is secret now, not internal as proposed"):
        approve(home, catalog, User("thu", "admin", 4), proposal.id, vouch=None)
    assert current_descriptive(RecordPaths(home / "archive" / FILED, FILED)
                               ).classification == "secret"


def test_a_history_that_does_not_add_up_is_never_believed(home: Path,
                                                          catalog: Catalog) -> None:
    """A version written around records (its inventory made right) that lowers the
    classification with nobody's approval: reindexing refuses the record."""
    forged = Correction("v2", "2026-12-03T00:00:00+00:00", "mallory", "x",
                        {"classification": Change("secret", "public")})
    new_version(home / "archive", SECRET, {CORRECTIONS: json.dumps(
        [forged.as_dict()]).encode()}, "forged")
    with pytest.raises(ObjectDamaged, match="without a second person"):
        index_package(catalog, home / "archive" / SECRET)
    assert catalog.get(SECRET)["classification"] == "secret"
    forged = replace(forged, changes={"title": Change("not the title", "x")})
    new_version(home / "archive", SECRET, {CORRECTIONS: json.dumps(
        [forged.as_dict()]).encode()}, "forged again")
    with pytest.raises(ObjectDamaged, match="title was 'not the title' before v2"):
        index_package(catalog, home / "archive" / SECRET)


def test_unreadable_corrections_are_never_guessed(home: Path, catalog: Catalog) -> None:
    """A corrections file that cannot be read may have raised the classification: the record
    is reported damaged, not catalogued as it was first described."""
    correct_record(home, catalog, ARCHIVIST, FILED, {"title": "First"}, "one", vouch=None)
    paths = RecordPaths(home / "archive" / FILED, FILED)
    stored = paths.file(CORRECTIONS)
    assert stored is not None
    stored.chmod(0o644)
    stored.write_text(json.dumps([{"version": "v2"}]), encoding="utf-8")
    with pytest.raises(ObjectDamaged, match=CORRECTIONS):
        index_package(catalog, paths.folder)


def test_words_corrected_on_the_page_are_searched_and_the_ocr_stays(
        home: Path, catalog: Catalog, pki: DevPki) -> None:
    signer = _signer(pki)
    paths = RecordPaths(home / "archive" / FILED, FILED)
    page = page_words(paths, 1)
    assert page is not None and not page.corrected and page.width > 0
    first = page.lines[0][0]
    assert first.width > 0 and first.confidence is not None
    ocr_alto = paths.file("pages/0001.alto.xml").read_bytes()  # type: ignore[union-attr]
    done = correct_record(home, catalog, ARCHIVIST, FILED, {}, "misread word",
                          vouch=vouch_with(signer), words={1: {first.id: "Zebrafinch"}})
    assert done.correction.words == {"1": {first.id: Change(first.text, "Zebrafinch")}}
    paths = RecordPaths(home / "archive" / FILED, FILED)
    corrected = page_words(paths, 1)
    assert corrected is not None and corrected.corrected
    assert corrected.words()[first.id] == replace(first, text="Zebrafinch")  # box kept
    assert paths.file("pages/0001.alto.xml").read_bytes() == ocr_alto  # the OCR's, as it was
    text = paths.file("pages/0001.corrected.txt").read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert text.startswith("Zebrafinch")
    found = search_records(catalog, "zebrafinch", clearance=4)
    assert [h.record_id for h in found.hits] == [FILED]
    assert "<mark>Zebrafinch</mark>" in found.hits[0].snippet
    # The corrected page is the page, not one more.
    assert list(catalog.page_texts([(FILED, 1), (FILED, 2)])) == [(FILED, 1)]
    sign_log(home, signer, SignOptions())
    verdict = verify_archive(home / "archive", signer.trust_roots, [signer.certificate])
    assert verdict.ok, verdict.as_dict()


@pytest.mark.parametrize(("words", "reason"), [
    ({2: {"string_0": "x"}}, "page 2 has no words"),
    ({1: {"string_99999": "x"}}, "no word 'string_99999'"),
    ({1: {"string_0": "x" * 101}}, "at most 100"),
])
def test_bad_word_corrections_are_refused(home: Path, catalog: Catalog,
                                          words: dict, reason: str) -> None:
    with pytest.raises(CorrectionRefused, match=reason):
        correct_record(home, catalog, ARCHIVIST, FILED, {}, "why", vouch=None, words=words)
    assert RecordPaths(home / "archive" / FILED, FILED).inventory.head == "v1"
