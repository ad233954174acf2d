"""A page's words where they stand on the scan, from its ALTO, and the text they make.

Tesseract's ALTO gives every word (``String``) an id, a box in the page image's pixels and a
confidence, in lines and blocks. People correct words there; the corrected ALTO keeps every
box and id and changes only ``CONTENT``, and the page's text is made from it as Tesseract
makes its own: words of a line joined by a space, lines by a newline, blocks by a blank line.
The OCR's own ``pages/NNNN.alto.xml`` and ``.txt`` are never changed: a corrected page is
``pages/NNNN.corrected.alto.xml`` and ``.corrected.txt`` in a later version.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from archive.store.layout import RecordPaths
from archive.store.objects import ObjectDamaged

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v3#"
_NAMESPACES = {"": ALTO_NS, "xlink": "http://www.w3.org/1999/xlink",
               "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
for _prefix, _uri in _NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


def page_file(number: int, kind: str, corrected: bool = False) -> str:
    """The logical path of a page's file: kind "txt", "alto.xml" or "hocr"."""
    return f"pages/{number:04d}.{'corrected.' if corrected else ''}{kind}"


def is_corrected(logical: str) -> bool:
    return ".corrected." in logical


@dataclass(frozen=True)
class Word:
    """One word on the page: its ALTO id, text, box (pixels of the recognised image) and the
    OCR's confidence (0-1; None when the page was not recognised by Tesseract)."""

    id: str
    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float | None


@dataclass(frozen=True)
class PageWords:
    """A page's words by line, with the size of the image their boxes are in."""

    number: int
    width: int
    height: int
    lines: list[list[Word]]
    corrected: bool  # read from a corrected ALTO

    def words(self) -> dict[str, Word]:
        return {w.id: w for line in self.lines for w in line}


def read_alto(paths: RecordPaths, number: int, version: str | None = None
              ) -> tuple[ET.ElementTree, bool] | None:
    """A page's ALTO as a version holds it (corrected if it was), and whether corrected;
    None when the page has no ALTO (a kept text layer)."""
    for corrected in (True, False):
        file = paths.file(page_file(number, "alto.xml", corrected), version)
        if file is not None:
            try:
                return ET.parse(file), corrected
            except (OSError, ET.ParseError) as exc:
                raise ObjectDamaged(f"{paths.record_id}: page {number}'s ALTO cannot be "
                                    f"read ({type(exc).__name__})") from None
    return None


def page_words(paths: RecordPaths, number: int, version: str | None = None) -> PageWords | None:
    """The words of page ``number`` as a version holds them; None without an ALTO."""
    found = read_alto(paths, number, version)
    if found is None:
        return None
    tree, corrected = found
    page = tree.getroot().find(f".//{{{ALTO_NS}}}Page")
    width, height = (int(float(page.get(a, "0"))) for a in ("WIDTH", "HEIGHT")) \
        if page is not None else (0, 0)
    lines = [[_word(s) for s in line.iter(f"{{{ALTO_NS}}}String")]
             for line in tree.getroot().iter(f"{{{ALTO_NS}}}TextLine")]
    return PageWords(number, width, height, [line for line in lines if line], corrected)


def _word(element: ET.Element) -> Word:
    confidence = element.get("WC")
    return Word(element.get("ID", ""), element.get("CONTENT", ""),
                *(int(float(element.get(a, "0"))) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT")),
                float(confidence) if confidence else None)


def contents(tree: ET.ElementTree) -> dict[str, str]:
    """Each word's text by its ALTO id."""
    return {s.get("ID", ""): s.get("CONTENT", "")
            for s in tree.getroot().iter(f"{{{ALTO_NS}}}String")}


def with_words(tree: ET.ElementTree, words: dict[str, str]) -> bytes:
    """The ALTO with the ``CONTENT`` of the words ``words`` names replaced (their boxes and
    ids kept), as bytes to store."""
    for element in tree.getroot().iter(f"{{{ALTO_NS}}}String"):
        if element.get("ID") in words:
            element.set("CONTENT", words[element.get("ID", "")])
    return ET.tostring(tree.getroot(), encoding="utf-8", xml_declaration=True)


def text_of(tree: ET.ElementTree) -> str:
    """The page's text from its ALTO: lines of words, blocks apart (an emptied word gone)."""
    blocks = []
    for block in tree.getroot().iter(f"{{{ALTO_NS}}}TextBlock"):
        lines = [" ".join(c for s in line.iter(f"{{{ALTO_NS}}}String")
                          if (c := s.get("CONTENT", "").strip()))
                 for line in block.iter(f"{{{ALTO_NS}}}TextLine")]
        text = "\n".join(line for line in lines if line)
        if text:
            blocks.append(text)
    return "\n\n".join(blocks) + ("\n" if blocks else "")
