"""Metadata extraction benchmark: precision and recall per field on OCR'd rendered letters.

The project's synthetic letters (records.samples) are rendered as scans, recognised with the
plain-Python engine (ocr.pipeline.ocr_pages) and read with archive.intake.extract_fields;
every field is compared with the letter's ground truth. The extractor is also run on the
exact truth text, the ceiling: the gap between the two rows is OCR's share of the errors.
Run from the project root:

    .venv/bin/python bench/extract.py [--letters 24] [--seed 7] [--out bench/results/extract.json]

See bench/README.md for how the figures are computed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # the path above makes bench/ importable however this is run
    console,
    fmt_num,
    fmt_pct,
    machine_load,
    make_table,
    normalise,
    stopwatch,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from archive.intake import extract_fields  # noqa: E402 - needs the path above
from ocr.inputs import open_document  # noqa: E402
from ocr.options import OcrOptions  # noqa: E402
from ocr.pipeline import ocr_pages  # noqa: E402
from ocr.recognize import tesseract_version  # noqa: E402
from records.samples import LetterTruth, render_batch  # noqa: E402

FIELDS = ("document_number", "document_date", "issuer", "document_type", "title")
SOURCES = ("ocr", "truth")  # what the extractor reads: the engine's page.txt, or exact text
DEFAULT_OUT = ROOT / "bench" / "results" / "extract.json"

# --------------------------------------------------------------------------- scoring


def plain(text: str) -> str:
    """Without diacritics (đ as d): a match here but not exactly is a misread mark only."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass
class FieldTally:
    """Counts for one field read from one source, micro-averaged over the letters."""

    total: int = 0
    extracted: int = 0
    correct: int = 0
    correct_plain: int = 0  # equal once diacritics are ignored (includes the exact ones)

    def add(self, got: str | None, want: str) -> tuple[bool, bool]:
        """Score one answer; returns (exact, without diacritics)."""
        self.total += 1
        if got is None:
            return False, False
        self.extracted += 1
        exact = normalise(got) == normalise(want)
        loose = plain(normalise(got)) == plain(normalise(want))
        self.correct += exact
        self.correct_plain += loose
        return exact, loose

    def rates(self) -> dict[str, float | None]:
        def ratio(a: int, b: int) -> float | None:
            return a / b if b else None
        return {"precision": ratio(self.correct, self.extracted),
                "recall": ratio(self.correct, self.total),
                "precision_plain": ratio(self.correct_plain, self.extracted),
                "recall_plain": ratio(self.correct_plain, self.total)}


@dataclass
class Letter:
    """One rendered record: its truth, the engine's text and what was extracted from each."""

    source: str
    truth: LetterTruth
    ocr_pages: list[str] = field(default_factory=list)
    page_notes: list[str] = field(default_factory=list)
    page_seconds: float = 0.0  # the engine's own time on the record's pages, not queueing
    error: str | None = None
    extracted: dict[str, dict[str, str | None]] = field(default_factory=dict)
    scores: dict[str, dict[str, list[bool]]] = field(default_factory=dict)


# --------------------------------------------------------------------------- running


def recognise(path: Path, truth: LetterTruth, cache: Path, jobs: int,
              pool: ThreadPoolExecutor) -> Letter:
    """OCR one record in its manifest language; a failure is a result, not a crash."""
    letter = Letter(path.name, truth)
    options = OcrOptions(languages=truth.language, jobs=jobs)
    try:
        document = open_document(path, options.max_page_pixels)
        pages = ocr_pages(document, options, cache, pool=pool)
    except Exception as exc:  # the bench reports every failure and goes on
        letter.error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        return letter
    letter.page_seconds = sum(page.seconds for page in pages)
    letter.ocr_pages = [page.text for page in pages]
    letter.page_notes = [f"rot {p.rotation} skew {p.skew:.1f} conf {p.mean_confidence or 0:.0f}"
                         for p in pages]
    return letter


def recognise_all(batch: list[tuple[Path, LetterTruth]], cache: Path, jobs: int) -> list[Letter]:
    """Every record at once through one pool of page workers, so no core idles between
    a one-page record and the next."""
    with ThreadPoolExecutor(max_workers=jobs) as pages, \
            ThreadPoolExecutor(max_workers=max(1, len(batch))) as records:
        futures = [records.submit(recognise, path, truth, cache, jobs, pages)
                   for path, truth in batch]
        return [future.result() for future in futures]


def score(letters: list[Letter]) -> tuple[dict[str, dict[str, FieldTally]], float]:
    """Extract from both sources of every letter and tally; returns tallies and the mean
    extraction time per letter in milliseconds."""
    tallies = {source: {name: FieldTally() for name in FIELDS} for source in SOURCES}
    spent, runs = 0.0, 0
    for letter in letters:
        texts = {"ocr": letter.ocr_pages, "truth": letter.truth.pages}
        for source in SOURCES:
            with stopwatch() as elapsed:
                got = extract_fields(texts[source], letter.truth.language).as_dict()
            spent, runs = spent + elapsed(), runs + 1
            letter.extracted[source] = got
            letter.scores[source] = {
                name: list(tallies[source][name].add(got[name], getattr(letter.truth, name)))
                for name in FIELDS}
    return tallies, 1000 * spent / max(1, runs)


# --------------------------------------------------------------------------- output


