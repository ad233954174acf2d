"""Review queue benchmark: how many queued records really need a person, and how many escape.

Synthetic letters (records.samples) are rendered as scans, half of them as records.samples'
own batch and half degraded on purpose (80, 100 and 60 dpi, grainy, bilevel) or missing a
subject line or a date. Each goes through the steps of the batch flow that decide its
description: OCR (ocr.pipeline.ocr_pages with real Tesseract), archive.intake.extract_fields,
archive.intake.describe_record (fallback title: the file stem) and the pages' low-confidence
flags, then archive.index.attention.review_reasons. A record is "really wrong" when a field
differs from the letter's truth; the queue's precision and recall follow. Run from the
project root:

    .venv/bin/python bench/review.py [--letters 60] [--seed 11] [--json out.json]

See bench/README.md for how the figures are computed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
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
    verdict,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from archive.index.attention import (  # noqa: E402 - needs the path above
    UNSURE_PAGE,
    review_reasons,
)
from archive.intake import describe_record, extract_fields  # noqa: E402
from ocr.inputs import open_document  # noqa: E402
from ocr.options import OcrOptions  # noqa: E402
from ocr.page import PageResult  # noqa: E402
from ocr.pipeline import ocr_pages  # noqa: E402
from ocr.recognize import tesseract_version  # noqa: E402
from records.samples import (  # noqa: E402
    LANGUAGES,
    LetterTruth,
    PageStyle,
    make_letter,
    render_batch,
    render_page,
    save_page,
)

# The record's fields as the sidecar names them -> as LetterTruth names them.
FIELDS = {"title": "title", "date": "document_date", "document_type": "document_type",
          "document_number": "document_number", "issuer": "issuer"}
TARGET_PRECISION = 0.8  # at most 1 in 5 queued records already correct
THRESHOLDS = (90.0, 85.0, 80.0, 70.0, 60.0, 50.0)  # what-if values of the page-confidence rule

# --------------------------------------------------------------------------- the batch

# Letters the bench degrades itself, cycled over the second half of the batch: what each
# variant does to the scan (PageStyle per page number) or to the text of page 1.
VARIANTS = ("lowres", "fax", "tiny", "no-subject", "no-date")
_SUBJECT = re.compile(r"^(Subject: |Betreff: |Về việc |V/v )")
_DATE_LINE = re.compile(r"^[^\d,]+, (ngày \d|den \d|\d{1,2} [A-Z])")  # as samples lays it out


def variant_style(variant: str, page: int, index: int) -> PageStyle:
    """How a degraded letter's page was scanned. "lowres": an 80 dpi JPEG; "fax": a 100 dpi
    bilevel G4 TIFF under heavy grain and specks; "tiny": 60 dpi, a thumbnail taken for a
    scan (grey JPEG or bilevel G4 in turn); the others a clean-ish 300 dpi scan, their
    trouble is in the text. Page 1 lies a little crooked."""
    skew = (1.5 if index % 2 else -2.0) if page == 0 else 0.0
    if variant == "lowres":
        return PageStyle(skew=skew, noise=0.3, encoding="jpeg", dpi=80)
    if variant == "fax":
        return PageStyle(skew=skew, noise=0.9, bilevel=True, encoding="tiff-g4", dpi=100)
    if variant == "tiny":
        if index % 2:
            return PageStyle(skew=skew, noise=0.5, bilevel=True, encoding="tiff-g4", dpi=60)
        return PageStyle(skew=skew, noise=0.3, encoding="jpeg", dpi=60)
    return PageStyle(rotation=180 if index % 3 == 2 and page == 0 else 0, noise=0.2 * (index % 2))


def without_lines(text: str, drop: Callable[[list[str], int], int]) -> str:
    """The page without the run of lines ``drop(lines, i)`` says to cut from line i (0: none),
    and without the blank line the cut would leave doubled."""
    lines = text.split("\n")
    for i in range(len(lines)):
        count = drop(lines, i)
        if count:
            end = i + count
            if end < len(lines) and not lines[end].strip() and (i == 0 or not lines[i - 1].strip()):
                end += 1
            return "\n".join(lines[:i] + lines[end:])
    return text


def _subject_run(lines: list[str], i: int) -> int:
    if not _SUBJECT.match(lines[i]):
        return 0
    count = 1
    while i + count < len(lines) and lines[i + count].strip():
        count += 1  # the subject's wrapped lines, up to the blank line under it
    return count


def _date_line(lines: list[str], i: int) -> int:
    return 1 if _DATE_LINE.match(lines[i]) else 0


@dataclass
class Letter:
    """One record: its truth, what the machine made of it, and the verdicts."""

    path: Path
    variant: str
    truth: LetterTruth
    expected: dict[str, str | None]  # per sidecar field; None: not on the paper at all
    pages: list[PageResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    described: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    wrong: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # field: got, want
    wrong_loose: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def queued(self) -> bool:
        return bool(self.reasons)

    @property
    def is_wrong(self) -> bool:
        return bool(self.wrong)


def expected_of(truth: LetterTruth) -> dict[str, str | None]:
    return {name: getattr(truth, attr) for name, attr in FIELDS.items()}


def degraded_letter(dest: Path, variant: str, language: str, seed: int, index: int,
                    number: int) -> Letter:
    """Render one letter of a bench variant as a single file (one page) or a folder."""
    pages = 1 + index % 2
    truth = make_letter(language, seed * 1000 + 500 + index, pages=pages)
    expected = expected_of(truth)
    texts = list(truth.pages)
    if variant == "no-subject":
        texts[0] = without_lines(texts[0], _subject_run)
        expected["title"] = None
    elif variant == "no-date":
        texts[0] = without_lines(texts[0], _date_line)
        expected["date"] = None
    if texts[0] == truth.pages[0] and variant in ("no-subject", "no-date"):
        raise RuntimeError(f"{variant}: nothing to cut from letter {number} ({language})")
    truth = replace(truth, pages=texts)
    styles = [variant_style(variant, page, index) for page in range(pages)]
    images = [render_page(text, style, seed=seed * 1000 + 500 + index * 10 + page)
              for page, (text, style) in enumerate(zip(texts, styles, strict=True))]
    suffix = {"png": "png", "jpeg": "jpg", "tiff-g4": "tif", "tiff": "tif"}
    stem = f"letter-{number:02d}-{language}-{variant}"
    if pages == 1:
        path = save_page(images[0], dest / f"{stem}.{suffix[styles[0].encoding]}", styles[0])
    else:
        path = dest / stem
        path.mkdir(parents=True, exist_ok=True)
        for page, (image, style) in enumerate(zip(images, styles, strict=True), 1):
            save_page(image, path / f"page-{page}.{suffix[style.encoding]}", style)
    return Letter(path, variant, truth, expected)


def render_letters(dest: Path, letters: int, seed: int) -> list[Letter]:
    """Half records.samples' own batch (every shape; some pages turned, skewed, noisy or
    bilevel), half the bench's variants, languages cycled over both halves."""
    degraded = letters // 2
    standard = letters - degraded
    batch: list[Letter] = []
    if standard:
        for path, truth in render_batch(dest / "batch", letters=standard, seed=seed):
            batch.append(Letter(path, "standard", truth, expected_of(truth)))
    (dest / "degraded").mkdir(parents=True, exist_ok=True)
    for index in range(degraded):
        language = LANGUAGES[index % len(LANGUAGES)]
        variant = VARIANTS[index % len(VARIANTS)]  # with 3 languages: all 15 pairs
        batch.append(degraded_letter(dest / "degraded", variant, language, seed, index,
                                     standard + index + 1))
    return batch


