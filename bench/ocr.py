"""OCR benchmark: records against raw Tesseract (the floor) and OCRmyPDF (the peer).

All three tools read the same pages with the same languages in the same run; each output
PDF is read back with pdftotext and scored against ground truth, so what is compared is
what a reader's search will find. Run from the project root:

    .venv/bin/python bench/ocr.py [--corpus ../shared/corpus] [--set all] [--pages N]
                                  [--json out.json]

See bench/README.md for what exactly each tool is given and how the figures are computed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import img2pdf
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
    max_rss_bytes,
    normalise,
    pdf_text,
    run_parallel,
    stopwatch,
    verdict,
    wait_for_quiet,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
SETS = ("oldbooks", "tesseract", "vietnamese", "letters")
CORPUS_FOLDERS = {"oldbooks": "oldbooks-en/", "tesseract": "tesseract-testing/",
                  "vietnamese": "vietnamese/"}
TOOLS = ("tesseract", "ocrmypdf", "records")
DEFAULT_PAGES = 32  # per set: `--set all` then takes about ten minutes on two cores
BELIEVABLE_DPI = (70.0, 1200.0)  # outside this a DPI tag is a scanner's lie
FALLBACK_DPI = 300  # what the corpus README says the lying oldbooks TIFFs really are
CER_TOLERANCE = 0.001  # "no worse" allows 0.1 percentage point of noise
BUSY_CORES = 0.25  # other processes using more than this during a run: wall times suspect
FLAG_MARGIN = 0.01  # items where records is this much (absolute CER) worse are listed
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2"}
TOOL_TIMEOUT = 600.0

# --------------------------------------------------------------------------- the material


@dataclass(frozen=True)
class Page:
    """One page as the baselines see it (records reads the item's source itself)."""

    image: Path  # single-frame image for raw Tesseract (the original file when it is one)
    pdf: Path  # image-only PDF made with img2pdf, for OCRmyPDF
    dpi: float
    dpi_tagged: bool  # False: the file had no believable DPI, so it is passed explicitly


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


def letter_items(dest: Path, letters: int, seed: int) -> list[Item] | str:
    """The project's own rendered letters; a reason string if the generator is unavailable."""
    sys.path.insert(0, str(ROOT))
    try:
        from records.samples import render_batch
    except ImportError as exc:
        return f"records.samples cannot be imported ({exc})"
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
    """Whether img2pdf (and so OCRmyPDF) would refuse the frame."""
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _flatten(image: Image.Image) -> Image.Image:
    """Alpha on white: img2pdf and OCRmyPDF refuse alpha, a scan has none to lose."""
    rgba = image.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, "white")
    flat.alpha_composite(rgba)
    return flat.convert("RGB")


def _image_pdf(data: bytes | Path, dpi: float, out: Path) -> None:
    """An image-only PDF at a fixed DPI: a 1-dpi tag would otherwise make a 30 m page."""
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    source = data.read_bytes() if isinstance(data, Path) else data
    out.write_bytes(img2pdf.convert(source, layout_fun=layout))


def prepare_frame(path: Path, image: Image.Image, frames: int, base: Path) -> Page:
    """Write what the baselines read for one frame; untimed, like a scanner's output."""
    dpi, tagged = decide_dpi(image.info)
    if frames == 1:
        raw = path
    else:
        raw = base.with_suffix(".png")
        image.save(raw, dpi=(dpi, dpi))
    pdf = base.with_suffix(".pdf")
    if frames == 1 and not _has_alpha(image):
        _image_pdf(path, dpi, pdf)
    else:
        flat = base.with_name(base.name + "-flat.png")
        (_flatten(image) if _has_alpha(image) else image).save(flat, dpi=(dpi, dpi))
        _image_pdf(flat, dpi, pdf)
    return Page(raw, pdf, dpi, tagged)


def prepare_item(item: Item, index: int, work: Path) -> None:
    """Split an item into single-page inputs for the one-page-per-call baselines."""
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
                    item.pages.append(prepare_frame(path, image, frames, base))


# --------------------------------------------------------------------------- running the tools


