"""OCR benchmark: records against raw Tesseract (the floor) and OCRmyPDF (the peer).

Every tool reads the same files in the same run, twice: once as image files, once as the
image-only PDFs office scanners write (CCITT G4 and JBIG2 for bilevel pages, JPEG for grey
and colour). Each output is read back with pdftotext and scored against ground truth, so what
is compared is what a reader's search will find. Run from the project root:

    .venv/bin/python bench/ocr.py [--corpus ../shared/corpus] [--set all] [--pages N]
                                  [--kinds images,pdf] [--json out.json]

See bench/README.md for what exactly each tool is given and how the figures are computed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # the path above makes bench/ importable however this is run
    CerTally,
    CpuMeter,
    PeakMemory,
    console,
    edit_distance,
    fmt_bytes,
    fmt_num,
    fmt_pct,
    machine_load,
    make_table,
    normalise,
    pdf_text,
    run_command,
    run_parallel,
    verdict,
    wait_for_quiet,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from records.samples import render_batch, scanner_pdf  # noqa: E402 - after the path

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
SETS = ("oldbooks", "tesseract", "vietnamese", "letters")
CORPUS_FOLDERS = {"oldbooks": "oldbooks-en/", "tesseract": "tesseract-testing/",
                  "vietnamese": "vietnamese/"}
TOOLS = ("tesseract", "ocrmypdf", "records")
KINDS = ("images", "pdf")
DEFAULT_PAGES = 24  # per set: `--set all` then takes about twenty minutes on two cores
BELIEVABLE_DPI = (70.0, 1200.0)  # outside this a DPI tag is a scanner's lie
FALLBACK_DPI = 300  # what the corpus README says the lying oldbooks TIFFs really are
CER_TOLERANCE = 0.001  # "no worse" allows 0.1 percentage point of noise
BUSY_CORES = 0.25  # other processes using more than this during a run: wall times suspect
FLAG_MARGIN = 0.01  # items where records is this much (absolute CER) worse are listed
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2"}
TOOL_TIMEOUT = 900.0
PPM_GOAL, WALL_GOAL = 2.5, 1.1  # records' pages/min over OCRmyPDF's; its wall over Tesseract's

# --------------------------------------------------------------------------- the material


@dataclass(frozen=True)
class Page:
    """One page, as every tool reads it in the images run and as the PDF run stores it."""

    image: Path  # single-frame, opaque image file (the original file whenever it is one)
    dpi: float
    dpi_tagged: bool  # False: the file had no believable DPI, so it is passed explicitly
    encoding: str  # how the scanner's PDF stores the page: "g4", "jbig2" or "jpeg"


@dataclass
class Item:
    """A scoring unit: one corpus file (page) or one synthetic letter (document)."""

    name: str
    source: Path  # a file (all its frames) or a folder of page images
    language: str
    truth: str | None
    frames: int
    join_hyphens: bool = False
    pages: list[Page] = field(default_factory=list)


@dataclass
class Document:
    """A set's pages in one language, in set order: what records and OCRmyPDF are given as
    one document (a scanner's PDF in the PDF run, the page images in the images run)."""

    language: str
    items: list[Item]
    pdf: Path

    @property
    def pages(self) -> list[Page]:
        return [page for item in self.items for page in item.pages]

    def ranges(self) -> list[tuple[Item, int, int]]:
        """Each item with its first and last page number within the document."""
        out, first = [], 1
        for item in self.items:
            out.append((item, first, first + len(item.pages) - 1))
            first += len(item.pages)
        return out


def installed_languages() -> set[str]:
    """Tesseract's installed models: manifest languages outside them are dropped."""
    done = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                          check=True)
    return {line.strip() for line in done.stdout.splitlines()[1:] if line.strip()} - {"osd"}


def usable_language(language: str, installed: set[str]) -> str | None:
    """"eng+deu+fra" -> "eng+deu" when only those are installed; None if nothing is."""
    kept = [code for code in language.split("+") if code in installed]
    return "+".join(kept) or None


