"""Metadata extraction benchmark: precision and recall per field on OCR'd rendered letters.

Letters are rendered as scans, recognised with the plain-Python engine
(ocr.pipeline.ocr_pages) and read with archive.intake.extract_fields; every field is
compared with the letter's ground truth. The extractor is also run on the exact truth text,
the ceiling: the gap between the two rows is OCR's share of the errors. Three batches:

- ``own``: the project's own renders (records.samples), each recognised in its language;
- ``office``: letters as offices set them (records.officeletters: two-column Vietnamese
  heads, DIN 5008 German letters, Liberation and FreeFont faces), each in its language;
- ``office-mixed``: the same office letters queued as one mixed batch, every page
  recognised and read with the batch's languages (``vie+deu``), as an officer queues them.

Run from the project root:

    .venv/bin/python bench/extract.py [--letters 24] [--seed 7] [--batches own,office,...]

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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # the path above makes bench/ importable however this is run
    console,
    edit_distance,
    fmt_num,
    fmt_pct,
    machine_load,
    make_table,
    normalise,
    stopwatch,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from archive.intake import AuthorityList, extract_fields  # noqa: E402 - needs the path above
from archive.roadmap import configured_authorities  # noqa: E402
from ocr.inputs import open_document  # noqa: E402
from ocr.options import OcrOptions  # noqa: E402
from ocr.page import reread_head, reread_lines  # noqa: E402
from ocr.pipeline import ocr_pages  # noqa: E402
from ocr.recognize import tesseract_version  # noqa: E402
from records.officeletters import office_batch, render_office_letter  # noqa: E402
from records.samples import LetterTruth, PageStyle, render_batch, save_page  # noqa: E402

FIELDS = ("document_number", "document_date", "issuer", "document_type", "title")
SOURCES = ("ocr", "truth")  # what the extractor reads: the engine's page.txt, or exact text
DEFAULT_OUT = ROOT / "bench" / "results" / "extract.json"
BATCHES = ("own", "own-mixed", "own-union", "office", "office-mixed", "office-union")
MIXED_LANGUAGES = {"own": "vie+deu+eng", "office": "vie+deu"}  # what an officer gives a batch

# --------------------------------------------------------------------------- scoring


def plain(text: str) -> str:
    """Without diacritics (đ as d): a match here but not exactly is a misread mark only."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _same_body(got: str, want: str) -> bool:
    def key(text: str) -> str:
        return " ".join(normalise(text).replace(" / ", " ").casefold().split())
    return key(got) == key(want)


@dataclass
class FieldTally:
    """Counts for one field read from one source, micro-averaged over the letters."""

    total: int = 0
    extracted: int = 0
    correct: int = 0
    correct_plain: int = 0  # equal once diacritics are ignored (includes the exact ones)

    def add(self, got: str | None, want: str | None, issuer: bool = False) -> tuple[bool, bool]:
        """Score one answer; returns (exact, without diacritics). *want* None: the right
        answer is none (an issuer the authority list does not know goes to a person), so
        an answer is a false one and no answer counts for neither rate. Issuers compare as
        the bodies they name: case and the " / " between parent and body do not count."""
        if want is None:
            if got is None:
                return True, True
            self.extracted += 1
            return False, False
        self.total += 1
        if got is None:
            return False, False
        self.extracted += 1
        same = _same_body if issuer else (lambda a, b: normalise(a) == normalise(b))
        exact = same(got, want)
        loose = same(plain(got), plain(want))
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
    listed: bool = True  # its issuer is in the authority list
    ocr_pages: list[str] = field(default_factory=list)
    page_notes: list[str] = field(default_factory=list)
    page_seconds: float = 0.0  # the engine's own time on the record's pages, not queueing
    error: str | None = None
    extracted: dict[str, dict[str, str | None]] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)  # the model each page was read with
    second_look: Callable[[], list[str]] | None = None  # re-reads the first page's head
    second_look_seconds: float = 0.0
    lines_again: Callable[[list[str]], list[list[str]]] | None = None  # re-reads the subject
    lines_again_seconds: float = 0.0
    unsure: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kept for a person
    notes: dict[str, dict[str, str]] = field(default_factory=dict)
    scores: dict[str, dict[str, list[bool]]] = field(default_factory=dict)


# --------------------------------------------------------------------------- running


