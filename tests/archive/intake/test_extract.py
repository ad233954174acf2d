"""The metadata extractor reads number, date, issuer, type and subject off letters' text.

Exact text of the synthetic letters must give exactly their truth; hand-written pages cover
the conventions one by one, with the noise OCR adds (lost diacritics, stray spaces, specks).
"""

from __future__ import annotations

import dataclasses
import functools
import unicodedata

import pytest

from archive.index.attention import review_reasons
from archive.intake import Extracted, describe_record, extract_fields, given_fields
from records.samples import LANGUAGES, LetterTruth, make_letter

FIELDS = ("document_number", "document_date", "issuer", "document_type", "title")

VIE_DECISION = """BỘ QUỐC PHÒNG
TỔNG CỤC CHÍNH TRỊ

Số: 123/QĐ-BQP

CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

Hà Nội, ngày 16 tháng 9 năm 2024

QUYẾT ĐỊNH
Về việc ban hành Quy chế công tác văn thư, lưu trữ

Căn cứ Luật Lưu trữ ngày 11 tháng 11 năm 2011;
Theo đề nghị của Chánh Văn phòng,

QUYẾT ĐỊNH:

Điều 1. Thời hạn hoàn thành chậm nhất là ngày 05 tháng 8 năm 2025."""

VIE_CONG_VAN = """UBND TỈNH THỪA THIÊN HUẾ
SỞ NỘI VỤ

Số: 703/SNV-VP
V/v giao nộp hồ sơ, tài liệu vào Lưu trữ cơ quan

CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

Huế, ngày 05 tháng 02 năm 2024

Kính gửi: Các cơ quan, đơn vị trực thuộc

Việc số hóa tài liệu lưu trữ phải bảo đảm tính xác thực."""

DEU_LETTER = """Stadt Köln
Historisches Archiv

Az. 12-345/24
Köln, den 16. September 2024

BESCHEID

Betreff: Gebühren für beglaubigte Abschriften

Sehr geehrte Damen und Herren,

Bitte teilen Sie uns Änderungen bis zum 6. Januar 2025 mit."""

ENG_LETTER = """HOME OFFICE
Knowledge and Information Management

No. 45/2024
London, 16 September 2024

MEMORANDUM

Subject: Retention of scanned personnel files

To: All heads of section

Please return the completed transfer list to the records team by
9 February 2025."""