def natural_key(name: str) -> list[object]:
    """page-2 before page-10, as the engine orders a folder's pages."""
    return [int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", name)]


def source_files(source: Path) -> list[Path]:
    """The image files of a record, in page order (a folder's images, or the file)."""
    if not source.is_dir():
        return [source]
    files = [p for p in source.iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def count_frames(source: Path) -> int:
    """Pages of a record: records numbers them across files and frames, so must we."""
    total = 0
    for path in source_files(source):
        with Image.open(path) as image:
            total += getattr(image, "n_frames", 1)
    return total


def corpus_items(corpus: Path, set_name: str, installed: set[str]) -> list[Item]:
    """The manifest's page rows of one corpus set, with their ground truth if any."""
    folder = CORPUS_FOLDERS[set_name]
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    items = []
    for row in rows:
        if row["kind"] != "page" or not row["path"].startswith(folder):
            continue
        if set_name != "vietnamese" and not row["ground_truth_path"]:
            continue
        language = usable_language(row["language"], installed)
        if language is None:
            console.print(f"[yellow]skipped {row['path']}: no installed language "
                          f"among {row['language']}[/yellow]")
            continue
        truth_path = row["ground_truth_path"]
        truth = (corpus / truth_path).read_text(encoding="utf-8") if truth_path else None
        source = corpus / row["path"]
        items.append(Item(row["path"], source, language, truth, count_frames(source),
                          join_hyphens=set_name == "oldbooks"))
    return items


def letter_items(dest: Path, letters: int, seed: int) -> list[Item]:
    """The project's own rendered letters, one item per letter."""
    render_batch(dest, letters=letters, seed=seed)
    truth_file = dest.parent / f"{dest.name}.truth.json"
    items = []
    for record in json.loads(truth_file.read_text(encoding="utf-8")):
        source = dest / record["source"]
        items.append(Item(record["source"], source, record["language"],
                          "\n".join(record["pages"]), count_frames(source)))
    return items


def select(items: list[Item], pages: int) -> list[Item]:
    """Items spread evenly over the set (every book, not the first one) within *pages*."""
    for count in range(len(items), 0, -1):
        chosen = [items[i * len(items) // count] for i in range(count)]
        if sum(item.frames for item in chosen) <= pages:
            return chosen
    return items[:1]


# --------------------------------------------------------------------------- preparing pages


def decide_dpi(info: dict[str, Any]) -> tuple[float, bool]:
    """The frame's DPI tag if believable, else the fallback (and say it was not tagged)."""
    tag = info.get("dpi")
    try:
        x = float(tag[0])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return float(FALLBACK_DPI), False
    low, high = BELIEVABLE_DPI
    return (x, True) if low <= x <= high else (float(FALLBACK_DPI), False)


def _has_alpha(image: Image.Image) -> bool:
    """Whether OCRmyPDF would refuse the frame (a scan has no transparency to lose)."""
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _flatten(image: Image.Image) -> Image.Image:
    """Alpha on white: img2pdf and OCRmyPDF refuse alpha, a scan has none to lose."""
    rgba = image.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, "white")
    flat.alpha_composite(rgba)
    return flat.convert("RGB")


def scanner_encoding(image: Image.Image, office_letters: bool) -> str:
    """How an office scanner stores the page: letters and bilevel pages as CCITT G4, grey and
    colour pages (book scans) as JPEG."""
    return "g4" if office_letters or image.mode == "1" else "jpeg"


def prepare_frame(path: Path, image: Image.Image, frames: int, base: Path,
                  office_letters: bool) -> Page:
    """Write the single-frame image every tool reads; untimed, like a scanner's output."""
    dpi, tagged = decide_dpi(image.info)
    if frames == 1 and not _has_alpha(image):
        single = path
    else:
        single = base.with_suffix(".png")
        (_flatten(image) if _has_alpha(image) else image).save(single, dpi=(dpi, dpi))
    return Page(single, dpi, tagged, scanner_encoding(image, office_letters))


def prepare_item(item: Item, index: int, work: Path, office_letters: bool) -> None:
    """Split an item into single-page images, each with the encoding its PDF page gets."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", Path(item.name).stem).strip("-")
    number = 0
    for path in source_files(item.source):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                frames = getattr(image, "n_frames", 1)
                for frame in range(frames):
                    image.seek(frame)
                    number += 1
                    base = work / f"{index:03d}-{stem}-p{number}"
                    item.pages.append(prepare_frame(path, image, frames, base, office_letters))


def scanner_document(pages: Sequence[Page], out: Path) -> Path:
    """The pages as one image-only PDF, each page stored as the scanner would store it."""
    document = pikepdf.new()
    for number, page in enumerate(pages, 1):
        single = out.with_name(f"{out.stem}-page{number}.pdf")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(page.image) as image:
                image.load()
                opaque = _flatten(image) if _has_alpha(image) else image
                scanner_pdf([opaque], single, round(page.dpi), page.encoding)
        with pikepdf.open(single) as one:
            document.pages.extend(one.pages)
        single.unlink()
    document.save(out)
    return out


def documents(items: list[Item], work: Path, jbig2_page: bool) -> list[Document]:
    """One document per language, in set order; with *jbig2_page*, the first G4 page of the
    set is stored as JBIG2 instead, as some scanners do."""
    if jbig2_page:
        first = next((i for i in items for p in i.pages if p.encoding == "g4"), None)
        if first is not None:
            at = next(n for n, p in enumerate(first.pages) if p.encoding == "g4")
            old = first.pages[at]
            first.pages[at] = Page(old.image, old.dpi, old.dpi_tagged, "jbig2")
    grouped: dict[str, list[Item]] = {}
    for item in items:
        grouped.setdefault(item.language, []).append(item)
    docs = []
    for index, (language, members) in enumerate(grouped.items()):
        pdf = work / f"scan-{index}-{language.replace('+', '_')}.pdf"
        docs.append(Document(language, members, pdf))
        scanner_document(docs[-1].pages, pdf)
    return docs


# --------------------------------------------------------------------------- running the tools


@dataclass
class ToolRun:
    """One tool over one set in one kind of input: its clock, memory, failures and texts."""

    tool: str
    wall: float
    pages: int
    peak_rss: int
    cpu: float = 0.0  # CPU seconds of the tool's whole process tree
    foreign_cores: float = 0.0  # cores kept busy by other processes meanwhile
    prep_wall: float = 0.0  # Tesseract in the PDF run: taking the pages out first
    texts: dict[str, str] = field(default_factory=dict)  # item name -> extracted text
    failures: list[str] = field(default_factory=list)
    engine_texts: dict[str, str] = field(default_factory=dict)  # records only: page.txt
    pages_seen: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # records only

    @property
    def ppm(self) -> float:
        return self.pages * 60 / self.wall if self.wall else 0.0

    @property
    def ppm_with_prep(self) -> float:
        total = self.wall + self.prep_wall
        return self.pages * 60 / total if total else 0.0


def tool_env(**extra: str) -> dict[str, str]:
    """One OpenMP thread per Tesseract: parallelism comes from running pages side by side."""
    return {**os.environ, "OMP_THREAD_LIMIT": "1", **extra}


def beside_python(name: str, extra: str) -> str:
    """A tool installed beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed ({extra})")
    return found


def ocrmypdf_command() -> str:
    return beside_python("ocrmypdf", "pip install 'records[bench]'")


def records_command() -> str:
    return beside_python("records", "pip install -e .")


def _failure(label: str, result: Any) -> str:
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return f"{label}: exit {result.returncode}: {last[:200]}"


def _per_page(tool: str, items: list[Item], commands: list[list[str]], outputs: list[Path],
              jobs: int, env: dict[str, str]) -> ToolRun:
    """Run one command per page, *jobs* at a time, and read each page's text back."""
    with PeakMemory() as memory, CpuMeter() as meter:
        wall, results = run_parallel(commands, jobs, env, TOOL_TIMEOUT)
    run = ToolRun(tool, wall, len(outputs), memory.peak, meter.cpu, meter.foreign_cores)
    texts, done = iter(outputs), iter(results)
    for item in items:
        parts = []
        for _page in item.pages:
            out, result = next(texts), next(done)
            if result.returncode != 0 or not out.is_file():
                run.failures.append(_failure(out.stem, result))
                continue
            parts.append(pdf_text(out))
        run.texts[item.name] = "\n".join(parts)
    return run


def _per_document(tool: str, docs: list[Document], commands: list[list[str]],
                  outputs: list[Path], envs: list[dict[str, str]]) -> ToolRun:
    """Run one command per document, one after the other, each using every core it wants."""
    results = []
    with PeakMemory() as memory, CpuMeter() as meter:
        for command, env in zip(commands, envs, strict=True):
            results.append(run_command(command, env, TOOL_TIMEOUT))
    wall = sum(result.seconds for result in results)
    run = ToolRun(tool, wall, sum(len(d.pages) for d in docs), memory.peak, meter.cpu,
                  meter.foreign_cores)
    for doc, out, result in zip(docs, outputs, results, strict=True):
        failed = result.returncode != 0 or not out.is_file()
        if failed:
            run.failures.append(_failure(f"the {doc.language} document of {len(doc.pages)} "
                                         "pages", result))
        for item, first, last in doc.ranges():
            run.texts[item.name] = "" if failed else pdf_text(out, first, last)
    return run


def extract_pages(docs: list[Document], work: Path, jobs: int) -> tuple[float, list[Path]]:
    """Tesseract reads no PDF: take each page's image out with pdfimages (the cheapest way,
    the scanner's own pixels), timed apart from recognition."""
    commands, prefixes = [], []
    for index, doc in enumerate(docs):
        for number in range(1, len(doc.pages) + 1):
            prefix = work / f"tess-extract-{index}-{number}"
            commands.append(["pdfimages", "-f", str(number), "-l", str(number), "-j",
                             str(doc.pdf), str(prefix)])
            prefixes.append(prefix)
    wall, results = run_parallel(commands, jobs, tool_env(), TOOL_TIMEOUT)
    images = []
    for prefix, result in zip(prefixes, results, strict=True):
        found = sorted(prefix.parent.glob(f"{prefix.name}-*"))
        if result.returncode != 0 or len(found) != 1:
            raise SystemExit(f"pdfimages could not take out {prefix.name}: "
                             f"{_failure('page', result)}")
        images.append(found[0])
    return wall, images


def run_tesseract(kind: str, docs: list[Document], work: Path, jobs: int) -> ToolRun:
    """The floor: `tesseract page out -l LANG pdf`, no deskew, no turning, nothing else."""
    pages = [page for doc in docs for page in doc.pages]
    prep, images = (0.0, [p.image for p in pages])
    if kind == "pdf":
        prep, images = extract_pages(docs, work, jobs)
    commands, outputs = [], []
    languages = [doc.language for doc in docs for _ in doc.pages]
    for number, (page, image, language) in enumerate(zip(pages, images, languages,
                                                         strict=True)):
        base = work / f"tess-{kind}-{number}"
        # An extracted image carries no resolution tag: say it, as for an untagged file.
        dpi = [] if page.dpi_tagged and kind == "images" else ["--dpi", str(round(page.dpi))]
        commands.append(["tesseract", str(image), str(base), "-l", language, *dpi, "pdf"])
        outputs.append(base.with_suffix(".pdf"))
    items = [item for doc in docs for item in doc.items]
    run = _per_page("tesseract", items, commands, outputs, jobs, tool_env())
    run.prep_wall = prep
    return run


OCRMYPDF_OPTIONS = ("--rotate-pages", "--deskew", "--output-type", "pdfa")


def run_ocrmypdf(kind: str, docs: list[Document], work: Path, jobs: int) -> ToolRun:
    """The peer, as its docs suggest for scans: turn, level, PDF/A. A PDF is one call with
    --jobs; image files are one call each (OCRmyPDF takes one image per call), side by side."""
    binary = ocrmypdf_command()
    if kind == "pdf":
        outputs = [work / f"ocrmypdf-{i}.pdf" for i in range(len(docs))]
        commands = [[binary, *OCRMYPDF_OPTIONS, "-l", doc.language, "--jobs", str(jobs),
                     str(doc.pdf), str(out)] for doc, out in zip(docs, outputs, strict=True)]
        return _per_document("ocrmypdf", docs, commands, outputs, [tool_env()] * len(docs))
    commands, outputs = [], []
    for doc in docs:
        for page in doc.pages:
            out = work / f"ocrmypdf-{len(outputs)}.pdf"
            dpi = [] if page.dpi_tagged else ["--image-dpi", str(round(page.dpi))]
            commands.append([binary, *OCRMYPDF_OPTIONS, "-l", doc.language, "--jobs", "1", *dpi,
                             str(page.image), str(out)])
            outputs.append(out)
    items = [item for doc in docs for item in doc.items]
    return _per_page("ocrmypdf", items, commands, outputs, jobs, tool_env())


def run_records(kind: str, docs: list[Document], work: Path, jobs: int) -> ToolRun:
    """records as a user runs it: `records ocr` once per document, start-up included, each
    with an empty page cache of its own (nothing is reused from an earlier run)."""
    binary = records_command()
    commands, outputs, envs, homes = [], [], [], []
    for index, doc in enumerate(docs):
        home = work / f"records-home-{kind}-{index}"
        shutil.rmtree(home, ignore_errors=True)
        out = work / f"records-{kind}-{index}.pdf"
        inputs = [str(doc.pdf)] if kind == "pdf" else [str(p.image) for p in doc.pages]
        commands.append([binary, "ocr", *inputs, "-o", str(out), "--lang", doc.language,
                         "--jobs", str(jobs)])
        outputs.append(out)
        envs.append(tool_env(RECORDS_HOME=str(home), RECORDS_CONFIG="", COLUMNS="200"))
        homes.append(home)
    run = _per_document("records", docs, commands, outputs, envs)
    for doc, home in zip(docs, homes, strict=True):
        seen = pages_seen(home)
        for item, first, last in doc.ranges():
            run.engine_texts[item.name] = "\n".join(seen[n]["text"] for n in
                                                    range(first, last + 1) if n in seen)
            run.pages_seen[item.name] = [seen[n] for n in range(first, last + 1) if n in seen]
    return run


def pages_seen(home: Path) -> dict[int, dict[str, Any]]:
    """What records decided about each page (its page cache's results), by page number."""
    seen = {}
    for result in (home / "cache" / "pages").glob("*/*/result.json"):
        page = json.loads(result.read_text(encoding="utf-8"))
        text = result.with_name("page.txt")
        page["text"] = text.read_text(encoding="utf-8") if text.is_file() else ""
        seen[page["number"]] = page
    return seen


RUNNERS = {"tesseract": run_tesseract, "ocrmypdf": run_ocrmypdf, "records": run_records}

# --------------------------------------------------------------------------- scoring

ENGINE = "records page.txt"  # diagnostic: the engine's text before it goes into the PDF


@dataclass
class KindResult:
    """The three tools on one set in one kind of input, scored."""

    kind: str
    runs: dict[str, ToolRun]
    tallies: dict[str, CerTally] = field(default_factory=dict)  # TOOLS and ENGINE
    item_scores: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass
class SetResult:
    name: str
    items: list[Item]
    kinds: dict[str, KindResult] = field(default_factory=dict)
    encodings: dict[str, int] = field(default_factory=dict)  # PDF pages per encoding
    skipped: str | None = None

    @property
    def pages(self) -> int:
        return sum(item.frames for item in self.items)


def item_texts(result: KindResult, item: Item) -> dict[str, str]:
    """What each tool (and records' engine, before its PDF) produced for one item."""
    texts = {tool: run.texts.get(item.name, "") for tool, run in result.runs.items()}
    texts[ENGINE] = result.runs["records"].engine_texts.get(item.name, "")
    return texts


def score(result: KindResult, items: list[Item]) -> None:
    """Micro-averaged CER per tool; per item too, and agreement where there is no truth."""
    result.tallies = {name: CerTally() for name in (*TOOLS, ENGINE)}
    for item in items:
        texts = item_texts(result, item)
        scores: dict[str, float | None] = {
            f"chars {name}": float(len(normalise(text))) for name, text in texts.items()
        }
        if item.truth is not None:
            for name, text in texts.items():
                scores[name] = result.tallies[name].add(text, item.truth,
                                                        join_hyphens=item.join_hyphens)
        else:  # no truth: how far records' text is from OCRmyPDF's, as a hint only
            peer, ours = normalise(texts["ocrmypdf"]), normalise(texts["records"])
            scores["records vs ocrmypdf"] = edit_distance(ours, peer) / len(peer) if peer else None
        result.item_scores[item.name] = scores


def ratios(runs: dict[str, ToolRun], tallies: dict[str, CerTally]) -> dict[str, float | None]:
    """The targets: throughput against the peer, time against the floor, accuracy."""
    rec, peer, floor = runs["records"], runs["ocrmypdf"], runs["tesseract"]
    rec_cer, peer_cer = tallies["records"].cer, tallies["ocrmypdf"].cer
    return {
        "ppm_vs_ocrmypdf": rec.ppm / peer.ppm if peer.ppm else None,
        # Against Tesseract's recognition alone: the pages handed to it already drawn.
        "wall_vs_tesseract": rec.wall / floor.wall if floor.wall else None,
        "wall_vs_tesseract_with_extraction": rec.wall / (floor.wall + floor.prep_wall)
        if floor.wall else None,
        "cer_minus_ocrmypdf": rec_cer - peer_cer
        if rec_cer is not None and peer_cer is not None else None,
        # The same comparisons in CPU seconds: far less disturbed by a busy machine.
        "cpu_ocrmypdf_over_records": peer.cpu / rec.cpu if rec.cpu else None,
        "cpu_records_over_tesseract": rec.cpu / floor.cpu if floor.cpu else None,
    }


def targets_met(r: dict[str, float | None]) -> dict[str, bool | None]:
    """The project's goals; None where a figure could not be measured (no ground truth)."""
    ppm, wall, cer = r["ppm_vs_ocrmypdf"], r["wall_vs_tesseract"], r["cer_minus_ocrmypdf"]
    return {
        "ppm_vs_ocrmypdf": None if ppm is None else ppm >= PPM_GOAL,
        "wall_vs_tesseract": None if wall is None else wall <= WALL_GOAL,
        "cer_minus_ocrmypdf": None if cer is None else cer <= CER_TOLERANCE,
    }


def combined(results: list[KindResult]) -> tuple[dict[str, ToolRun], dict[str, CerTally]]:
    """Several sets as one: summed walls and pages, pooled edit counts, the highest peak."""
    runs, tallies = {}, {}
    for tool in TOOLS:
        tool_runs = [r.runs[tool] for r in results]
        runs[tool] = ToolRun(tool, sum(r.wall for r in tool_runs),
                             sum(r.pages for r in tool_runs),
                             max((r.peak_rss for r in tool_runs), default=0),
                             sum(r.cpu for r in tool_runs),
                             max((r.foreign_cores for r in tool_runs), default=0.0),
                             sum(r.prep_wall for r in tool_runs))
    for name in (*TOOLS, ENGINE):
        tallies[name] = CerTally()
        for result in results:
            tallies[name].merge(result.tallies[name])
    return runs, tallies


# --------------------------------------------------------------------------- output


def short(name: str) -> str:
    """Corpus paths without their folder: the set's name already says it."""
    return name.split("/", 1)[-1]


def tool_table(title: str, runs: dict[str, ToolRun], tallies: dict[str, CerTally]) -> Any:
    """Each tool's time, throughput, accuracy and memory on the same pages."""
    rows = []
    for tool in TOOLS:
        run, tally = runs[tool], tallies[tool]
        busy = f"{run.foreign_cores:.2f}"
        rows.append([tool, str(run.pages), fmt_num(run.wall),
                     fmt_num(run.prep_wall) if run.prep_wall else "-", fmt_num(run.ppm),
                     fmt_num(run.cpu / run.pages if run.pages else None, 2),
                     fmt_pct(tally.cer), f"{tally.errors}/{tally.chars}" if tally.chars else "-",
                     fmt_bytes(run.peak_rss), str(len(run.failures)),
                     f"[red]{busy}[/red]" if run.foreign_cores > BUSY_CORES else busy])
    engine = tallies[ENGINE]
    rows.append([f"[dim]{ENGINE} (diagnostic)[/dim]", "", "", "", "", "", fmt_pct(engine.cer),
                 f"{engine.errors}/{engine.chars}" if engine.chars else "-", "", "", ""])
    return make_table(title, ["tool", "pages", "wall s", "taking out s", "pages/min",
                              "CPU s/page", "CER", "edits/chars", "peak RSS", "failed",
                              "others' cores"], rows)


def ratio_table(runs: dict[str, ToolRun], tallies: dict[str, CerTally]) -> Any:
    """The targets with a verdict each, then the reference views of the same."""
    r = ratios(runs, tallies)
    ok = targets_met(r)
    delta = r["cer_minus_ocrmypdf"]
    rows = [
        ["records ppm / OCRmyPDF ppm", fmt_num(r["ppm_vs_ocrmypdf"], 2), f">= {PPM_GOAL}",
         verdict(ok["ppm_vs_ocrmypdf"])],
        ["records wall / tesseract recognition wall", fmt_num(r["wall_vs_tesseract"], 2),
         f"<= {WALL_GOAL}", verdict(ok["wall_vs_tesseract"])],
        ["records CER - OCRmyPDF CER", "-" if delta is None else f"{delta * 100:+.2f} pp",
         "<= 0 (0.1 pp noise)", verdict(ok["cer_minus_ocrmypdf"])],
        ["[dim]records wall / tesseract wall with taking pages out[/dim]",
         fmt_num(r["wall_vs_tesseract_with_extraction"], 2), "[dim]reference[/dim]", ""],
        ["[dim]OCRmyPDF CPU / records CPU[/dim]", fmt_num(r["cpu_ocrmypdf_over_records"], 2),
         "[dim]reference[/dim]", ""],
        ["[dim]records CPU / tesseract CPU[/dim]", fmt_num(r["cpu_records_over_tesseract"], 2),
         "[dim]reference[/dim]", ""],
    ]
    return make_table("", ["target", "measured", "goal", ""], rows)


def records_notes(result: KindResult, item: Item) -> str:
    """records' own view of the item's pages: turned, levelled, confidence, how read."""
    return "; ".join(f"rot {p['rotation']} skew {p['skew']} conf {p['mean_confidence'] or 0:.0f} "
                     f"{p['encoding']}"
                     for p in result.runs["records"].pages_seen.get(item.name, []))


def item_rows(result: KindResult, items: list[Item], everything: bool) -> list[list[str]]:
    """Items where records reads clearly worse than OCRmyPDF (or all, with --details)."""
    rows = []
    for item in items:
        s = result.item_scores[item.name]
        rec, peer, agree = s.get("records"), s.get("ocrmypdf"), s.get("records vs ocrmypdf")
        worse = rec is not None and peer is not None and rec - peer > FLAG_MARGIN
        if not (everything or worse or (agree is not None and agree > 0.15)):
            continue
        chars = "/".join(f"{s[f'chars {t}']:.0f}" for t in TOOLS)
        rows.append([short(item.name), item.language, fmt_pct(s.get("tesseract")),
                     fmt_pct(peer), fmt_pct(rec), fmt_pct(s.get(ENGINE)), fmt_pct(agree),
                     chars, records_notes(result, item)])
    return rows


def print_kind(name: str, result: SetResult, kind: KindResult, details: bool) -> None:
    """One set in one kind of input: tables, items worth a look, failures in words."""
    languages = ", ".join(sorted({i.language for i in result.items}))
    stored = ", ".join(f"{n} {e}" for e, n in result.encodings.items())
    given = "image files" if kind.kind == "images" else f"scanner PDFs ({stored})"
    title = (f"set {name}, {given}: {len(result.items)} items, {result.pages} pages "
             f"({languages})")
    console.print(tool_table(title, kind.runs, kind.tallies))
    console.print(ratio_table(kind.runs, kind.tallies))
    rows = item_rows(kind, result.items, details)
    if rows:
        heading = "per item" if details else (
            "records worse than OCRmyPDF by > 1 pp CER, or (no truth) > 15% off its text")
        console.print(make_table(
            f"{name} ({kind.kind}): {heading}",
            ["item", "lang", "CER tess", "CER OCRmyPDF", "CER records", "records page.txt",
             "records vs OCRmyPDF text", "chars t/o/r", "records pages"], rows, right_from=2))
    for tool, run in kind.runs.items():
        for failure in run.failures:
            console.print(f"[red]{tool} failed on {failure}[/red]")
        if run.foreign_cores > BUSY_CORES:
            console.print(f"[red]while {tool} ran, other processes kept "
                          f"{run.foreign_cores:.2f} cores busy: its wall time is inflated; "
                          f"compare CPU s/page, or rerun on a quiet machine[/red]")


def print_set(result: SetResult, details: bool) -> None:
    if result.skipped:
        console.print(f"[yellow]set {result.name}: skipped: {result.skipped}[/yellow]")
        return
    for kind in result.kinds.values():
        print_kind(result.name, result, kind, details)


def summary_row(label: str, kind: str, pages: int, runs: dict[str, ToolRun],
                tallies: dict[str, CerTally]) -> list[str]:
    r = ratios(runs, tallies)
    ok = targets_met(r)
    return [label, kind, str(pages),
            " / ".join(fmt_num(runs[t].ppm) for t in TOOLS),
            " / ".join(fmt_num(runs[t].cpu / max(1, runs[t].pages), 2) for t in TOOLS),
            " / ".join(fmt_pct(tallies[t].cer) for t in TOOLS),
            f"{fmt_num(r['ppm_vs_ocrmypdf'], 2)} {verdict(ok['ppm_vs_ocrmypdf'])}",
            f"{fmt_num(r['wall_vs_tesseract'], 2)} {verdict(ok['wall_vs_tesseract'])}",
            fmt_num(r["wall_vs_tesseract_with_extraction"], 2),
            verdict(ok["cer_minus_ocrmypdf"]), fmt_bytes(runs["records"].peak_rss)]


def print_summary(results: list[SetResult], kinds: Sequence[str]) -> dict[str, Any]:
    """One row per set and kind, and one per kind for all sets; returns the overall figures."""
    done = [r for r in results if not r.skipped]
    rows, overall = [], {}
    for kind in kinds:
        for r in done:
            k = r.kinds[kind]
            rows.append(summary_row(r.name, kind, r.pages, k.runs, k.tallies))
        runs, tallies = combined([r.kinds[kind] for r in done])
        rows.append(summary_row("all", kind, runs["records"].pages, runs, tallies))
        overall[kind] = {"runs": {t: run_json(runs[t]) for t in TOOLS},
                         "cer": tallies_json(tallies), "ratios": ratios(runs, tallies),
                         "targets_met": targets_met(ratios(runs, tallies))}
    console.print(make_table(
        "summary (figures as tesseract / OCRmyPDF / records; Tesseract's time without taking "
        "PDF pages out, except in the column that says so)",
        ["set", "input", "pages", "pages/min", "CPU s/page", "CER", "rec/OCRmyPDF ppm",
         "rec/tess wall", "rec/tess wall with taking out", "CER no worse", "records peak RSS"],
        rows))
    return overall


def tallies_json(tallies: dict[str, CerTally]) -> dict[str, Any]:
    """Edit counts as well as rates, so several results can be pooled later."""
    return {name: {"errors": t.errors, "chars": t.chars, "cer": t.cer}
            for name, t in tallies.items()}


def run_json(run: ToolRun) -> dict[str, Any]:
    """A tool's figures, with records' per-page decisions to explain them."""
    pages = {name: [{k: v for k, v in p.items() if k != "text"} for p in seen]
             for name, seen in run.pages_seen.items()}
    return {"wall_seconds": run.wall, "taking_out_seconds": run.prep_wall, "pages": run.pages,
            "ppm": run.ppm, "cpu_seconds": run.cpu, "foreign_cores": run.foreign_cores,
            "peak_rss_bytes": run.peak_rss, "failures": run.failures,
            **({"records_pages": pages} if pages else {})}


def set_json(result: SetResult) -> dict[str, Any]:
    """Everything a later comparison needs, per item as well as per set and kind."""
    if result.skipped:
        return {"skipped": result.skipped}
    return {
        "items": [{"name": i.name, "language": i.language, "pages": i.frames,
                   "scores": {k: r.item_scores[i.name] for k, r in result.kinds.items()}}
                  for i in result.items],
        "pdf_encodings": result.encodings,
        "kinds": {kind: {"runs": {t: run_json(run) for t, run in r.runs.items()},
                         "cer": tallies_json(r.tallies),
                         "ratios": ratios(r.runs, r.tallies),
                         "targets_met": targets_met(ratios(r.runs, r.tallies))}
                  for kind, r in result.kinds.items()},
    }


# --------------------------------------------------------------------------- driving


def warm_up(docs: list[Document], work: Path) -> None:
    """Load each language model, OCRmyPDF and records once, untimed: the first tool is not
    penalised for a cold disk cache that the others then enjoy."""
    for doc in docs:
        subprocess.run(["tesseract", str(doc.pages[0].image), str(work / "warm"), "-l",
                        doc.language, "--dpi", "300", "txt"], capture_output=True,
                       env=tool_env(), check=False)
    subprocess.run([ocrmypdf_command(), "--version"], capture_output=True, check=False)
    subprocess.run([records_command(), "--help"], capture_output=True, check=False)


def load_set(name: str, corpus: Path | None, args: argparse.Namespace,
             installed: set[str], work: Path) -> list[Item] | str:
    """A set's items, or why it cannot run (no corpus)."""
    if name == "letters":
        return letter_items(work / "letters-batch", args.letters, args.seed)
    if corpus is None:
        return "corpus not found"
    return corpus_items(corpus, name, installed)


def bench_set(name: str, corpus: Path | None, args: argparse.Namespace,
              installed: set[str], work: Path) -> SetResult:
    """Prepare the pages and the scanner's PDFs, run every tool on both, score."""
    loaded = load_set(name, corpus, args, installed, work)
    if isinstance(loaded, str) or not loaded:
        return SetResult(name, [], skipped=loaded or "no usable pages")
    items = select(loaded, args.pages)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(items):
        prepare_item(item, index, folder, office_letters=name == "letters")
    docs = documents(items, folder, jbig2_page=name == "letters")
    result = SetResult(name, items)
    for doc in docs:
        for page in doc.pages:
            result.encodings[page.encoding] = result.encodings.get(page.encoding, 0) + 1
    warm_up(docs, folder)
    console.print(f"[bold]{name}[/bold]: {len(items)} items, {result.pages} pages in "
                  f"{len(docs)} documents; running tesseract, OCRmyPDF, records on "
                  f"{' and '.join(args.kinds)}")
    for kind in args.kinds:
        runs = {}
        for tool in TOOLS:
            if args.settle:
                wait_for_quiet(args.settle)
            runs[tool] = RUNNERS[tool](kind, docs, folder, args.jobs)
        result.kinds[kind] = KindResult(kind, runs)
        score(result.kinds[kind], items)
    return result


def find_corpus(requested: Path | None) -> Path | None:
    """--corpus, else $RECORDS_CORPUS, else ../shared/corpus; None if it has no manifest."""
    candidate = requested or Path(os.environ.get("RECORDS_CORPUS", DEFAULT_CORPUS))
    return candidate if (candidate / "MANIFEST.tsv").is_file() else None


def environment() -> dict[str, Any]:
    """Versions and machine, so a JSON result can be compared with a later one."""
    tess = subprocess.run(["tesseract", "--version"], capture_output=True, text=True,
                          check=False).stdout.splitlines()[:1]
    peer = subprocess.run([ocrmypdf_command(), "--version"], capture_output=True, text=True,
                          check=False).stdout.strip()
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "tesseract": tess[0] if tess else "?", "ocrmypdf": peer,
            "records_measured_via": "the records ocr command, start-up included"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help=f"corpus folder (default $RECORDS_CORPUS or {DEFAULT_CORPUS})")
    parser.add_argument("--set", dest="set_name", choices=[*SETS, "all"], default="all")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="inputs to run: images, pdf or both (default images,pdf)")
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES,
                        help=f"at most this many pages per set (default {DEFAULT_PAGES})")
    parser.add_argument("--letters", type=int, default=6, help="letters to render (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rendered letters")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="pages at once for every tool (default: cores)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="before each timed run, wait up to this many seconds for other "
                             "processes to leave the cores idle (default 0: do not wait)")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--details", action="store_true", help="print every item's scores")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep outputs in this (new) folder instead of a temporary one")
    args = parser.parse_args(argv)
    args.kinds = [k for k in args.kinds.split(",") if k]
    if not args.kinds or set(args.kinds) - set(KINDS):
        parser.error(f"--kinds takes {', '.join(KINDS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sets on the chosen inputs and report."""
    args = parse_args(argv)
    corpus = find_corpus(args.corpus)
    names = list(SETS) if args.set_name == "all" else [args.set_name]
    if corpus is None:
        console.print("[yellow]corpus not found: skipped; running the letters set only[/yellow]")
        names = ["letters"]
    env = environment()
    console.print(f"records measured as `records ocr`, start-up included; {env['tesseract']}, "
                  f"OCRmyPDF {env['ocrmypdf']}, {env['cores']} cores, {args.jobs} at a time, "
                  f"load average {machine_load():.2f}")
    installed = installed_languages()
    work = Path(tempfile.mkdtemp(prefix="bench-ocr-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = []
        for name in names:
            results.append(bench_set(name, corpus, args, installed, work))
            print_set(results[-1], args.details)
        done = any(not r.skipped for r in results)
        overall = print_summary(results, args.kinds) if done else {}
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        payload = {"environment": env, "corpus": str(corpus) if corpus else None,
                   "pages_per_set": args.pages, "jobs": args.jobs, "kinds": args.kinds,
                   "sets": {r.name: set_json(r) for r in results}, "overall": overall}
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        console.print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
