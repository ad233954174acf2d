"""The fields a person reads off an official letter, found in its OCR text.

A records office files a letter under its number, date, issuer, kind and subject. Those sit
in fixed places of the first page (letterhead, number line, "place, date" line, heading,
subject line), written to the conventions of Vietnamese, German and English administrations;
this module finds them with patterns for those conventions, not with a model, so every
answer can be traced to a line of the page.

OCR text is noisy: tone marks and umlauts get lost or garbled ("So:" for "Số:"), spaces
appear and vanish, specks become stray punctuation. Every pattern is therefore matched on a
*folded* copy of each line (diacritics stripped, lower case, one character per character of
the line), and the answer is cut from the line itself, so it keeps the text's own spelling.
A field that cannot be found with some confidence is None rather than a guess: a wrong
number or date misfiles a record, a missing one only leaves it for a person to fill in.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import takewhile
from typing import TypeVar

from rapidfuzz.distance import Levenshtein

from archive.index import fold as _fold
from archive.intake.authority import AuthorityList
from archive.intake.numbers import correct_code, read_vietnamese_number

__all__ = ["LANGUAGES", "Extracted", "extract_fields"]

_T = TypeVar("_T")

LANGUAGES: tuple[str, ...] = ("vie", "deu", "eng")
"""Tesseract codes of the conventions this module knows, in the order tried without a hint."""


@dataclass(frozen=True)
class Extracted:
    """What was read off a letter; None where the field was not found."""

    document_number: str | None
    """Without its label, e.g. "123/QĐ-BQP", "12-345/24", "45/2024"."""
    document_date: str | None
    """ISO date, e.g. "2024-09-16"."""
    issuer: str | None
    """The letterhead's organisation lines joined by " / "."""
    document_type: str | None
    """Upper-case kind from a closed list, e.g. "QUYẾT ĐỊNH", "CÔNG VĂN", "BESCHEID"."""
    title: str | None
    """The subject without its label, wrapped lines joined by a space."""
    notes: dict[str, str] = field(default_factory=dict)
    """How a field was read, where more than its line says it: the authority an issuer was
    matched to, a number corrected by its grammar, or why a field was left for a person."""
    unsure: tuple[str, ...] = ()
    """Fields whose value is the machine's best reading but not a sure one (readings of the
    same line disagree): a person checks them (the review queue says why, from ``notes``)."""

    def as_dict(self) -> dict[str, str | None]:
        values = asdict(self)
        del values["notes"], values["unsure"]
        return values


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class _Line:
    """One line of OCR text: ``text`` to cut answers from, ``key`` to match patterns on.

    ``key`` is as long as ``text`` and aligned with it character by character, so a match
    position in the key is the same position in the text.
    """

    text: str
    key: str

    @property
    def blank(self) -> bool:
        return not self.text


_HOMOGLYPHS = str.maketrans({"Ð": "Đ", "ð": "đ"})  # OCR confuses Icelandic eth with Đ
_SPACES = re.compile(r"\s+")
_LEADING_SPECKS = re.compile(r"^(?:[^\w(\[]|_)+")
_APOSTROPHES = "\u02bc\u02bb"  # modifier letters that Vietnamese and English do write


def _is_mark(char: str) -> bool:
    """A mark standing alone: a combining one NFC could not attach (it would break the
    alignment of key and text) or a spacing one (circumflex, tilde), which none of the
    languages writes on its own; OCR makes them of specks above a letter."""
    return bool(unicodedata.combining(char)) or (
        unicodedata.category(char) in ("Sk", "Lm") and char not in _APOSTROPHES)


def _clean(text: str, vietnamese: bool) -> str:
    """NFC, one space between words, no stray marks, and no specks before the first word
    ("- Về việc", "“Subject:", "-No."), which would hide a label from the patterns
    anchored at the start of a line."""
    text = unicodedata.normalize("NFC", text)
    # Marks standing alone, and format characters (a zero-width space inside "12\u200b/QĐ").
    text = "".join(c for c in text if not _is_mark(c) and unicodedata.category(c) != "Cf")
    if vietnamese:
        text = text.translate(_HOMOGLYPHS)
    return _LEADING_SPECKS.sub("", _SPACES.sub(" ", text).strip())


def _lines(page: str, vietnamese: bool) -> list[_Line]:
    lines = []
    for raw in page.splitlines():
        text = _clean(raw, vietnamese)
        lines.append(_Line(text, _fold(text)))
    return lines


def _is_letter(char: str) -> bool:
    """A real letter: modifier letters such as a lone circumflex are specks, not text."""
    return unicodedata.category(char) in ("Lu", "Ll", "Lt", "Lo")


def _letters(text: str) -> list[str]:
    return [c for c in text if _is_letter(c)]


def _has_word(token: str) -> bool:
    return any(_is_letter(c) or c.isdigit() for c in token)


def _is_noise(line: _Line) -> bool:
    """Specks and rules read as text ("-----", ". ,", "ee"): not a line of the letter.
    Digits are text: "năm 2023" and "2008-2020" end wrapped subjects."""
    letters = [c for c in line.text if _is_letter(c) or c.isdigit()]
    visible = line.text.replace(" ", "")
    return len(letters) < 3 or len(letters) < 0.6 * len(visible)


def _bare(text: str) -> str:
    """Words only: for matching fixed phrases that specks may have split ("Sehr “geehrte")."""
    return _SPACES.sub(" ", re.sub(r"[^\w ]", " ", text)).strip()


