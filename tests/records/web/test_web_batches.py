"""Officers' batch pages: who may queue what, who sees which batch and document, and what an
upload that cannot become a batch leaves behind (nothing)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog, set_units
from archive.index import Catalog
from archive.intake import BatchReport, DocumentStatus, Ledger, UploadRecord, load_upload
from config.settings import Settings
from records.web.app import create_app
from tests.archive.intake.test_upload import zipped
from tests.records.web.conftest import WebArchive
from tests.records.web.test_web_access import signed_in
from tests.waiting import wait_until

VP_BATCH = "20261203-100000-0000000a"
RUNNING = "20261203-100500-0000000d"
SECRET_WARNING = ("plan-for-the-secret-site.png: the manifest asks for 'public', below the "
                  "batch's 'secret'")
HA_BATCH = "20261203-110000-0000000b"


@dataclass(frozen=True)
class BatchHome:
    home: Path
    settings: Settings


@pytest.fixture(scope="module")
def batch_home(web_archive: WebArchive, tmp_path_factory: pytest.TempPathFactory) -> BatchHome:
    """A copy of the web archive (batches must not change what other tests search), with
    clerk working for VP, two batches in the ledger and a quarantined original."""
    home = tmp_path_factory.mktemp("batches") / "home"
    shutil.copytree(web_archive.home, home)
    settings = Settings(home=home)
    catalog = Catalog.open(settings.catalog_url())
    set_units(catalog, "clerk", ["VP"])
    catalog.engine.dispose()
    ledger = Ledger(home)
    ledger.save(BatchReport(VP_BATCH, [], state="finished", unit="VP", classification="public",
                            warnings=[SECRET_WARNING], documents=[
        DocumentStatus("letter-open.png", "VP", "VP-2024-000001", "archived", pages=1,
                       pages_done=1, classification="public"),
        DocumentStatus("broken-scan.pdf", "VP", None, "quarantined", "the PDF is damaged",
                       classification="internal"),
        DocumentStatus("plan-for-the-secret-site.png", "VP", None, "quarantined",
                       "the PDF is damaged", classification="secret"),
        DocumentStatus("ha-letter.png", "HA", None, "quarantined", "bad", classification="public"),
        DocumentStatus("old-ledger-entry.png", "VP", None, "archived"),
    ]))
    ledger.save(BatchReport(RUNNING, [], state="running", host="another-node", unit="VP",
                            classification="public", documents=[
        DocumentStatus("first.png", "VP", None, "running", classification="public")]))
    ledger.save(BatchReport(HA_BATCH, [], state="finished", unit="HA", documents=[
        DocumentStatus("ha-only.png", "HA", None, "archived", classification="public")]))
    held = home / "quarantine" / VP_BATCH
    held.mkdir(parents=True)
    (held / "broken-scan.pdf").write_bytes(b"%PDF-1.4 broken original")
    (held / "plan-for-the-secret-site.png").write_bytes(b"secret original")
    return BatchHome(home, settings)


@pytest.fixture
def app(batch_home: BatchHome) -> Iterator[TestClient]:
    with TestClient(create_app(batch_home.settings)) as client:
        yield client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def uploads(home: Path) -> list[str]:
    folder = home / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_the_form_offers_only_the_officers_units_and_clearances(app: TestClient) -> None:
    signed_in(app, "clerk")
    form = app.get("/batches/new")
    assert form.status_code == 200
    units = re.findall(r"<option value=\"([^\"]+)\"[^>]*>\1 \u2013", form.text)
    assert units == ["VP"]  # of the roadmap's 24 units, the one clerk works for
    levels = re.findall(r"<option[^>]*>(\w+)</option>",
                        form.text.split('id="classification"')[1].split("</select>")[0])
    assert levels == ["public", "internal"]  # clerk is cleared for internal, not secret


def test_only_officers_and_administrators_queue(app: TestClient, batch_home: BatchHome) -> None:
    signed_in(app, "reader")
    assert app.get("/batches/new").status_code == 403
    sent = app.post("/batches", files={"files": ("a.png", b"x")}, data={"unit": "VP"})
    assert sent.status_code == 403
    assert uploads(batch_home.home) in ([], ["logs"])
    denied = [e for e in AuditLog(batch_home.home).entries()
              if e.get("action") == "batch-queue" and e.get("outcome") == "denied"]
    assert denied and denied[-1]["user"] == "reader"


@pytest.mark.parametrize(("fields", "words"), [
    ({"unit": "HA", "classification": "public"}, "choose one of your units"),
    ({"unit": "VP", "classification": "secret"}, "cleared for"),
    ({"unit": "VP", "classification": "public", "languages": "klingon"}, "no Tesseract"),
    ({"unit": "VP", "classification": "public", "csrf": "forged"}, "expired"),
])
def test_a_refused_upload_says_why_and_leaves_nothing(app: TestClient, batch_home: BatchHome,
                                                      fields: dict[str, str],
                                                      words: str) -> None:
    signed_in(app, "clerk")
    data = {"csrf": csrf_of(app.get("/batches/new").text), **fields}
    sent = app.post("/batches", data=data, files=[("files", ("a.png", b"\x89PNG scan"))])
    assert sent.status_code == 400
    assert words in sent.text and 'role="alert"' in sent.text
    assert uploads(batch_home.home) in ([], ["logs"])  # no partial folder, no batch


def test_a_file_sent_before_the_csrf_token_is_never_kept(app: TestClient,
                                                         batch_home: BatchHome) -> None:
    """The token is checked as the form streams in: a forged form's files are refused before
    their first byte reaches the disk, not received and then thrown away."""
    signed_in(app, "clerk")
    token = csrf_of(app.get("/batches/new").text)
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nscan\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"unit\"\r\n\r\nVP\r\n"
            f"--{boundary}--\r\n").encode()
    sent = app.post("/batches", content=body,
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert sent.status_code == 400 and "no valid token before its files" in sent.text
    assert uploads(batch_home.home) in ([], ["logs"])


def test_an_officer_without_units_sees_no_batches_and_queues_none(app: TestClient,
                                                                  batch_home: BatchHome) -> None:
    catalog = Catalog.open(batch_home.settings.catalog_url())
    set_units(catalog, "clerk", [])
    try:
        signed_in(app, "clerk")
        listing = app.get("/batches").text
        assert VP_BATCH not in listing and "no unit" in listing
        assert 'id="no-units"' in app.get("/batches/new").text
    finally:
        set_units(catalog, "clerk", ["VP"])
        catalog.engine.dispose()


def test_officers_see_their_units_batches_and_only_documents_they_may(
        app: TestClient) -> None:
    signed_in(app, "clerk")
    listing = app.get("/batches").text
    assert VP_BATCH in listing and HA_BATCH not in listing
    page = app.get(f"/batches/{VP_BATCH}")
    assert page.status_code == 200
    assert "letter-open.png" in page.text and "broken-scan.pdf" in page.text
    for hidden in ("plan-for-the-secret-site", "ha-letter", "old-ledger-entry"):
        assert hidden not in page.text  # secret; another unit's; of unknown protection
    assert page.text.count("a document you may not see") == 3
    assert "the PDF is damaged" in page.text  # the reason of the one clerk may see
    unknown = app.get("/batches/20261203-120000-0000000c")
    other = app.get(f"/batches/{HA_BATCH}")
    assert unknown.status_code == other.status_code == 404
    assert other.text.replace(HA_BATCH, "X") == unknown.text.replace(
        "20261203-120000-0000000c", "X")  # another unit's batch looks like none at all


def test_administrators_see_every_batch_and_document(app: TestClient) -> None:
    signed_in(app, "boss")
    listing = app.get("/batches").text
    assert VP_BATCH in listing and HA_BATCH in listing
    page = app.get(f"/batches/{VP_BATCH}").text
    assert "plan-for-the-secret-site.png" in page and "ha-letter.png" in page


def test_a_quarantined_original_is_downloaded_by_those_who_may_see_it(
        app: TestClient, batch_home: BatchHome) -> None:
    signed_in(app, "clerk")
    got = app.get(f"/batches/{VP_BATCH}/documents/1/original")
    assert got.status_code == 200 and got.content == b"%PDF-1.4 broken original"
    assert "attachment" in got.headers["content-disposition"]
    assert app.get(f"/batches/{VP_BATCH}/documents/2/original").status_code == 404  # secret
    assert app.get(f"/batches/{VP_BATCH}/documents/0/original").status_code == 404  # archived
    entries = [e for e in AuditLog(batch_home.home).entries()
               if e.get("action") == "quarantine-download"]
    assert entries[-1]["user"] == "clerk" and entries[-1]["source"] == "broken-scan.pdf"
    page = app.get(f"/batches/{VP_BATCH}").text
    requeue = re.search(r'href="(/batches/new\?requeue=[^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = app.get(requeue.replace("&amp;", "&")).text
    assert "broken-scan.pdf" in form and f'value="{VP_BATCH}/broken-scan.pdf"' in form


def test_a_batch_page_follows_its_batch_by_server_sent_events(app: TestClient) -> None:
    signed_in(app, "clerk")
    with app.stream("GET", f"/batches/{VP_BATCH}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in stream.iter_lines() if line.startswith("data: ")]
    update = json.loads(lines[0][len("data: "):])
    assert update["ended"] is True and "broken-scan.pdf" in update["html"]
    assert "plan-for-the-secret-site" not in update["html"]
    assert len(lines) == 1  # a finished batch: one update, then the stream ends


def test_warnings_that_may_name_hidden_documents_are_counted_not_shown(app: TestClient) -> None:
    signed_in(app, "clerk")
    page = app.get(f"/batches/{VP_BATCH}").text
    assert "plan-for-the-secret-site" not in page and "1 warning or error not shown" in page
    with app.stream("GET", f"/batches/{VP_BATCH}/events") as stream:
        streamed = "".join(stream.iter_lines())
    assert "plan-for-the-secret-site" not in streamed
    signed_in(app, "boss")
    assert "plan-for-the-secret-site.png: the manifest asks" in app.get(
        f"/batches/{VP_BATCH}").text


def test_a_stream_stops_once_its_viewer_may_no_longer_see_the_batch(
        app: TestClient, batch_home: BatchHome) -> None:
    """A running batch's stream would go on; taking clerk off the unit ends it."""
    signed_in(app, "clerk")
    catalog = Catalog.open(batch_home.settings.catalog_url())
    done = threading.Event()
    events: list[str] = []

    def follow() -> None:
        with app.stream("GET", f"/batches/{RUNNING}/events") as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(line)
                    if len(events) == 1:
                        set_units(catalog, "clerk", [])
        done.set()

    reader = threading.Thread(target=follow, daemon=True)
    try:
        reader.start()
        assert done.wait(60), "the stream went on after clerk left the unit"
        assert len(events) == 1
    finally:
        set_units(catalog, "clerk", ["VP"])
        catalog.engine.dispose()