def recognise(path: Path, truth: LetterTruth, listed: bool, languages: str | None,
              page_language: str, cache: Path, jobs: int, pool: ThreadPoolExecutor) -> Letter:
    """OCR one record in the batch's languages (None: its own), each page in its detected
    language or with the union (*page_language*); a failure is a result, not a crash."""
    letter = Letter(path.name, truth, listed)
    options = OcrOptions(languages=languages or truth.language, jobs=jobs,
                         page_language=page_language)
    try:
        document = open_document(path, options.max_page_pixels)
        pages = ocr_pages(document, options, cache, pool=pool)
    except Exception as exc:  # the bench reports every failure and goes on
        letter.error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        return letter
    letter.page_seconds = sum(page.seconds for page in pages)
    letter.second_look = partial(_timed_second_look, letter, document.pages[0], pages[0],
                                 options)
    letter.lines_again = partial(_timed_lines_again, letter, document.pages[0], pages[0],
                                 options)
    letter.ocr_pages = [page.text for page in pages]
    letter.page_notes = [f"rot {p.rotation} skew {p.skew:.1f} conf {p.mean_confidence or 0:.0f}"
                         f" lang {p.language} ({p.language_source})" for p in pages]
    letter.languages = [p.language for p in pages]
    return letter


def _timed_second_look(letter: Letter, ref: Any, page: Any, options: OcrOptions
                       ) -> list[str]:
    """The engine's second look at a first page's head, as the flow makes it, timed."""
    with stopwatch() as elapsed:
        readings = reread_head(ref, page, options)
    letter.second_look_seconds += elapsed()
    return readings


def _timed_lines_again(letter: Letter, ref: Any, page: Any, options: OcrOptions,
                       texts: list[str]) -> list[list[str]]:
    """The engine's second reading of the subject's lines, as the flow makes it, timed."""
    with stopwatch() as elapsed:
        readings = reread_lines(ref, page, options, texts)
    letter.lines_again_seconds += elapsed()
    return readings


def recognise_all(batch: list[tuple[Path, LetterTruth, bool]], languages: str | None,
                  page_language: str, cache: Path, jobs: int) -> list[Letter]:
    """Every record at once through one pool of page workers, so no core idles between
    a one-page record and the next."""
    with ThreadPoolExecutor(max_workers=jobs) as pages, \
            ThreadPoolExecutor(max_workers=max(1, len(batch))) as records:
        futures = [records.submit(recognise, path, truth, listed, languages, page_language,
                                  cache, jobs, pages) for path, truth, listed in batch]
        return [future.result() for future in futures]


def render_office(dest: Path, letters: int, seed: int
                  ) -> list[tuple[Path, LetterTruth, bool]]:
    """Office letters, Vietnamese and German in turn, as a scanner delivers them: grey or
    bilevel, a little noise and skew, PNG or a G4 PDF."""
    dest.mkdir(parents=True, exist_ok=True)
    batch = []
    for number, letter in office_batch(("vie", "deu"), letters, seed):
        bilevel = number % 3 == 0
        style = PageStyle(skew=((number * 7) % 9 - 4) / 4, noise=0.1 + (number % 4) / 10,
                          bilevel=bilevel, encoding="pdf-g4" if bilevel else "png")
        image = render_office_letter(letter, style, seed=number)
        path = dest / f"office-{number:03d}-{letter.truth.language}.{'pdf' if bilevel else 'png'}"
        batch.append((save_page(image, path, style), letter.truth, letter.in_authority_list))
    return batch


def score(letters: list[Letter], authorities: AuthorityList, hint: str | None = None
          ) -> tuple[dict[str, dict[str, FieldTally]], float]:
    """Extract from both sources of every letter (with the batch's languages as the hint,
    None: the letter's own) and tally; returns tallies and the mean extraction time per
    letter in milliseconds."""
    tallies = {source: {name: FieldTally() for name in FIELDS} for source in SOURCES}
    spent, runs = 0.0, 0
    for letter in letters:
        texts = {"ocr": letter.ocr_pages, "truth": letter.truth.pages}
        for source in SOURCES:
            with stopwatch() as elapsed:
                read = extract_fields(texts[source], hint or letter.truth.language, authorities,
                                      *((letter.second_look, letter.lines_again)
                                        if source == "ocr" else (None, None)))
            spent, runs = spent + elapsed(), runs + 1
            # A field kept unsure goes to a person, as the review queue sends it: it counts
            # as not read, neither right nor wrong.
            got = {name: None if name in read.unsure else value
                   for name, value in read.as_dict().items()}
            letter.unsure[source] = read.unsure
            letter.extracted[source] = got
            letter.notes[source] = read.notes
            letter.scores[source] = {
                name: list(tallies[source][name].add(got[name], _wanted(letter, name),
                                                     issuer=name == "issuer"))
                for name in FIELDS}
    return tallies, 1000 * spent / max(1, runs)


