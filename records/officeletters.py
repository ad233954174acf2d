"""Letters set the way offices set them: a second generator, to test extraction on paper the
project's own samples do not look like.

:mod:`records.samples` writes every letter in one column of DejaVu Serif 12 pt, the
letterhead stacked above the number and the motto below it. An extractor tuned on those
alone learns their layout. This module draws what ministries and German authorities print:

- **Vietnamese** letters in the form of Decree 30/2020/NĐ-CP: a two-column head, the issuing
  body (under its direct parent, a long name wrapped) centred on the left over "Số: ...",
  the national motto centred on the right over the italic "place, date" line; the kind and
  subject centred below; 13-14 pt Times-like faces (Liberation Serif, FreeSerif).
- **German** letters after DIN 5008: the authority's name set right at the top, a return
  address line and the addressee on the left, an information block on the right with the
  reference (``Az.``, ``Gz.``, ``Geschäftszeichen``, ``Unser Zeichen``) and a date (numeric
  or written out), then the kind and a bold subject; Arial- and Times-like faces.

Margins, sizes, the order of the information block, noise and skew vary with the seed. The
issuers come from the shipped authority list (:data:`config.authorities`) and from bodies
that are not in it, so that a test can tell matching from guessing. Deterministic for the
seed, as :mod:`records.samples` is; ground truth is a :class:`records.samples.LetterTruth`.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from records.samples import LetterTruth, PageStyle, as_scanned

__all__ = ["FACES", "OfficeLetter", "make_office_letter", "render_office_letter"]

_FONT_DIRS = (Path("/usr/share/fonts/truetype/liberation2"),
              Path("/usr/share/fonts/truetype/liberation"),
              Path("/usr/share/fonts/truetype/freefont"))

FACES: dict[str, tuple[str, str, str]] = {
    # regular, bold, italic; every one covers Vietnamese (Liberation 2, GNU FreeFont)
    "liberation-serif": ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf",
                         "LiberationSerif-Italic.ttf"),
    "freeserif": ("FreeSerif.ttf", "FreeSerifBold.ttf", "FreeSerifItalic.ttf"),
    "liberation-sans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf",
                        "LiberationSans-Italic.ttf"),
    "freesans": ("FreeSans.ttf", "FreeSansBold.ttf", "FreeSansOblique.ttf"),
}
"""Type faces of the office letters, none of them DejaVu (the project's own samples')."""
_VIE_FACES = ("liberation-serif", "freeserif")
_DEU_FACES = ("liberation-sans", "freesans", "liberation-serif")

_A4_MM = (210.0, 297.0)


@dataclass(frozen=True)
class OfficeLetter:
    """A letter's truth and what it looks like; :func:`render_office_letter` draws it."""

    truth: LetterTruth
    face: str
    size_pt: float
    margins_mm: tuple[float, float, float]  # left, right, top
    in_authority_list: bool  # the issuer is one the shipped authority list names
    draft: _Draft


@dataclass(frozen=True)
class _Issuer:
    lines: tuple[str, ...]  # as the letterhead prints them: parent, then the issuing body
    code: str  # the abbreviation inside document numbers
    place: str
    listed: bool = True


