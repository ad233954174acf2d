"""The page stage: raster, deskew, recognise, turn upright if needed; cached by content.

A page's result depends only on its bytes and the OCR options, so it is stored under a hash of
both. A rerun after a crash, or the same page met on another machine sharing the cache, finds
the result and does no work. Results are staged and committed by rename: a killed process
leaves either nothing or a complete result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from difflib import SequenceMatcher
from pathlib import Path

import pytesseract
from PIL import Image

from ocr.deskew import estimate_skew, reduced, text_is_vertical
from ocr.errors import InputRejected, OcrFailed
from ocr.faults import reading
from ocr.inputs import PageRef
from ocr.language import decide_language
from ocr.options import OcrOptions
from ocr.orient import detect_orientation, turn_from_ink
from ocr.raster import MIN_TEXT_LAYER_CHARS, image_raster, pdf_raster, pdf_text, scan_raster
from ocr.recognize import (
    Recognition,
    alto_lines,
    installed_models,
    recognize,
    tesseract_version,
)

ENGINE_REVISION = "7"  # bump when the page stage changes what it produces
_OUTPUT_FILES = ("page.txt", "page.hocr", "page.xml")
_FEW_WORDS = 8


@dataclass
class PageResult:
    """What a page became; small and JSON-friendly, as it travels between tasks."""

    number: int
    key: str
    directory: str  # holds page.txt, page.hocr and page.xml (ALTO)
    ocr: bool  # False when an existing PDF text layer was kept
    dpi: float
    dpi_x: float
    dpi_y: float
    dpi_source: str
    encoding: str
    width_px: int  # the raster as recognised (after turning)
    height_px: int
    rotation: int = 0  # degrees clockwise the page was turned
    orientation_confidence: float | None = None
    skew: float = 0.0  # degrees counter-clockwise the text lay; undone before recognition
    words: int = 0
    mean_confidence: float | None = None
    low_confidence: bool = False
    engine: str = ""
    seconds: float = 0.0
    cached: bool = False
    chars: int = 0
    notes: list[str] = field(default_factory=list)
    had_text: bool = False  # a PDF page that came with a text layer (kept, or redone)
    rendered: bool = False  # the archival copy shows this page rendered as an image
    language: str = ""  # the model(s) it was recognised with ("vie", or "vie+deu")
    language_source: str = ""  # "given", "detected" (one of several), "undecided" (union)

    @property
    def path(self) -> Path:
        return Path(self.directory)

    @property
    def text(self) -> str:
        return (self.path / "page.txt").read_text(encoding="utf-8")

    @property
    def size_pt(self) -> tuple[float, float]:
        """Size of the finished (upright, level) page in PDF points."""
        return self.width_px * 72 / self.dpi, self.height_px * 72 / self.dpi


def page_key(ref: PageRef, options: OcrOptions) -> str:
    material = {
        "file": ref.file_sha256, "kind": ref.kind, "index": ref.index,
        "raster_dpi": ref.raster_dpi, "options": options.cache_fields(),
        "engine": tesseract_version(), "revision": ENGINE_REVISION,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _level(image: Image.Image, skew: float) -> Image.Image:
    if not skew:
        return image
    resample = Image.Resampling.NEAREST if image.mode == "1" else Image.Resampling.BICUBIC
    return image.rotate(-skew, resample=resample, expand=False, fillcolor=255)


def _recognise(image: Image.Image, dpi: float, base: Path, options: OcrOptions) -> Recognition:
    # PNM: written at memory speed, read by Tesseract as is; the resolution goes by --dpi.
    picture = base.with_suffix(".pnm")
    image.save(picture, format="PPM")
    return recognize(picture, base, options.languages, dpi, options.page_timeout)


def _sideways(rec: Recognition) -> bool:
    return rec.sideways > 0.5


def _doubtful(rec: Recognition, options: OcrOptions) -> bool:
    return rec.words < _FEW_WORDS or rec.mean_confidence < options.orientation_gate


def _upright_by_osd(image: Image.Image, dpi: float, stage: Path, options: OcrOptions,
                    result: PageResult) -> tuple[Image.Image, int]:
    """Turn a page whose lines run vertically, the way OSD says; (image, degrees clockwise)."""
    picture = stage / "osd.pnm"
    image.save(picture, format="PPM")
    osd = detect_orientation(picture, options.page_timeout)
    result.orientation_confidence = osd.confidence
    if osd.rotate in (90, 270) and osd.confidence >= options.orientation_min_confidence:
        return image.rotate(-osd.rotate, expand=True), osd.rotate
    return image, 0


def _turn_to_try(rec: Recognition, options: OcrOptions) -> int:
    """Degrees clockwise worth trying after recognition, or 0 to keep the page as it is.

    Lines still vertical: Tesseract reads vertical lines top to bottom only, so lines it
    reads well run down the page (turn 270) and lines it cannot read run up it (turn 90).
    Lines horizontal but recognition poor: the one turn left is upside down (180).
    """
    if _sideways(rec):
        return 270 if rec.mean_confidence >= options.orientation_gate else 90
    return 180 if _doubtful(rec, options) else 0


def _better(turned: Recognition, lying: Recognition) -> bool:
    if _sideways(lying) != _sideways(turned):
        return not _sideways(turned)
    return turned.mean_confidence > lying.mean_confidence


def _prepare(image: Image.Image, options: OcrOptions) -> tuple[Image.Image, float]:
    skew = estimate_skew(image) if options.deskew else 0.0
    return _level(image, skew), skew


def _orient(image: Image.Image, small: Image.Image, skew: float, dpi: float, stage: Path,
            options: OcrOptions, result: PageResult) -> tuple[Image.Image, int]:
    """Turn the page upright from its ink, or by OSD when the ink cannot tell.

    *small* is the page reduced once for every measurement; *skew* its measured skew.
    """
    vertical = text_is_vertical(small)
    level_small = small.rotate(-skew, fillcolor=255) if skew and not vertical else small
    turn = turn_from_ink(level_small, vertical)
    if turn is None:
        return _upright_by_osd(image, dpi, stage, options, result) if vertical else (image, 0)
    return (image.rotate(-turn, expand=True) if turn else image), turn


def _page_language(image: Image.Image, dpi: float, stage: Path, options: OcrOptions,
                   result: PageResult) -> OcrOptions:
    """The options with this page's one language when several are allowed and the page
    says which (``ocr.page_language = "detect"``); the decision is kept with the page."""
    if "+" not in options.languages or options.page_language != "detect":
        result.language, result.language_source = options.languages, "given"
        return options
    decision = decide_language(image, dpi, stage, options.languages, options.page_timeout)
    result.language, result.language_source = decision.language, decision.source
    return replace(options, languages=decision.language)


def _ocr_raster(image: Image.Image, dpi: float, stage: Path, options: OcrOptions,
                result: PageResult) -> None:
    """Turn, level and recognise a page; if it still reads badly, try it turned once more.

    Orientation costs as little as possible: which way lines run and which side of them
    carries more ink say how to turn most pages in milliseconds; OSD is asked only for
    sideways pages the ink cannot settle; a page that then reads badly is tried the other
    way up, and the better reading is kept.
    """
    small = reduced(image)
    skew = estimate_skew(small) if options.deskew else 0.0
    turn = 0
    if options.rotate_pages:
        image, turn = _orient(image, small, skew, dpi, stage, options, result)
        if turn in (90, 270) and options.deskew:
            skew = estimate_skew(small.rotate(-turn, expand=True))
    level = _level(image, skew)
    options = _page_language(level, dpi, stage, options, result)
    rec = _recognise(level, dpi, stage / "page", options)
    result.rotation, result.skew = turn, skew
    result.width_px, result.height_px = level.width, level.height
    again = _turn_to_try(rec, options) if options.rotate_pages else 0
    if again:
        turned_level, turned_skew = _prepare(image.rotate(-again, expand=True), options)
        other = _recognise(turned_level, dpi, stage / "turned", options)
        if _better(other, rec):
            for name in _OUTPUT_FILES:
                os.replace(stage / name.replace("page", "turned"), stage / name)
            rec = replace(other, base=stage / "page")
            result.rotation, result.skew = (turn + again) % 360, turned_skew
            result.width_px, result.height_px = turned_level.width, turned_level.height
        else:
            result.notes.append(f"turning by {again} degrees read worse; kept as it was")
    for leftover in {*stage.glob("*.pnm"), *stage.glob("turned.*")}:
        leftover.unlink()
    result.words, result.mean_confidence = rec.words, rec.mean_confidence
    result.low_confidence = rec.mean_confidence < options.low_confidence
    result.chars = len(rec.text.strip())


def process_page(ref: PageRef, options: OcrOptions, cache: Path) -> PageResult:
    """Produce (or find) the OCR result of one page."""
    key = page_key(ref, options)
    final = cache / key[:2] / key
    done = final / "result.json"
    if done.is_file():
        result = PageResult(**json.loads(done.read_text(encoding="utf-8")))
        result.number, result.directory, result.cached = ref.number, str(final), True
        return result
    started = time.perf_counter()
    stage = final.parent / f".{key}.{uuid.uuid4().hex}"
    stage.mkdir(parents=True)
    try:
        with reading(f"page {ref.number}"):
            result = _fresh_page(ref, options, stage, key)
        result.seconds = round(time.perf_counter() - started, 3)
        result.directory = str(final)
        (stage / "result.json").write_text(json.dumps(asdict(result)), encoding="utf-8")
        try:
            os.rename(stage, final)
        except OSError:
            if not done.is_file():  # another worker committed the same page first: use it
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return result


def _fresh_page(ref: PageRef, options: OcrOptions, stage: Path, key: str) -> PageResult:
    had_text = False
    if ref.kind == "pdf":
        raster = scan_raster(ref)  # a scanned page: its image as stored, and no text to keep
        if raster is None:
            existing = pdf_text(ref, options.page_timeout)
            had_text = len(existing.strip()) >= MIN_TEXT_LAYER_CHARS
            if had_text and not options.redo_ocr:
                return _kept_text_page(ref, existing, stage, key)
            raster = pdf_raster(ref, options.page_timeout)
    else:
        raster = image_raster(ref, options.default_dpi)
    result = PageResult(
        number=ref.number, key=key, directory=str(stage), ocr=True, dpi=raster.dpi,
        dpi_x=raster.resolution.x, dpi_y=raster.resolution.y,
        dpi_source=raster.resolution.source, encoding=raster.encoding,
        width_px=raster.image.width, height_px=raster.image.height,
        engine=f"tesseract {tesseract_version()}", had_text=had_text,
    )
    _ocr_raster(raster.image, raster.dpi, stage, options, result)
    return result


HEAD_SHARE = 0.32
"""The top of a first page that holds a letter's head (letterhead, number, place and date,
kind): a third of A4 in every layout the extractor knows."""


def _recognised_image(ref: PageRef, page: PageResult, options: OcrOptions
                      ) -> tuple[Image.Image, Image.Image] | None:
    """The page drawn again: (as recognised, turned and levelled; as the scanner stored it,
    turned only). None for a page that was not recognised, or whose image cannot be had."""
    if not page.ocr:
        return None
    try:
        if ref.kind == "pdf":
            raster = scan_raster(ref) or pdf_raster(ref, options.page_timeout)
        else:
            raster = image_raster(ref, options.default_dpi)
    except (InputRejected, OcrFailed, OSError):  # it was drawn once; if not again, the
        return None                              # first reading stands as it is
    image = raster.image.rotate(-page.rotation, expand=True) if page.rotation else raster.image
    return _level(image, page.skew), image


def reread_head(ref: PageRef, page: PageResult, options: OcrOptions) -> list[str]:
    """The head of a recognised page read again on its own, three ways: as the page was
    recognised (turned and levelled), as the scanner stored it (turned only), and levelled
    at one and a half times the scale.

    Read with the whole page, the head's small, italic or capital lines fall as the page's
    layout has them; read apart, each way gives a reading of its own, and a misread digit
    ("ngày 33" for 23 in an italic date line) is seldom misread the same way twice. The
    extractor takes a value only where two readings agree. Called only when a field of the
    head could not be read (bench/extract.py measures how often, and what it costs).
    Returns no reading for a page that was not recognised, or whose image cannot be had.
    """
    drawn = _recognised_image(ref, page, options)
    if drawn is None:
        return []
    level, image = drawn

    def head(picture: Image.Image) -> Image.Image:
        return picture.crop((0, 0, picture.width, round(picture.height * HEAD_SHARE)))

    larger = head(level.convert("L"))
    larger = larger.resize((round(larger.width * 1.5), round(larger.height * 1.5)),
                           Image.Resampling.LANCZOS)
    ways = ((head(level), page.dpi), (head(image), page.dpi), (larger, page.dpi * 1.5))
    language = page.language or options.languages
    readings = []
    for picture, dpi in ways:
        try:
            readings.append(str(pytesseract.image_to_string(
                picture, lang=language, config=f"--psm 3 --dpi {round(dpi)}",
                timeout=options.page_timeout)))
        except (pytesseract.TesseractError, RuntimeError, OSError):
            continue  # one way that fails leaves the others
    return readings


LINE_READINGS: dict[str, tuple[str, tuple[float, ...]]] = {"vie": ("Vietnamese", (1.0, 1.5))}
"""How a line is read again, by the page's language: with which model, at which scales.