def multipart(*parts: tuple[str, str | None, bytes], end: bool = True) -> tuple[bytes, str]:
    """A form body: (field, file name or None, content) parts, closed unless ``end`` is off."""
    boundary = "b0undary"
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"'
                                                      if filename is not None else "")
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
                 + content + b"\r\n")
    if end:
        body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(("parts", "end", "words"), [
    ([("files", "scan.png", b"\x89PNG half a scan")], False, "cut off"),
    ([("unit", None, b"VP"), ("unit", None, b"HA")], True, "unexpected form field"),
    ([("title", None, b"x")], True, "unexpected form field"),
    ([("series", None, b"Letters\x00")], True, "control characters"),
    ([("files", "a/b.png", b"x"), ("files", "a", b"y")], True, "two files"),
    ([("files", "x.zip", zipped({"x.zip": zipped({"a.png": b"x"})}))], True, None),
    ([("files", "broken.zip", b"PK\x05\x06" + b"\xff" * 30)], True, "zip"),
    ([("manifest", "manifest.csv", b"source,unit\na.png,HA\n"), ("files", "a.png", b"x")],
     True, "which you do not work for"),
    ([("manifest", "m.xlsx", b"PK")], True, ".csv or .toml"),
    ([("requeue_of", None, f"{VP_BATCH}/plan-for-the-secret-site.png".encode()),
      ("files", "a.png", b"x")], True, "not one you may replace"),
])
def test_whatever_the_body_the_answer_is_a_page_that_says_why(
        app: TestClient, batch_home: BatchHome, parts: list[tuple[str, str | None, bytes]],
        end: bool, words: str | None) -> None:
    """Malformed, cut short, forged or smuggling: a 400 page with one reason, never a 500,
    and nothing kept."""
    signed_in(app, "clerk")
    token = csrf_of(app.get("/batches/new").text).encode()
    body, kind = multipart(("csrf", None, token), ("unit", None, b"VP"),
                           ("classification", None, b"public"), *parts, end=end)
    if parts[0][0] == "unit":  # the duplicate-field case sends its own units
        body, kind = multipart(("csrf", None, token), ("classification", None, b"public"),
                               *parts, end=end)
    sent = app.post("/batches", content=body, headers={"content-type": kind},
                    follow_redirects=False)
    if words is None:  # a zip in a zip is kept as a file (the batch quarantines it)
        assert sent.status_code == 303
        wait_for_batch(batch_home.home, sent.headers["location"].rsplit("/", 1)[1])
        return
    assert sent.status_code == 400, sent.text[-500:]
    assert words in sent.text
    assert [n for n in uploads(batch_home.home) if not n.endswith((".json", ".started"))
            and n != "logs" and not (batch_home.home / "uploads" / f"{n}.json").is_file()] == []