def _is_upper(text: str) -> bool:
    """Mostly capitals: headings and Vietnamese letterheads are set in capitals, and OCR
    sometimes reads one of them as a small letter."""
    letters = _letters(text)
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= 0.7 * len(letters)


def _trim(text: str) -> str:
    """Drop specks read as words at either end (".", "*", "_", a quote) of an answer."""
    words = text.split()
    while words and not _has_word(words[0]):
        words.pop(0)
    while words and not _has_word(words[-1]):
        words.pop()
    return " ".join(words)


# --------------------------------------------------------------------------- vocabulary

_TYPES: dict[str, tuple[str, ...]] = {
    "vie": ("QUYẾT ĐỊNH", "KẾ HOẠCH", "THÔNG BÁO", "BÁO CÁO", "TỜ TRÌNH", "CHỈ THỊ",
            "HƯỚNG DẪN", "NGHỊ QUYẾT", "BIÊN BẢN", "CÔNG VĂN"),
    "deu": ("ANORDNUNG", "BESCHEID", "VERFÜGUNG", "RUNDSCHREIBEN", "VERMERK", "BERICHT",
            "MITTEILUNG", "ERLASS"),
    "eng": ("MEMORANDUM", "DIRECTIVE", "NOTICE", "REPORT", "CIRCULAR", "LETTER", "DECISION",
            "MINUTES"),
}
_CONG_VAN = "CÔNG VĂN"

_NUMBER_LABELS = {
    "vie": r"s[o0]\s?(?:hieu)?",
    "deu": r"(?:az|aktenzeichen|gz|geschaftszeichen|unser zeichen)",
    "eng": r"(?:no|nr|number|ref|reference|our ref(?:erence)?|file ref(?:erence)?)",
}
_SPECK_TAIL = re.compile(r" ?[\u2013\u2014] ?[^\W\d]$")  # "45/2024—o": a dash and a letter of dust
# OCR may space out "/" and "-", and split a run of digits ("21 19/TB")
# A run of digits OCR split ("21 19/TB"), or a German authority's code and its file
# number ("HAStK 9.60-406/2020"); never digits and a date after them ("4711 06.12.2022").
_NUMBER_VALUE = (r"(?P<value>\w+(?: \d+(?= ?[/-])|(?<=[^\W\d_]) \d+(?=\.\d+[/-]))?"
                 r"(?:(?: ?[/-] ?|\.)\w+)*)")

_TITLE_LABELS = {
    "vie": r"(?:ve ?viec|v ?[/\\|] ?v\.?|trich ?yeu)\s?[:.]?",
    "deu": r"(?:betreff|betr\.|gegenstand)\s?[:.]?",
    "eng": r"(?:subject\s?[:.]?|subj\.\s?:?|re\s?:)",
}
_CONG_VAN_LABEL = re.compile(r"^v ?[/\\|] ?v\b")

_MOTTO = re.compile(r"cong hoa xa hoi chu nghia|doc lap ?- ?tu do")
# The motto's words, wherever OCR put them: beside a letterhead line of a two-column head
# ("TỔNG CỤC CHÍNH TRỊ Độc lập - Tự do - Hạnh phúc") or cut off from the rest.
_MOTTO_TAIL = re.compile(r"\b(?:cong hoa xa hoi|doc lap ?- ?tu do)\b.*$")
_OPENERS = re.compile(
    r"^(?:kinh gui|kinh thua|can cu|theo de nghi|noi nhan|dieu \d|sehr geehrte|liebe|"
    r"mit freundlichen|dear|to\b|an\b|cc\b|attn|for the attention|yours)"
)
_FIELD_LABEL = re.compile(r"^[^\s:]+(?: [^\s:]+)? ?:")
_NUMBERED = re.compile(r"^\d+[.)] ")

_MONTHS = {
    "deu": ("januar jänner jan", "februar feber feb", "märz maerz mrz mär", "april apr",
            "mai", "juni jun", "juli jul", "august aug", "september sept sep",
            "oktober okt", "november nov", "dezember dez"),
    "eng": ("january jan", "february feb", "march mar", "april apr", "may", "june jun",
            "july jul", "august aug", "september sept sep", "october oct",
            "november nov", "december dec"),
}


@functools.cache
def _month_table(language: str) -> dict[str, int]:
    """Folded month name or abbreviation -> month number."""
    return {_fold(name): number
            for number, names in enumerate(_MONTHS[language], 1) for name in names.split()}


def _month(word: str, languages: Sequence[str]) -> int | None:
    """A month from a word as OCR read it: exact, or one letter off for full names."""
    word = word.rstrip(".")
    for language in languages:
        table = _month_table(language) if language in _MONTHS else {}
        for spelling in dict.fromkeys((word, word.replace("rn", "m"))):  # "Septernber"
            if spelling in table:
                return table[spelling]
            near = {n for name, n in table.items() if len(name) >= 5 and len(spelling) >= 5
                    and Levenshtein.distance(spelling, name) <= 1}
            if len(near) == 1:
                return near.pop()
    return None


# --------------------------------------------------------------------------- languages


_COMMON_WORDS = {  # folded; short words that are common in one language and rare in the others
    "vie": frozenset({"va", "cua", "cac", "duoc", "trong", "nhung", "co", "la", "cho", "voi",
                      "khong", "nay", "ve", "theo"}),
    "deu": frozenset({"der", "die", "und", "das", "den", "nicht", "mit", "fur", "von", "zu",
                      "ist", "sie", "ein", "eine", "im"}),
    "eng": frozenset({"the", "and", "of", "to", "is", "in", "for", "be", "are", "with", "that",
                      "this", "by", "on"}),
}
_MINOR_LANGUAGE = 0.25  # a language with fewer common words than this share of the top one