Measured on the subjects of office letters (bench/extract.py): the bold, centred capitals
and stacked marks that the fast ``vie`` model misreads with confidence ("Tống kết" for
"Tổng kết", 96%) the ``Vietnamese`` script model reads right at either scale, and it loads
in 0.08 s. Latin-script languages are read again with their own model, larger
(``LINE_SCALES``): the ``Latin`` script model read German compounds better but takes 0.9 s
to load, more than the page's whole recognition."""
LINE_SCALES = (1.5, 2.0)
"""Scales a line is read again at with the page's own model."""
_SAME_LINE = 0.8  # similarity at which a line of the text is the line Tesseract wrote


def reread_lines(ref: PageRef, page: PageResult, options: OcrOptions,
                 texts: Sequence[str]) -> list[list[str]]:
    """Lines of a recognised page (*texts*, as its text has them) read again apart from the
    page: one reading of all of them per way (``LINE_READINGS``), in their order.

    A subject set in bold or centred is misread the way its layout makes it, and a line read
    on its own, at another scale or with another model, is seldom misread the same way: the
    extractor keeps what two readings of three agree on. All the lines of all ways are
    stacked in one image, so a look costs one model load. No reading (an empty list) where
    a line cannot be found among those Tesseract wrote, or the page cannot be drawn again.
    """
    boxes = _line_boxes(page, texts)
    drawn = _recognised_image(ref, page, options) if boxes else None
    if drawn is None or not boxes:
        return []
    language = page.language or options.languages
    model, scales = LINE_READINGS.get(language, (language, LINE_SCALES))
    if model not in installed_models():
        model, scales = language, LINE_SCALES
    sheet = _stacked(drawn[0].convert("L"), boxes, scales)
    try:
        read = str(pytesseract.image_to_string(
            sheet, lang=model, config=f"--psm 6 --dpi {round(page.dpi)}",
            timeout=options.page_timeout))
    except (pytesseract.TesseractError, RuntimeError, OSError):
        return []  # the first reading stands
    lines = [line.strip() for line in read.splitlines() if line.strip()]
    if len(lines) != len(boxes) * len(scales):
        return []  # a line lost or split: the readings no longer line up with the text
    return [lines[at:at + len(boxes)] for at in range(0, len(lines), len(boxes))]