def fold(text: str) -> str:
    """The text as OCR without diacritics would give it."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(
        c for c in decomposed if not unicodedata.combining(c)))


@functools.cache
def letters(language: str) -> tuple[LetterTruth, ...]:
    """30 letters of one language, of one to three pages, drawn once for every test."""
    return tuple(make_letter(language, seed, pages=1 + seed % 3) for seed in range(30))


def fields(text: str, language: str | None = None) -> dict[str, str | None]:
    return extract_fields([text], language).as_dict()


# --------------------------------------------------------------------------- generated letters


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("hint", ["own", None])
def test_exact_text_of_generated_letters_gives_the_truth(language: str, hint: str | None) -> None:
    wrong = []
    for seed, truth in enumerate(letters(language)):
        got = extract_fields(truth.pages, language if hint else None)
        for name in FIELDS:
            if getattr(got, name) != getattr(truth, name):
                wrong.append((seed, name, getattr(got, name), getattr(truth, name)))
    assert wrong == []


def test_generated_letters_cover_every_type_of_their_lists() -> None:
    """The loop above is only meaningful if the seeds reach every kind of letter."""
    kinds = {truth.document_type for lang in LANGUAGES for truth in letters(lang)}
    assert {"QUYẾT ĐỊNH", "KẾ HOẠCH", "THÔNG BÁO", "CÔNG VĂN"} <= kinds
    assert {"ANORDNUNG", "BESCHEID", "VERFÜGUNG", "MITTEILUNG"} <= kinds
    assert {"MEMORANDUM", "NOTICE", "DIRECTIVE", "CIRCULAR"} <= kinds


def test_generated_letters_without_diacritics_or_gaps() -> None:
    """OCR that loses every mark and every blank line still finds each field."""
    for language in LANGUAGES:
        for seed, truth in enumerate(letters(language)):
            page = "\n".join(line for line in fold(truth.pages[0]).splitlines() if line)
            got = extract_fields([page, *truth.pages[1:]], None)
            for name in ("document_number", "issuer", "title"):
                assert getattr(got, name) == fold(getattr(truth, name)), (language, seed, name)
            assert got.document_date == truth.document_date
            assert got.document_type == truth.document_type


# --------------------------------------------------------------------------- Vietnamese


def test_vietnamese_decision() -> None:
    assert fields(VIE_DECISION, "vie") == {
        "document_number": "123/QĐ-BQP",
        "document_date": "2024-09-16",
        "issuer": "BỘ QUỐC PHÒNG / TỔNG CỤC CHÍNH TRỊ",
        "document_type": "QUYẾT ĐỊNH",
        "title": "ban hành Quy chế công tác văn thư, lưu trữ",
    }


def test_body_decision_line_is_not_the_heading_when_another_exists() -> None:
    plan = VIE_DECISION.replace("QUYẾT ĐỊNH\n", "KẾ HOẠCH\n")
    assert "QUYẾT ĐỊNH:" in plan
    assert fields(plan, "vie")["document_type"] == "KẾ HOẠCH"


def test_body_decision_line_is_used_when_the_heading_was_lost() -> None:
    lost = VIE_DECISION.replace("QUYẾT ĐỊNH\n", "")
    assert fields(lost, "vie")["document_type"] == "QUYẾT ĐỊNH"


def test_cong_van_is_recognised_by_its_subject_line() -> None:
    assert fields(VIE_CONG_VAN, "vie") == {
        "document_number": "703/SNV-VP",
        "document_date": "2024-02-05",
        "issuer": "UBND TỈNH THỪA THIÊN HUẾ / SỞ NỘI VỤ",
        "document_type": "CÔNG VĂN",
        "title": "giao nộp hồ sơ, tài liệu vào Lưu trữ cơ quan",
    }


def test_vietnamese_without_diacritics() -> None:
    got = fields(fold(VIE_DECISION), "vie")
    assert got["document_number"] == "123/QD-BQP"
    assert got["document_date"] == "2024-09-16"
    assert got["issuer"] == "BO QUOC PHONG / TONG CUC CHINH TRI"
    assert got["document_type"] == "QUYẾT ĐỊNH"  # a kind from the list, spelt properly
    assert got["title"] == "ban hanh Quy che cong tac van thu, luu tru"


@pytest.mark.parametrize("line", ["So : 123/QĐ-BQP", "Số:123/QĐ-BQP", "Sô: 123/QĐ- BQP",
                                  "So 123/QĐ-BQP", "Số: 123 /QĐ-BQP."])
def test_vietnamese_number_line_variants(line: str) -> None:
    assert fields(VIE_DECISION.replace("Số: 123/QĐ-BQP", line))["document_number"] == (
        "123/QĐ-BQP")


def test_number_needs_a_digit_and_body_lines_starting_with_so_are_not_numbers() -> None:
    text = "BỘ NỘI VỤ\n\nsố hóa tài liệu lưu trữ\nSố: chưa cấp\n"
    assert fields(text, "vie")["document_number"] is None


@pytest.mark.parametrize(("line", "iso"), [
    ("Hà Nội, ngày 05 tháng 02 năm 2024", "2024-02-05"),
    ("Ha Noi, ngay 16 thang 9 nam 2024", "2024-09-16"),
    ("Hà Nội ngày 16 tháng 9 năm 2024", "2024-09-16"),  # OCR lost the comma
    ("TP. Hồ Chí Minh, ngày  1  tháng 12  năm 2023", "2023-12-01"),
    ("Đà Nẵng, ngày 29 tháng 02 năm 2024", "2024-02-29"),
    ("Đà Nẵng, ngày 31 tháng 02 năm 2024", None),  # there is no 31 February
    ("Đà Nẵng, ngày 29 tháng 02 năm 2023", None),
])
def test_vietnamese_dates(line: str, iso: str | None) -> None:
    text = VIE_DECISION.replace("Hà Nội, ngày 16 tháng 9 năm 2024", line)
    assert fields(text, "vie")["document_date"] == iso


def test_dates_inside_sentences_are_not_the_letter_date() -> None:
    """Without a "place, date" line, the preamble's and the deadline's dates are no answer."""
    text = VIE_DECISION.replace("Hà Nội, ngày 16 tháng 9 năm 2024", "")
    assert fields(text, "vie")["document_date"] is None


def test_two_column_letterhead_read_as_one() -> None:
    text = ("BỘ QUỐC PHÒNG CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
            "TỔNG CỤC CHÍNH TRỊ Độc lập - Tự do - Hạnh phúc\n"
            "Số: 123/QĐ-BQP Hà Nội, ngày 16 tháng 9 năm 2024\n\n"
            "QUYẾT ĐỊNH\nVề việc ban hành Quy chế\n")
    got = fields(text, "vie")
    assert got["issuer"] == "BỘ QUỐC PHÒNG / TỔNG CỤC CHÍNH TRỊ"
    assert got["document_number"] == "123/QĐ-BQP"
    assert got["document_date"] == "2024-09-16"


@pytest.mark.parametrize("heading", ["TỜ TRÌNH", "CHỈ THỊ", "HƯỚNG DẪN", "NGHỊ QUYẾT",
                                     "BIÊN BẢN", "BÁO CÁO", "THÔNG BÁO", "KẾ HOẠCH"])
def test_vietnamese_types(heading: str) -> None:
    text = VIE_DECISION.replace("QUYẾT ĐỊNH\n", f"{heading}\n").replace("QUYẾT ĐỊNH:", "")
    assert fields(text, "vie")["document_type"] == heading
    assert fields(fold(text), "vie")["document_type"] == heading


def test_ocr_specks_around_letterhead_and_heading() -> None:
    text = (VIE_DECISION.replace("BỘ QUỐC PHÒNG", "- BỘ QUỐC PHÒNG")
            .replace("TỔNG CỤC CHÍNH TRỊ", "TỔNG CỤC CHÍNH TR]Ị")
            .replace("QUYẾT ĐỊNH\n", "\u02c6 KẾ HOẠCH\n"))
    got = fields(text, "vie")
    assert got["issuer"] == "BỘ QUỐC PHÒNG / TỔNG CỤC CHÍNH TRỊ"
    assert got["document_type"] == "KẾ HOẠCH"


def test_lower_case_subject_right_under_the_heading() -> None:
    text = VIE_DECISION.replace("Về việc", "về việc")
    assert fields(text, "vie")["title"] == "ban hành Quy chế công tác văn thư, lưu trữ"


# --------------------------------------------------------------------------- German


def test_german_letter() -> None:
    assert fields(DEU_LETTER, "deu") == {
        "document_number": "12-345/24",
        "document_date": "2024-09-16",
        "issuer": "Stadt Köln / Historisches Archiv",
        "document_type": "BESCHEID",
        "title": "Gebühren für beglaubigte Abschriften",
    }


@pytest.mark.parametrize("line", ["Az.: 12-345/24", "Az: 12-345/24", "AZ. 12-345/24",
                                  "Az 12-345/24", "Az. 12 - 345/24", "Aktenzeichen: 12-345/24",
                                  "Geschäftszeichen: 12-345/24"])
def test_german_number_variants(line: str) -> None:
    assert fields(DEU_LETTER.replace("Az. 12-345/24", line), "deu")["document_number"] == (
        "12-345/24")


@pytest.mark.parametrize(("line", "iso"), [
    ("Berlin, den 3. März 2024", "2024-03-03"),
    ("Berlin, den 3. Maerz 2024", "2024-03-03"),
    ("Berlin, den 3. Marz 2024", "2024-03-03"),  # OCR lost the umlaut
    ("Berlin, den 3.März 2024", "2024-03-03"),
    ("Berlin, 16. Septernber 2024", "2024-09-16"),  # one letter misread
    ("Berlin, den 16.09.2024", "2024-09-16"),
    ("Berlin, den 31. Februar 2024", None),
])
def test_german_dates(line: str, iso: str | None) -> None:
    text = DEU_LETTER.replace("Köln, den 16. September 2024", line)
    assert fields(text, "deu")["document_date"] == iso


@pytest.mark.parametrize("heading", ["ANORDNUNG", "VERFÜGUNG", "VERFUGUNG", "RUNDSCHREIBEN",
                                     "VERMERK", "BERICHT", "MITTEILUNG", "ERLASS"])
def test_german_types(heading: str) -> None:
    expected = "VERFÜGUNG" if heading == "VERFUGUNG" else heading
    text = DEU_LETTER.replace("BESCHEID", heading)
    assert fields(text, "deu")["document_type"] == expected


# --------------------------------------------------------------------------- English


def test_english_letter() -> None:
    assert fields(ENG_LETTER, "eng") == {
        "document_number": "45/2024",
        "document_date": "2024-09-16",
        "issuer": "HOME OFFICE / Knowledge and Information Management",
        "document_type": "MEMORANDUM",
        "title": "Retention of scanned personnel files",
    }


@pytest.mark.parametrize(("line", "iso"), [
    ("London, 16 September 2024", "2024-09-16"),
    ("Washington, September 16, 2024", "2024-09-16"),
    ("London, 16th September 2024", "2024-09-16"),
    ("16 Sept. 2024", "2024-09-16"),
    ("Date: 1 May 2023", "2023-05-01"),
    ("London, 31 February 2024", None),
])
def test_english_dates(line: str, iso: str | None) -> None:
    text = ENG_LETTER.replace("London, 16 September 2024", line)
    assert fields(text, "eng")["document_date"] == iso


@pytest.mark.parametrize("line", ["No. 45/2024", "No: 45/2024", "No 45/2024", "Ref: 45/2024",
                                  "Our ref: 45/2024", "No.45/2024"])
def test_english_number_variants(line: str) -> None:
    assert fields(ENG_LETTER.replace("No. 45/2024", line), "eng")["document_number"] == "45/2024"


@pytest.mark.parametrize("heading", ["DIRECTIVE", "NOTICE", "REPORT", "CIRCULAR", "LETTER",
                                     "DECISION", "MINUTES"])
def test_english_types(heading: str) -> None:
    text = ENG_LETTER.replace("MEMORANDUM", heading)
    assert fields(text, "eng")["document_type"] == heading


def test_wrapped_subject_is_joined_and_the_body_is_not() -> None:
    text = ENG_LETTER.replace(
        "Subject: Retention of scanned personnel files\n\nTo: All heads of section\n",
        "Subject: Retention of scanned personnel files held by the registry and by the\n"
        "local offices of the department\n"
        "Please return the completed transfer list to the records team by\n")
    assert fields(text, "eng")["title"] == (
        "Retention of scanned personnel files held by the registry and by the local offices "
        "of the department")


def test_subject_below_its_label() -> None:
    text = DEU_LETTER.replace("Betreff: Gebühren", "Betreff:\nGebühren")
    assert fields(text, "deu")["title"] == "Gebühren für beglaubigte Abschriften"


def test_short_subject_followed_by_body_without_a_gap() -> None:
    text = DEU_LETTER.replace("\n\nSehr geehrte Damen und Herren,\n",
                              "\nDie Akten werden geprüft und fortlaufend paginiert.\n")
    assert fields(text, "deu")["title"] == "Gebühren für beglaubigte Abschriften"


def test_full_stops_of_abbreviations_stay() -> None:
    text = ENG_LETTER.replace("Knowledge and Information Management", "Records Services Ltd.")
    assert fields(text, "eng")["issuer"] == "HOME OFFICE / Records Services Ltd."


def test_stray_quote_in_letterhead() -> None:
    text = ENG_LETTER.replace("Knowledge and", "Knowledge \u2018and")
    assert fields(text, "eng")["issuer"] == "HOME OFFICE / Knowledge and Information Management"


# --------------------------------------------------------------------------- general


@pytest.mark.parametrize("pages", [[], [""], ["  \n\n \n"], ["\n", ""]])
def test_empty_text_gives_nothing(pages: list[str]) -> None:
    assert extract_fields(pages) == Extracted(None, None, None, None, None)
    assert set(extract_fields(pages).as_dict()) == set(FIELDS)


def test_a_blank_first_sheet_is_skipped() -> None:
    assert fields(ENG_LETTER) == extract_fields([". ,\n", ENG_LETTER]).as_dict()


def test_only_the_first_page_is_read() -> None:
    got = extract_fields(["Some text without any fields at all.", DEU_LETTER], "deu")
    assert got.document_number is None


@pytest.mark.parametrize("hint", [None, "vie", "deu", "eng", "vie+eng", "fra"])
def test_language_is_only_a_hint(hint: str | None) -> None:
    for text in (VIE_DECISION, DEU_LETTER, ENG_LETTER):
        assert fields(text, hint) == fields(text, None)


def test_without_a_hint_the_language_of_the_page_goes_first() -> None:
    """"So," (Sunday) would be a Vietnamese number label if Vietnamese were tried first."""
    text = DEU_LETTER.replace("Az. 12-345/24\n", "").replace(
        "Sehr geehrte Damen und Herren,", "So, 12.05.2024 ist die Stelle nicht besetzt.")
    got = fields(text)
    assert got["document_number"] is None
    assert got["document_date"] == "2024-09-16"


def test_output_is_nfc_whatever_the_input() -> None:
    decomposed = unicodedata.normalize("NFD", VIE_DECISION)
    got = fields(decomposed, "vie")
    assert got == fields(VIE_DECISION, "vie")
    assert all(unicodedata.is_normalized("NFC", v) for v in got.values() if v)


def test_icelandic_eth_read_for_d_with_stroke_is_repaired_in_vietnamese() -> None:
    text = VIE_DECISION.replace("QĐ", "QÐ")  # U+00D0 looks the same as U+0110
    assert fields(text, "vie")["document_number"] == "123/QĐ-BQP"


# --------------------------------------------------------------------------- OCR noise


@pytest.mark.parametrize(("old", "new"), [
    ("Về việc", "- Về việc"),
    ("Số: 123/QĐ-BQP", "\u201c Số: 123/QĐ-BQP :"),
    ("Số: 123/QĐ-BQP", "Số: 12 3/QĐ-BQP"),  # a run of digits split by OCR
    ("QUYẾT ĐỊNH\n", "QUYẾTĐỊNH ~\n"),
    ("QUYẾT ĐỊNH\n", "cà QUYẾT ĐỊNH\n"),
    ("Hà Nội, ngày 16 tháng 9 năm 2024", "Hà Nội, ngày 16 tháng 9.năm 2024 -"),
    ("Hà Nội, ngày 16 tháng 9 năm 2024", ". -Hà Nội, ngày 16 tháng 9 năm 2024,"),
    ("BỘ QUỐC PHÒNG", "BỘ QUỐC PHòNG"),  # mostly capitals is a capital line
    ("ban hành Quy chế công tác văn thư, lưu trữ",
     "ban hành Quy chế công tác văn thư, lưu trữ."),
])
def test_vietnamese_ocr_noise(old: str, new: str) -> None:
    expected = fields(VIE_DECISION, "vie")
    if "PHòNG" in new:
        expected["issuer"] = "BỘ QUỐC PHòNG / TỔNG CỤC CHÍNH TRỊ"
    assert fields(VIE_DECISION.replace(old, new), "vie") == expected


@pytest.mark.parametrize(("old", "new"), [
    ("Az. 12-345/24", "\u201c Az. 12-345/24 ..* \u00b0"),
    ("Köln, den 16. September 2024", "Köln; den 16. September 2024"),
    ("Köln, den 16. September 2024", ".. Köln, den 16.-September 2024"),
    ("BESCHEID", "_ BESCHEID"),
    ("Sehr geehrte Damen und Herren,", "Sehr \u201cgeehrte Damen \u2019und Herren,"),
    ("\n\nSehr geehrte", "\nSehr \u201cgeehrte"),  # and no gap under the subject
])
def test_german_ocr_noise(old: str, new: str) -> None:
    assert fields(DEU_LETTER.replace(old, new), "deu") == fields(DEU_LETTER, "deu")


@pytest.mark.parametrize(("old", "new"), [
    ("No. 45/2024", "-No. 45/2024"),
    ("No. 45/2024", "No. 45/2024 \u2014o"),
    ("Subject:", "\u201cSubject:"),
    ("MEMORANDUM", "o \u201cMEMORANDUM"),
    ("scanned personnel", "scanned'personnel"),
    ("personnel files", "personnel files."),
    ("Knowledge and", "Knowledge\u2019 and"),
    ("Information Management", "Information\u2018Management"),
])
def test_english_ocr_noise(old: str, new: str) -> None:
    assert fields(ENG_LETTER.replace(old, new), "eng") == fields(ENG_LETTER, "eng")


def test_speck_after_a_subject_ending_in_a_number() -> None:
    text = ENG_LETTER.replace("personnel files", "personnel files 2024.")
    assert fields(text, "eng")["title"] == "Retention of scanned personnel files 2024"


def test_apostrophes_that_are_written_stay() -> None:
    text = ENG_LETTER.replace("Knowledge and Information Management", "Queen's Remembrancer")
    assert fields(text, "eng")["issuer"] == "HOME OFFICE / Queen's Remembrancer"


def test_subject_wrapped_in_a_narrow_left_column() -> None:
    text = VIE_CONG_VAN.replace("V/v giao nộp hồ sơ, tài liệu vào Lưu trữ cơ quan",
                                "V/v giao nộp hồ sơ, tài liệu vào\nLưu trữ cơ quan")
    assert fields(text, "vie")["title"] == "giao nộp hồ sơ, tài liệu vào Lưu trữ cơ quan"


def test_a_page_that_is_no_letter_gives_no_issuer() -> None:
    """Without any field, the top lines of a page are not known to be a letterhead."""
    page = ("THE BOY APPRENTICED TO AN ENCHANTER\n\n"
            "Once upon a time there was an old man and his wife who had one son.\n"
            "They were poor, and the boy was sent to learn a trade.\n")
    assert extract_fields([page]) == Extracted(None, None, None, None, None)


# --------------------------------------------------------------------------- office layouts
# Letters set as offices set them (records.officeletters), as Tesseract reads them: the two
# columns of a Decree 30 head run together line by line, a DIN 5008 information block sits
# beside the addressee.

_TWO_COLUMNS = """TỔNG CỤC CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM

