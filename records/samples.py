"""Synthetic scans of official letters, with their exact text kept as ground truth.

The pipeline must be demonstrable and testable without any external corpus, and the
metadata extractor needs a benchmark whose answers are known exactly. This module
therefore writes its own "paper records": multi-page letters in Vietnamese, German
and English, with letterheads, document numbers and dates, rendered to A4 page
images that are sometimes rotated, skewed, noisy, bilevel or JPEG, just like a
records office's scanner output.

Everything is a pure function of its arguments and seed: the same seed gives the same
truth and byte-identical images, so tests can pin results and demos are repeatable.

Layout convention: a page's ground truth is plain text (lines joined by "\\n"), and
:func:`render_page` derives the typography from it so nothing but the text has to be
kept: the first block of a page (up to the first blank line) is the letterhead and is
set bold; an all-uppercase line (document type, national motto, signer's title) is
set bold and centred, and the lines directly below a centred line stay centred; a
"place, date" line is right-aligned; a "Page n of m" style line is centred; everything
else is ranged left. Blank lines are vertical gaps; a paragraph break (one blank
line) ends a centred run, while a signature gap (two or more) keeps it, so the
signer's name stays under the signer's title.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import random
import re
import struct
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import img2pdf
import numpy as np
import pikepdf
from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = [
    "LANGUAGES",
    "LetterTruth",
    "PageStyle",
    "as_scanned",
    "make_letter",
    "render_batch",
    "render_broken",
    "render_page",
    "save_page",
]

LANGUAGES: tuple[str, ...] = ("vie", "deu", "eng")
"""Tesseract language codes this module can write letters in."""

# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class LetterTruth:
    """What a letter really says, so OCR and metadata extraction can be scored.

    Every field is written on the page exactly as given here (apart from the labels
    named below), so an extractor that reads the page perfectly recovers it exactly.
    """

    language: str
    """Tesseract code of the letter's language: "vie", "deu" or "eng"."""
    issuer: str
    """The letterhead's organisation lines joined by " / ", e.g. "BỘ QUỐC PHÒNG / TỔNG
    CỤC CHÍNH TRỊ"; each part is one line of the letterhead."""
    document_type: str
    """Upper-case kind of document, e.g. "QUYẾT ĐỊNH", "BESCHEID", "MEMORANDUM". A
    Vietnamese "CÔNG VĂN" carries no heading on paper (as in real practice): it is
    recognised by its "V/v" subject line under the number."""
    document_number: str
    """The number without its label: rendered "Số: 123/QĐ-TCCT", "Az. 12-345/24",
    "No. 45/2024"."""
    document_date: str
    """ISO date; rendered "Hà Nội, ngày 16 tháng 9 năm 2024" (with the official leading
    zeros for days below 10 and for January and February), "Berlin, den 16. September
    2024", "London, 16 September 2024"."""
    title: str
    """The subject without its label ("Về việc ", "V/v ", "Betreff: ", "Subject: ");
    it may be wrapped over lines on the page if it is long."""
    pages: list[str]
    """Exact text of each page, lines joined by "\\n" (blank lines are gaps)."""


_ENCODINGS = ("png", "jpeg", "tiff-g4", "tiff", "pdf-g4", "pdf-jbig2", "pdf-jpeg")
_BILEVEL_ONLY = ("tiff-g4", "pdf-g4", "pdf-jbig2")


@dataclass(frozen=True)
class PageStyle:
    """How one page went through the scanner, so pages can be made hard in known ways."""

    rotation: int = 0
    """0, 90, 180 or 270: the page was fed sideways or upside down; the image is turned
    by this many degrees counter-clockwise (as PIL's ``rotate``), so 90 and 270 swap
    width and height."""
    skew: float = 0.0
    """Small skew in degrees (counter-clockwise positive), e.g. -3..3: the sheet lay
    crooked on the glass."""
    noise: float = 0.0
    """0..1 amount of scanner grain, salt-and-pepper and dust specks."""
    bilevel: bool = False
    """Save as a 1-bit image (mode "1"), as fax-like archive scanners do."""
    encoding: str = "png"
    """"png", "jpeg", "tiff" (lossless) or "tiff-g4" (CCITT Group 4, bilevel only); or an
    image-only PDF as office scanners write it: "pdf-g4" and "pdf-jbig2" (bilevel only),
    "pdf-jpeg" (grey or colour)."""
    dpi: int = 300
    """Scan resolution; the image is A4 at this resolution and carries this DPI tag."""

    def __post_init__(self) -> None:
        if self.rotation not in (0, 90, 180, 270):
            raise ValueError(f"rotation must be 0, 90, 180 or 270, not {self.rotation}")
        if not -15.0 <= self.skew <= 15.0:
            raise ValueError(f"skew must be a small angle, not {self.skew}")
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"noise must be in 0..1, not {self.noise}")
        if self.encoding not in _ENCODINGS:
            raise ValueError(f"encoding must be one of {_ENCODINGS}, not {self.encoding!r}")
        if self.encoding in _BILEVEL_ONLY and not self.bilevel:
            raise ValueError(f"{self.encoding} (CCITT Group 4 or JBIG2) needs bilevel=True")
        if not 50 <= self.dpi <= 1200:
            raise ValueError(f"dpi must be in 50..1200, not {self.dpi}")