def _languages(hint: str | None, lines: Sequence[_Line]) -> tuple[str, ...]:
    """The conventions to try, in order: the hinted ones, then the others the page is
    written in, most used first.

    A hint orders, it never excludes, because manifests are sometimes wrong. A language
    whose common words hardly occur on the page is left out unless hinted, so that its
    patterns cannot misread another's text ("So, 12.05." is a Sunday in German, not a
    Vietnamese number); a page too short to tell keeps every language.
    """
    hinted = [code for code in (hint or "").split("+") if code in LANGUAGES]
    words = [word for line in lines for word in _bare(line.key).split()]
    use = {code: sum(word in _COMMON_WORDS[code] for word in words) for code in LANGUAGES}
    top = max(use.values())
    written = [code for code in sorted(LANGUAGES, key=lambda c: -use[c])
               if use[code] >= _MINOR_LANGUAGE * top]
    return tuple(dict.fromkeys([*hinted, *written]))


def _first_found(languages: Sequence[str], find: Callable[[str], _T | None]) -> _T | None:
    for language in languages:
        found = find(language)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- number


_THEIRS = re.compile(r"\b(?:ihr|ihre|ihren|ihrem|ihres|bescheid|schreiben|vom)\W*(?:\w+\W*)?$")


@functools.cache
def _number_pattern(language: str) -> re.Pattern[str]:
    # A German reference may stand after other text on its line: an information block
    # set beside the addressee ("Dienststellen im Geschäftsbereich Gz.: 21-638/22"). A
    # Vietnamese "Số:" starts its line (a two-column head puts it first); an English "No."
    # inside a sentence is no reference.
    anywhere = r"(?:.*?\s)??" if language == "deu" else ""
    return re.compile(rf"^{anywhere}(?P<label>{_NUMBER_LABELS[language]})"
                      rf"(?P<sep> ?[.:;,]+ ?| )" + _NUMBER_VALUE)


def _number_in(line: _Line, language: str) -> str | None:
    """The number on a number line ("Số: 123/QĐ-BQP", "Az.: 12-345/24", "No. 45/2024").

    The value must hold a digit; without punctuation after the label it must also look
    like a reference ("12/QĐ", "3-45") so that a sentence starting "No 3 ..." is not one.
    A Vietnamese label needs its capital S or a colon: "số hóa ..." starts body lines.
    """
    match = _number_pattern(language).match(line.key)
    if not match:
        return None
    if _THEIRS.search(line.key[:match.start("label")]):
        return None  # "Ihr Zeichen", "Ihr Bescheid Az. ...": the addressee's reference
    value = line.text[match.start("value"):match.end("value")]
    value = _SPECK_TAIL.sub("", value).rstrip(".,;:")
    # Spaces OCR put around "/" and "-" go; the one after a German code stays ("HAStK 9.60").
    value = re.sub(r" ?([/-]) ?", r"\1", value)
    value = value if re.fullmatch(r"[^\W\d_]+ \d\S*", value) else value.replace(" ", "")
    if not any(c.isdigit() for c in value):
        return None
    if not match["sep"].strip() and not re.search(r"\d[/-]|[/-]\d", value):
        return None
    if language == "vie" and not (line.text[0] == "S" or ":" in match["sep"]):
        return None
    return value


def _number(lines: Sequence[_Line], languages: Sequence[str]) -> tuple[int, str] | None:
    """(line index, number) of the first number line: it belongs to the letterhead."""
    def find(language: str) -> tuple[int, str] | None:
        for index, line in enumerate(lines):
            value = _number_in(line, language)
            if value:
                return index, value
        return None
    return _first_found(languages, find)


# --------------------------------------------------------------------------- date

# A day or month may have a digit read as a letter in the italic "place, date" line of a
# Vietnamese letter ("ngày I7 tháng 03"): the grammar there is digits, so i and l are 1 and o
# is 0 (folded text is lower case), as long as one digit is left to anchor it.
_DIGITISH = r"(?:[ilo]?\d|\d\d|0[il])"  # "I7", "o5"; "0Ì" is 01 (no 00 to confuse)
# A bracket or bar glued to the digits is a misread 1 as often as a speck ("ngày 2]" for 21):
# such a day or month is not read at all rather than read as a date of one digit.
_GLUED = r"(?![\]\[|!)(/\\ilo]|[ilo](?:\W|$))"
_D = rf"(?P<d>\d{{1,2}}){_GLUED}"
_VIE_D = rf"(?P<d>{_DIGITISH}){_GLUED}"
_Y = r"(?P<y>\d{4})"
_DATE_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "vie": (re.compile(rf"\bngay\W{{0,3}}{_VIE_D}\W{{0,3}}thang\W{{0,3}}(?P<m>{_DIGITISH}){_GLUED}"
                       rf"\W{{0,3}}nam\W{{0,3}}{_Y}"),),
    "deu": (re.compile(rf"(?:den\W{{1,3}})?\b{_D}\W{{0,3}}(?P<mon>[a-z]{{3,10}}\.?)\W{{0,3}}{_Y}"),
            re.compile(rf"(?:den\W{{1,3}})?\b{_D} ?\. ?(?P<m>\d{{1,2}}) ?\. ?{_Y}")),
    "eng": (re.compile(rf"\b{_D}(?:st|nd|rd|th)?\W{{0,3}}(?:of )?(?P<mon>[a-z]{{3,10}}\.?)"
                       rf"\W{{0,3}}{_Y}"),
            re.compile(rf"\b(?P<mon>[a-z]{{3,10}}\.?) {_D}(?:st|nd|rd|th)?,? {_Y}")),
}
_DATE_LABEL = re.compile(r"(?:datum|date|dated|ngay ban hanh)\s?:?\s?$")