def _line_boxes(page: PageResult, texts: Sequence[str]) -> list[tuple[int, int, int, int]]:
    """Where each of *texts* stands on the page, from its ALTO; empty if one is not found."""
    try:
        written = alto_lines(Path(page.directory) / "page.xml")
    except (OSError, ET.ParseError):
        return []
    boxes, start = [], 0
    for text in texts:
        wanted = " ".join(text.split())
        found = next((at for at in range(start, len(written)) if SequenceMatcher(
            None, wanted, written[at].text).ratio() >= _SAME_LINE), None)
        if found is None:
            return []
        boxes.append(_with_margin(written[found].box, [line.box for line in written]))
        start = found + 1
    return boxes


def _with_margin(box: tuple[int, int, int, int], others: Sequence[tuple[int, int, int, int]]
                 ) -> tuple[int, int, int, int]:
    """The line's box with a margin that takes in no part of the lines above and below (a
    subject's wrapped line ten pixels under it, half cut off, is read as garbage)."""
    left, top, right, bottom = box
    margin = max(4, (bottom - top) // 3)
    above = [b for _, _, _, b in (o for o in others if o[0] < right and o[2] > left)
             if b <= top]
    below = [t for _, t, _, _ in (o for o in others if o[0] < right and o[2] > left)
             if t >= bottom]
    up = min(margin, (top - max(above)) // 2) if above else margin
    down = min(margin, (min(below) - bottom) // 2) if below else margin
    return left - margin, top - up, right + margin, bottom + down


def _stacked(image: Image.Image, boxes: Sequence[tuple[int, int, int, int]],
             scales: Sequence[float]) -> Image.Image:
    """Each line cut out (its box has its margin), at each scale in turn, one under the
    other on white with a line's height between them, so Tesseract reads them as a block."""
    crops = []
    for scale in scales:
        for left, top, right, bottom in boxes:
            crop = image.crop((max(0, left), max(0, top), min(image.width, right),
                               min(image.height, bottom)))
            if scale != 1:
                crop = crop.resize((round(crop.width * scale), round(crop.height * scale)),
                                   Image.Resampling.LANCZOS)
            crops.append(crop)
    gap = max(crop.height for crop in crops)
    sheet = Image.new("L", (max(c.width for c in crops) + 2 * gap,
                            sum(c.height for c in crops) + gap * (len(crops) + 1)), 255)
    y = gap
    for crop in crops:
        sheet.paste(crop, (gap, y))
        y += crop.height + gap
    return sheet


def _kept_text_page(ref: PageRef, text: str, stage: Path, key: str) -> PageResult:
    (stage / "page.txt").write_text(text, encoding="utf-8")
    return PageResult(
        number=ref.number, key=key, directory=str(stage), ocr=False, dpi=ref.raster_dpi,
        dpi_x=ref.raster_dpi, dpi_y=ref.raster_dpi, dpi_source="pdf-image", encoding="pdf",
        width_px=0, height_px=0, chars=len(text.strip()), engine="existing text layer",
        had_text=True,
        notes=["the page already had a text layer; it was kept (use --redo-ocr to replace it)"],
    )
