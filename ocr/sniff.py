"""What a file really is, read from its first bytes: extensions lie, magic numbers rarely do."""

from __future__ import annotations

from pathlib import Path

# Longest signatures first where one is a prefix of another.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"),
)
IMAGE_FORMATS = frozenset({"png", "jpeg", "tiff", "gif", "bmp", "jp2", "webp"})


def sniff(path: Path) -> str | None:
    """Return the format of *path* ("pdf", "png", ...), or None if it is neither image nor PDF."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    # PDFs may carry junk before the header; readers accept it within the first 1024 bytes.
    if b"%PDF-" in head:
        return "pdf"
    return None


def describe_unknown(path: Path) -> str:
    """A human reason for a file that is neither an image nor a PDF."""
    size = path.stat().st_size
    if size == 0:
        return "empty file (0 bytes)"
    with path.open("rb") as handle:
        head = handle.read(4096)
    if path.suffix.lower() == ".pdf" or b" obj" in head or b"xref" in head:
        return "damaged PDF: it has no PDF header (the file is cut short or overwritten)"
    try:
        head.decode("utf-8")
        looks = "it contains plain text"
    except UnicodeDecodeError:
        looks = "its content is not a known format"
    return f"not an image or PDF ({looks}, whatever its name says)"
