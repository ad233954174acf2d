"""Document numbers by their grammar: misread codes put right when only one code fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.intake import extract_fields
from archive.intake.numbers import read_vietnamese_number
from archive.roadmap import configured_authorities


@pytest.mark.parametrize(("raw", "heading", "value"), [
    ("1193/QB-TCCT", None, "1193/QĐ-TCCT"),  # Đ read as B
    ("1932/QĐĐ-HUE", None, "1932/QĐ-HUE"),  # a letter doubled
    ("45/2024/Q8-UBND", None, "45/2024/QĐ-UBND"),  # with its year
    ("154/BC-LT-Hà", None, "154/BC-LT"),  # run into the place beside it
    ("12/HB-VP", "HƯỚNG DẪN", "12/HD-VP"),  # two codes fit: the heading chooses
])
def test_misread_codes_are_corrected_and_said(raw: str, heading: str | None,
                                              value: str) -> None:
    reading = read_vietnamese_number(raw, heading)
    assert reading.value == value
    assert reading.note and ("read as" in reading.note or "cut to its number" in reading.note)


@pytest.mark.parametrize("raw", ["12/TTr-VP", "7/QĐ-TCCT", "123/QD-BQP", "255/TCCT-TH",
                                 "12/CTr-VP", "3/QyĐ-BQP"])
def test_numbers_that_fit_the_grammar_stand_as_read(raw: str) -> None:
    """"QD" is QĐ written without marks, not a misreading; a công văn's first code is its
    issuer's."""
    reading = read_vietnamese_number(raw, None, lambda code: code in ("TCCT", "VP", "BQP"))
    assert (reading.value, reading.note) == (raw, None)


def test_two_fits_without_a_heading_are_left_as_read() -> None:
    """HĐ and HD both fit "HB": without a heading there is no one answer."""
    reading = read_vietnamese_number("12/HB-VP", None)
    assert (reading.value, reading.note) == ("12/HB-VP", None)


def test_an_issuer_code_is_corrected_from_the_authority_list() -> None:
    authorities = configured_authorities(None, None, Path("/nonexistent-home"))
    reading = read_vietnamese_number("12/QĐ-8QP", "QUYẾT ĐỊNH",
                                     lambda code: authorities.get(code) is not None,
                                     authorities.codes())
    assert reading.value == "12/QĐ-BQP"
    assert "issuer code '8QP' read as 'BQP'" in (reading.note or "")


def test_the_correction_is_in_the_fields_notes() -> None:
    authorities = configured_authorities(None, None, Path("/nonexistent-home"))
    text = "BỘ QUỐC PHÒNG\nTỔNG CỤC CHÍNH TRỊ\n\nSố: 1193/QB-TCCT\n\nQUYẾT ĐỊNH\nVề việc thử"
    extracted = extract_fields([text], "vie+deu", authorities)
    assert extracted.document_number == "1193/QĐ-TCCT"
    assert "type code 'QB' read as 'QĐ'" in extracted.notes["document_number"]


def test_a_reference_code_is_put_right_only_to_the_named_issuers_code() -> None:
    """"HASIK" under the Historisches Archiv's letterhead is its HAStK; "BAP" under a body
    the list does not know is left as read: no code of another body is near enough to be
    trusted (BAP was once "corrected" to the Ministry of Defence's BQP)."""
    authorities = configured_authorities(None, None, Path("/nonexistent-home"))
    known = "Stadt Köln\nHistorisches Archiv\n\nUnser Zeichen: HASIK 4.40-519/2022\n" \
        "Datum: 01.02.2022\n\nANORDNUNG\n\nBetreff: Test\n\nSehr geehrte Damen und Herren,"
    extracted = extract_fields([known], "deu", authorities)
    assert extracted.document_number == "HAStK 4.40-519/2022"
    assert "'HASIK' read as 'HAStK'" in extracted.notes["document_number"]
    unknown = known.replace("Stadt Köln\nHistorisches Archiv", "Bezirksamt Pankow\nStandesamt"
                            ).replace("HASIK", "BAP")
    extracted = extract_fields([unknown], "deu", authorities)
    assert extracted.document_number == "BAP 4.40-519/2022"
    assert "document_number" not in extracted.notes