def _wanted(letter: Letter, name: str) -> str | None:
    if name == "issuer" and not letter.listed:
        return None  # the right outcome: no issuer, and the record in the review queue
    return getattr(letter.truth, name)


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
                                          ("unsure: review" if name in letter.unsure["ocr"]
                                           else "missing" if got is None else "wrong"))
            if name in letter.unsure["ocr"]:
                got = letter.notes["ocr"].get(name)
            rows.append([letter.source, name, verdict, repr(got),
                         repr(getattr(letter.truth, name))])
    return rows


def letter_json(letter: Letter) -> dict[str, Any]:
    return {"source": letter.source, "language": letter.truth.language,
            "pages": len(letter.truth.pages), "page_seconds": letter.page_seconds,
            "page_notes": letter.page_notes, "error": letter.error,
            "truth": {name: getattr(letter.truth, name) for name in FIELDS},
            "issuer_listed": letter.listed, "extracted": letter.extracted,
            "notes": letter.notes,
            "exact": {s: {n: v[0] for n, v in letter.scores[s].items()} for s in SOURCES},
            "without_diacritics": {s: {n: v[1] for n, v in letter.scores[s].items()}
                                   for s in SOURCES}}


@dataclass
class BatchRun:
    """One batch of the bench: its letters as read, the tallies and the clocks."""

    name: str
    letters: list[Letter]
    tallies: dict[str, dict[str, FieldTally]]
    ocr_wall: float
    page_seconds: float
    extract_ms: float
    cer: float | None = None
    languages_right: str = ""
    second_looks: int = 0  # letters whose head was read again (a head field not found)
    second_look_seconds: float = 0.0
    subject_seconds: float = 0.0  # reading the subjects' lines again (every letter with one)
    unsure: int = 0  # fields kept unsure, for a person


def payload(args: argparse.Namespace, runs: list[BatchRun]) -> dict[str, Any]:
    """Counts as well as rates, so runs with other seeds can be pooled later."""
    return {
        "environment": {"tesseract": tesseract_version(), "cores": os.cpu_count(),
                        "python": sys.version.split()[0]},
        "letters": args.letters, "seed": args.seed, "jobs": args.jobs,
        "batches": {run.name: {
            "pages": sum(len(letter.truth.pages) for letter in run.letters),
            "ocr_wall_seconds": run.ocr_wall, "page_seconds": run.page_seconds,
            "cer": run.cer, "pages_in_their_own_language": run.languages_right,
            "second_looks": run.second_looks, "second_look_seconds": run.second_look_seconds,
            "subject_reread_seconds": run.subject_seconds, "unsure_fields": run.unsure,
            "extract_ms_per_letter": run.extract_ms,
            "fields": {source: {name: {**vars(t), **t.rates()} for name, t in by_field.items()}
                       for source, by_field in run.tallies.items()},
            "overall": {source: {**vars(overall(by_field)), **overall(by_field).rates()}
                        for source, by_field in run.tallies.items()},
            "items": [letter_json(letter) for letter in run.letters],
        } for run in runs},
    }


def batch_table(runs: list[BatchRun]) -> Any:
    """Per batch and field, on OCR text: precision and recall side by side."""
    rows = []
    for run in runs:
        for name in (*FIELDS, None):
            t = run.tallies["ocr"][name] if name else overall(run.tallies["ocr"])
            r = t.rates()
            rows.append([run.name if name == FIELDS[0] else "", name or "[bold]all[/bold]",
                         f"{t.correct}/{t.extracted}/{t.total}", fmt_pct(r["precision"], 1),
                         fmt_pct(r["recall"], 1)])
    return make_table("OCR text, per batch (correct/found/letters)",
                      ["batch", "field", "counts", "precision", "recall"], rows, right_from=2)


def ocr_table(runs: list[BatchRun]) -> Any:
    """The engine per batch: its time on the pages, its CER, and the model each page got
    (a mixed batch: each page's detected language, or the union)."""
    rows = [[run.name, str(sum(len(letter.ocr_pages) for letter in run.letters)),
             fmt_num(run.page_seconds), fmt_pct(run.cer, 2), run.languages_right,
             f"{run.second_looks} ({fmt_num(run.second_look_seconds)} s)",
             fmt_num(run.subject_seconds), str(run.unsure)]
            for run in runs]
    return make_table("OCR per batch", ["batch", "pages", "page seconds", "CER",
                                        "read in their own language alone",
                                        "heads read again", "subjects read again (s)",
                                        "fields left unsure"], rows, right_from=1)