_AS_DIGITS = str.maketrans("ilo", "110")


def _digits(token: str) -> str:
    return token.translate(_AS_DIGITS)


def _date_value(match: re.Match[str], language: str) -> dt.date | None:
    """The calendar date of a match; None for impossible ones (31 February)."""
    groups = match.groupdict()
    month = int(_digits(groups["m"])) if groups.get("m") else \
        _month(groups["mon"], (language,))
    if month is None:
        return None
    try:
        return dt.date(int(groups["y"]), month, int(_digits(groups["d"])))
    except ValueError:
        return None


def _date_rank(line: _Line, match: re.Match[str]) -> int:
    """How surely a date is the letter's own date rather than one quoted in the text.

    2: labelled ("Datum:") or "place, date" (a few words and a comma before it, perhaps
    after the number on the same line); 1: a few words without the comma, which OCR may
    have lost, or none; 0: anything else, such as a deadline inside a sentence. The date
    must end its line, but for specks; a full stop may follow only a labelled or placed
    date, as the end of a sentence wrapped onto a line of its own ("9 February 2025.") is
    no letter date.
    """
    after = line.key[match.end():]
    if any(c.isalnum() for c in after):
        return 0
    before = line.key[:match.start()].rstrip()
    if _DATE_LABEL.search(before):
        return 2
    words = before.split()
    place = list(takewhile(lambda w: not any(c.isdigit() for c in w), reversed(words)))
    if before.endswith((",", ";")) and len(place) <= 5:  # OCR reads some commas as ";"
        return 2
    # Or the place follows the number on a two-column head's line, its comma lost
    # ("Số: 229/BC-HUE ` Huế ngày 15 tháng 06 năm 2019").
    numbered = len(place) < len(words) and "/" in words[-len(place) - 1]
    return 1 if (len(place) == len(words) or numbered) and len(place) <= 4 \
        and "." not in after else 0


def _dates_in(line: _Line, language: str) -> list[tuple[int, dt.date]]:
    found = []
    for pattern in _DATE_PATTERNS[language]:
        for match in pattern.finditer(line.key):
            day = _date_value(match, language)
            rank = _date_rank(line, match)
            if day and rank:
                found.append((rank, day))
    return found


def _date(lines: Sequence[_Line], languages: Sequence[str]) -> tuple[int, dt.date] | None:
    """(line index, date) of the letter's date: the best-ranked, the first of equals."""
    def find(language: str) -> tuple[int, dt.date] | None:
        best: tuple[int, int, dt.date] | None = None
        for index, line in enumerate(lines):
            for rank, day in _dates_in(line, language):
                if best is None or rank > best[0]:
                    best = (rank, index, day)
        return (best[1], best[2]) if best else None
    return _first_found(languages, find)


# --------------------------------------------------------------------------- document type


def _heading(line: _Line, languages: Sequence[str]) -> tuple[str, bool] | None:
    """(type, ends with a colon) when the line is a heading of a known kind.

    A heading is a line in capitals that is the kind ("QUYẾT ĐỊNH"), perhaps followed by
    more words ("BÁO CÁO TỔNG KẾT"); OCR may drop the space ("QUYẾTĐỊNH"), misread one
    letter of a longer name, or add specks. The colon tells the body's "QUYẾT ĐỊNH:"
    (which introduces the articles) from the heading.
    """
    text = _trim(line.text)
    if not _is_upper(text):
        return None
    colon = _fold(text).rstrip(" .").endswith(":")
    words = _bare(text).split()
    while len(words) > 1 and len(words[0]) <= 2 and not words[0].isupper():
        words.pop(0)  # a speck read as a short word in front ("o NOTICE")
    key = _fold(" ".join(words))
    squeezed = key.replace(" ", "")
    for language in languages:
        for name in _TYPES[language]:
            folded = _fold(name)
            if squeezed == folded.replace(" ", "") or key.startswith(folded + " "):
                return name, colon
            if len(folded) >= 7 and Levenshtein.distance(squeezed, folded.replace(" ", "")) <= 1:
                return name, colon
    return None


def _document_type(lines: Sequence[_Line], languages: Sequence[str]
                   ) -> tuple[int, str] | None:
    """(line index, type) of the first heading; a "QUYẾT ĐỊNH:" only when there is none."""
    with_colon: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        found = _heading(line, languages)
        if found and not found[1]:
            return index, found[0]
        if found and with_colon is None:
            with_colon = index, found[0]
    return with_colon


# --------------------------------------------------------------------------- title

_QUOTE_MARKS = "'\"`\u00b4\u2018\u2019\u201c\u201d\u201e"
_EDGE_QUOTES = re.compile(rf"(?<!\w)[{_QUOTE_MARKS}](?=\w)|(?<=\w)[{_QUOTE_MARKS}](?!\w)")
# An opening quote inside a word, or an apostrophe between two long words ("sensitive'records";
# "Queen's", "don't", "O'Brien" have a short part on one side): a speck, not punctuation.
_INNER_QUOTES = re.compile(r"(?<=\w)[\u2018\u201c](?=\w)|(?<=\w{3})['\u2019`\u00b4](?=\w{3})")