# --------------------------------------------------------------------------- page geometry

_A4_MM = (210.0, 297.0)
_MARGIN_MM = {"left": 30.0, "right": 20.0, "top": 20.0, "bottom": 20.0}  # Vietnamese rule
_FONT_PT = 12.0
_LINE_SPACING = 1.4
_MAX_LINES = 40  # of the ~43 that fit between the margins; keeps every page inside them
_WRAP_DPI = 300  # wrapping is measured at this resolution; text scales with dpi
_WRAP_SLACK = 0.96  # hinting differs a little between sizes: leave room

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
_REGULAR = "DejaVuSerif.ttf"
_BOLD = "DejaVuSerif-Bold.ttf"


def _mm_to_px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def _font_px(dpi: int) -> int:
    return round(_FONT_PT * dpi / 72)


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A DejaVu font, memoised per thread: a FreeType face must not be shared between
    threads, and callers may render pages in a thread pool."""
    return _font_for_thread(name, size, threading.get_ident())


@functools.lru_cache(maxsize=64)
def _font_for_thread(name: str, size: int, thread: int) -> ImageFont.FreeTypeFont:
    del thread  # only part of the cache key
    for folder in _FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size)
    try:  # Pillow also searches the XDG font folders by file name
        return ImageFont.truetype(name, size)
    except OSError as exc:
        raise FileNotFoundError(
            f"font {name} not found: install Debian's fonts-dejavu-core"
        ) from exc


def _text_width_px(dpi: int) -> int:
    return _mm_to_px(_A4_MM[0] - _MARGIN_MM["left"] - _MARGIN_MM["right"], dpi)


def _wrap(text: str, *, bold: bool = False) -> list[str]:
    """Greedy word wrap to the text column, measured with the real font."""
    font = _font(_BOLD if bold else _REGULAR, _font_px(_WRAP_DPI))
    limit = _text_width_px(_WRAP_DPI) * _WRAP_SLACK
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > limit:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


# --------------------------------------------------------------------------- content

# Each issuer: letterhead lines, unit code (used in numbers and the manifest), place,
# signer's title lines. Names of people are invented.
_VIE_ISSUERS = (
    (("BỘ QUỐC PHÒNG", "TỔNG CỤC CHÍNH TRỊ"), "TCCT", "Hà Nội", ("KT. CHỦ NHIỆM", "PHÓ CHỦ NHIỆM")),
    (("BỘ QUỐC PHÒNG", "VĂN PHÒNG"), "VP", "Hà Nội", ("CHÁNH VĂN PHÒNG",)),
    (
        ("BỘ NỘI VỤ", "CỤC VĂN THƯ VÀ LƯU TRỮ NHÀ NƯỚC"),
        "VTLTNN",
        "Hà Nội",
        ("KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG"),
    ),
    (
        ("ỦY BAN NHÂN DÂN", "THÀNH PHỐ ĐÀ NẴNG"),
        "UBND",
        "Đà Nẵng",
        ("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"),
    ),
    (("UBND TỈNH THỪA THIÊN HUẾ", "SỞ NỘI VỤ"), "SNV", "Huế", ("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC")),
)
_VIE_TYPES = (("QUYẾT ĐỊNH", "QĐ"), ("KẾ HOẠCH", "KH"), ("THÔNG BÁO", "TB"), ("CÔNG VĂN", ""))
_VIE_TOPICS = (
    "ban hành Quy chế công tác văn thư, lưu trữ",
    "chỉnh lý tài liệu lưu trữ tồn đọng năm {year}",
    "số hóa hồ sơ cán bộ và lưu trữ điện tử",
    "giao nộp hồ sơ, tài liệu vào Lưu trữ cơ quan",
    "thành lập Hội đồng xác định giá trị tài liệu",
    "kiểm tra công tác bảo vệ bí mật nhà nước",
    "tăng cường quản lý văn bản đi, văn bản đến",
)
_VIE_PREAMBLE = (
    "Căn cứ Luật Lưu trữ ngày 11 tháng 11 năm 2011;",
    "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư;",
    "Theo đề nghị của Chánh Văn phòng,",
)
_VIE_SENTENCES = (
    "Các cơ quan, đơn vị có trách nhiệm rà soát, thống kê toàn bộ hồ sơ, tài liệu đã giải "
    "quyết xong và lập danh mục nộp lưu theo quy định.",
    "Việc số hóa tài liệu lưu trữ phải bảo đảm tính xác thực, toàn vẹn và khả năng truy cập "
    "lâu dài của dữ liệu.",
    "Hồ sơ giấy sau khi số hóa được bảo quản tại kho lưu trữ, không được tiêu hủy khi chưa có "
    "quyết định của người có thẩm quyền.",
    "Văn phòng chủ trì, phối hợp với các phòng chuyên môn hướng dẫn, kiểm tra và đôn đốc việc "
    "thực hiện.",
    "Kinh phí thực hiện được bố trí từ nguồn ngân sách nhà nước cấp cho đơn vị trong dự toán "
    "năm {year}.",
    "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, các đơn vị kịp thời báo cáo để "
    "tổng hợp, trình lãnh đạo xem xét, giải quyết.",
    "Tài liệu có nội dung thuộc bí mật nhà nước phải được quản lý, sử dụng đúng chế độ mật.",
    "Mỗi hồ sơ phải có mục lục văn bản và được đánh số tờ liên tục từ trang đầu đến trang cuối.",
    "Cán bộ làm công tác lưu trữ được tập huấn nghiệp vụ về chụp quét, nhận dạng ký tự và "
    "kiểm tra chất lượng hình ảnh.",
    "Bản sao điện tử phải được ký số trước khi đưa vào cơ sở dữ liệu tài liệu lưu trữ.",
    "Thời hạn hoàn thành chậm nhất là ngày {deadline}.",
    "Đơn vị nào chậm nộp hồ sơ sẽ bị nhắc nhở trong hội nghị giao ban tháng.",
    "Phòng Hành chính - Tổng hợp theo dõi, đôn đốc và định kỳ hằng quý báo cáo kết quả.",
    "Những tài liệu bị hư hỏng, mờ chữ phải được tu bổ, phục chế trước khi số hóa.",
)
_VIE_NAMES = (
    "Nguyễn Văn Hùng",
    "Trần Thị Thu Hà",
    "Lê Minh Đức",
    "Phạm Quốc Bảo",
    "Đỗ Thị Ngọc Ánh",
    "Vũ Đình Khải",
)

_DEU_ISSUERS = (
    (
        ("Bundesministerium des Innern und für Heimat", "Referat Schriftgutverwaltung"),
        "BMI",
        "Berlin",
    ),
    (("Landesamt für Bürger- und Ordnungsangelegenheiten", "Zentrale Dienste"), "LABO", "Berlin"),
    (("Landeshauptstadt München", "Kreisverwaltungsreferat"), "KVR", "München"),
    (("Stadt Köln", "Historisches Archiv"), "HAStK", "Köln"),
    (("Landratsamt Göppingen", "Kreisarchiv"), "LRA", "Göppingen"),
)
_DEU_TYPES = ("ANORDNUNG", "BESCHEID", "VERFÜGUNG", "MITTEILUNG")
_DEU_TOPICS = (
    "Aussonderung von Schriftgut der Jahre {year_back} bis {year}",
    "Digitalisierung der Personalakten",
    "Anbietung von Unterlagen an das Landesarchiv",
    "Aufbewahrungsfristen für Bauakten",
    "Einführung der elektronischen Akte",
    "Gebühren für beglaubigte Abschriften",
    "Löschung personenbezogener Daten nach Fristablauf",
)
_DEU_SENTENCES = (
    "Die Unterlagen sind nach Ablauf der Aufbewahrungsfrist dem zuständigen Archiv anzubieten.",
    "Die Akten werden vor der Digitalisierung auf Vollständigkeit geprüft und fortlaufend "
    "paginiert.",
    "Für die Übermittlung der Scans ist ausschließlich das gesicherte Behördennetz zu verwenden.",
    "Eine Vernichtung der Papierunterlagen ist erst nach schriftlicher Freigabe durch die "
    "Registratur zulässig.",
    "Bitte prüfen Sie die beigefügte Übersicht und teilen Sie uns etwaige Änderungen bis zum "
    "{deadline} mit.",
    "Gegen diese Entscheidung kann innerhalb eines Monats nach Bekanntgabe Widerspruch "
    "erhoben werden.",
    "Die Gebühr für eine beglaubigte Abschrift beträgt 12,50 Euro je Dokument.",
    "Personenbezogene Daten werden nach der Datenschutz-Grundverordnung verarbeitet und nach "
    "Abschluss des Verfahrens gelöscht.",
    "Die Poststelle sorgt dafür, dass eingehende Schriftstücke noch am selben Tag erfasst werden.",
    "Für Rückfragen steht Ihnen das Sachgebiet Schriftgutverwaltung montags bis freitags "
    "zwischen 9 und 15 Uhr zur Verfügung.",
    "Größere Bestände werden in Teillieferungen übergeben, damit die Qualitätsprüfung zügig "
    "erfolgen kann.",
    "Beschädigte oder schwer lesbare Blätter sind gesondert zu kennzeichnen und dem "
    "Fachreferat vorzulegen.",
    "Die Kosten der Maßnahme trägt die anordnende Dienststelle aus ihrem Haushalt für {year}.",
    "Über das Ergebnis der Prüfung erhalten Sie gesondert Nachricht.",
)
_DEU_NAMES = ("Dr. Katrin Weißmüller", "Jürgen Hoffmann", "Sabine Köhler", "Matthias Groß")
_DEU_MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)

_ENG_ISSUERS = (
    (("MINISTRY OF DEFENCE", "Defence Records Review Unit"), "DRRU", "London"),
    (("HOME OFFICE", "Knowledge and Information Management"), "KIM", "London"),
    (("LEEDS CITY COUNCIL", "Corporate Records Service"), "CRS", "Leeds"),
    (("THE NATIONAL ARCHIVES", "Government Records Liaison"), "TNA", "Kew"),
    (("SCOTTISH GOVERNMENT", "Records Management Branch"), "RMB", "Edinburgh"),
)
_ENG_TYPES = ("MEMORANDUM", "NOTICE", "DIRECTIVE", "CIRCULAR")
_ENG_TOPICS = (
    "Retention of scanned personnel files",
    "Transfer of closed case files to the archive",
    "Digitisation of registry records for {year}",
    "Destruction of duplicate paper records",
    "Access restrictions for sensitive records",
    "Quality checks for optical character recognition",
)
_ENG_SENTENCES = (
    "All closed files must be reviewed before they are transferred to the departmental archive.",
    "Paper originals may only be destroyed once the digital copy has passed the quality check.",
    "Each scanned page must be legible, complete and stored in an archival file format.",
    "Files containing personal data are to be handled in line with the data protection policy.",
    "Please return the completed transfer list to the records team by {deadline}.",
    "Boxes should be labelled with the file reference, the date range and the number of folders.",
    "Damaged or fragile documents must be set aside and reported to the conservation officer.",
    "The registry will confirm receipt of every consignment within five working days.",
    "Requests for access to restricted records should be made in writing to the duty officer.",
    "Staff who scan records are asked to check page order and orientation before submission.",
    "The cost of the programme for {year} will be met from the existing records budget.",
    "Any questions about this notice should be directed to the records management helpdesk.",
    "Duplicate copies held in local offices are not to be kept beyond the retention period.",
)
_ENG_NAMES = ("Margaret Ellison", "David Okafor", "Priya Raman", "Thomas Whitfield")
_ENG_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_FIRST_DAY = dt.date(2021, 1, 1)
_LAST_DAY = dt.date(2025, 12, 31)


def _vie_day(day: dt.date) -> str:
    """ "05 tháng 02 năm 2024": official style pads days below 10 and months 1 and 2."""
    dd = f"{day.day:02d}" if day.day < 10 else str(day.day)
    mm = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{dd} tháng {mm} năm {day.year}"


def _vie_date(place: str, day: dt.date) -> str:
    return f"{place}, ngày {_vie_day(day)}"


def _deu_date(day: dt.date) -> str:
    return f"{day.day}. {_DEU_MONTHS[day.month - 1]} {day.year}"


def _eng_date(day: dt.date) -> str:
    return f"{day.day} {_ENG_MONTHS[day.month - 1]} {day.year}"


class _Deck:
    """Draws sentences without repeats until the pool is exhausted, then reshuffles."""

    def __init__(self, rng: random.Random, pool: Sequence[str]) -> None:
        self._rng = rng
        self._pool = list(pool)
        self._cards: list[str] = []
        self._last = ""

    def draw(self) -> str:
        if not self._cards:
            self._cards = self._pool[:]
            self._rng.shuffle(self._cards)
            if len(self._cards) > 1 and self._cards[-1] == self._last:
                self._cards[0], self._cards[-1] = self._cards[-1], self._cards[0]
        self._last = self._cards.pop()
        return self._last


@dataclass(frozen=True)
class _Draft:
    """A letter before pagination: what page 1 starts with, what the last page ends with."""

    issuer: tuple[str, ...]
    document_type: str
    document_number: str
    date: dt.date
    title: str
    header: list[str]
    closing: list[str]
    sentences: Sequence[str]
    numbering: str  # "" (plain paragraphs), "Điều {n}. " or "{n}. "
    page_label: str  # format with n and m


def _draft_vie(rng: random.Random) -> _Draft:
    lines, unit, place, signer = rng.choice(_VIE_ISSUERS)
    doc_type, code = rng.choice(_VIE_TYPES)
    day = _random_day(rng)
    fields = _fields(rng, day)
    title = rng.choice(_VIE_TOPICS).format(**fields)
    serial = rng.randint(1, 2400)
    number = f"{serial}/{code}-{unit}" if code else f"{serial}/{unit}-VP"
    header = [*lines, "", f"Số: {number}"]
    if not code:  # công văn: no heading, the subject sits under the number
        header += _wrap(f"V/v {title}")
    header += ["", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", ""]
    header += [_vie_date(place, day), ""]
    if code:
        header += [doc_type, *_wrap(f"Về việc {title}"), ""]
    else:
        header += ["Kính gửi: Các cơ quan, đơn vị trực thuộc", ""]
    if code == "QĐ":
        for sentence in _VIE_PREAMBLE:
            header += _wrap(sentence)
        header += ["", "QUYẾT ĐỊNH:", ""]
    closing = [*signer, "", "", rng.choice(_VIE_NAMES), "", "Nơi nhận:", "- Như trên;"]
    closing += [f"- Lưu: VT, {unit}."]
    return _Draft(
        issuer=lines,
        document_type=doc_type,
        document_number=number,
        date=day,
        title=title,
        header=header,
        closing=closing,
        sentences=[s.format(**fields) for s in _VIE_SENTENCES],
        numbering="Điều {n}. " if code == "QĐ" else "",
        page_label="Trang {n}/{m}",
    )


def _draft_deu(rng: random.Random) -> _Draft:
    lines, _unit, place = rng.choice(_DEU_ISSUERS)
    doc_type = rng.choice(_DEU_TYPES)
    day = _random_day(rng)
    fields = _fields(rng, day)
    fields["deadline"] = _deu_date(dt.date.fromisoformat(fields["deadline_iso"]))
    title = rng.choice(_DEU_TOPICS).format(**fields)
    number = f"{rng.randint(1, 99):02d}-{rng.randint(1, 999):03d}/{day.year % 100:02d}"
    header = [*lines, "", f"Az. {number}", f"{place}, den {_deu_date(day)}", "", doc_type, ""]
    header += [*_wrap(f"Betreff: {title}"), ""]
    if doc_type != "ANORDNUNG":
        header += ["Sehr geehrte Damen und Herren,", ""]
    closing = ["Mit freundlichen Grüßen", "Im Auftrag", "", "", rng.choice(_DEU_NAMES)]
    return _Draft(
        issuer=lines,
        document_type=doc_type,
        document_number=number,
        date=day,
        title=title,
        header=header,
        closing=closing,
        sentences=[s.format(**fields) for s in _DEU_SENTENCES],
        numbering="{n}. " if doc_type == "ANORDNUNG" else "",
        page_label="Seite {n} von {m}",
    )


def _draft_eng(rng: random.Random) -> _Draft:
    lines, _unit, place = rng.choice(_ENG_ISSUERS)
    doc_type = rng.choice(_ENG_TYPES)
    day = _random_day(rng)
    fields = _fields(rng, day)
    fields["deadline"] = _eng_date(dt.date.fromisoformat(fields["deadline_iso"]))
    title = rng.choice(_ENG_TOPICS).format(**fields)
    number = f"{rng.randint(1, 240)}/{day.year}"
    header = [*lines, "", f"No. {number}", f"{place}, {_eng_date(day)}", "", doc_type, ""]
    header += [*_wrap(f"Subject: {title}"), ""]
    if doc_type == "MEMORANDUM":
        header += ["To: All heads of section", ""]
    else:
        header += ["Dear Sir or Madam,", ""]
    closing = ["Yours faithfully,", "", "", rng.choice(_ENG_NAMES), "Head of Records Management"]
    return _Draft(
        issuer=lines,
        document_type=doc_type,
        document_number=number,
        date=day,
        title=title,
        header=header,
        closing=closing,
        sentences=[s.format(**fields) for s in _ENG_SENTENCES],
        numbering="{n}. " if doc_type == "DIRECTIVE" else "",
        page_label="Page {n} of {m}",
    )


def _random_day(rng: random.Random) -> dt.date:
    span = (_LAST_DAY - _FIRST_DAY).days
    return _FIRST_DAY + dt.timedelta(days=rng.randint(0, span))


def _fields(rng: random.Random, day: dt.date) -> dict[str, str]:
    deadline = day + dt.timedelta(days=rng.randint(20, 90))
    return {
        "year": str(day.year),
        "year_back": str(day.year - rng.randint(10, 30)),
        "deadline": _vie_day(deadline),
        "deadline_iso": deadline.isoformat(),
    }


_DRAFTERS = {"vie": _draft_vie, "deu": _draft_deu, "eng": _draft_eng}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def make_letter(language: str, seed: int, pages: int = 2) -> LetterTruth:
    """Write one synthetic official letter and return its ground truth.

    Deterministic for (language, seed, pages); the letterhead, number, date and title
    depend on (language, seed) only, so the same letter can be drawn at any length.
    Pages are filled to a varying height with paragraphs drawn from realistic
    sentences (Vietnamese with full tone marks and đ/Đ, German with umlauts and ß), and
    every line is pre-wrapped to the text column so the truth is exactly what is drawn.
    """
    if language not in _DRAFTERS:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    if pages < 1:
        raise ValueError("a letter has at least one page")
    rng = random.Random(f"records.samples:{language}:{seed}")
    draft = _DRAFTERS[language](rng)
    body_rng = random.Random(f"records.samples:{language}:{seed}:body:{pages}")
    deck = _Deck(body_rng, draft.sentences)
    article = 1

    def paragraph(sentences: int) -> list[str]:
        nonlocal article
        text = " ".join(deck.draw() for _ in range(sentences))
        if draft.numbering:
            text = draft.numbering.format(n=article) + text
        return _wrap(text)

    texts: list[str] = []
    for index in range(pages):
        if index == 0:
            lines = list(draft.header)
        else:
            lines = [draft.page_label.format(n=index + 1, m=pages), ""]
        last = index == pages - 1
        reserve = len(draft.closing) + 1 if last else 0
        target = body_rng.randint(_MAX_LINES - 8, _MAX_LINES)
        for attempt in range(12):  # a few tries with shorter paragraphs before giving up
            para = paragraph(body_rng.randint(1, 4) if attempt < 8 else 1)
            if len(lines) + len(para) + 1 + reserve > target:
                if attempt >= 8 or len(lines) + 3 + reserve > target:
                    break
                continue
            lines += [*para, ""]
            article += 1
        if last:
            lines += draft.closing
        while lines and not lines[-1]:
            lines.pop()
        texts.append(_nfc("\n".join(lines)))

    return LetterTruth(
        language=language,
        issuer=_nfc(" / ".join(draft.issuer)),
        document_type=_nfc(draft.document_type),
        document_number=_nfc(draft.document_number),
        document_date=draft.date.isoformat(),
        title=_nfc(draft.title),
        pages=texts,
    )


def _unit_of(truth: LetterTruth) -> str:
    """The issuing unit's code, recovered from the same tables that wrote the letter."""
    tables = {"vie": _VIE_ISSUERS, "deu": _DEU_ISSUERS, "eng": _ENG_ISSUERS}[truth.language]
    for entry in tables:
        if " / ".join(entry[0]) == truth.issuer:
            return entry[1]
    return ""