def run_batch(name: str, args: argparse.Namespace, work: Path,
              authorities: AuthorityList) -> BatchRun:
    """Render, recognise and score one batch."""
    kind, _, mode = name.partition("-")
    if kind == "own":
        batch = [(path, truth, True) for path, truth in
                 render_batch(work / kind, letters=args.letters, seed=args.seed)]
    else:
        batch = render_office(work / kind, args.letters, args.seed)
    languages = MIXED_LANGUAGES[kind] if mode else None
    cache = (args.cache / name) if args.cache else work / f"cache-{name}"
    cache.mkdir(parents=True, exist_ok=True)
    with stopwatch() as elapsed:
        letters = recognise_all(batch, languages, "union" if mode == "union" else "detect",
                                cache, args.jobs)
    wall = elapsed()
    tallies, extract_ms = score(letters, authorities, languages)
    return BatchRun(name, letters, tallies, wall,
                    sum(letter.page_seconds for letter in letters), extract_ms,
                    _cer(letters), _languages_right(letters),
                    sum(letter.second_look_seconds > 0 for letter in letters),
                    sum(letter.second_look_seconds for letter in letters),
                    sum(letter.lines_again_seconds for letter in letters),
                    sum(len(letter.unsure.get("ocr", ())) for letter in letters))


def _cer(letters: list[Letter]) -> float | None:
    """Character error rate of the batch's OCR text against the truth, micro-averaged (an
    office letter's two columns come out in another order than its truth is written, which
    adds the same to every mode of the same letters)."""
    errors = chars = 0
    for letter in letters:
        for truth, text in zip(letter.truth.pages, letter.ocr_pages, strict=False):
            want = normalise(truth)
            errors += edit_distance(want, normalise(text))
            chars += len(want)
    return errors / chars if chars else None


def _languages_right(letters: list[Letter]) -> str:
    """Pages recognised with their own language alone / pages."""
    pages = [(letter.truth.language, used) for letter in letters for used in letter.languages]
    return f"{sum(want == used for want, used in pages)}/{len(pages)}"


def report(run: BatchRun, details: bool) -> None:
    pages = sum(len(letter.truth.pages) for letter in run.letters)
    console.rule(f"batch {run.name}")
    console.print(f"OCR: {pages} pages in {fmt_num(run.ocr_wall)} s ({fmt_num(run.page_seconds)}"
                  f" s of page work), CER {fmt_pct(run.cer, 2)}, pages read in their own "
                  f"language alone {run.languages_right}; extraction "
                  f"{fmt_num(run.extract_ms, 2)} ms per letter")
    console.print(field_table(run.tallies, len(run.letters)))
    console.print(language_table(run.letters))
    rows = miss_rows(run.letters, details)
    if rows:
        console.print(make_table("answers on OCR text" if details else
                                 "wrong or missing on OCR text",
                                 ["record", "field", "verdict", "extracted", "truth"], rows,
                                 right_from=5))
    for letter in run.letters:
        if letter.error:
            console.print(f"[red]{letter.source}: OCR failed: {letter.error}[/red]")


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
    parser.add_argument("--batches", default=",".join(BATCHES),
                        help=f"which batches, comma-separated (default {','.join(BATCHES)})")
    parser.add_argument("--details", action="store_true",
                        help="list every answer, not only the wrong ones")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Render, recognise, extract, score, print and write the figures."""
    args = parse_args(argv)
    names = [name.strip() for name in args.batches.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BATCHES))
    if unknown:
        console.print(f"[red]unknown batch {', '.join(unknown)}: choose from "
                      f"{', '.join(BATCHES)}[/red]")
        return 2
    console.print(f"{args.letters} letters a batch, seed {args.seed}, {args.jobs} pages at a "
                  f"time, {tesseract_version()}, load average {machine_load():.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    try:
        authorities = configured_authorities(None, None, work)  # shipped list + roadmap
        runs = [run_batch(name, args, work, authorities) for name in names]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for run in runs:
        report(run, args.details)
    console.print(batch_table(runs))
    console.print(ocr_table(runs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload(args, runs), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    console.print(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
