"""The document's Dublin Core, written into its XMP before signing and read back to verify.

Only Dublin Core and the PDF schema go into the XMP: PDF/A-2b accepts other properties only
with an extension schema, so the archive's own fields (series, classification as a code,
field sources) stay in the record's JSON sidecar. Reading is the exact inverse of writing,
so a verifier can compare what a file says with what the record says, field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pikepdf


@dataclass(frozen=True)
class DocumentInfo:
    """What the PDF says about itself (each field names its Dublin Core property)."""

    title: str = ""  # dc:title
    author: str = ""  # dc:creator: the issuing body
    subject: str = ""  # dc:description
    keywords: str = ""  # pdf:Keywords
    language: str = ""  # dc:language, BCP 47, e.g. "vi", "de", "en"
    identifier: str = ""  # dc:identifier: the archive's record id
    date: str = ""  # dc:date: the document's own date, ISO 8601
    type: str = ""  # dc:type: the kind of document, e.g. "QUYẾT ĐỊNH"
    source: str = ""  # dc:source: the paper original's reference number
    rights: str = ""  # dc:rights: the access classification
    publisher: str = ""  # dc:publisher: the unit holding the record
    subjects: tuple[str, ...] = ()  # dc:subject: a set (an XMP Bag), kept sorted

    def __post_init__(self) -> None:
        # dc:subject is an unordered Bag: pikepdf reads it back as a Python set, whose order
        # changes with the hash seed. One canonical order (sorted, no repeats) makes what is
        # written, signed and compared the same on every run.
        object.__setattr__(self, "subjects", tuple(sorted(set(self.subjects))))

    def differences(self, other: DocumentInfo) -> list[str]:
        """Names of the fields whose values differ, e.g. ["title", "date"]."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


# field -> (XMP property, kind): "text" single value, "lang" LangAlt, "list" Seq/Bag.
_PROPERTIES = {
    "title": ("dc:title", "lang"),
    "author": ("dc:creator", "list"),
    "subject": ("dc:description", "lang"),
    "keywords": ("pdf:Keywords", "text"),
    "language": ("dc:language", "list"),
    "identifier": ("dc:identifier", "text"),
    "date": ("dc:date", "list"),
    "type": ("dc:type", "list"),
    "source": ("dc:source", "text"),
    "rights": ("dc:rights", "lang"),
    "publisher": ("dc:publisher", "list"),
    "subjects": ("dc:subject", "list"),
}


def write_info(pdf: pikepdf.Pdf, info: DocumentInfo, producer: str) -> None:
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        for name, (key, kind) in _PROPERTIES.items():
            value = getattr(info, name)
            if not value:
                # A value a correction emptied must not survive from the file's earlier XMP:
                # read_info would give it back, and the copy would say what nobody said.
                if key in meta:
                    del meta[key]
                continue
            if kind == "list":
                meta[key] = list(value) if isinstance(value, tuple) else [value]
            else:
                meta[key] = value
        meta["pdf:Producer"] = producer
        meta["xmp:CreatorTool"] = producer
    if info.language:
        pdf.Root.Lang = pikepdf.String(info.language)


def read_info(pdf: pikepdf.Pdf) -> DocumentInfo:
    """The DocumentInfo a PDF's XMP holds (empty fields where it holds nothing)."""
    meta = pdf.open_metadata()
    values: dict[str, object] = {}
    for name, (key, kind) in _PROPERTIES.items():
        raw = meta.get(key)
        if kind == "list":
            items = tuple(str(v) for v in raw) if isinstance(raw, list | set | tuple) else (
                (str(raw),) if raw else ())
            values[name] = items if name == "subjects" else (items[0] if items else "")
        else:
            values[name] = str(raw) if raw else ""
    return DocumentInfo(**values)  # type: ignore[arg-type]