CHI CỤC THỪA THIÊN HUẾ Độc lập - Tự do - Hạnh phúc
Số: 229/BC-HUE ` Huế ngày I5 tháng 06 năm 2019
BÁO CÁO
- Về việc Ban hành Quy chế công tác văn thư, lưu trữ

năm 2019

Thực hiện kế hoạch công tác năm 2019, đơn vị báo cáo kết quả như sau."""


def test_a_two_column_vietnamese_head() -> None:
    """The date follows the number on its line, its comma lost and a 1 read as I; the
    subject's last words stand apart after a gap OCR made."""
    got = extract_fields([_TWO_COLUMNS], "vie")
    assert got.document_number == "229/BC-HUE"
    assert got.document_date == "2019-06-15"
    assert got.document_type == "BÁO CÁO"
    assert got.title == "Ban hành Quy chế công tác văn thư, lưu trữ năm 2019"


@pytest.mark.parametrize(("tail", "title"), [
    ("2008-2020", "Chỉnh lý tài liệu tồn đọng giai đoạn 2008-2020"),
    ("' 2008-2020", "Chỉnh lý tài liệu tồn đọng giai đoạn 2008-2020"),
])
def test_a_subject_ending_in_years_on_a_line_of_its_own(tail: str, title: str) -> None:
    text = ("Số: 154/BC-LT - Hà Nội, ngày 06 tháng 04 năm 2020\nBÁO CÁO\n"
            f"Về việc Chỉnh lý tài liệu tồn đọng giai đoạn.\n{tail}\n"
            "Kinh phí thực hiện được bố trí trong dự toán ngân sách được giao.")
    got = extract_fields([text], "vie")
    assert got.title == title
    assert got.document_number == "154/BC-LT"  # not "154/BC-LT-Hà": the place is no code


def test_a_body_under_a_centred_subject_is_not_the_subject() -> None:
    """A centred subject is shorter than the column; the body line under it, with no gap, is
    longer than wrapping could have left it: it is not the subject's continuation."""
    text = ("Số: 150/BC-LT Hà Nội, ngày 01 tháng 07 năm 2021\nBÁO CÁO\n\n"
            "Về việc Thành lập Hội đồng xác định giá trị tài liệu\n"
            "Trong quá trình thực hiện, nếu có vướng mắc, đề nghị phản ánh về Văn phòng để tổng\n"
            "hợp.")
    assert extract_fields([text], "vie").title == \
        "Thành lập Hội đồng xác định giá trị tài liệu"


_DIN = """Regierungspräsidium Freiburg Postfach 351 : 62073 Freiburg Regierungspräsidium Freiburg
Abteilung Schule und Bildung

An die
Dienststellen im Geschäftsbereich Geschäftszeichen: RPF 5.82-349/2024
48103 Freiburg im Breisgau Datum: 31. Mai 2023

VERFÜGUNG

Aussonderung von Schriftgut der Jahre 1993 bis 2023

Sehr geehrte Damen und Herren,

gemäß der Aktenordnung sind die Unterlagen vor der Vernichtung dem Archiv anzubieten."""


def test_a_din_5008_letter() -> None:
    """The reference in the information block beside the addressee, led by the authority's
    code; the subject without "Betreff:", between the heading and the salutation."""
    got = extract_fields([_DIN], "deu")
    assert got.document_number == "RPF 5.82-349/2024"
    assert got.document_date == "2023-05-31"
    assert got.document_type == "VERFÜGUNG"
    assert got.title == "Aussonderung von Schriftgut der Jahre 1993 bis 2023"
    assert "no subject label" in got.notes["title"]


def test_an_unlabelled_subject_must_read_like_one() -> None:
    """A sentence, an address or a postcode above the salutation is no subject."""
    for block in ("Wir bitten um Ihre Mithilfe bei der Aussonderung.", "48103 Freiburg"):
        text = _DIN.replace("Aussonderung von Schriftgut der Jahre 1993 bis 2023", block)
        assert extract_fields([text], "deu").title is None


def test_a_second_look_fills_missing_head_fields_and_never_replaces_one() -> None:
    calls: list[int] = []

    def head_again() -> list[str]:
        calls.append(1)
        return ["Số: 12/QĐ-VP\nHà Nội, ngày 23 tháng 08 năm 2020\nQUYẾT ĐỊNH",
                "Số: 12/QĐ-VP\nHà Nội, ngày 23 tháng 08 năm 2020",
                "Số: 12/QĐ-VP\nHà Nội, ngày 28 tháng 08 năm 2020"]

    text = "Số: 7/QĐ-VP Hà Nội, ngày 33 tháng 08 năm 2020\nQUYẾT ĐỊNH\nVề việc thử"
    got = extract_fields([text], "vie", second_look=head_again)
    assert got.document_date == "2020-08-23"  # "ngày 33" is no day: read again, found
    assert got.document_number == "7/QĐ-VP"  # found the first time: kept
    assert got.notes["document_date"].startswith("read again from the head of the first page "
                                                 "(2 of 3 readings agree)")
    complete = "Số: 7/QĐ-VP\nHà Nội, ngày 13 tháng 08 năm 2020\nQUYẾT ĐỊNH\nVề việc thử"
    calls.clear()
    extract_fields([complete], "vie", second_look=head_again)
    assert calls == [1]  # the issuer is missing without a list: that alone asks again
    calls.clear()
    extract_fields(["BỘ QUỐC PHÒNG\nVĂN PHÒNG\n\n" + complete], "vie", second_look=head_again)
    assert calls == []  # every head field found: no second look, no cost


def test_a_second_look_that_does_not_agree_with_itself_is_not_taken() -> None:
    """Three readings, three dates: none is more than a guess, the record goes to review."""
    def head_again() -> list[str]:
        return [f"Hà Nội, ngày {day} tháng 08 năm 2020" for day in (23, 28, 25)]
    text = "Số: 7/QĐ-VP Hà Nội, ngày 33 tháng 08 năm 2020\nQUYẾT ĐỊNH\nVề việc thử"
    got = extract_fields([text], "vie", second_look=head_again)
    assert got.document_date is None and "document_date" not in got.notes


def test_a_day_glued_to_a_bracket_is_not_read_as_one_digit() -> None:
    """"ngày 2]" is 21 with its 1 misread as often as 2 with a speck: no date rather than
    a wrong one (a second look may find it)."""
    text = "Số: 46/TTr-UBND Quảng Ninh, ngày 2] tháng 02 năm 2020\nTỜ TRÌNH\nVề việc thử"
    assert extract_fields([text], "vie").document_date is None
    assert extract_fields([text.replace("2]", "21")], "vie").document_date == "2020-02-21"


def test_review_findings_on_the_extractor() -> None:
    """Inputs an adversarial review found wrong values for."""
    english = ("THE NATIONAL ARCHIVES\n\n12 March 2024\n\nMs Jane Smith\nHead of Records\n"
               "Leeds LS2 9JT\n\nDear Ms Smith,\n\nTransfer of records\n\nThank you.")
    assert extract_fields([english], "eng").title is None  # not the inside address
    day = "BỘ NỘI VỤ\nSố: 12/QĐ-BNV\nHà Nội, ngày 3l tháng 5 năm 2024\nQUYẾT ĐỊNH"
    assert extract_fields([day], "vie").document_date is None  # "3l" is no day
    assert extract_fields(["Köln, 2l. März 2022"], "deu").document_date is None
    body = "BẢO HIỂM XÃ HỘI VIỆT NAM\nSố: 12/QĐ-BHXH\nHà Nội, ngày 05 tháng 03 năm 2024\n" \
        "QUYẾT ĐỊNH\nVề việc x"
    assert extract_fields([body], "vie").issuer == "BẢO HIỂM XÃ HỘI VIỆT NAM"
    zero_width = "BỘ NỘI VỤ\nSố: 12\u200b/QĐ-BNV\nQUYẾT ĐỊNH\nVề việc x"
    assert extract_fields([zero_width], "vie").document_number == "12/QĐ-BNV"


def test_a_second_look_never_fills_an_issuer_the_list_does_not_know() -> None:
    from pathlib import Path

    from archive.roadmap import configured_authorities
    authorities = configured_authorities(None, None, Path("/nonexistent-home"))
    first = ("Bezirksamt Pankow von Berlin\nStandesamt\n\nDatum: 06.12.2022\n\nBetreff: X\n\n"
             "Sehr geehrte Damen und Herren,")
    head = ("Bundesministerium des Innern und für Heimat\nReferat Schriftgutverwaltung\n\n"
            "Gz.: 21-638/22\nDatum: 06.12.2022")
    got = extract_fields([first], "deu", authorities, second_look=lambda: [head, head, "x"])
    assert got.issuer is None
    assert got.document_number == "21-638/22"  # a field the first reading missed: filled


def test_a_month_with_its_one_read_as_a_letter() -> None:
    text = "Số: 1700/BC-VTLTNN\nHà Nội, ngày 30 tháng 0Ì năm 2021\nBÁO CÁO\nVề việc x"
    assert extract_fields([text], "vie").document_date == "2021-01-30"


_SUBJECT_LETTER = ("Số: 7/KH-VP Hà Nội, ngày 13 tháng 08 năm 2020\nKẾ HOẠCH\n"
                   "Về việc Tống kết công tác lưu trữ và phương hướng\nnăm 2021\n\n"
                   "Các cơ quan, đơn vị rà soát hồ sơ còn tồn đọng.")


def test_the_subject_is_what_two_of_three_readings_of_its_lines_say() -> None:
    """The page read "Tống" in a bold subject; both readings of its lines apart say
    "Tổng": taken, with the page's reading in the field's note. The reader is asked for
    the subject's own lines, wrapped line included."""
    asked: list[list[str]] = []

    def lines_again(texts: list[str]) -> list[list[str]]:
        asked.append(texts)
        return [[texts[0].replace("Tống", "Tổng"), texts[1]]] * 2

    got = extract_fields([_SUBJECT_LETTER], "vie", lines_again=lines_again)
    assert asked == [["Về việc Tống kết công tác lưu trữ và phương hướng", "năm 2021"]]
    assert got.title == "Tổng kết công tác lưu trữ và phương hướng năm 2021"
    assert "2 of 3 readings agree" in got.notes["title"] and "Tống kết" in got.notes["title"]
    assert got.unsure == ()


def test_a_subject_whose_readings_all_differ_is_kept_unsure_for_a_person() -> None:
    readings = [["Về việc Tổng kết công tác lưu trữ và phương hướng", "năm 2021"],
                ["Về việc Tộng kết cộng tác lưu trữ và phương hướng", "năm 2024"]]
    got = extract_fields([_SUBJECT_LETTER], "vie", lines_again=lambda texts: readings)
    assert got.title == "Tống kết công tác lưu trữ và phương hướng năm 2021"
    assert got.unsure == ("title",)
    assert got.notes["title"].startswith("its readings differ ('Tống kết")
    described = describe_record({"unit": "VP"}, {}, got, "scan-0001")
    assert described.sources["title"].startswith("unsure: its readings differ")
    reasons = review_reasons({"descriptive": dataclasses.asdict(described)})
    assert any(reason.startswith("title may be misread: its readings differ")
               for reason in reasons), reasons


def test_a_subject_agreed_on_or_not_read_again_is_left_as_the_page_has_it() -> None:
    same = extract_fields([_SUBJECT_LETTER], "vie",
                          lines_again=lambda texts: [texts, [texts[0].upper(), texts[1]]])
    nothing = extract_fields([_SUBJECT_LETTER], "vie", lines_again=lambda texts: [])
    for got in (same, nothing):
        assert got.title == "Tống kết công tác lưu trữ và phương hướng năm 2021"
        assert got.unsure == () and "title" not in got.notes


def test_a_wrapped_subject_line_does_not_start_with_a_speck() -> None:
    """"lưu" / "l trữ": no language here starts a wrapped line with a lone letter."""
    text = _SUBJECT_LETTER.replace("phương hướng\nnăm 2021", "phương hướng\nl năm 2021")
    assert extract_fields([text], "vie").title == \
        "Tống kết công tác lưu trữ và phương hướng năm 2021"
    text = _SUBJECT_LETTER.replace("phương hướng\nnăm 2021", "phương hướng\ny tế năm 2021")
    assert extract_fields([text], "vie").title.endswith("phương hướng y tế năm 2021")


def test_a_subject_does_not_end_with_a_hyphen() -> None:
    """"Landesarchiv-": a speck after the last word, or a wrap that never went on."""
    text = _SUBJECT_LETTER.replace("năm 2021", "năm 2021 Landesarchiv-")
    assert extract_fields([text], "vie").title.endswith("năm 2021 Landesarchiv")
    text = _SUBJECT_LETTER.replace("năm 2021", "giai đoạn 2008-")
    assert extract_fields([text], "vie").title.endswith("giai đoạn 2008-")


def test_a_subject_can_be_agreed_on_word_by_word() -> None:
    """No two readings alike, but two agree on every word: that is the subject."""
    readings = [["Về việc Tổng kết cõng tác lưu trữ và phương hướng", "năm 2021"],
                ["Về việc Tổng kết công tác lưu trữ và phương hương", "năm 2021"]]
    got = extract_fields([_SUBJECT_LETTER], "vie", lines_again=lambda texts: readings)
    assert got.title == "Tổng kết công tác lưu trữ và phương hướng năm 2021"
    assert "each word as two of 3 readings have it" in got.notes["title"]
    assert got.unsure == ()


def test_a_full_stop_inside_a_vietnamese_subject_is_a_speck() -> None:
    for speck in ("đồng.xác", "đồng. xác"):
        text = _SUBJECT_LETTER.replace("Tống kết công tác", f"Thành lập Hội {speck} định")
        other = text.replace(".xác", ".đi").replace(". xác", ".đi")
        assert "đồng đi" in extract_fields([other], "vie").title
        assert extract_fields([text], "vie").title.startswith(
            "Thành lập Hội đồng xác định lưu trữ")
    sentence = _SUBJECT_LETTER.replace("Tống kết công tác", "Thành lập Hội đồng. Xác định")
    assert "đồng. Xác" in extract_fields([sentence], "vie").title


def test_fields_a_manifest_gives_are_never_read_again() -> None:
    """Each second reading is a Tesseract run: none for a field whose value the manifest
    already gives (it wins over any reading)."""
    asked: list[str] = []

    def head_again() -> list[str]:
        asked.append("head")
        return []

    def lines_again(texts: list[str]) -> list[list[str]]:
        asked.append("lines")
        return [texts, texts]

    text = "Số: 7/QĐ-VP Hà Nội, ngày 33 tháng 08 năm 2020\nQUYẾT ĐỊNH\nVề việc thử nghiệm"
    extract_fields([text], "vie", second_look=head_again, lines_again=lines_again)
    assert asked == ["head", "lines"]  # the control: the date and issuer are missing
    asked.clear()
    extract_fields([text], "vie", second_look=head_again, lines_again=lines_again,
                   known={"title", "document_date", "issuer"})
    assert asked == []
    assert given_fields({"title": "Thử", "date": "2020-08-23", "unit": "VP"}) == {
        "title", "document_date"}
    assert given_fields({"date": "23.08.2020", "issuer": ""}) == set()  # no usable value