def _despeck(text: str) -> str:
    """Drop what dust and rules put into a line: a quote mark without its pair
    ("Government 'Records"), a quote or apostrophe inside a word where none is written,
    a bracket that never closes ("CHÍNH TR]Ị"), bars, and lone marks at either end."""
    text = _INNER_QUOTES.sub(" ", text)
    if len(_EDGE_QUOTES.findall(text)) % 2:
        text = _SPACES.sub(" ", _EDGE_QUOTES.sub("", text))
    for opening, closing in ("[]", "()", "{}"):
        if text.count(opening) != text.count(closing):
            text = text.replace(opening, "").replace(closing, "")
    return _trim(_LONE_UNDERSCORES.sub(" ", text.replace("|", " ")))


# A rule's end or a speck read as a word of its own: "lưu _ trữ", "giai đoạn : 2008-2020".
_LONE_UNDERSCORES = re.compile(r"(?<!\S)[_:;`'\u02c6\u2018\u2019]+(?!\S)")
_TRAILING_SPECK = re.compile(r" [b-zB-HJ-Z]$")  # "... lưu trữ l": no language here ends so
# ... nor starts a wrapped line with a lone letter ("lưu" / "l trữ"); "y" is a word ("y tế").
_STOP_IN_PHRASE = re.compile(r"(?<=[^\W\d_]{2})\. ?(?=([^\W\d_]))")  # "Hội đồng.xác"
_LONE_LETTER_START = re.compile(r"^[b-xzB-HJ-XZ] (?=\S)")


@functools.cache
def _title_pattern(language: str) -> re.Pattern[str]:
    return re.compile(rf"^{_TITLE_LABELS[language]} ?")


def _title_start(line: _Line, languages: Sequence[str], under_heading: bool = False
                 ) -> int | None:
    """Where the subject starts on a subject line (perhaps at its end, when the subject
    is on the next line), or None if the line is not one.

    "Về việc" must start with its capital, unless it stands right under the heading: in
    a body, "về việc" continues a sentence from the line above.
    """
    for language in languages:
        match = _title_pattern(language).match(line.key)
        if match:
            if line.key.startswith("ve") and line.text[0] != "V" and not under_heading:
                continue
            return match.end()
    return None


def _ends_title(line: _Line, languages: Sequence[str], upper_title: bool) -> bool:
    """A line that is no longer the subject: a gap, another field, a salutation, a body."""
    return (
        line.blank
        or _is_noise(line)
        or (_is_upper(line.text) and not upper_title)
        or bool(_OPENERS.match(_bare(line.key)) or _FIELD_LABEL.match(line.key))
        or bool(_NUMBERED.match(line.key) or _MOTTO.search(line.key))
        or any(_number_in(line, code) or _dates_in(line, code) for code in languages)
        or _heading(line, languages) is not None
        or _title_start(line, languages) is not None
    )


def _column_width(lines: Sequence[_Line]) -> int:
    """Characters in a full line of the page: a high percentile, so one line run together
    with its neighbour by OCR does not set it."""
    lengths = sorted(len(line.text) for line in lines if not line.blank)
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0


def _wraps(last: _Line, following: _Line, after: _Line | None, width: int) -> bool:
    """Whether *following* carries on the subject of *last*; *after* is the line below it.

    It does when *last* was full (the typesetter wrapped it), when *following* starts in
    the middle of a phrase, or when it is a short last line of a narrow block (a subject
    set in the left column beside the motto). A body set without a gap under the subject
    is none of these: its lines are sentences, or full lines that run on.
    """
    if following.text[:1].isupper() and following.text.endswith("."):
        return False  # a sentence: subjects are not written as sentences
    if not following.text[:1].islower() and len(following.text) > len(last.text) + 15:
        # Wrapping fills a line before it starts the next: a line a few words longer than
        # the subject's was not wrapped from it (a body set under a centred subject).
        return False
    if len(last.text) >= 0.8 * width or following.text[:1].islower():
        return True
    if following.text[:1].isdigit() and len(following.text) < 0.5 * width \
            and not following.text.endswith("."):
        return True  # the years that end a subject: "giai đoạn" / "2012-2024"
    short = len(following.text) < 0.8 * width and not following.text.endswith((",", "."))
    return short and (after is None or after.blank)


def _continuation(lines: Sequence[_Line], index: int, languages: Sequence[str],
                  upper: bool) -> list[str]:
    """The lines a subject starting on line *index* was wrapped onto (at most three)."""
    width, parts = _column_width(lines), []
    for at in range(index + 1, min(index + 4, len(lines))):
        after = lines[at + 1] if at + 1 < len(lines) else None
        if lines[at].blank and not parts and _gapped_tail(lines, at, languages, width):
            return [lines[at + 1].text]
        if _ends_title(lines[at], languages, upper) or not _wraps(
                lines[at - 1], lines[at], after, width):
            break
        parts.append(lines[at].text)
    return parts


