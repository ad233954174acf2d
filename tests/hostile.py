"""Hostile inputs, rendered by our own code, for the campaign that proves nothing is lost.

Each entry is a file (or folder, or link) a scanning station or a careless share could put in
a batch, with what records must do with it. The corpus's broken files (``broken-pdf``,
``broken-image``) complete the set where it is present; these need no corpus.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image

from records.samples import PageStyle, make_letter, render_page


@dataclass(frozen=True)
class Hostile:
    name: str  # the batch child's name as a str (os.fsdecode of the bytes)
    what: str  # the hostile input, as the README's table says it
    expect: str  # "archived" or "quarantined"
    reason: str = ""  # a fragment the quarantine reason must contain


def _letter_png(seed: int) -> bytes:
    buffer = io.BytesIO()
    render_page(make_letter("eng", seed, pages=1).pages[0], PageStyle(dpi=150)).save(
        buffer, format="PNG")
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")


def _pixel_bomb() -> bytes:
    """A 70 kB PNG whose header claims 100,000 x 100,000 pixels (10 gigapixels)."""
    header = (100_000).to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    rows = zlib.compress(b"\0" * 10_000_000, 9)  # the start of the rows: all white
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows)
            + _png_chunk(b"IEND", b""))


def _image_page(pdf: pikepdf.Pdf, png: bytes) -> None:
    image = Image.open(io.BytesIO(png)).convert("L")
    pdf.add_blank_page(page_size=(image.width * 72 / 150, image.height * 72 / 150))
    page = pdf.pages[-1]
    xobject = pikepdf.Stream(pdf, zlib.compress(image.tobytes()), Type=pikepdf.Name.XObject,
                             Subtype=pikepdf.Name.Image, Width=image.width, Height=image.height,
                             ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8,
                             Filter=pikepdf.Name.FlateDecode)
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject))
    w, h = float(page.MediaBox[2]), float(page.MediaBox[3])
    page.Contents = pikepdf.Stream(pdf, f"q {w:.2f} 0 0 {h:.2f} 0 0 cm /Im0 Do Q".encode())


def _with_javascript(png: bytes) -> object:
    def build(pdf: pikepdf.Pdf) -> None:
        _image_page(pdf, png)
        pdf.Root.OpenAction = pikepdf.Dictionary(
            S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('hello from a scan');"))
    return build


def _with_attachment(png: bytes) -> object:
    def build(pdf: pikepdf.Pdf) -> None:
        _image_page(pdf, png)
        pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\0 not a program")
    return build


def _many_pages(count: int) -> object:
    def build(pdf: pikepdf.Pdf) -> None:
        for _ in range(count):
            pdf.add_blank_page()
    return build


def render_hostile(dest: Path, outside: Path) -> list[Hostile]:
    """Write every hostile input into the batch folder ``dest``; ``outside`` gets the target
    of the escaping link. Returns what was written and what must become of each."""
    dest.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    items: list[Hostile] = []

    def add(name: str | bytes, data: bytes, what: str, expect: str, reason: str = "") -> None:
        target = os.path.join(os.fsencode(dest), os.fsencode(name))
        Path(os.fsdecode(target)).write_bytes(data)
        items.append(Hostile(os.fsdecode(name), what, expect, reason))

    letter = [_letter_png(seed) for seed in range(61, 68)]
    add("zero-bytes.pdf", b"", "zero-byte file", "quarantined", "empty file")
    add("letter-lying.pdf", letter[0], "a PNG scan named .pdf (extension lies)", "archived")
    add("text-posing.jpg", b"Box 14, rescan pages 3-5\n" * 40, "text named .jpg",
        "quarantined", "not an image or PDF")
    add("pixel-bomb.png", _pixel_bomb(), "PNG claiming 10 gigapixels (decompression bomb)",
        "quarantined", "pixels")
    add("cut-short.pdf", _pdf_bytes(_with_javascript(letter[1]))[:900],
        "PDF cut off after 900 bytes", "quarantined", "cannot be drawn")
    add("script.pdf", _pdf_bytes(_with_javascript(letter[2])),
        "image PDF that runs JavaScript when opened", "archived")
    add("attachment.pdf", _pdf_bytes(_with_attachment(letter[3])),
        "image PDF carrying an embedded .exe", "archived")
    add("thousands.pdf", _pdf_bytes(_many_pages(2500)), "PDF of 2,500 pages", "quarantined",
        "pages")
    add(b"scan-\xff\xfe-latin1.png", letter[4], "name with non-UTF-8 bytes (another code page)",
        "quarantined", "not valid UTF-8")
    add("scan with  spaces..and dots.png", letter[5], "name with spaces and '..'", "archived")
    add("Công văn số 12 - Hà Nội.png", letter[6], "Vietnamese name (NFC)", "archived")
    (outside / "secret.png").write_bytes(letter[0])
    (dest / "escape.png").symlink_to(outside / "secret.png")
    items.append(Hostile("escape.png", "symbolic link to a file outside the batch",
                         "quarantined", "symbolic link"))
    os.mkfifo(dest / "pipe.tif")
    items.append(Hostile("pipe.tif", "a FIFO named .tif (reading it would block)",
                         "quarantined", "not a regular file"))
    (dest / "empty-folder").mkdir()
    items.append(Hostile("empty-folder", "a record folder with no pages", "quarantined",
                         "empty folder"))
    return items


def _pdf_bytes(build: object) -> bytes:
    buffer = io.BytesIO()
    with pikepdf.new() as pdf:
        build(pdf)  # type: ignore[operator]
        pdf.save(buffer)
    return buffer.getvalue()