@dataclass
class ToolRun:
    """One tool over one set: its clock, its memory, its failures and what it wrote."""

    tool: str
    wall: float
    pages: int
    peak_rss: int
    cpu: float = 0.0  # CPU seconds of the tool's whole process tree
    foreign_cores: float = 0.0  # cores kept busy by other processes meanwhile
    texts: dict[str, str] = field(default_factory=dict)  # item name -> extracted text
    failures: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    engine_texts: dict[str, str] = field(default_factory=dict)  # records only: page.txt

    @property
    def ppm(self) -> float:
        return self.pages * 60 / self.wall if self.wall else 0.0


def tool_env() -> dict[str, str]:
    """One OpenMP thread per Tesseract: parallelism comes from running pages side by side."""
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def ocrmypdf_command() -> str:
    """The OCRmyPDF beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "ocrmypdf"
    found = str(beside) if beside.exists() else shutil.which("ocrmypdf")
    if not found:
        raise SystemExit("ocrmypdf is not installed (pip install 'records[bench]')")
    return found


def _baseline(tool: str, items: list[Item], commands: list[list[str]], outputs: list[Path],
              jobs: int) -> ToolRun:
    """Run one command per page, *jobs* at a time, and read each page's text back."""
    with PeakMemory() as memory, CpuMeter() as meter:
        wall, results = run_parallel(commands, jobs, tool_env(), TOOL_TIMEOUT)
    run = ToolRun(tool, wall, len(outputs), memory.peak, meter.cpu, meter.foreign_cores)
    texts = iter(outputs)
    done = iter(results)
    for item in items:
        parts = []
        for _page in item.pages:
            out, result = next(texts), next(done)
            if result.returncode != 0 or not out.is_file():
                last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                run.failures.append(f"{out.stem}: exit {result.returncode}: {last[:200]}")
                continue
            parts.append(pdf_text(out))
        run.texts[item.name] = "\n".join(parts)
    return run


def run_tesseract(items: list[Item], work: Path, jobs: int) -> ToolRun:
    """The floor: `tesseract page out -l LANG pdf`, no deskew, no turning, nothing else."""
    commands, outputs = [], []
    for item in items:
        for page in item.pages:
            base = work / f"tess-{page.pdf.stem}"
            dpi = [] if page.dpi_tagged else ["--dpi", str(round(page.dpi))]
            commands.append(["tesseract", str(page.image), str(base), "-l", item.language,
                             *dpi, "pdf"])
            outputs.append(base.with_suffix(".pdf"))
    return _baseline("tesseract", items, commands, outputs, jobs)


def run_ocrmypdf(items: list[Item], work: Path, jobs: int) -> ToolRun:
    """The peer, as its docs suggest for scans: turn, level, PDF/A, one file per process."""
    binary = ocrmypdf_command()
    commands, outputs = [], []
    for item in items:
        for page in item.pages:
            out = work / f"ocrmypdf-{page.pdf.stem}.pdf"
            commands.append([binary, "--rotate-pages", "--deskew", "--output-type", "pdfa",
                             "-l", item.language, "--jobs", "1", str(page.pdf), str(out)])
            outputs.append(out)
    return _baseline("ocrmypdf", items, commands, outputs, jobs)


def records_groups(items: list[Item], work: Path) -> list[dict[str, Any]]:
    """One document per language, in set order; each item's page range within it."""
    groups: dict[str, dict[str, Any]] = {}
    for item in items:
        group = groups.setdefault(item.language, {"language": item.language, "inputs": [],
                                                  "items": [], "pages": 0})
        first = group["pages"] + 1
        group["pages"] += item.frames
        group["inputs"].append(str(item.source))
        group["items"].append([item.name, first, group["pages"]])
    for index, group in enumerate(groups.values()):
        group["out"] = str(work / f"records-{index}.pdf")
        group["cache"] = str(work / f"records-cache-{index}")  # fresh and empty: no reuse
    return list(groups.values())