# Issuers: (parent, issuing body) as printed. Listed ones are in config/authorities.toml or
# the example roadmap; the rest are bodies the list does not know.
_VIE_ISSUERS = (
    _Issuer(("BỘ QUỐC PHÒNG", "TỔNG CỤC CHÍNH TRỊ"), "TCCT", "Hà Nội"),
    _Issuer(("TỔNG CỤC CHÍNH TRỊ", "CỤC TUYÊN HUẤN"), "CTH", "Hà Nội"),
    _Issuer(("BỘ NỘI VỤ", "CỤC VĂN THƯ VÀ LƯU TRỮ NHÀ NƯỚC"), "VTLTNN", "Hà Nội"),
    _Issuer(("BỘ TÀI CHÍNH", "TỔNG CỤC THUẾ"), "TCT", "Hà Nội"),
    _Issuer(("TỔNG CỤC THUẾ", "CỤC THUẾ TỈNH NGHỆ AN"), "CTNAN", "Nghệ An"),
    _Issuer(("TỔNG CỤC", "VĂN PHÒNG TỔNG CỤC"), "VP", "Hà Nội"),
    _Issuer(("TỔNG CỤC", "CỤC TỔ CHỨC CÁN BỘ"), "TCCB", "Hà Nội"),
    _Issuer(("TỔNG CỤC", "TRUNG TÂM LƯU TRỮ"), "LT", "Hà Nội"),
    _Issuer(("TỔNG CỤC", "CHI CỤC ĐÀ NẴNG"), "DNG", "Đà Nẵng"),
    _Issuer(("TỔNG CỤC", "CHI CỤC THỪA THIÊN HUẾ"), "HUE", "Huế"),
    _Issuer(("BỘ Y TẾ", "VỤ PHÁP CHẾ"), "PC", "Hà Nội", listed=False),
    _Issuer(("ỦY BAN NHÂN DÂN", "TỈNH QUẢNG NINH"), "UBND", "Quảng Ninh", listed=False),
)
_VIE_KINDS = (("QUYẾT ĐỊNH", "QĐ"), ("KẾ HOẠCH", "KH"), ("BÁO CÁO", "BC"),
              ("THÔNG BÁO", "TB"), ("TỜ TRÌNH", "TTr"), ("HƯỚNG DẪN", "HD"),
              ("CÔNG VĂN", ""))
_VIE_SUBJECTS = (
    "Ban hành Quy chế công tác văn thư, lưu trữ năm {year}",
    "Kiểm tra công tác số hóa hồ sơ, tài liệu lưu trữ",
    "Triển khai chữ ký số trên văn bản điện tử của đơn vị",
    "Chỉnh lý tài liệu tồn đọng giai đoạn {back}-{year}",
    "Thành lập Hội đồng xác định giá trị tài liệu",
    "Tổng kết công tác lưu trữ và phương hướng năm {next}",
)
_VIE_BODY = (
    "Căn cứ Luật Lưu trữ ngày 21 tháng 6 năm 2024;",
    "Thực hiện kế hoạch công tác năm {year}, đơn vị báo cáo kết quả như sau.",
    "Các cơ quan, đơn vị rà soát hồ sơ còn tồn đọng và lập danh mục trước ngày 30 tháng 9.",
    "Việc số hóa phải bảo đảm bản số có giá trị pháp lý như bản gốc và được ký số.",
    "Phòng Hành chính chủ trì, phối hợp với Trung tâm Lưu trữ tổ chức thực hiện.",
    "Kinh phí thực hiện được bố trí trong dự toán ngân sách được giao.",
    "Trong quá trình thực hiện, nếu có vướng mắc, đề nghị phản ánh về Văn phòng để tổng hợp.",
    "Quyết định này có hiệu lực kể từ ngày ký.",
)
_VIE_SIGNERS = (("KT. CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG"), ("CHÁNH VĂN PHÒNG",),
                ("TL. TỔNG CỤC TRƯỞNG", "CHÁNH VĂN PHÒNG"), ("GIÁM ĐỐC",))
_VIE_NAMES = ("Nguyễn Thị Hồng Nhung", "Trần Quốc Khánh", "Lê Đức Thắng", "Phạm Thu Hường",
              "Hoàng Văn Dũng", "Vũ Ngọc Ánh")