def _gapped_tail(lines: Sequence[_Line], gap: int, languages: Sequence[str],
                 width: int) -> bool:
    """A subject's short last line that OCR set apart by a gap ("Về việc ... phương hướng",
    "", "năm 2023"): it starts in lower case (a body's paragraph does not), is short, and
    stands alone before the next gap."""
    if gap + 1 >= len(lines):
        return False
    tail = lines[gap + 1]
    alone = gap + 2 >= len(lines) or lines[gap + 2].blank
    return (not tail.blank and tail.text[:1].islower() and len(tail.text) < 0.5 * width
            and not tail.text.endswith((".", ",", ";", ":")) and alone
            and not _ends_title(tail, languages, False))


_SALUTATION = re.compile(r"^(?:sehr geehrte|liebe|dear|guten tag)\b")
_SUBJECT_WORDS = 15


def _unlabelled_subject(lines: Sequence[_Line], kind: int | None,
                        languages: Sequence[str]) -> tuple[int, str] | None:
    """A German or English subject set without "Betreff:" (DIN 5008 has dropped the word):
    the lines, in one block, just above the salutation, or just under the kind's heading.
    Only a block that reads like a subject: capitalised, no sentence, no address or field.
    """
    salutation = next((i for i, line in enumerate(lines[:40])
                       if _SALUTATION.match(_bare(line.key))), None)
    if salutation is None:
        return None
    end = salutation
    while end > 0 and lines[end - 1].blank:
        end -= 1
    start = end
    while start > 0 and not lines[start - 1].blank and end - start < 3 \
            and (kind is None or start - 1 > kind):
        start -= 1
    block = lines[start:end]
    if not block or (kind is not None and start <= kind):
        return None
    first = block[0].text
    words = sum(len(line.text.split()) for line in block)
    if not first[:1].isupper() or words > _SUBJECT_WORDS or block[-1].text.endswith(".") \
            or any(line.text[:1].isdigit() or _ends_title(line, languages, False)
                   for line in block):
        return None
    return start, _final_stop(_despeck(" ".join(line.text for line in block)))


def _title(lines: Sequence[_Line], languages: Sequence[str]) -> tuple[int, str] | None:
    """(line index, subject) of the first subject line, with its wrapped continuation."""
    previous: _Line | None = None
    for index, line in enumerate(lines):
        under_heading = previous is not None and _heading(previous, languages) is not None
        previous = previous if line.blank else line
        start = _title_start(line, languages, under_heading)
        if start is None:
            continue
        first, at = line.text[start:], index
        if not first and index + 1 < len(lines) and not _ends_title(
                lines[index + 1], languages, False):
            first, at = lines[index + 1].text, index + 1  # the label on a line of its own
        parts = [first, *(_LONE_LETTER_START.sub("", part) for part in
                          _continuation(lines, at, languages, _is_upper(first)))]
        # A speck read as a full stop where a subject wraps ("giai đoạn." / "2008-2020").
        parts = [part.removesuffix(".") if following[:1].isdigit() or following[:1].islower()
                 else part for part, following in zip(parts, [*parts[1:], ""], strict=True)]
        title = _final_stop(_despeck(" ".join(parts)))
        title = _TRAILING_SPECK.sub("", title)
        if languages[:1] == ("vie",):  # no abbreviation in a Vietnamese subject: a speck
            title = _STOP_IN_PHRASE.sub(lambda m: " " if m[1].islower() else m[0], title)
        return (index, title) if title else None
    return None


def _is_cong_van(line: _Line) -> bool:
    """A "V/v" subject under the number is what marks a Vietnamese công văn."""
    return bool(_CONG_VAN_LABEL.match(line.key))


# --------------------------------------------------------------------------- issuer


def _letterhead_part(line: _Line) -> str:
    """The line without the national motto, which a two-column letterhead puts beside the
    organisation's name ("BỘ QUỐC PHÒNG CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "TỔNG CỤC
    CHÍNH TRỊ Độc lập - Tự do - Hạnh phúc")."""
    motto = _MOTTO.search(line.key) or _MOTTO_TAIL.search(line.key)
    return _trim(line.text[:motto.start()] if motto else line.text)


_LETTERHEAD_WORDS = 10  # more is a sentence, not the name of an office


def _issuer(lines: Sequence[_Line], end: int, vietnamese: bool) -> str | None:
    """The letterhead: the first run of lines above the first field, at most four.

    Vietnamese letterheads are set in capitals, so only capital lines count there; German
    and English ones are not. A gap ends the run: what follows is an address or a field.
    """
    parts: list[str] = []
    for line in lines[:end]:
        if line.blank:
            if parts:
                break
            continue
        text = _letterhead_part(line)
        if not text or _is_noise(_Line(text, _fold(text))):
            continue
        if (vietnamese and not _is_upper(text)) or len(text.split()) > _LETTERHEAD_WORDS:
            continue
        parts.append(_final_stop(_despeck(text)))
    return " / ".join(parts[:4]) or None


_HYPHEN_AT_END = re.compile(r"[^\W\d_]{2}[-\u2010]$")


def _final_stop(text: str) -> str:
    """Drop a full stop a speck put after a letterhead line or subject ("Records
    Service.", "lưu trữ."): neither is a sentence. Keep those of abbreviations, which
    are short and capitalised or dotted inside ("Ltd.", "Abt.", "e.V.")."""
    if _HYPHEN_AT_END.search(text):  # "Landesarchiv-": a speck, or a wrap that never went on
        return text[:-1]
    last = text.split()[-1][:-1] if text.endswith((".", ",")) else ""
    letters = len(_letters(last))
    word = letters >= 2 and "." not in last and (letters >= 4 or last.islower())
    return text[:-1] if word or last.isdigit() else text