def run_records(items: list[Item], work: Path, jobs: int) -> ToolRun:
    """records through its Python API, in a child process so its memory is its own."""
    job = work / "records-job.json"
    result_file = work / "records-result.json"
    groups = records_groups(items, work)
    job.write_text(json.dumps({"groups": groups, "result": str(result_file), "jobs": jobs}),
                   encoding="utf-8")
    command = [sys.executable, str(Path(__file__).resolve()), "--records-job", str(job)]
    with PeakMemory() as memory, CpuMeter() as meter:
        done = subprocess.run(command, capture_output=True, text=True, env=tool_env(),
                              cwd=ROOT, check=False)
    if done.returncode != 0 or not result_file.is_file():
        raise SystemExit(f"the records worker failed:\n{done.stderr[-3000:]}")
    report = json.loads(result_file.read_text(encoding="utf-8"))
    run = ToolRun("records", report["api_seconds"], sum(i.frames for i in items), memory.peak,
                  meter.cpu, meter.foreign_cores)
    run.extra = {"wall_with_startup": meter.wall, **report}
    for group, outcome in zip(groups, report["groups"], strict=True):
        if outcome["error"]:
            run.failures.append(f"the {group['language']} document of {group['pages']} pages "
                                f"(timed run): {outcome['error']}")
        # The engine's own page.txt, kept apart from the PDF: it tells a recognition
        # problem from a text-layer problem when the PDF's text scores badly.
        page_texts = {p["number"]: p.pop("text") for p in outcome["pages"]}
        retried = {r["item"]: r for r in outcome["retries"]}
        for name, first, last in group["items"]:
            run.texts[name] = records_text(group, outcome, retried.get(name), first, last)
            if name in retried and retried[name]["error"]:
                run.failures.append(f"{short(name)} alone (untimed retry): "
                                    f"{retried[name]['error']}")
            run.engine_texts[name] = "\n".join(page_texts.get(n, "")
                                               for n in range(first, last + 1))
    return run


def records_text(group: dict[str, Any], outcome: dict[str, Any], retry: dict[str, Any] | None,
                 first: int, last: int) -> str:
    """An item's text from the document's PDF, or from its own retry if the document failed."""
    if not outcome["error"]:
        return pdf_text(Path(group["out"]), first, last)
    if retry and not retry["error"]:
        return pdf_text(Path(retry["out"]))
    return ""


def records_worker(job_file: Path) -> None:
    """Child side of run_records: time the API calls only, report pages' diagnostics."""
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from ocr.options import OcrOptions
    from ocr.pipeline import ocr_to_pdfa

    imported = time.perf_counter() - started
    job = json.loads(job_file.read_text(encoding="utf-8"))
    for group in job["groups"]:
        shutil.rmtree(group["cache"], ignore_errors=True)
        Path(group["cache"]).mkdir(parents=True)
    # All documents at once through one pool of page workers, as the batch flow runs them:
    # no core idles at the end of one language's document while another waits.
    with stopwatch() as elapsed, ThreadPoolExecutor(max_workers=job["jobs"]) as pages_pool, \
            ThreadPoolExecutor(max_workers=len(job["groups"]) or 1) as documents:
        converted = [documents.submit(_convert_group, ocr_to_pdfa, OcrOptions, group,
                                      job["jobs"], pages_pool) for group in job["groups"]]
        outcomes = [future.result() for future in converted]
    timed = elapsed()
    for group, outcome in zip(job["groups"], outcomes, strict=True):
        if outcome["error"]:
            options = OcrOptions(languages=group["language"], jobs=job["jobs"])
            _retry_items(ocr_to_pdfa, group, options, Path(group["cache"]), outcome)
    report = {
        "import_seconds": imported, "api_seconds": timed,
        "max_rss_self": max_rss_bytes(),
        "max_rss_largest_child": max_rss_bytes(resource.RUSAGE_CHILDREN),
        "groups": outcomes,
    }
    Path(job["result"]).write_text(json.dumps(report), encoding="utf-8")


def _convert_group(ocr_to_pdfa: Any, options_type: Any, group: dict[str, Any], jobs: int,
                   pool: Any) -> dict[str, Any]:
    """One language's document, its pages recognised in the shared pool; timed alone too."""
    options = options_type(languages=group["language"], jobs=jobs)
    with stopwatch() as elapsed:
        pages, error = _convert(ocr_to_pdfa, group["inputs"], group["out"], options,
                                Path(group["cache"]), pool)
    return {"language": group["language"], "items": group["items"], "seconds": elapsed(),
            "error": error, "pages": pages, "retries": []}