def field_table(tallies: dict[str, dict[str, FieldTally]], letters: int) -> Any:
    """Per field, OCR'd text next to the exact text, so OCR's share of errors shows."""
    rows = []
    for name in FIELDS:
        for source in SOURCES:
            t = tallies[source][name]
            r = t.rates()
            label = "OCR text" if source == "ocr" else "[dim]truth text (ceiling)[/dim]"
            rows.append([name if source == "ocr" else "", label, f"{t.extracted}/{t.total}",
                         str(t.correct), fmt_pct(r["precision"], 1), fmt_pct(r["recall"], 1),
                         fmt_pct(r["precision_plain"], 1), fmt_pct(r["recall_plain"], 1)])
    for source in SOURCES:
        t = overall(tallies[source])
        r = t.rates()
        rows.append(["[bold]all fields[/bold]", "OCR text" if source == "ocr" else
                     "[dim]truth text (ceiling)[/dim]", f"{t.extracted}/{t.total}",
                     str(t.correct), fmt_pct(r["precision"], 1), fmt_pct(r["recall"], 1),
                     fmt_pct(r["precision_plain"], 1), fmt_pct(r["recall_plain"], 1)])
    return make_table(f"metadata extraction on {letters} rendered letters",
                      ["field", "text read", "found", "correct", "precision", "recall",
                       "precision (no diacritics)", "recall (no diacritics)"], rows,
                      right_from=2)


def overall(by_field: dict[str, FieldTally]) -> FieldTally:
    total = FieldTally()
    for t in by_field.values():
        total.total += t.total
        total.extracted += t.extracted
        total.correct += t.correct
        total.correct_plain += t.correct_plain
    return total


def language_table(letters: list[Letter]) -> Any:
    """Recall on OCR text per language: where the misses are."""
    rows = []
    for language in sorted({letter.truth.language for letter in letters}):
        chosen = [letter for letter in letters if letter.truth.language == language]
        cells = []
        for name in FIELDS:
            hits = sum(letter.scores["ocr"][name][0] for letter in chosen)
            cells.append(f"{hits}/{len(chosen)}")
        rows.append([language, *cells])
    return make_table("OCR text: exact answers per language", ["language", *FIELDS], rows)


def miss_rows(letters: list[Letter], everything: bool) -> list[list[str]]:
    """Each wrong or missing answer on OCR text (every answer with --details)."""
    rows = []
    for letter in letters:
        for name in FIELDS:
            exact, loose = letter.scores["ocr"][name]
            if exact and not everything:
                continue
            got = letter.extracted["ocr"][name]
            verdict = "ok" if exact else ("diacritics" if loose else
                                          ("missing" if got is None else "wrong"))
            rows.append([letter.source, name, verdict, repr(got),
                         repr(getattr(letter.truth, name))])
    return rows


def letter_json(letter: Letter) -> dict[str, Any]:
    return {"source": letter.source, "language": letter.truth.language,
            "pages": len(letter.truth.pages), "page_seconds": letter.page_seconds,
            "page_notes": letter.page_notes, "error": letter.error,
            "truth": {name: getattr(letter.truth, name) for name in FIELDS},
            "extracted": letter.extracted,
            "exact": {s: {n: v[0] for n, v in letter.scores[s].items()} for s in SOURCES},
            "without_diacritics": {s: {n: v[1] for n, v in letter.scores[s].items()}
                                   for s in SOURCES}}


def payload(args: argparse.Namespace, letters: list[Letter],
            tallies: dict[str, dict[str, FieldTally]], ocr_wall: float,
            extract_ms: float) -> dict[str, Any]:
    """Counts as well as rates, so runs with other seeds can be pooled later."""
    return {
        "environment": {"tesseract": tesseract_version(), "cores": os.cpu_count(),
                        "python": sys.version.split()[0]},
        "letters": args.letters, "seed": args.seed, "jobs": args.jobs,
        "pages": sum(len(letter.truth.pages) for letter in letters),
        "ocr_wall_seconds": ocr_wall, "extract_ms_per_letter": extract_ms,
        "fields": {source: {name: {**vars(t), **t.rates()} for name, t in by_field.items()}
                   for source, by_field in tallies.items()},
        "overall": {source: {**vars(overall(by_field)), **overall(by_field).rates()}
                    for source, by_field in tallies.items()},
        "items": [letter_json(letter) for letter in letters],
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=24, help="letters to render (default 24)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the batch (default 7)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"JSON figures (default {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="pages recognised at once (default: cores)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="reuse this page cache between runs (default: a fresh temporary "
                             "one, so every page is really recognised)")
    parser.add_argument("--details", action="store_true",
                        help="list every answer, not only the wrong ones")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Render, recognise, extract, score, print and write the figures."""
    args = parse_args(argv)
    console.print(f"{args.letters} letters, seed {args.seed}, {args.jobs} pages at a time, "
                  f"{tesseract_version()}, load average {machine_load():.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    try:
        batch = render_batch(work / "batch", letters=args.letters, seed=args.seed)
        cache = args.cache or work / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        with stopwatch() as elapsed:
            letters = recognise_all(batch, cache, args.jobs)
        ocr_wall = elapsed()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tallies, extract_ms = score(letters)
    pages = sum(len(letter.truth.pages) for letter in letters)
    console.print(f"OCR: {pages} pages in {fmt_num(ocr_wall)} s; extraction "
                  f"{fmt_num(extract_ms, 2)} ms per letter")
    console.print(field_table(tallies, len(letters)))
    console.print(language_table(letters))
    rows = miss_rows(letters, args.details)
    if rows:
        console.print(make_table("answers on OCR text" if args.details else
                                 "wrong or missing on OCR text",
                                 ["record", "field", "verdict", "extracted", "truth"], rows,
                                 right_from=5))
    for letter in letters:
        if letter.error:
            console.print(f"[red]{letter.source}: OCR failed: {letter.error}[/red]")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload(args, letters, tallies, ocr_wall, extract_ms),
                                   indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