# --------------------------------------------------------------------------- the letter


def _main_page(pages: Sequence[str], vietnamese: bool) -> list[_Line]:
    """The first page with text on it: a blank leading sheet is not the letter."""
    for page in pages:
        lines = _lines(page, vietnamese)
        if any(not _is_noise(line) for line in lines if not line.blank):
            return lines
    return []


def _letterhead_end(mottos: list[int], *fields: tuple[int, object] | None) -> int:
    """The line where the letterhead ends: the first field found, else the line after
    the motto. Without either, the top of the page is not known to be a letterhead (a
    book page, a form), and no issuer is read from it."""
    found = [field[0] for field in fields if field]
    if found:
        return min(found)
    return mottos[-1] + 1 if mottos else 0


_HEAD_LINES = 24  # an authority's name is printed within this many lines of the top
"""The whole head is searched for the issuer, not only the lines above the first field: a
two-column head puts the body beside the number, and a German letter prints it top right,
after the return address in the text Tesseract reads."""


def _reference_code(value: str, codes: tuple[str, ...], notes: dict[str, str]) -> str:
    """A German reference led by its issuer's code ("HAStK 9.60-406/2020"), the code put
    right when OCR misread it ("HASIK") and it can only be one of the issuer's *codes*."""
    glued = next((code for code in codes if value.startswith(code) and
                  value[len(code):][:1].isdigit()), None)
    if glued:  # "BMI7.97-801/2022": the space after the code lost
        notes["document_number"] = f"space put back after the issuer's code {glued!r}"
        return f"{glued} {value[len(glued):]}"
    match = re.fullmatch(r"([^\W\d_]+) (\d\S*)", value)
    if not match or match[1] in codes:
        return value
    fit = correct_code(match[1], codes)
    if fit is None:
        return value
    notes["document_number"] = f"code {match[1]!r} read as {fit!r} (the authority list)"
    return f"{fit} {match[2]}"


_HEAD_FIELDS = ("document_number", "document_date", "issuer", "document_type")
_AGREEING = 2  # readings of the head that must give the same value for it to be taken


LinesAgain = Callable[[list[str]], list[list[str]]]
"""Reads lines of the first page again apart from it (``ocr.page.reread_lines``): given
their texts, one list of new readings per way of reading, or none."""


def extract_fields(pages: list[str], language: str | None = None,
                   authorities: AuthorityList | None = None,
                   second_look: Callable[[], list[str]] | None = None,
                   lines_again: LinesAgain | None = None,
                   known: Collection[str] = ()) -> Extracted:
    """Read number, date, issuer, type and subject off a letter's OCR text.

    pages: OCR text of each page (the first page with text is the one read; the fields
    of a letter are on its first page); language: Tesseract code(s) like "vie", "deu",
    "eng" or "vie+eng", a hint that orders the conventions tried; None tries all, the
    language the page looks written in first; authorities: the bodies an issuer is matched
    against (None: the letterhead's lines are the issuer, as read); second_look: reads the
    first page's head again on its own, several ways (``ocr.page.reread_head``), called
    only when a field of the head was not found: a value two readings agree on fills such
    a field, and never replaces one found the first time; lines_again: reads the subject's
    lines again (``LinesAgain``): the subject two of three readings agree on is taken, and
    one they all disagree on is kept but marked unsure, for a person; known: the fields the
    caller already has from elsewhere (a manifest's), which are never read again: each
    second reading is a Tesseract run.
    """
    first = _read(pages, language, authorities)
    first = _head_again(first, pages, language, authorities, second_look, known)
    return first if "title" in known else _subject_again(first, pages, language, lines_again)


def _head_again(first: Extracted, pages: list[str], language: str | None,
                authorities: AuthorityList | None,
                second_look: Callable[[], list[str]] | None,
                known: Collection[str]) -> Extracted:
    """The head's missing fields, from what two of its readings apart agree on."""
    missing = [name for name in _HEAD_FIELDS if getattr(first, name) is None
               and name not in known]
    # A letterhead read but naming no body of the list is not a misreading: it asks for a
    # person (or an entry in the list), not for a second look.
    asks = [name for name in missing if name != "issuer" or authorities is None]
    if not asks or second_look is None:
        return first
    readings = [_read([text], language, authorities) for text in second_look() if text.strip()]
    found: dict[str, str] = {}
    notes = {**first.notes}
    for name in asks:
        votes = Counter(value for again in readings if (value := getattr(again, name)))
        if votes:
            value, count = votes.most_common(1)[0]
            if count >= _AGREEING:  # one reading alone is a guess: it stays for a person
                found[name] = value
                said = next(again.notes.get(name) for again in readings
                            if getattr(again, name) == value)
                notes[name] = (f"read again from the head of the first page ({count} of "
                               f"{len(readings)} readings agree)" + (f": {said}" if said else ""))
    return replace(first, **found, notes=notes) if found else first


_SUBJECT_LINES = 6  # a subject's label line and its wrapped lines, with a gap among them