def _convert(ocr_to_pdfa: Any, inputs: list[str], out: str, options: Any,
             cache: Path, pool: Any = None) -> tuple[list[dict[str, Any]], str | None]:
    """One ocr_to_pdfa call; any failure is a result to report, not a crash of the bench."""
    try:
        result = ocr_to_pdfa([Path(p) for p in inputs], Path(out), options, cache, pool=pool)
    except Exception as exc:
        return [], f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    return [_page_summary(p) for p in result.pages], None


def _retry_items(ocr_to_pdfa: Any, group: dict[str, Any], options: Any, cache: Path,
                 outcome: dict[str, Any]) -> None:
    """Untimed: each record of a failed document alone, to say which one broke it.

    The pages are already in the group's cache, so this costs little more than assembly,
    and the records that do convert can still be scored.
    """
    for (name, first, _last), source in zip(group["items"], group["inputs"], strict=True):
        out = str(Path(group["out"]).with_name(f"{Path(group['out']).stem}-p{first}.pdf"))
        pages, error = _convert(ocr_to_pdfa, [source], out, options, cache)
        for page in pages:
            page["number"] += first - 1  # numbered as in the whole document
        outcome["pages"].extend(pages)
        outcome["retries"].append({"item": name, "out": out, "error": error})


def _page_summary(page: Any) -> dict[str, Any]:
    """What records decided about a page: enough to explain a bad score."""
    keys = ("number", "rotation", "orientation_confidence", "skew", "dpi", "dpi_source",
            "words", "mean_confidence", "seconds", "notes", "text")
    return {key: getattr(page, key) for key in keys}


# --------------------------------------------------------------------------- scoring

ENGINE = "records page.txt"  # diagnostic: the engine's text before it goes into the PDF


@dataclass
class SetResult:
    name: str
    items: list[Item]
    runs: dict[str, ToolRun]
    tallies: dict[str, CerTally] = field(default_factory=dict)  # TOOLS and ENGINE
    item_scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def pages(self) -> int:
        return sum(item.frames for item in self.items)


def item_texts(result: SetResult, item: Item) -> dict[str, str]:
    """What each tool (and records' engine, before its PDF) produced for one item."""
    texts = {tool: run.texts.get(item.name, "") for tool, run in result.runs.items()}
    texts[ENGINE] = result.runs["records"].engine_texts.get(item.name, "")
    return texts


def score(result: SetResult) -> None:
    """Micro-averaged CER per tool; per item too, and agreement where there is no truth."""
    result.tallies = {name: CerTally() for name in (*TOOLS, ENGINE)}
    for item in result.items:
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
    """The three targets: throughput against the peer, time against the floor, accuracy."""
    rec, peer, floor = runs["records"], runs["ocrmypdf"], runs["tesseract"]
    rec_cer, peer_cer = tallies["records"].cer, tallies["ocrmypdf"].cer
    return {
        "ppm_vs_ocrmypdf": rec.ppm / peer.ppm if peer.ppm else None,
        "wall_vs_tesseract": rec.wall / floor.wall if floor.wall else None,
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
        "ppm_vs_ocrmypdf": None if ppm is None else ppm >= 2.0,
        "wall_vs_tesseract": None if wall is None else wall <= 1.3,
        "cer_minus_ocrmypdf": None if cer is None else cer <= CER_TOLERANCE,
    }