# --------------------------------------------------------------------------- the pipeline


def recognise(letter: Letter, cache: Path, jobs: int, pool: ThreadPoolExecutor) -> None:
    """OCR one record in its own language, as the flow does with the manifest's language; a
    failure is a result (the flow would quarantine or fail the record: it is never queued)."""
    options = OcrOptions(languages=letter.truth.language, jobs=jobs)
    try:
        document = open_document(letter.path, options.max_page_pixels)
        letter.pages = ocr_pages(document, options, cache, pool=pool)
    except Exception as exc:  # the bench reports every failure and goes on
        letter.error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    letter.seconds = sum(page.seconds for page in letter.pages)


def recognise_all(letters: list[Letter], cache: Path, jobs: int) -> None:
    """Every record at once through one pool of page workers, as the batch flow runs them."""
    with ThreadPoolExecutor(max_workers=jobs) as pages, \
            ThreadPoolExecutor(max_workers=max(1, len(letters))) as records:
        for future in [records.submit(recognise, letter, cache, jobs, pages)
                       for letter in letters]:
            future.result()


def technical(pages: list[PageResult], threshold: float | None = None) -> dict[str, Any]:
    """The sidecar's technical part as far as the queue reads it (flows/digitise._technical);
    with ``threshold``, each page's flag set as that threshold would set it, and its mean
    confidence left out, so the queue goes by the flag instead of its own UNSURE_PAGE."""
    rows = [{k: v for k, v in asdict(p).items() if k not in ("directory", "cached")}
            for p in pages]
    if threshold is not None:
        for row in rows:
            row["low_confidence"] = (row["mean_confidence"] or 0.0) < threshold
            row["mean_confidence"] = None
    return {"pages": rows, "needs_review": any(row["low_confidence"] for row in rows)}