# --------------------------------------------------------------------------- rendering

_PAGE_LABEL = re.compile(r"^(Trang \d+/\d+|Seite \d+ von \d+|Page \d+ of \d+)$")
_DATE_LINE = re.compile(r"^[^\d,]+, (ngày \d|den \d|\d{1,2} [A-Z])")


def _is_upper(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) > 1 and all(c.isupper() for c in letters)


def _layout(lines: Sequence[str]) -> list[tuple[bool, str]]:
    """(bold, align) for each line, by the convention in the module docstring."""
    styles: list[tuple[bool, str]] = []
    first_block = True
    previous = "left"
    blanks = 0
    for line in lines:
        if not line.strip():
            first_block = False
            styles.append((False, "left"))
            blanks += 1
            continue
        if blanks == 1:  # a paragraph break ends a centred run; a wider gap does not
            previous = "left"
        blanks = 0
        if _PAGE_LABEL.match(line):
            style = (False, "center")
        elif _DATE_LINE.match(line):
            style = (False, "right")
        elif first_block:
            style = (True, "left")
        elif _is_upper(line):
            style = (True, "center")
        elif previous == "center":
            style = (False, "center")
        else:
            style = (False, "left")
        styles.append(style)
        previous = style[1]
    return styles


def render_page(text: str, style: PageStyle, *, seed: int = 0) -> Image.Image:
    """Draw a page of text as a scanner would have delivered it.

    A4 at ``style.dpi`` (2480x3508 at 300 dpi), DejaVu Serif 12 pt in black with
    official-letter margins, then the sheet is skewed, grain and specks are added
    (numpy, seeded by ``seed`` so repeated renders are identical), it is turned by
    ``style.rotation`` and, if ``style.bilevel``, thresholded to mode "1". Returns the
    image in its final mode ("L" or "1").
    """
    dpi = style.dpi
    width, height = (_mm_to_px(v, dpi) for v in _A4_MM)
    left, right = _mm_to_px(_MARGIN_MM["left"], dpi), _mm_to_px(_MARGIN_MM["right"], dpi)
    top = _mm_to_px(_MARGIN_MM["top"], dpi)
    size = _font_px(dpi)
    step = round(size * _LINE_SPACING)
    regular, bold = _font(_REGULAR, size), _font(_BOLD, size)

    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    lines = text.split("\n")
    baseline = top + regular.getmetrics()[0]
    for line, (is_bold, align) in zip(lines, _layout(lines), strict=True):
        if line.strip():
            font = bold if is_bold else regular
            if align == "left":
                x = left
            else:
                span = font.getlength(line)
                x = width - right - span if align == "right" else (left + width - right - span) / 2
            draw.text((round(x), baseline), line, font=font, fill=0, anchor="ls")
        baseline += step

    return as_scanned(page, style, seed)