def combined(results: list[SetResult]) -> tuple[dict[str, ToolRun], dict[str, CerTally]]:
    """All sets as one: summed walls and pages, pooled edit counts, the highest peak."""
    runs, tallies = {}, {}
    for tool in TOOLS:
        tool_runs = [r.runs[tool] for r in results]
        runs[tool] = ToolRun(tool, sum(r.wall for r in tool_runs),
                             sum(r.pages for r in tool_runs),
                             max((r.peak_rss for r in tool_runs), default=0),
                             sum(r.cpu for r in tool_runs),
                             max((r.foreign_cores for r in tool_runs), default=0.0))
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
        rows.append([tool, str(run.pages), fmt_num(run.wall), fmt_num(run.ppm),
                     fmt_num(run.cpu / run.pages if run.pages else None, 2),
                     fmt_pct(tally.cer), f"{tally.errors}/{tally.chars}" if tally.chars else "-",
                     fmt_bytes(run.peak_rss), str(len(run.failures)),
                     f"[red]{busy}[/red]" if run.foreign_cores > BUSY_CORES else busy])
    engine = tallies[ENGINE]
    rows.append([f"[dim]{ENGINE} (diagnostic)[/dim]", "", "", "", "", fmt_pct(engine.cer),
                 f"{engine.errors}/{engine.chars}" if engine.chars else "-", "", "", ""])
    return make_table(title, ["tool", "pages", "wall s", "pages/min", "CPU s/page", "CER",
                              "edits/chars", "peak RSS", "failed", "others' cores"], rows)


def ratio_table(runs: dict[str, ToolRun], tallies: dict[str, CerTally]) -> Any:
    """The targets with a verdict each, then the CPU view of the same for reference."""
    r = ratios(runs, tallies)
    ok = targets_met(r)
    delta = r["cer_minus_ocrmypdf"]
    rows = [
        ["records ppm / OCRmyPDF ppm", fmt_num(r["ppm_vs_ocrmypdf"], 2), ">= 2",
         verdict(ok["ppm_vs_ocrmypdf"])],
        ["records wall / tesseract wall", fmt_num(r["wall_vs_tesseract"], 2), "<= 1.3",
         verdict(ok["wall_vs_tesseract"])],
        ["records CER - OCRmyPDF CER", "-" if delta is None else f"{delta * 100:+.2f} pp",
         "<= 0 (0.1 pp noise)", verdict(ok["cer_minus_ocrmypdf"])],
        ["[dim]OCRmyPDF CPU / records CPU[/dim]", fmt_num(r["cpu_ocrmypdf_over_records"], 2),
         "[dim]reference[/dim]", ""],
        ["[dim]records CPU / tesseract CPU[/dim]", fmt_num(r["cpu_records_over_tesseract"], 2),
         "[dim]reference[/dim]", ""],
    ]
    return make_table("", ["target", "measured", "goal", ""], rows)


def records_line(run: ToolRun) -> str:
    """records' clock with and without interpreter start-up, and its memory split."""
    extra = run.extra
    return (f"records: API {run.wall:.1f} s; with interpreter start-up and imports "
            f"{extra['wall_with_startup']:.1f} s; peak RSS of the process tree "
            f"{fmt_bytes(run.peak_rss)} (sampled every 0.2 s); getrusage max RSS: python "
            f"{fmt_bytes(extra['max_rss_self'])}, largest child "
            f"{fmt_bytes(extra['max_rss_largest_child'])}")


def records_notes(result: SetResult, item: Item) -> str:
    """records' own view of the item's pages: turned, levelled, confidence."""
    for group in result.runs["records"].extra.get("groups", []):
        pages = {p["number"]: p for p in group["pages"]}
        for name, first, last in group["items"]:
            if name == item.name:
                return "; ".join(f"rot {pages[n]['rotation']} skew {pages[n]['skew']} "
                                 f"conf {pages[n]['mean_confidence']:.0f}"
                                 for n in range(first, last + 1) if n in pages)
    return ""


def item_rows(result: SetResult, everything: bool) -> list[list[str]]:
    """Items where records reads clearly worse than OCRmyPDF (or all, with --details)."""
    rows = []
    for item in result.items:
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