def describe(letter: Letter) -> None:
    """What the flow's archive_document decides, with no manifest row: every field is the
    machine's (a person's field is never a reason, so it would tell nothing here)."""
    language = letter.truth.language
    texts = [page.text for page in letter.pages]
    descriptive = describe_record({}, {"unit": "BENCH", "series": "", "classification": "public",
                                       "language": language},
                                  extract_fields(texts, language), letter.path.stem)
    letter.described = asdict(descriptive)
    letter.reasons = review_reasons({"descriptive": letter.described,
                                     "technical": technical(letter.pages)})
    letter.wrong, letter.wrong_loose = judge(letter.described, letter.expected)


# --------------------------------------------------------------------------- scoring


def strict(text: str | None) -> str:
    """NFC, whitespace runs as one space, trimmed, case-folded: the equality a catalog user
    sees. Diacritics and punctuation count: a misread tone mark is a wrong title."""
    return normalise(text or "").casefold()


def loose(text: str | None) -> str:
    """Also without diacritics (đ as d): differences here are more than a misread mark."""
    decomposed = unicodedata.normalize("NFD", strict(text).replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def judge(described: dict[str, Any], expected: dict[str, str | None]
          ) -> tuple[dict[str, tuple[str, str | None]], dict[str, tuple[str, str | None]]]:
    """The fields that differ from the truth, strictly and ignoring diacritics. A title that
    fell back to the file name is wrong whatever the paper says; a field not on the paper is
    right only when the machine left it empty."""
    wrong: dict[str, tuple[str, str | None]] = {}
    wrong_loose: dict[str, tuple[str, str | None]] = {}
    for name, want in expected.items():
        got = str(described.get(name) or "")
        fell_back = name == "title" and described["sources"].get("title") != "extracted"
        if fell_back or strict(got) != strict(want):
            wrong[name] = (got, want)
        if fell_back or loose(got) != loose(want):
            wrong_loose[name] = (got, want)
    return wrong, wrong_loose


def reason_kind(reason: str) -> str:
    """A reason without its particulars (which pages, how many words)."""
    if reason.startswith("low OCR confidence"):
        return "low OCR confidence"
    if reason.startswith("title is the file name"):
        return "title is the file name"
    if re.match(r"title is \d+ words", reason):
        return "title is too long"
    return reason  # "no type was read", ... and any reason added later, as it is


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def queue_figures(letters: Sequence[Letter], queued: Callable[[Letter], bool],
                  wrong: Callable[[Letter], bool]) -> dict[str, Any]:
    """Counts and rates of one way of queueing, over the records the flow would archive."""
    queue = [x for x in letters if queued(x)]
    hits = sum(wrong(x) for x in queue)
    all_wrong = sum(wrong(x) for x in letters)
    return {"records": len(letters), "queued": len(queue), "share": ratio(len(queue), len(letters)),
            "really_wrong": all_wrong, "queued_and_wrong": hits,
            "queued_but_correct": len(queue) - hits, "escaped": all_wrong - hits,
            "precision": ratio(hits, len(queue)), "recall": ratio(hits, all_wrong)}


def reason_figures(letters: Sequence[Letter]) -> dict[str, dict[str, Any]]:
    """Per kind of reason: how often it fires, how often the record is then really wrong, and
    the records it alone put in the queue (what dropping it would change)."""
    kinds: dict[str, dict[str, Any]] = {}
    for letter in letters:
        mine = {reason_kind(r) for r in letter.reasons}
        for kind in mine:
            row = kinds.setdefault(kind, Counter())
            row["fires"] += 1
            row["really_wrong"] += letter.is_wrong
            if len(mine) == 1:
                row["alone"] += 1
                row["alone_correct"] += not letter.is_wrong
    return {kind: {**row, "share": ratio(row["fires"], len(letters)),
                   "precision": ratio(row["really_wrong"], row["fires"])}
            for kind, row in sorted(kinds.items(), key=lambda kv: -kv[1]["fires"])}


def what_if(letters: Sequence[Letter]) -> dict[str, dict[str, Any]]:
    """The queue with other low-confidence rules, the rest of the reasons unchanged: to see
    whether another page-confidence threshold (or reading page 1 only) would meet the target."""
    rules: dict[str, dict[str, Any]] = {}

    def reasons_with(letter: Letter, threshold: float, first_only: bool) -> list[str]:
        pages = letter.pages[:1] if first_only else letter.pages
        return review_reasons({"descriptive": letter.described,
                               "technical": technical(pages, threshold)})

    variants: list[tuple[str, float, bool]] = [
        *((f"pages under {t:.0f}" + (" (as configured)" if t == UNSURE_PAGE else ""), t,
           False)
          for t in THRESHOLDS),
        *((f"page 1 under {t:.0f}", t, True) for t in THRESHOLDS),
        ("never (no low-confidence reason)", 0.0, False)]
    for label, threshold, first_only in variants:
        queued = {id(x) for x in letters if reasons_with(x, threshold, first_only)}
        rules[label] = queue_figures(letters, lambda x, q=queued: id(x) in q,
                                     lambda x: x.is_wrong)
    return rules


# --------------------------------------------------------------------------- output


def confidences(letter: Letter) -> str:
    return " ".join(fmt_num(p.mean_confidence, 0) for p in letter.pages)


def summary_table(figures: dict[str, Any], loose_figures: dict[str, Any],
                  undated_figures: dict[str, Any], letters: int, failed: int) -> Any:
    precision = figures["precision"]
    met = None if precision is None else precision >= TARGET_PRECISION
    rows = [["letters rendered", str(letters)],
            ["OCR failed (never archived, not scored)", str(failed)],
            ["records", str(figures["records"])],
            ["queued (share)", f"{figures['queued']} ({fmt_pct(figures['share'], 1)})"],
            ["really wrong", str(figures["really_wrong"])],
            ["queued and really wrong", str(figures["queued_and_wrong"])],
            ["queued but already correct", str(figures["queued_but_correct"])],
            ["wrong but not queued (escaped)", str(figures["escaped"])],
            ["[bold]precision[/bold] (target >= 0.80)",
             f"{fmt_num(precision, 3)} {verdict(met)}"],
            ["[bold]recall[/bold]", fmt_num(figures["recall"], 3)],
            ["[dim]precision, recall if diacritics-only misreads count as right[/dim]",
             f"{fmt_num(loose_figures['precision'], 3)}, {fmt_num(loose_figures['recall'], 3)}"],
            ["[dim]precision, recall if a letter without a date needs a person anyway[/dim]",
             f"{fmt_num(undated_figures['precision'], 3)}, "
             f"{fmt_num(undated_figures['recall'], 3)}"]]
    return make_table("review queue", ["", "value"], rows)


def reasons_table(by_kind: dict[str, dict[str, Any]]) -> Any:
    rows = [[kind, str(row["fires"]), fmt_pct(row["share"], 1), str(row["really_wrong"]),
             fmt_num(row["precision"], 3), str(row.get("alone", 0)),
             str(row.get("alone_correct", 0))] for kind, row in by_kind.items()]
    return make_table("per reason (a record with several reasons counts under each)",
                      ["reason", "fires", "of records", "really wrong", "precision",
                       "only reason", "only reason, correct"], rows)


def variant_table(letters: Sequence[Letter]) -> Any:
    rows = []
    for variant in ("standard", *VARIANTS):
        chosen = [x for x in letters if x.variant == variant]
        if not chosen:
            continue
        scored = [x for x in chosen if not x.error]
        wrong_fields = Counter(name for x in scored for name in x.wrong)
        rows.append([variant, str(len(chosen)), str(len(chosen) - len(scored)),
                     str(sum(x.queued for x in scored)), str(sum(x.is_wrong for x in scored)),
                     str(sum(x.queued and x.is_wrong for x in scored)),
                     str(sum(x.queued and not x.is_wrong for x in scored)),
                     str(sum(x.is_wrong and not x.queued for x in scored)),
                     ", ".join(f"{n} {c}" for n, c in wrong_fields.most_common())])
    return make_table("per kind of letter", ["letters", "n", "OCR failed", "queued",
                                             "wrong", "queued & wrong", "queued, correct",
                                             "escaped", "wrong fields"], rows, right_from=1)


def what_if_table(rules: dict[str, dict[str, Any]]) -> Any:
    rows = [[label, f"{row['queued']} ({fmt_pct(row['share'], 0)})",
             str(row["queued_but_correct"]), str(row["escaped"]), fmt_num(row["precision"], 3),
             fmt_num(row["recall"], 3)] for label, row in rules.items()]
    return make_table("what if low confidence meant (other reasons unchanged)",
                      ["low confidence when", "queued", "queued, correct", "escaped",
                       "precision", "recall"], rows)


def detail_rows(letters: Sequence[Letter], everything: bool) -> list[list[str]]:
    """Queued-but-correct and escaped records (every record with --details)."""
    rows = []
    for x in letters:
        if x.error:
            continue
        if x.queued == x.is_wrong and not everything:
            continue
        kind = ("queued, correct" if x.queued and not x.is_wrong else
                "ESCAPED" if x.is_wrong and not x.queued else
                "queued, wrong" if x.queued else "correct")
        wrong = "; ".join(f"{n}: {got!r} (truth {want!r})" for n, (got, want) in x.wrong.items())
        rows.append([x.path.name, x.variant, kind, "; ".join(x.reasons) or "-",
                     confidences(x), wrong or "-"])
    return rows


def letter_json(x: Letter) -> dict[str, Any]:
    return {"source": x.path.name, "variant": x.variant, "language": x.truth.language,
            "pages": len(x.truth.pages), "error": x.error, "ocr_seconds": x.seconds,
            "confidence": [p.mean_confidence for p in x.pages],
            "low_confidence": [p.low_confidence for p in x.pages],
            "truth": x.expected,
            "described": {name: x.described.get(name) for name in FIELDS} if x.described else None,
            "sources": x.described.get("sources") if x.described else None,
            "reasons": x.reasons, "queued": x.queued if not x.error else None,
            "wrong": {n: list(v) for n, v in x.wrong.items()},
            "wrong_ignoring_diacritics": sorted(x.wrong_loose)}


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=60, help="letters to render (default 60)")
    parser.add_argument("--seed", type=int, default=11, help="seed of the batch (default 11)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="pages recognised at once (default: cores)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="reuse this page cache between runs (default: a fresh temporary "
                             "one, so every page is really recognised)")
    parser.add_argument("--details", action="store_true",
                        help="list every record, not only the queued-but-correct and escaped")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Render, recognise, describe, queue, score, print (and write) the figures."""
    args = parse_args(argv)
    if args.letters < 1:
        raise SystemExit("--letters must be at least 1")
    console.print(f"{args.letters} letters, seed {args.seed}, {args.jobs} pages at a time, "
                  f"{tesseract_version()}, load average {machine_load():.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        with stopwatch() as elapsed:
            letters = render_letters(work, args.letters, args.seed)
        render_wall = elapsed()
        cache = args.cache or work / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        with stopwatch() as elapsed:
            recognise_all(letters, cache, args.jobs)
        ocr_wall = elapsed()
        for letter in letters:  # reads page.txt from the cache: before it is removed
            if not letter.error:
                describe(letter)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    scored = [x for x in letters if not x.error]
    pages = sum(len(x.truth.pages) for x in letters)
    figures = queue_figures(scored, lambda x: x.queued, lambda x: x.is_wrong)
    loose_figures = queue_figures(scored, lambda x: x.queued, lambda x: bool(x.wrong_loose))
    undated_figures = queue_figures(scored, lambda x: x.queued,
                                    lambda x: x.is_wrong or x.expected["date"] is None)
    by_kind = reason_figures(scored)
    rules = what_if(scored)
    console.print(f"rendering {fmt_num(render_wall)} s; OCR: {pages} pages in "
                  f"{fmt_num(ocr_wall)} s")
    console.print(summary_table(figures, loose_figures, undated_figures, len(letters),
                                len(letters) - len(scored)))
    console.print(reasons_table(by_kind))
    console.print(variant_table(letters))
    console.print(what_if_table(rules))
    rows = detail_rows(scored, args.details)
    if rows:
        console.print(make_table("every record" if args.details else
                                 "queued but already correct, and wrong but not queued",
                                 ["record", "letter", "verdict", "reasons", "page confidence",
                                  "wrong fields"], rows, right_from=6))
    for letter in letters:
        if letter.error:
            console.print(f"[red]{letter.path.name}: OCR failed: {letter.error}[/red]")
    if args.json:
        result = {
            "environment": {"tesseract": tesseract_version(), "cores": os.cpu_count(),
                            "python": sys.version.split()[0], "load": machine_load()},
            "letters": args.letters, "seed": args.seed, "jobs": args.jobs, "pages": pages,
            "render_seconds": render_wall, "ocr_wall_seconds": ocr_wall,
            "ocr_failed": len(letters) - len(scored), "queue": figures,
            "queue_ignoring_diacritics": loose_figures,
            "queue_undated_need_a_person": undated_figures, "reasons": by_kind,
            "low_confidence_what_if": rules, "items": [letter_json(x) for x in letters]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        console.print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