@pytest.mark.parametrize(("raw", "value"), [
    ("894/KHDNG", "894/KH-DNG"),  # the hyphen lost between type and issuer codes
    ("1971/7DNG-KH", "1971/DNG-KH"),  # a công văn: its first code is the issuer's
])
def test_codes_run_together_or_specked_are_put_right_by_the_issuer(raw: str,
                                                                   value: str) -> None:
    reading = read_vietnamese_number(raw, None, lambda code: code in ("DNG", "KH"),
                                     ("DNG",))
    assert reading.value == value and reading.note


def test_codes_are_not_split_or_corrected_without_the_issuers_codes() -> None:
    for raw in ("894/KHDNG", "1971/7DNG-KH"):
        reading = read_vietnamese_number(raw, None, lambda code: code == "KH", ())
        assert reading.value == raw


def test_a_german_reference_gets_back_the_space_after_its_code() -> None:
    authorities = configured_authorities(None, None, Path("/nonexistent-home"))
    text = "Bundesministerium des Innern und für Heimat\nReferat Schriftgutverwaltung\n\n" \
        "Az.: BMI7.97-801/2022\nDatum: 01.02.2022\n\nBESCHEID\n\nBetreff: Test\n\n" \
        "Sehr geehrte Damen und Herren,"
    got = extract_fields([text], "deu", authorities)
    assert got.document_number == "BMI 7.97-801/2022"
    assert "space put back" in got.notes["document_number"]


@pytest.mark.parametrize(("raw", "heading", "value"), [
    ("12/2020/TTLT-BTC-BTP", None, "12/2020/TTLT-BTC-BTP"),  # a joint act: two issuers
    ("12/BTT-VP", None, "12/BTT-VP"),  # a real Decree 30 code
    ("45/UB-VP", "QUYẾT ĐỊNH", "45/UB-VP"),  # two letters: no fallback by the heading
    ("12/CT-TTg", None, "12/CT-TTg"),  # the Prime Minister's code keeps its small g
    ("123/KHTC", None, "123/KHTC"),  # a known one-code number is not split
])
def test_numbers_are_not_corrected_by_guessing(raw: str, heading: str | None,
                                               value: str) -> None:
    reading = read_vietnamese_number(raw, heading, lambda code: code in ("KHTC", "VP"),
                                     ("BTC",))
    assert reading.value == value


def test_a_german_number_is_not_joined_to_a_date_or_taken_from_the_addressee() -> None:
    assert extract_fields(["Stadt Köln\nGz.: 4711 06.12.2022\n\nBetreff: Test"],
                          "deu").document_number == "4711"
    body = ("Bezirksamt Pankow\n\nBerlin, den 06.12.2022\n\nBetreff: Scannen\n\n"
            "Sehr geehrte Damen und Herren,\nwir beziehen uns auf Ihren Bescheid Az. 12-345/22")
    assert extract_fields([body], "deu").document_number is None
    assert extract_fields(["Ihr Zeichen: 12/34\nUnser Zeichen: 56/78"],
                          "deu").document_number == "56/78"


def test_a_look_alike_of_another_kind_than_the_heading_is_not_taken() -> None:
    """"TTT" under TỜ TRÌNH is TTr one letter off, not TT (a look-alike once doubled
    letters go): the heading decides, or nothing is corrected."""
    assert read_vietnamese_number("1623/TTT-CTH", "TỜ TRÌNH").value == "1623/TTr-CTH"
    assert read_vietnamese_number("1623/TTT-CTH", None).value == "1623/TT-CTH"
    assert read_vietnamese_number("1623/TTT-CTH", "QUYẾT ĐỊNH").value == "1623/TTT-CTH"