_DEU_ISSUERS = (
    _Issuer(("Bundesministerium des Innern und für Heimat", "Referat Schriftgutverwaltung"),
            "BMI", "Berlin"),
    _Issuer(("Landeshauptstadt München", "Kreisverwaltungsreferat"), "KVR", "München"),
    _Issuer(("Landratsamt Göppingen", "Kreisarchiv"), "LRA", "Göppingen"),
    _Issuer(("Stadt Köln", "Historisches Archiv"), "HAStK", "Köln"),
    _Issuer(("Regierungspräsidium Freiburg", "Abteilung Schule und Bildung"), "RPF",
            "Freiburg im Breisgau"),
    _Issuer(("Bezirksamt Pankow von Berlin", "Standesamt"), "BAP", "Berlin", listed=False),
)
_DEU_KINDS = ("BESCHEID", "ANORDNUNG", "VERFÜGUNG", "MITTEILUNG", "RUNDSCHREIBEN")
_DEU_SUBJECTS = (
    "Aussonderung von Schriftgut der Jahre {back} bis {year}",
    "Einführung der elektronischen Akte im Fachbereich",
    "Übernahme digitalisierter Bauakten in das Archiv",
    "Prüfung der Aufbewahrungsfristen für Personalakten",
    "Ersetzendes Scannen nach TR-RESISCAN",
)
_DEU_BODY = (
    "Sehr geehrte Damen und Herren,",
    "gemäß der Aktenordnung sind die Unterlagen vor der Vernichtung dem Archiv anzubieten.",
    "Die Digitalisierung erfolgt nach der Technischen Richtlinie des BSI.",
    "Bitte übermitteln Sie uns die Verzeichnisse bis zum 30. September {year}.",
    "Für Rückfragen steht Ihnen die Sachbearbeitung gern zur Verfügung.",
    "Die Originale werden nach der Qualitätsprüfung für drei Monate aufbewahrt.",
)
_DEU_REFERENCE_LABELS = ("Az.:", "Gz.:", "Geschäftszeichen:", "Unser Zeichen:")
_DEU_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
               "September", "Oktober", "November", "Dezember")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _day(rng: random.Random) -> dt.date:
    return dt.date(2019, 1, 1) + dt.timedelta(days=rng.randint(0, 6 * 365))


# --------------------------------------------------------------------------- drafting


@dataclass(frozen=True)
class _Line:
    text: str
    style: str = "regular"  # regular, bold, italic
    scale: float = 1.0


@dataclass(frozen=True)
class _Head:
    """The top of the first page: a left and a right column, side by side."""

    left: tuple[_Line, ...]
    right: tuple[_Line, ...]
    left_centred: bool
    right_centred: bool
    rules: tuple[int, ...]  # after which left/right line index (left: 0.., right: 100..)


@dataclass(frozen=True)
class _Draft:
    head: _Head
    centre: tuple[_Line, ...]  # kind and subject, centred under the head
    body: tuple[_Line, ...]
    truth: LetterTruth
    listed: bool