def as_scanned(page: Image.Image, style: PageStyle, seed: int) -> Image.Image:
    """A drawn page as the scanner delivers it: skewed, grained and specked (seeded by
    *seed*), turned by ``style.rotation``, thresholded when ``style.bilevel``."""
    if style.skew:
        page = page.rotate(style.skew, resample=Image.Resampling.BILINEAR, fillcolor=255)
    if style.noise:
        page = _add_noise(page, style.noise, seed)
    if style.rotation:
        page = page.transpose(
            {
                90: Image.Transpose.ROTATE_90,
                180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_270,
            }[style.rotation]
        )
    if style.bilevel:
        page = page.point(lambda v: 255 if v >= 140 else 0).convert("1", dither=Image.Dither.NONE)
    return page


def _add_noise(page: Image.Image, amount: float, seed: int) -> Image.Image:
    """Grey paper, ragged ink, salt-and-pepper and a few dust specks.

    The grain goes on the ink only: grain over the whole sheet would make every page
    an incompressible multi-megabyte PNG, which slows the demo and looks no more real
    at archive thresholds.
    """
    rng = np.random.default_rng([seed, 0x5CA2])
    pixels = np.asarray(page, dtype=np.float32) * (1.0 - 0.06 * amount)  # paper is not white
    ink = np.flatnonzero(pixels.ravel() < 230.0)
    flat = pixels.reshape(-1)
    flat[ink] += rng.standard_normal(ink.size, dtype=np.float32) * (40.0 * amount)
    specks = rng.integers(0, flat.size, round(flat.size * 0.002 * amount))
    flat[specks[: specks.size // 2]] = 0.0
    flat[specks[specks.size // 2 :]] = 255.0
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    draw = ImageDraw.Draw(noisy)
    w, h = noisy.size
    count = round(300 * amount)
    xs = rng.integers(0, w, count).tolist()
    ys = rng.integers(0, h, count).tolist()
    radii = rng.integers(1, max(2, round(w / 800)), count, endpoint=True).tolist()
    greys = rng.integers(0, 90, count).tolist()
    for x, y, r, g in zip(xs, ys, radii, greys, strict=True):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=g)
    return noisy


def save_page(image: Image.Image, path: Path, style: PageStyle) -> Path:
    """Write one page with ``style.encoding`` and a DPI tag, deterministically.

    PNG is written with fast compression (pages are mostly white, so it costs little
    size and keeps the demo batch quick); JPEG at quality 80 (a bilevel image is
    widened to grey first); TIFF lossless (LZW) or CCITT Group 4.
    """
    path = Path(path)
    dpi = (style.dpi, style.dpi)
    if style.encoding == "png":
        image.save(path, format="PNG", dpi=dpi, compress_level=1)
    elif style.encoding == "jpeg":
        grey = image.convert("L") if image.mode == "1" else image
        grey.save(path, format="JPEG", dpi=dpi, quality=80)
    elif style.encoding == "tiff-g4":
        image.convert("1").save(path, format="TIFF", dpi=dpi, compression="group4")
    elif style.encoding.startswith("pdf-"):
        scanner_pdf([image], path, style.dpi, style.encoding.removeprefix("pdf-"))
    else:
        image.save(path, format="TIFF", dpi=dpi, compression="tiff_lzw")
    return path


SCANNER_PDF_ENCODINGS = ("g4", "jbig2", "jpeg")


def scanner_pdf(images: Sequence[Image.Image], path: Path, dpi: int, encoding: str) -> Path:
    """An image-only PDF as office scanners write it: one image per page, drawn over the
    whole page at *dpi*, stored as CCITT G4 or JBIG2 (bilevel) or JPEG (grey or colour).

    No JBIG2 encoder is packaged for Debian, so the JBIG2 pages are generic regions coded
    with MMR: the same run-length code as G4, inside JBIG2's segments, which every JBIG2
    decoder must read (ITU T.88 6.2.6).
    """
    if encoding not in SCANNER_PDF_ENCODINGS:
        raise ValueError(f"encoding must be one of {SCANNER_PDF_ENCODINGS}, not {encoding!r}")
    pages = [_scanner_page(image, dpi, encoding) for image in images]
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    data = img2pdf.convert(pages, layout_fun=layout)
    if encoding == "jbig2":
        data = _g4_to_jbig2(data, dpi)
    Path(path).write_bytes(data)
    return Path(path)


def _scanner_page(image: Image.Image, dpi: int, encoding: str) -> bytes:
    """One page as the scanner compresses it (for JBIG2: G4 of the inverted page, see below)."""
    out = io.BytesIO()
    if encoding == "jpeg":
        picture = image if image.mode in ("L", "RGB") else image.convert(
            "L" if image.mode in ("1", "LA", "I", "I;16") else "RGB")
        picture.save(out, format="JPEG", dpi=(dpi, dpi), quality=80)
        return out.getvalue()
    # A scanner thresholds a bilevel page; Pillow's own conversion would dither it.
    bilevel = image if image.mode == "1" else image.convert("L").point(
        lambda v: 255 if v >= 128 else 0).convert("1")
    if encoding == "jbig2":
        # G4 runs start white; in JBIG2 a 1 is ink. Coding the inverted page makes the
        # runs img2pdf stores the ones JBIG2 reads.
        bilevel = ImageOps.invert(bilevel.convert("L")).convert("1")
    bilevel.save(out, format="TIFF", compression="group4", dpi=(dpi, dpi))
    return out.getvalue()


def _jbig2_segment(number: int, kind: int, data: bytes) -> bytes:
    """A segment of page 1 that refers to no other (T.88 7.2)."""
    return struct.pack(">IBBBI", number, kind, 0, 1, len(data)) + data


def _g4_to_jbig2(pdf_bytes: bytes, dpi: int) -> bytes:
    """Every page's G4 image rewritten as a JBIG2 page of one MMR-coded generic region."""
    dots_per_metre = round(dpi / 0.0254)
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        for page in pdf.pages:
            for image in page.get_images().values():
                params = image.get("/DecodeParms")
                params = params[0] if isinstance(params, pikepdf.Array) else params
                if image.get("/Filter") not in (pikepdf.Name.CCITTFaxDecode,
                                                pikepdf.Array([pikepdf.Name.CCITTFaxDecode])) \
                        or params is None or int(params.get("/K", 0)) != -1:
                    raise ValueError("img2pdf did not store the page as G4")
                width, height = int(image.Width), int(image.Height)
                info = struct.pack(">IIIIBH", width, height, dots_per_metre, dots_per_metre, 0, 0)
                region = struct.pack(">IIIIB", width, height, 0, 0, 0) + bytes([1])  # MMR
                stream = (_jbig2_segment(0, 48, info)  # page information
                          + _jbig2_segment(1, 39, region + image.read_raw_bytes()))
                image.write(stream, filter=pikepdf.Name.JBIG2Decode)  # drops G4's parameters
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def _save_tiff_pages(images: Sequence[Image.Image], path: Path, dpi: int) -> Path:
    """One multi-page bilevel TIFF, G4-compressed, as archive scanners write them."""
    frames = [im.convert("1") for im in images]
    frames[0].save(
        path,
        format="TIFF",
        save_all=True,
        append_images=frames[1:],
        compression="group4",
        dpi=(dpi, dpi),
    )
    return path


# --------------------------------------------------------------------------- batches

_SHAPES = ("folder", "tiff", "jpeg", "png")
# Per page, in order over the whole batch: guarantees every kind of trouble appears in a
# default batch while the seed varies the amounts.
_ROTATIONS = (0, 90, 0, 0, 180, 0, 0, 270, 0)
_MANIFEST_COLUMNS = ("source", "title", "unit", "series", "classification", "date", "language")


def render_batch(
    dest: Path,
    *,
    letters: int = 6,
    seed: int = 0,
    languages: Sequence[str] = LANGUAGES,
    units: Sequence[str] = (),
) -> list[tuple[Path, LetterTruth]]:
    """Write a batch folder of synthetic records, as a records office hands them over.

    Each immediate child of ``dest`` is one record, cycling through the shapes offices
    deliver: a folder of page images ``page-1.png`` ... ``page-N.png`` (pages named so
    that only natural sort orders them right past 9), a multi-page G4 TIFF, a single
    JPEG and a single PNG. Across the batch some pages are turned 90/180/270 degrees,
    some skewed 1-3 degrees, some noisy and some bilevel. ``manifest.csv`` in the
    folder describes the records (source,title,unit,series,classification,date,
    language); ``unit`` is the unit holding the record, drawn from ``units`` when given (the
    demo uses the roadmap's units), else the issuer's own code. The ground truth is
    written *beside* the batch, to ``dest.parent / f"{dest.name}.truth.json"``, because
    anything inside the folder would be taken for a record. Existing files are
    overwritten, never deleted.

    Returns (path of each record, its truth), in manifest order.
    """
    dest = Path(dest)
    if letters < 1:
        raise ValueError("a batch has at least one letter")
    for language in languages:
        if language not in _DRAFTERS:
            raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"records.samples:batch:{seed}")
    results: list[tuple[Path, LetterTruth]] = []
    manifest: list[dict[str, str]] = []
    page_counter = 0

    for index in range(letters):
        language = languages[index % len(languages)]
        shape = _SHAPES[index % len(_SHAPES)]
        n_pages = rng.randint(2, 3) if shape in ("folder", "tiff") else 1
        truth = make_letter(language, seed * 1000 + index, pages=n_pages)
        styles = []
        for _ in range(n_pages):
            styles.append(_page_style(rng, page_counter, shape))
            page_counter += 1
        images = [
            render_page(text, style, seed=seed * 1000 + index * 10 + number)
            for number, (text, style) in enumerate(zip(truth.pages, styles, strict=True))
        ]
        stem = f"letter-{index + 1:02d}-{language}"
        if shape == "folder":
            path = dest / stem
            path.mkdir(exist_ok=True)
            for number, (image, style) in enumerate(zip(images, styles, strict=True), 1):
                save_page(image, path / f"page-{number}.png", style)
        elif shape == "tiff":
            path = _save_tiff_pages(images, dest / f"{stem}.tif", styles[0].dpi)
        elif shape == "jpeg":
            path = save_page(images[0], dest / f"{stem}.jpg", styles[0])
        else:
            path = save_page(images[0], dest / f"{stem}.png", styles[0])
        results.append((path, truth))
        manifest.append(
            {
                "source": path.name,
                "title": truth.title,
                "unit": rng.choice(units) if units else _unit_of(truth),
                "series": f"{truth.document_type.capitalize()} {truth.document_date[:4]}",
                "classification": rng.choice(("public", "internal", "internal", "restricted")),
                "date": truth.document_date,
                "language": truth.language,
            }
        )

    with (dest / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(manifest)
    truth_file = dest.parent / f"{dest.name}.truth.json"
    truth_file.write_text(
        json.dumps(
            [{"source": path.name, **asdict(truth)} for path, truth in results],
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return results


def _page_style(rng: random.Random, counter: int, shape: str) -> PageStyle:
    rotation = _ROTATIONS[counter % len(_ROTATIONS)]
    skew = round(rng.uniform(1.0, 3.0) * rng.choice((-1, 1)), 2) if counter % 3 == 2 else 0.0
    noise = round(rng.uniform(0.2, 0.6), 2) if counter % 4 == 1 else 0.0
    if shape == "tiff":
        return PageStyle(rotation, skew, noise, bilevel=True, encoding="tiff-g4")
    if shape == "jpeg":
        return PageStyle(rotation, skew, noise, encoding="jpeg")
    return PageStyle(rotation, skew, noise, bilevel=counter % 5 == 3)


def render_broken(dest: Path) -> dict[str, str]:
    """Write a few bad records into a batch folder, so demos show how failures look.

    A zero-byte PDF, a PNG cut off halfway, plain text posing as a TIFF and, when
    pikepdf is importable, a password-protected PDF. They are not added to the
    manifest. Returns {file name: short description} of what was written.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}

    (dest / "empty.pdf").write_bytes(b"")
    written["empty.pdf"] = "zero-byte file with a .pdf extension"

    style = PageStyle(dpi=100)
    buffer = io.BytesIO()
    render_page(make_letter("eng", 0, pages=1).pages[0], style).save(buffer, format="PNG")
    data = buffer.getvalue()
    (dest / "truncated.png").write_bytes(data[: len(data) // 2])
    written["truncated.png"] = "a real PNG cut off halfway (transfer broke off)"

    (dest / "notes.tif").write_text(
        "Scanner operator notes: box 14 was water-damaged, rescan pages 3 to 5.\n",
        encoding="utf-8",
    )
    written["notes.tif"] = "plain text with a lying .tif extension"

    try:
        import pikepdf
    except ImportError:
        return written
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(595, 842))
        pdf.save(
            dest / "secret.pdf",
            encryption=pikepdf.Encryption(owner="o", user="u"),
            static_id=True,
        )
    written["secret.pdf"] = "PDF encrypted with a user password"
    return written
