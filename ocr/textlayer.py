"""The invisible text layer, drawn from ALTO word boxes with Tesseract's glyphless font.

Tesseract's own PDF renderer sets each line on its fitted baseline, tilted by fractions of a
degree; poppler's pdftotext (and the viewers built on it) then split such lines into columns,
and phrase search breaks. Here every word is set upright at its box, one text line on one
baseline, stretched to reach the next word, as OCRmyPDF's renderer does. The font is the
glyphless TrueType Tesseract ships (every code maps to one empty glyph, Unicode in, Unicode
out), embedded once per document, which is what PDF/A asks of fonts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zlib
from functools import cache
from pathlib import Path
from typing import IO

import pikepdf

from ocr.errors import OcrFailed
from ocr.recognize import tessdata

FONT_NAME = "/GlyphLess"
_GLYPH_WIDTH = 0.5  # the font's advance (DW 500) in text space units per point of size
_TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


@cache
def glyphless_font_file() -> Path:
    """Tesseract's pdf.ttf, from its tessdata folder."""
    folder = tessdata().folder
    path = folder / "pdf.ttf" if folder else Path()
    if not path.is_file():
        raise OcrFailed("Tesseract's glyphless font (tessdata/pdf.ttf) was not found")
    return path


def glyphless_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """A Type 0 font whose character codes are Unicode (UTF-16BE) and draw nothing."""
    font_file = pdf.make_stream(glyphless_font_file().read_bytes())
    font_file.Length1 = len(glyphless_font_file().read_bytes())
    cid_to_gid = pdf.make_stream(zlib.compress(b"\x00\x01" * 65536),
                                 Filter=pikepdf.Name.FlateDecode)
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name.GlyphLessFont, Flags=5,
        FontBBox=[0, 0, 500, 1000], ItalicAngle=0, Ascent=1000, Descent=-1, CapHeight=1000,
        StemV=80, FontFile2=font_file,
    )
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2,
        BaseFont=pikepdf.Name.GlyphLessFont, DW=500, CIDToGIDMap=cid_to_gid,
        CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
        FontDescriptor=descriptor,
    )
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name.GlyphLessFont,
        Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=[cid_font],
        ToUnicode=pdf.make_stream(_TO_UNICODE),
    ))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _hex(text: str) -> str:
    """UTF-16BE code units, as the font's Identity-H encoding and ToUnicode expect."""
    return "".join(f"{ord(ch):04X}" for ch in text if ord(ch) <= 0xFFFF)


def _box(element: ET.Element) -> tuple[float, float, float, float]:
    return tuple(float(element.get(k, 0)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))  # type: ignore[return-value]


def text_layer(alto: Path | IO[bytes], dpi: float, page_height: float) -> bytes:
    """Content-stream operators that lay every ALTO word invisibly over its place (the ALTO a
    file, or bytes being read: a corrected ALTO is drawn again from the archive).

    Coordinates in the ALTO are pixels of the recognised image at *dpi*, top-left origin;
    the page is *page_height* points high.
    """
    scale = 72.0 / dpi
    ops: list[str] = []
    for line in ET.parse(alto).iter():
        if _local(line.tag) != "TextLine":
            continue
        words = [(w.get("CONTENT", ""), _box(w)) for w in line
                 if _local(w.tag) == "String" and w.get("CONTENT", "").strip()]
        if not words:
            continue
        _, top, _, height = _box(line)
        size = max(height * scale, 1.0)
        baseline = page_height - (top + height) * scale
        ops.append(f"BT 3 Tr /{FONT_NAME[1:]} {size:.2f} Tf")
        for index, (content, (x, _, width, _)) in enumerate(words):
            last = index == len(words) - 1
            text = content if last else content + " "
            reach = width if last else words[index + 1][1][0] - x
            stretch = 100.0 * reach * scale / (len(text) * _GLYPH_WIDTH * size)
            ops.append(f"1 0 0 1 {x * scale:.2f} {baseline:.2f} Tm {stretch:.2f} Tz "
                       f"<{_hex(text)}> Tj")
        ops.append("ET")
    return "\n".join(ops).encode("ascii")