def print_set(result: SetResult, details: bool) -> None:
    """A set's tables, the items worth a look, and every failure and disturbance in words."""
    if result.skipped:
        console.print(f"[yellow]set {result.name}: skipped: {result.skipped}[/yellow]")
        return
    languages = ", ".join(sorted({i.language for i in result.items}))
    title = f"set {result.name}: {len(result.items)} items, {result.pages} pages ({languages})"
    console.print(tool_table(title, result.runs, result.tallies))
    console.print(ratio_table(result.runs, result.tallies))
    console.print(records_line(result.runs["records"]))
    rows = item_rows(result, details)
    if rows:
        heading = "per item" if details else (
            "records worse than OCRmyPDF by > 1 pp CER, or (no truth) > 15% off its text")
        console.print(make_table(
            f"{result.name}: {heading}",
            ["item", "lang", "CER tess", "CER OCRmyPDF", "CER records", "records page.txt",
             "records vs OCRmyPDF text", "chars t/o/r", "records pages"], rows, right_from=2))
    for tool, run in result.runs.items():
        for failure in run.failures:
            console.print(f"[red]{tool} failed on {failure}[/red]")
        if tool == "records" and run.failures:
            console.print("[red]records' wall time includes the failed document; its items "
                          "are scored from untimed per-record retries where those worked[/red]")
        if run.foreign_cores > BUSY_CORES:
            console.print(f"[red]while {tool} ran, other processes kept "
                          f"{run.foreign_cores:.2f} cores busy: its wall time is inflated; "
                          f"compare CPU s/page, or rerun on a quiet machine[/red]")


def print_summary(results: list[SetResult]) -> dict[str, Any]:
    """One row per set and one for all of them; returns the overall figures for JSON."""
    done = [r for r in results if not r.skipped]
    rows = []
    for name, (runs, tallies) in [*((r.name, (r.runs, r.tallies)) for r in done),
                                  ("all", combined(done))]:
        r = ratios(runs, tallies)
        ok = targets_met(r)
        rows.append([name, str(runs["records"].pages),
                     " / ".join(fmt_num(runs[t].ppm) for t in TOOLS),
                     " / ".join(fmt_num(runs[t].cpu / max(1, runs[t].pages), 2) for t in TOOLS),
                     " / ".join(fmt_pct(tallies[t].cer) for t in TOOLS),
                     f"{fmt_num(r['ppm_vs_ocrmypdf'], 2)} {verdict(ok['ppm_vs_ocrmypdf'])}",
                     f"{fmt_num(r['wall_vs_tesseract'], 2)} {verdict(ok['wall_vs_tesseract'])}",
                     verdict(ok["cer_minus_ocrmypdf"]), fmt_bytes(runs["records"].peak_rss)])
    console.print(make_table(
        "summary (figures as tesseract / OCRmyPDF / records)",
        ["set", "pages", "pages/min", "CPU s/page", "CER", "rec/OCRmyPDF ppm", "rec/tess wall",
         "CER no worse", "records peak RSS"], rows))
    runs, tallies = combined(done)
    return {"runs": {t: run_json(runs[t]) for t in TOOLS}, "cer": tallies_json(tallies),
            "ratios": ratios(runs, tallies), "targets_met": targets_met(ratios(runs, tallies))}


def tallies_json(tallies: dict[str, CerTally]) -> dict[str, Any]:
    """Edit counts as well as rates, so several results can be pooled later."""
    return {name: {"errors": t.errors, "chars": t.chars, "cer": t.cer}
            for name, t in tallies.items()}


def run_json(run: ToolRun) -> dict[str, Any]:
    """A tool's figures, with records' per-page decisions to explain them."""
    return {"wall_seconds": run.wall, "pages": run.pages, "ppm": run.ppm,
            "cpu_seconds": run.cpu, "foreign_cores": run.foreign_cores,
            "peak_rss_bytes": run.peak_rss, "failures": run.failures,
            **({"records": run.extra} if run.extra else {})}


def set_json(result: SetResult) -> dict[str, Any]:
    """Everything a later comparison needs, per item as well as per set."""
    if result.skipped:
        return {"skipped": result.skipped}
    return {
        "items": [{"name": i.name, "language": i.language, "pages": i.frames,
                   "scores": result.item_scores[i.name]} for i in result.items],
        "runs": {t: run_json(run) for t, run in result.runs.items()},
        "cer": tallies_json(result.tallies),
        "ratios": ratios(result.runs, result.tallies),
        "targets_met": targets_met(ratios(result.runs, result.tallies)),
    }


# --------------------------------------------------------------------------- driving