def _subject_again(first: Extracted, pages: list[str], language: str | None,
                   lines_again: LinesAgain | None) -> Extracted:
    """The subject as two of three readings of its lines have it: the page's, and the
    lines read again apart from it (bold, centred subjects are where the page's model
    misreads with confidence: "Tống kết" for "Tổng kết", "Aufbewahrungstristen").

    Nothing changes where the lines cannot be read again (another page than the first
    holds the letter, the lines are not found); all three readings differing keeps the
    page's, marked unsure with the readings in its note.
    """
    vietnamese = language is None or "vie" in language
    lines = _main_page(pages, vietnamese)
    if first.title is None or lines_again is None or not pages or \
            lines != _lines(pages[0], vietnamese):
        return first
    languages = _languages(language, lines)
    kind = _document_type(lines, languages)
    subject = _subject(lines, languages, kind[0] if kind else None)
    if subject is None or subject[1] != first.title:
        return first
    span = _subject_span(lines, subject[0], first.title)
    titles = [first.title]
    for reading in lines_again([lines[at].text for at in span]):
        again = list(lines)
        for at, text in zip(span, reading, strict=True):
            cleaned = _clean(text, vietnamese)
            again[at] = _Line(cleaned, _fold(cleaned))
        found = _subject(again, languages, kind[0] if kind else None)
        titles.append(found[1] if found else "")
    if len(titles) == 1:
        return first
    best, count = Counter(titles).most_common(1)[0]
    notes = dict(first.notes)
    if count < _AGREEING or not best:
        best, count = _word_by_word(titles) or "", 0
    if best:
        if best == first.title:
            return first
        agree = f"{count} of {len(titles)} readings agree" if count else \
            f"each word as two of {len(titles)} readings have it"
        notes["title"] = (f"its lines read again apart from the page ({agree}; the page "
                          f"read {first.title!r})")
        return replace(first, title=best, notes=notes)
    said = " / ".join(repr(title) for title in dict.fromkeys(titles) if title)
    notes["title"] = f"its readings differ ({said}): check it against the scan"
    return replace(first, notes=notes, unsure=(*first.unsure, "title"))


def _word_by_word(titles: Sequence[str]) -> str | None:
    """The subject each of whose words two readings agree on ("Chỉnh lý tài liệu tồn đọng"
    from "tôn đọng", "tải liệu" and "Chinh lý"), when the readings have as many words;
    None when a word has no two readings alike."""
    readings = [title.split() for title in titles]
    if len({len(words) for words in readings}) != 1:
        return None
    chosen = []
    for words in zip(*readings, strict=True):
        word, count = Counter(words).most_common(1)[0]
        if count < _AGREEING:
            return None
        chosen.append(word)
    return " ".join(chosen)


def _subject(lines: Sequence[_Line], languages: Sequence[str], kind: int | None
             ) -> tuple[int, str] | None:
    """(line, subject): the labelled subject, else, in German, the unlabelled one."""
    title = _title(lines, languages)
    if title is None and "deu" in languages:
        title = _unlabelled_subject(lines, kind, languages)
    return title


def _subject_span(lines: Sequence[_Line], at: int, title: str) -> list[int]:
    """The lines the subject was read from: from its first, those that share its words,
    until its last word is in."""
    words = _fold(title).split()
    span: list[int] = []
    for index in range(at, min(at + _SUBJECT_LINES, len(lines))):
        line = lines[index]
        if line.blank:
            continue
        if span and not set(line.key.split()) & set(words):
            break
        span.append(index)
        if words and words[-1] in line.key.split():
            break
    return span


def _read(pages: list[str], language: str | None,
          authorities: AuthorityList | None) -> Extracted:
    lines = _main_page(pages, vietnamese=language is None or "vie" in language)
    languages = _languages(language, lines)
    number = _number(lines, languages)
    date = _date(lines, languages)
    title = _title(lines, languages)
    kind = _document_type(lines, languages)
    if kind is None and title and _is_cong_van(lines[title[0]]):
        kind = title[0], _CONG_VAN
    notes: dict[str, str] = {}
    if title is None and "deu" in languages:  # DIN 5008; an English subject follows "Dear"
        title = _unlabelled_subject(lines, kind[0] if kind else None, languages)
        if title:
            notes["title"] = "the line above the salutation (no subject label)"
    mottos = [index for index, line in enumerate(lines) if _MOTTO.search(line.key)]
    vietnamese = bool(mottos) or bool(number and _number_in(lines[number[0]], "vie"))
    issuer_codes: tuple[str, ...] = ()
    if authorities is None:
        issuer = _issuer(lines, _letterhead_end(mottos, number, date, title, kind), vietnamese)
    else:
        body = [found[0] for found in (title, kind) if found]
        head = [_letterhead_part(line) for line in lines[:min(body) if body else len(lines)]]
        reading = authorities.match(head[:_HEAD_LINES], number[1] if number else None)
        issuer, notes["issuer"] = (reading.match.heading if reading.match else None), reading.note
        if reading.match:  # a misread code is put right only to the issuer's own codes
            found = reading.match.authority
            issuer_codes = tuple(c for a in (found, *authorities.ancestors(found))
                                 for c in a.codes)
    if number and _number_in(lines[number[0]], "vie") == number[1]:
        read = read_vietnamese_number(
            number[1], kind[1] if kind else None,
            (lambda code: authorities.get(code) is not None) if authorities else None,
            issuer_codes)
        number = number[0], read.value
        if read.note:
            notes["document_number"] = read.note
    elif number and issuer_codes:
        number = number[0], _reference_code(number[1], issuer_codes, notes)
    return Extracted(
        document_number=number[1] if number else None,
        document_date=date[1].isoformat() if date else None,
        issuer=issuer,
        document_type=kind[1] if kind else None,
        title=title[1] if title else None,
        notes=notes,
    )