@pytest.mark.parametrize("body", [
    b"--b0undary\r\nno colon here\r\n\r\nx\r\n--b0undary--\r\n",
    b"--b0undary\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\xc3\xa9\r\n"
    b"--b0undary--\r\n",
    b"--b0undary\r\n" + b"X-Long: " + b"x" * 5000 + b"\r\n\r\n--b0undary--\r\n",
])
def test_a_body_that_is_not_a_form_is_refused_in_one_line(app: TestClient, body: bytes) -> None:
    signed_in(app, "clerk")
    sent = app.post("/batches", content=body,
                    headers={"content-type": "multipart/form-data; boundary=b0undary"})
    assert sent.status_code == 400 and 'role="alert"' in sent.text


def test_ids_that_are_not_batch_ids_are_never_looked_up(app: TestClient) -> None:
    signed_in(app, "boss")
    for path in ("/batches/2", "/batches/2026", f"/batches/{VP_BATCH[:-1]}",
                 "/batches/..%2Fusers", f"/batches/{VP_BATCH}x/events"):
        assert app.get(path).status_code == 404, path


def test_a_fixed_file_keeps_the_protection_of_the_one_it_replaces(
        app: TestClient, batch_home: BatchHome) -> None:
    """broken-scan.pdf was internal: queued again as public, it is still archived internal."""
    signed_in(app, "clerk")
    token = csrf_of(app.get("/batches/new").text).encode()
    body, kind = multipart(("csrf", None, token), ("unit", None, b"VP"),
                           ("classification", None, b"public"),
                           ("requeue_of", None, f"{VP_BATCH}/broken-scan.pdf".encode()),
                           ("files", "fixed.png", b""))
    sent = app.post("/batches", content=body, headers={"content-type": kind},
                    follow_redirects=False)
    assert sent.status_code == 303
    batch_id = sent.headers["location"].rsplit("/", 1)[1]
    upload = wait_for_batch(batch_home.home, batch_id)
    assert upload.classification == "internal"
    report = Ledger(batch_home.home).get(batch_id)
    assert report is not None and report.classification == "internal"
    assert "queued again as" in app.get(f"/batches/{VP_BATCH}").text


def wait_for_batch(home: Path, batch_id: str, seconds: float = 300) -> UploadRecord:
    """The upload once its `records queue` has ended (it runs for real, in the background)."""
    def ended() -> bool:
        upload = load_upload(home, batch_id)
        return upload is not None and upload.exit_code is not None

    wait_until(ended, f"batch {batch_id} to end", seconds, every=0.5)
    upload = load_upload(home, batch_id)
    assert upload is not None
    return upload