def warm_up(items: Iterable[Item], work: Path) -> None:
    """Load each language model and OCRmyPDF once, untimed: the first tool is not penalised
    for a cold disk cache that the others then enjoy."""
    seen: set[str] = set()
    for item in items:
        if item.language in seen or not item.pages:
            continue
        seen.add(item.language)
        subprocess.run(["tesseract", str(item.pages[0].image), str(work / "warm"), "-l",
                        item.language, "--dpi", "300", "txt"], capture_output=True,
                       env=tool_env(), check=False)
    subprocess.run([ocrmypdf_command(), "--version"], capture_output=True, check=False)


def load_set(name: str, corpus: Path | None, args: argparse.Namespace,
             installed: set[str], work: Path) -> list[Item] | str:
    """A set's items, or why it cannot run (no corpus, no sample generator)."""
    if name == "letters":
        return letter_items(work / "letters-batch", args.letters, args.seed)
    if corpus is None:
        return "corpus not found"
    return corpus_items(corpus, name, installed)


def bench_set(name: str, corpus: Path | None, args: argparse.Namespace,
              installed: set[str], work: Path) -> SetResult:
    """Prepare, run the three tools one after the other, and score one set."""
    loaded = load_set(name, corpus, args, installed, work)
    if isinstance(loaded, str) or not loaded:
        return SetResult(name, [], {}, skipped=loaded or "no usable pages")
    items = select(loaded, args.pages)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(items):
        prepare_item(item, index, folder)
    warm_up(items, folder)
    console.print(f"[bold]{name}[/bold]: {len(items)} items, "
                  f"{sum(i.frames for i in items)} pages; running tesseract, OCRmyPDF, records")
    runners = {"tesseract": run_tesseract, "ocrmypdf": run_ocrmypdf, "records": run_records}
    runs = {}
    for tool, runner in runners.items():
        if args.settle:
            wait_for_quiet(args.settle)
        runs[tool] = runner(items, folder, args.jobs)
    result = SetResult(name, items, runs)
    score(result)
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
            "records_cli": (ROOT / "records" / "cli.py").is_file(),
            "records_measured_via": "Python API (ocr.pipeline.ocr_to_pdfa) in a child process"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help=f"corpus folder (default $RECORDS_CORPUS or {DEFAULT_CORPUS})")
    parser.add_argument("--set", dest="set_name", choices=[*SETS, "all"], default="all")
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES,
                        help=f"at most this many pages per set (default {DEFAULT_PAGES})")
    parser.add_argument("--letters", type=int, default=6, help="letters to render (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rendered letters")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="pages or files at once for every tool (default: cores)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="before each timed run, wait up to this many seconds for other "
                             "processes to leave the cores idle (default 0: do not wait)")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--details", action="store_true", help="print every item's scores")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep outputs in this (new) folder instead of a temporary one")
    parser.add_argument("--records-job", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sets (or, as the records worker, one job) and report."""
    args = parse_args(argv)
    if args.records_job:
        records_worker(args.records_job)
        return 0
    corpus = find_corpus(args.corpus)
    names = list(SETS) if args.set_name == "all" else [args.set_name]
    if corpus is None:
        console.print("[yellow]corpus not found: skipped; running the letters set only[/yellow]")
        names = ["letters"]
    env = environment()
    console.print(f"records measured through the Python API in a child process (records CLI "
                  f"{'present' if env['records_cli'] else 'not present yet'}); "
                  f"{env['tesseract']}, OCRmyPDF {env['ocrmypdf']}, {env['cores']} cores, "
                  f"{args.jobs} at a time, load average {machine_load():.2f}")
    installed = installed_languages()
    work = Path(tempfile.mkdtemp(prefix="bench-ocr-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = []
        for name in names:
            results.append(bench_set(name, corpus, args, installed, work))
            print_set(results[-1], args.details)
        overall = print_summary(results) if any(not r.skipped for r in results) else {}
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        payload = {"environment": env, "corpus": str(corpus) if corpus else None,
                   "pages_per_set": args.pages, "jobs": args.jobs,
                   "sets": {r.name: set_json(r) for r in results}, "overall": overall}
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        console.print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
