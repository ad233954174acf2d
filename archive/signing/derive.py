"""Signed copies that carry what people corrected, beside the archival copy that never changes.

The archival copy is certified "no changes allowed" (DocMDP 1) and holds the description and
text known at ingest. When people correct a record, the corrected description (its XMP) and
the corrected words (its invisible text) travel in a second signed PDF/A-2b,
``<id>.corrected.pdf``, made in the correction's version. It is built from the archival
copy's own validated PDF/A revision (the prefix the signature covers, checked against the
hash recorded at signing), so pages, images and fonts are the archived ones: only the text
layers of corrected pages are drawn again from their corrected ALTO, and the XMP is written
from the corrected description. It is validated as PDF/A-2b and certified like the archival
copy. A later correction makes a newer copy; every earlier one stays in its own version, and
``records verify`` checks them all against the description of their version.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf

from archive.signing.heads import vouch_with
from archive.signing.sign import ArchiveSigner, SigningError, SignOptions, sign_archival
from archive.store import (
    Descriptive,
    ObjectDamaged,
    RecordPaths,
    Vouch,
    corrected_copy_name,
    dublin_core,
    home_of,
    page_file,
    work_dir,
)
from ocr.textlayer import FONT_NAME, text_layer
from ocr.xmp import write_info

PRODUCER = "records (corrected copy)"
_IMAGE_DRAWN = b"/Src Do\nQ"  # ocr.assemble draws the page, then its text layer after this


@dataclass(frozen=True)
class Sealer:
    """The organisation's key and how it signs: what a correction needs to certify its copy
    and to vouch for its version in the archive's log."""

    signer: ArchiveSigner
    options: SignOptions

    def vouch(self) -> Vouch:
        return vouch_with(self.signer)


@dataclass(frozen=True)
class CorrectedCopy:
    """A signed corrected copy made for a version: its file name, bytes and what signing it
    recorded (kept in the correction, as the sidecar keeps the archival copy's)."""

    name: str
    data: bytes
    signature: dict[str, Any]
    redrawn: tuple[int, ...]  # pages whose text layer came from a corrected ALTO


def archival_unsigned(paths: RecordPaths) -> bytes:
    """The archival copy's PDF/A revision as validated before it was signed; ObjectDamaged
    when it is not the one whose hash the sidecar recorded (never build on a changed file)."""
    signature = paths.read_sidecar().get("signature") or {}
    size, digest = signature.get("unsigned_size"), signature.get("unsigned_sha256")
    if not isinstance(size, int) or not digest:
        raise SigningError(f"{paths.record_id} was archived unsigned: there is no certified "
                           "revision to make a corrected copy from")
    with paths.pdf.open("rb") as file:
        unsigned = file.read(size)
    if hashlib.sha256(unsigned).hexdigest() != digest:
        raise ObjectDamaged(f"{paths.record_id}: the archival copy's unsigned revision is not "
                            "the PDF/A that was validated")
    return unsigned


def make_corrected_copy(paths: RecordPaths, descriptive: Descriptive,
                        altos: dict[int, bytes], sealer: Sealer) -> CorrectedCopy:
    """The signed corrected copy of ``paths``' record: described by ``descriptive``, with
    the text of each page in ``altos`` (page number -> corrected ALTO) drawn again."""
    unsigned = archival_unsigned(paths)
    scratch_root = work_dir(home_of(paths.folder.parent))
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
        built, signed = Path(scratch) / "unsigned.pdf", Path(scratch) / "signed.pdf"
        with pikepdf.open(io.BytesIO(unsigned)) as pdf:
            redrawn = tuple(n for n, alto in sorted(altos.items())
                            if _redraw_text(pdf, n, alto, paths.record_id))
            write_info(pdf, dublin_core(descriptive, paths.record_id), PRODUCER)
            report = pikepdf.pdfa.save(pdf, built, "2b")
        if not report.passed:
            raise SigningError(f"{paths.record_id}: the corrected copy is not PDF/A-2b "
                               f"({report.findings[0]})")
        signature = sign_archival(sealer.signer, sealer.options, built, signed)
        return CorrectedCopy(corrected_copy_name(paths.record_id), signed.read_bytes(),
                             {**signature.as_dict(), "redrawn_pages": list(redrawn)},
                             redrawn)


def _redraw_text(pdf: pikepdf.Pdf, number: int, alto: bytes, record_id: str) -> bool:
    """Replace page ``number``'s invisible text with the words of ``alto``; False (page left
    as it is) when the page carries no text layer of records' drawing, such as a page whose
    own text was kept from a born-digital PDF."""
    if not 1 <= number <= len(pdf.pages):
        raise ObjectDamaged(f"{record_id}: a corrected page {number} the copy does not have")
    page = pdf.pages[number - 1]
    font = page.obj.get("/Resources", {}).get("/Font", {})
    if FONT_NAME not in font or not isinstance(page.obj.get("/Contents"), pikepdf.Stream):
        return False
    content = page.obj.Contents.read_bytes()
    end = content.find(_IMAGE_DRAWN)
    if end < 0:
        return False
    height = float(page.mediabox[3]) - float(page.mediabox[1])
    layer = text_layer(io.BytesIO(alto), _alto_dpi(alto, height, record_id), height)
    page.obj.Contents = pdf.make_stream(content[:end + len(_IMAGE_DRAWN)] + b"\n" + layer)
    return True


def _alto_dpi(alto: bytes, page_height: float, record_id: str) -> float:
    """The resolution the ALTO's pixel boxes are at: the page was made ``HEIGHT`` pixels at
    that resolution high (``ocr.page.PageResult.size_pt``)."""
    for element in ET.fromstring(alto).iter():
        if element.tag.rpartition("}")[2] == "Page" and element.get("HEIGHT"):
            pixels = float(element.get("HEIGHT", "0"))
            if pixels > 0 and page_height > 0:
                return pixels * 72.0 / page_height
    raise ObjectDamaged(f"{record_id}: a corrected ALTO without the size of its page")


def corrected_altos(paths: RecordPaths, new_files: dict[str, bytes]) -> dict[int, bytes]:
    """Every page's corrected ALTO as it will stand in the new version: those corrected
    before (the current version's), replaced by those this correction writes."""
    altos: dict[int, bytes] = {}
    names = {*paths.inventory.state(None), *new_files}
    for name in sorted(names):
        number = _corrected_alto_page(name)
        if number is None:
            continue
        if name in new_files:
            altos[number] = new_files[name]
        else:
            found = paths.file(name)
            if found is not None:
                altos[number] = found.read_bytes()
    return altos


def _corrected_alto_page(name: str) -> int | None:
    stem = name.removeprefix("pages/").removesuffix(".corrected.alto.xml")
    if not stem.isdigit() or page_file(int(stem), "alto.xml", corrected=True) != name:
        return None
    return int(stem)