def _wrap_words(text: str, limit: int) -> list[str]:
    """Split a name into lines of at most *limit* characters, as a column forces it."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _draft_vie(rng: random.Random) -> _Draft:
    issuer = rng.choice(_VIE_ISSUERS)
    kind, code = rng.choice(_VIE_KINDS)
    day = _day(rng)
    subject = rng.choice(_VIE_SUBJECTS).format(year=day.year, back=day.year - 12,
                                               next=day.year + 1)
    serial = rng.randint(1, 2400)
    if code:
        yearly = code == "QĐ" and rng.random() < 0.25  # "12/2024/QĐ-UBND", a legal act
        number = f"{serial}/{day.year}/{code}-{issuer.code}" if yearly else \
            f"{serial}/{code}-{issuer.code}"
    else:
        number = f"{serial}/{issuer.code}-{rng.choice(('VP', 'TH', 'KH'))}"
    parent, unit = issuer.lines
    left = [_Line(parent), *(_Line(part, "bold") for part in _wrap_words(unit, 24)),
            _Line(""), _Line(f"Số: {number}")]
    if not code:
        left += [_Line(part, scale=0.9) for part in _wrap_words(f"V/v {subject}", 34)]
    date = f"{issuer.place}, ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"
    right = [_Line("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "bold", 0.92),
             _Line("Độc lập - Tự do - Hạnh phúc", "bold"), _Line(""),
             _Line(date, "italic")]
    rules = (len(left) - (3 if code else 3 + len(_wrap_words(f"V/v {subject}", 34))), 101)
    centre: list[_Line] = []
    if code:
        centre = [_Line(kind, "bold", 1.08),
                  *(_Line(part, "bold") for part in _wrap_words(f"Về việc {subject}", 52))]
    body = [_Line(s.format(year=day.year)) for s in rng.sample(_VIE_BODY, 5)]
    signer = rng.choice(_VIE_SIGNERS)
    body += [_Line(""), *(_Line(t, "bold") for t in signer), _Line(""), _Line(""),
             _Line(rng.choice(_VIE_NAMES), "bold")]
    truth = LetterTruth(
        language="vie", issuer=_nfc(" / ".join(issuer.lines)), document_type=_nfc(kind),
        document_number=_nfc(number), document_date=day.isoformat(), title=_nfc(subject),
        pages=[_nfc("\n".join(line.text for line in [*left, *right, *centre, *body]))])
    return _Draft(_Head(tuple(left), tuple(right), True, True, rules), tuple(centre),
                  tuple(body), truth, issuer.listed)


def _draft_deu(rng: random.Random) -> _Draft:
    issuer = rng.choice(_DEU_ISSUERS)
    kind = rng.choice(_DEU_KINDS)
    day = _day(rng)
    subject = rng.choice(_DEU_SUBJECTS).format(year=day.year, back=day.year - 30)
    number = rng.choice((f"{rng.randint(10, 99)}-{rng.randint(100, 999)}/{day.year % 100:02d}",
                         f"{issuer.code} {rng.randint(1, 9)}.{rng.randint(10, 99)}-"
                         f"{rng.randint(100, 999)}/{day.year}",
                         f"{rng.randint(1, 99)}.{rng.randint(1, 9)}-{rng.randint(1000, 9999)}"))
    label = rng.choice(_DEU_REFERENCE_LABELS)
    written = rng.random() < 0.5
    date = (f"{day.day}. {_DEU_MONTHS[day.month - 1]} {day.year}" if written
            else f"{day.day:02d}.{day.month:02d}.{day.year}")
    organisation, department = issuer.lines
    right = [_Line(organisation, "bold", 1.1), _Line(department), _Line(""),
             _Line(f"{label} {number}", scale=0.9), _Line(f"Datum: {date}", scale=0.9)]
    if rng.random() < 0.5:  # the information block's order varies between authorities
        right[3], right[4] = right[4], right[3]
    left = [_Line(f"{organisation} · Postfach {rng.randint(100, 999)} · "
                  f"{rng.randint(10000, 99999)} {issuer.place}", scale=0.7),
            _Line(""), _Line("An die"), _Line("Dienststellen im Geschäftsbereich"),
            _Line(f"{rng.randint(10000, 99999)} {issuer.place}")]
    centre = [_Line(kind, "bold", 1.05)]
    body = [_Line(f"Betreff: {subject}" if rng.random() < 0.5 else subject, "bold"), _Line("")]
    body += [_Line(s.format(year=day.year)) for s in _DEU_BODY[:1] + tuple(
        rng.sample(_DEU_BODY[1:], 4))]
    body += [_Line(""), _Line("Mit freundlichen Grüßen"), _Line(""), _Line("Im Auftrag")]
    truth = LetterTruth(
        language="deu", issuer=_nfc(" / ".join(issuer.lines)), document_type=kind,
        document_number=_nfc(number), document_date=day.isoformat(), title=_nfc(subject),
        pages=[_nfc("\n".join(line.text for line in [*right, *left, *centre, *body]))])
    return _Draft(_Head(tuple(left), tuple(right), False, False, ()), tuple(centre),
                  tuple(body), truth, issuer.listed)


_DRAFTERS = {"vie": _draft_vie, "deu": _draft_deu}


def make_office_letter(language: str, seed: int) -> OfficeLetter:
    """One single-page office letter in *language* ("vie" or "deu"), with its truth."""
    if language not in _DRAFTERS:
        raise ValueError(f"office letters are written in {sorted(_DRAFTERS)}, not {language!r}")
    rng = random.Random(f"records.officeletters:{language}:{seed}")
    draft = _DRAFTERS[language](rng)
    faces = _VIE_FACES if language == "vie" else _DEU_FACES
    size = rng.choice((13.0, 14.0)) if language == "vie" else rng.choice((11.0, 12.0))
    margins = (rng.uniform(20, 35), rng.uniform(15, 20), rng.uniform(15, 25))
    return OfficeLetter(draft.truth, rng.choice(faces), size, margins, draft.listed, draft)


# --------------------------------------------------------------------------- drawing


@functools.lru_cache(maxsize=64)
def _face(file: str, px: int, thread: int) -> ImageFont.FreeTypeFont:
    del thread  # a FreeType face must not be shared between threads
    for folder in _FONT_DIRS:
        if (folder / file).is_file():
            return ImageFont.truetype(str(folder / file), px)
    raise FileNotFoundError(f"font {file} not found: install Debian's fonts-liberation2 "
                            "and fonts-freefont-ttf")


def _font(letter: OfficeLetter, line: _Line, dpi: int) -> ImageFont.FreeTypeFont:
    regular, bold, italic = FACES[letter.face]
    file = {"regular": regular, "bold": bold, "italic": italic}[line.style]
    return _face(file, round(letter.size_pt * line.scale * dpi / 72), threading.get_ident())


def _mm(value: float, dpi: int) -> int:
    return round(value / 25.4 * dpi)


def render_office_letter(letter: OfficeLetter, style: PageStyle, *,
                         seed: int = 0) -> Image.Image:
    """Draw the letter's one page as a scanner delivers it (skew, noise, turn, bilevel as
    *style* says, noise seeded by *seed*), as :func:`records.samples.as_scanned` does."""
    dpi = style.dpi
    width, height = _mm(_A4_MM[0], dpi), _mm(_A4_MM[1], dpi)
    left_mm, right_mm, top_mm = letter.margins_mm
    x0, x1 = _mm(left_mm, dpi), width - _mm(right_mm, dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    step = round(letter.size_pt * 1.35 * dpi / 72)
    draft = letter.draft
    top = _mm(top_mm, dpi) + step
    split = x0 + round((x1 - x0) * (0.42 if letter.truth.language == "vie" else 0.55))
    columns = ((draft.head.left, x0, split - _mm(4, dpi), draft.head.left_centred, 0),
               (draft.head.right, split, x1, draft.head.right_centred, 100))
    bottom = top
    for lines, a, b, centred, base in columns:
        y = top
        for index, line in enumerate(lines):
            if line.text:
                font = _font(letter, line, dpi)
                span = font.getlength(line.text)
                x = (a + b - span) / 2 if centred else a
                draw.text((round(x), y), line.text, font=font, fill=0, anchor="ls")
                if base + index in draft.head.rules:
                    rule = round(span * 0.4)
                    centre = round((a + b) / 2)
                    draw.line((centre - rule // 2, y + step // 3, centre + rule // 2,
                               y + step // 3), fill=0, width=max(1, dpi // 150))
            y += step
        bottom = max(bottom, y)
    y = bottom + step
    for line in draft.centre:
        font = _font(letter, line, dpi)
        draw.text((round((x0 + x1 - font.getlength(line.text)) / 2), y), line.text,
                  font=font, fill=0, anchor="ls")
        y += step
    y += step // 2
    for line in draft.body:
        if line.text:
            y = _paragraph(draw, line, _font(letter, line, dpi), x0, x1, y, step)
        else:
            y += step
    return as_scanned(page, style, seed)


def _paragraph(draw: ImageDraw.ImageDraw, line: _Line, font: ImageFont.FreeTypeFont,
               x0: int, x1: int, y: int, step: int) -> int:
    """A body paragraph wrapped to the column; returns the next line's baseline."""
    current = ""
    for word in line.text.split():
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > x1 - x0:
            draw.text((x0, y), current, font=font, fill=0, anchor="ls")
            y, current = y + step, word
        else:
            current = candidate
    if current:
        draw.text((x0, y), current, font=font, fill=0, anchor="ls")
    return y + step


def office_batch(languages: Sequence[str], count: int, seed: int = 0
                 ) -> list[tuple[int, OfficeLetter]]:
    """*count* letters, languages taken in turn: (seed, letter) pairs to render."""
    return [(seed + n, make_office_letter(languages[n % len(languages)], seed + n))
            for n in range(count)]
