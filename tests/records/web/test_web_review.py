"""Review and correction in the web app: the editor saves a new version and the record says
who corrected what; a word corrected on the page image is searched at once; a stale form, a
lowered classification and bad values are refused with one line; lowering takes a second
person; the queue lists what needs a person; and nobody learns of a record above their
clearance through any of it.

Each test works on a copy of the session's archive (``home``): corrections are new versions
of records, and other modules read those records as they were made.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog, add_user, set_units
from archive.index import Catalog
from archive.store import RecordPaths, page_words
from config.settings import Settings, SigningSettings, WebSettings
from ocr.xmp import read_info
from records.web.app import create_app
from tests.records.web.conftest import PASSWORD, WebArchive
from tests.records.web.test_web_access import INTERNAL, PUBLIC, SECRET

NEW_TITLE = "Quyết định về lưu trữ hồ sơ"
EXTRA_USERS = {"second": ("admin", "secret"), "mgr": ("manager", "secret")}


@pytest.fixture(scope="module")
def base_home(web_archive: WebArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's archive copied once for this module, with a second administrator (to
    approve) and a manager (who may not correct)."""
    home = tmp_path_factory.mktemp("web-review") / "home"
    shutil.copytree(web_archive.home, home)
    catalog = Catalog.open(Settings(home=home).catalog_url())
    for name, (role, clearance) in EXTRA_USERS.items():
        add_user(catalog, name, role, clearance, PASSWORD)
    catalog.engine.dispose()
    return home


@pytest.fixture
def home(base_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(base_home, copy)
    return copy


def client_for(home: Path, page_size: int = 20) -> TestClient:
    return TestClient(create_app(Settings(home=home, web=WebSettings(page_size=page_size))))


@pytest.fixture
def audit(home: Path) -> Callable[[], list[dict[str, Any]]]:
    """The audit entries this test wrote: the session's archive is shared with modules that
    write to its log before this one copies it, in whatever order they run."""
    since = len(AuditLog(home).entries())
    return lambda: AuditLog(home).entries()[since:]


@pytest.fixture
def app(home: Path) -> Iterator[TestClient]:
    with client_for(home) as client:
        yield client


def signed_in(client: TestClient, name: str) -> TestClient:
    page = client.get("/login").text
    done = client.post("/login", data={"username": name, "password": PASSWORD,
                                       "csrf": csrf_of(page)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def form_of(page: str) -> dict[str, str]:
    """The editor's fields as the page fills them in (its inputs, and the selected level)."""
    editor = page[page.index('id="editor"'):page.index("</form>", page.index('id="editor"'))]
    values = dict(re.findall(r'<input[^>]* name="([^"]+)" value="([^"]*)"', editor))
    values["classification"] = re.search(  # type: ignore[union-attr]
        r"<option selected>([a-z]+)</option>", editor).group(1)
    return values


def head_of(home: Path, record_id: str) -> str:
    return RecordPaths(home / "archive" / record_id, record_id).inventory.head


def error_of(page: str) -> str:
    return re.search(r'role="alert" id="[a-z-]*error">([^<]*)<', page).group(1)  # type: ignore[union-attr]


def edit(client: TestClient, record_id: str, **changes: str) -> httpx.Response:
    """Open the editor, change ``changes`` (``why`` among them) and send it back."""
    page = client.get(f"/records/{record_id}/edit")
    assert page.status_code == 200, page.text
    return client.post(f"/records/{record_id}/edit", data={**form_of(page.text), **changes},
                       follow_redirects=False)


def queue_ids(client: TestClient, query: str = "") -> list[str]:
    page = client.get(f"/review{query}")
    assert page.status_code == 200, page.text
    return re.findall(r'<li data-record="([A-Z]+-\d{4}-\d{6})">', page.text)


# ------------------------------------------------------------------------------- the editor


def test_a_correction_is_a_new_version_the_record_page_shows(
        app: TestClient, home: Path, audit: Callable[[], list[dict[str, Any]]]) -> None:
    signed_in(app, "reader")  # an archivist cleared for public records
    assert app.get(f"/records/{PUBLIC}/pdf", params={"copy": "corrected"}).status_code == 404
    archival = app.get(f"/records/{PUBLIC}/pdf").content
    page = app.get(f"/records/{PUBLIC}/edit").text
    shown = form_of(page)
    assert (shown["title"], shown["seen_version"], shown["classification"]) == (
        "Letter 61", "v1", "public")
    done = edit(app, PUBLIC, title=NEW_TITLE, why="the letter's subject line")
    assert done.status_code == 303 and done.headers["location"] == f"/records/{PUBLIC}"
    assert head_of(home, PUBLIC) == "v2"

    record = app.get(f"/records/{PUBLIC}").text
    assert f"<h1>{NEW_TITLE}</h1>" in record
    assert "Corrected title: saved as v2." in record  # the flash, once
    assert re.search(r"<th>title</th><td>" + NEW_TITLE
                     + r'</td><td class="muted">corrected by reader, \d{4}-\d\d-\d\d<', record)
    history = record[record.index('id="history"'):]
    assert "the letter&#39;s subject line" in history and ">reader<" in history
    assert f'href="/records/{PUBLIC}/versions/v1"' in record
    assert "Corrected title" not in app.get(f"/records/{PUBLIC}").text
    # The signed copy that carries the correction; the archival copy is as it was.
    assert f'href="/records/{PUBLIC}/pdf?download=true&amp;copy=corrected"' in record
    copy = app.get(f"/records/{PUBLIC}/pdf", params={"download": "true", "copy": "corrected"})
    assert copy.status_code == 200 and copy.content.startswith(b"%PDF-")
    assert f'filename="{PUBLIC}.corrected.pdf"' in copy.headers["content-disposition"]
    with pikepdf.open(io.BytesIO(copy.content)) as pdf:
        assert read_info(pdf).title == NEW_TITLE
    assert app.get(f"/records/{PUBLIC}/pdf").content == archival

    data = app.get(f"/api/records/{PUBLIC}").json()
    assert (data["descriptive"]["title"], data["archived_descriptive"]["title"]) == (
        NEW_TITLE, "Letter 61")
    assert data["version"] == "v2" and [c["version"] for c in data["corrections"]] == ["v2"]
    assert data["corrections"][0]["changes"]["title"] == {"before": "Letter 61",
                                                          "after": NEW_TITLE}

    hits = app.get("/", params={"q": "lưu trữ hồ sơ"}).text
    assert f'<a href="/records/{PUBLIC}">{NEW_TITLE}</a>' in hits
    assert "Letter 61" in app.get(f"/records/{PUBLIC}/versions/v1").text
    diff = app.get(f"/records/{PUBLIC}/diff", params={"from": "v1", "to": "v2"}).text
    assert re.search(r'<th scope="row">title</th>\s*<td>Letter 61</td>\s*<td>'
                     + NEW_TITLE + "</td>", diff)
    assert diff.count('<th scope="row">') == 1  # only what differs
    assert PUBLIC not in queue_ids(app)  # a person acted on it
    last = [e for e in audit() if e["action"] == "correct"]
    assert [(e["user"], e["record_id"], e["fields"]) for e in last] == [
        ("reader", PUBLIC, ["title"])]


def test_a_form_opened_before_anothers_correction_is_refused(home: Path) -> None:
    with client_for(home) as first, client_for(home) as second:
        stale = signed_in(first, "boss").get(f"/records/{PUBLIC}/edit").text
        assert edit(signed_in(second, "reader"), PUBLIC, issuer="VĂN PHÒNG",
                    why="letterhead").status_code == 303
        refused = first.post(f"/records/{PUBLIC}/edit", data={
            **form_of(stale), "title": "Mine", "why": "typo"})
    assert refused.status_code == 409
    assert "changed since you opened it (v1 then, v2 now)" in error_of(refused.text)
    assert 'value="Mine"' in refused.text  # what was typed is kept on the form
    assert head_of(home, PUBLIC) == "v2"


def test_lowering_is_refused_on_the_editor(app: TestClient, home: Path) -> None:
    signed_in(app, "boss")
    page = app.get(f"/records/{INTERNAL}/edit").text
    assert re.findall(r"<option(?: selected)?>([a-z]+)</option>",
                      page[page.index('id="f-classification"'):page.index("</select>",
                                                                          page.index('id="f-classification"'))]
                      ) == ["internal", "restricted", "confidential", "secret"]
    refused = edit(app, INTERNAL, classification="public", why="published")
    assert refused.status_code == 400
    assert "declassification: a second person" in error_of(refused.text)
    assert head_of(home, INTERNAL) == "v1"


@pytest.mark.parametrize(("changes", "words"), [
    ({"date": "16.09.2024"}, "date: '16.09.2024' is not a date (YYYY-MM-DD)"),
    ({"language": "Vietnamese"}, "is not Tesseract's codes"),
    ({"title": "  "}, "title cannot be empty"),
    ({"classification": "top"}, "classification: 'top' is not one of"),
    ({"title": "x" * 501}, "title: at most 500 characters"),
    ({"title": "Better", "why": ""}, "the reason cannot be empty"),
    ({}, "nothing to correct: every value is as it was"),
])
def test_bad_values_are_refused_in_one_line(app: TestClient, home: Path,
                                            changes: dict[str, str], words: str) -> None:
    signed_in(app, "boss")
    refused = edit(app, PUBLIC, **{"why": "because", **changes})
    assert refused.status_code == 400, refused.text
    reason = error_of(refused.text)
    assert words in reason.replace("&#39;", "'") and "\n" not in reason
    assert "Traceback" not in refused.text
    assert head_of(home, PUBLIC) == "v1"


def test_a_form_without_its_token_is_refused(app: TestClient, home: Path) -> None:
    signed_in(app, "boss")
    shown = form_of(app.get(f"/records/{PUBLIC}/edit").text)
    posts = [(f"/records/{PUBLIC}/edit", {**shown, "title": "x", "why": "y", "csrf": ""}),
             (f"/records/{SECRET}/declassify", {"to": "public", "why": "y"}),
             (f"/review/{PUBLIC}/reviewed", {"why": "fine"}),
             ("/declassifications/1/approve", {})]
    for path, data in posts:
        refused = app.post(path, data=data)
        assert refused.status_code == 403 and "form has expired" in refused.text, path
    assert head_of(home, PUBLIC) == head_of(home, SECRET) == "v1"


def test_who_may_not_correct_is_told_so(app: TestClient, home: Path) -> None:
    signed_in(app, "mgr")  # a manager reads the roadmap; they do not describe
    assert app.get(f"/records/{PUBLIC}/edit").status_code == 403
    record = app.get(f"/records/{PUBLIC}").text
    assert 'id="edit"' not in record and 'href="/review"' not in record
    assert app.get("/review").status_code == 403
    with client_for(home) as clerk:
        signed_in(clerk, "clerk")  # an officer: their units' records only
        refused = clerk.get(f"/records/{INTERNAL}/edit")
        assert refused.status_code == 403 and "not one of yours" in refused.text
        assert queue_ids(clerk) == []
        set_units(Catalog.open(Settings(home=home).catalog_url()), "clerk", ["VP"])
        assert clerk.get(f"/records/{INTERNAL}/edit").status_code == 200
        assert sorted(queue_ids(clerk)) == [PUBLIC, INTERNAL]  # not HA's secret letter


# ------------------------------------------------------------------------ declassification


def test_lowering_takes_a_second_person(app: TestClient, home: Path) -> None:
    signed_in(app, "boss")
    page = app.get(f"/records/{SECRET}/edit").text
    proposed = app.post(f"/records/{SECRET}/declassify", data={
        "to": "internal", "why": "the plan was published", "csrf": csrf_of(page)},
        follow_redirects=False)
    assert proposed.status_code == 303
    record = app.get(f"/records/{SECRET}").text
    assert "Proposed lowering secret to internal" in record
    assert "withdraw-" in record and "approve-" not in record  # not the proposer's to approve
    number = re.search(r'action="/declassifications/(\d+)/refuse"', record).group(1)  # type: ignore[union-attr]
    own = app.post(f"/declassifications/{number}/approve", data={"csrf": csrf_of(record)})
    assert own.status_code == 403 and "you proposed it" in own.text
    again = app.post(f"/records/{SECRET}/declassify", data={
        "to": "public", "why": "again", "csrf": csrf_of(record)})
    assert again.status_code == 400 and "already has an open" in error_of(again.text)

    with client_for(home) as other:
        record = signed_in(other, "second").get(f"/records/{SECRET}").text
        assert f'id="approve-{number}"' in record
        done = other.post(f"/declassifications/{number}/approve",
                          data={"csrf": csrf_of(record)}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/records/{SECRET}"
        shown = other.get(f"/records/{SECRET}").text
        assert "classification internal" in shown and "approve-" not in shown
        assert ">second<" in shown[shown.index('id="history"'):]
        twice = other.post(f"/declassifications/{number}/approve", data={"csrf": csrf_of(shown)})
        assert twice.status_code == 409 and "approved already" in twice.text
    assert head_of(home, SECRET) == "v2"
    assert Catalog.open(Settings(home=home).catalog_url()).get(SECRET)["level"] == 1
    with client_for(home) as clerk:  # cleared for internal: the record is theirs to read now
        assert signed_in(clerk, "clerk").get(f"/records/{SECRET}").status_code == 200


def test_a_proposer_may_withdraw(app: TestClient, home: Path) -> None:
    signed_in(app, "boss")
    page = app.get(f"/records/{SECRET}/edit").text
    app.post(f"/records/{SECRET}/declassify", data={"to": "public", "why": "old",
                                                    "csrf": csrf_of(page)})
    record = app.get(f"/records/{SECRET}").text
    number = re.search(r'id="withdraw-(\d+)"', record).group(1)  # type: ignore[union-attr]
    done = app.post(f"/declassifications/{number}/refuse", data={"csrf": csrf_of(record)})
    assert "is withdrawn" in done.text and "withdraw-" not in done.text
    assert head_of(home, SECRET) == "v1"


# --------------------------------------------------------------------- clearance, history


def test_a_record_above_the_clearance_is_nowhere(
        app: TestClient, home: Path, audit: Callable[[], list[dict[str, Any]]]) -> None:
    """The reader is cleared for public records: the secret letter's editor, versions, diff
    and proposals answer as for no record, and the queue never lists or counts it."""
    signed_in(app, "reader")
    before = queue_ids(app)
    assert SECRET not in before
    csrf = csrf_of(app.get("/review").text)
    for path in (f"/records/{SECRET}/edit", f"/records/{SECRET}/versions/v1",
                 f"/records/{SECRET}/diff?from=v1&to=v1"):
        assert app.get(path).status_code == 404, path
    for path, data in ((f"/records/{SECRET}/edit", {"title": "x", "why": "y"}),
                       (f"/records/{SECRET}/declassify", {"to": "public", "why": "y"}),
                       (f"/review/{SECRET}/reviewed", {})):
        refused = app.post(path, data={**data, "csrf": csrf})
        assert refused.status_code == 404 and "no such record" in refused.text, path
    with client_for(home) as boss:
        signed_in(boss, "boss")
        assert edit(boss, SECRET, title="Kế hoạch", why="subject line").status_code == 303
        page = boss.get(f"/records/{SECRET}/edit").text
        boss.post(f"/records/{SECRET}/declassify", data={"to": "restricted", "why": "w",
                                                         "csrf": csrf_of(page)})
    with client_for(home) as second:
        record = signed_in(second, "second").get(f"/records/{SECRET}").text
    number = re.search(r'id="approve-(\d+)"', record).group(1)  # type: ignore[union-attr]
    refused = app.post(f"/declassifications/{number}/approve", data={"csrf": csrf})
    assert refused.status_code == 404 and "no such proposal" in refused.text
    after = app.get("/review").text
    assert SECRET not in after and "Kế hoạch" not in after and "?unit=HA" not in after
    assert head_of(home, SECRET) == "v2"
    denied = [e for e in audit()
              if e["user"] == "reader" and e.get("outcome") == "denied"]
    assert len(denied) >= 6


def test_acts_made_above_the_readers_clearance_stay_hidden(app: TestClient,
                                                           home: Path) -> None:
    """Corrected while secret, then declassified: an internal reader sees the record as it is
    and as archived, but not who corrected it while it was secret, or why."""
    signed_in(app, "boss")
    assert edit(app, SECRET, title="Kế hoạch", why="names the source Hùng").status_code == 303
    page = app.get(f"/records/{SECRET}/edit").text
    app.post(f"/records/{SECRET}/declassify", data={"to": "internal", "why": "published",
                                                    "csrf": csrf_of(page)})
    with client_for(home) as second:
        record = signed_in(second, "second").get(f"/records/{SECRET}").text
        number = re.search(r'id="approve-(\d+)"', record).group(1)  # type: ignore[union-attr]
        second.post(f"/declassifications/{number}/approve", data={"csrf": csrf_of(record)})
    with client_for(home) as clerk:
        signed_in(clerk, "clerk")
        record = clerk.get(f"/records/{SECRET}").text
        data = clerk.get(f"/api/records/{SECRET}").json()
        assert "Hùng" not in record and "Hùng" not in str(data)
        assert "classified above your clearance" in record
        assert [c["version"] for c in data["corrections"]] == ["v3"]
        assert clerk.get(f"/records/{SECRET}/versions/v2").status_code == 404
        assert clerk.get(f"/records/{SECRET}/versions/v1").status_code == 200
        assert clerk.get(f"/records/{SECRET}/diff?from=v2&to=v3").status_code == 404
        assert "Kế hoạch" in clerk.get(f"/records/{SECRET}/diff?from=v1&to=v3").text


@pytest.mark.parametrize("version", ["v0", "v01", "1", "v2", "V1", "v1 ", "v1000000", "head"])
def test_a_version_is_named_strictly(app: TestClient, version: str) -> None:
    signed_in(app, "boss")
    assert app.get(f"/records/{PUBLIC}/versions/{version}").status_code == 404
    assert app.get(f"/records/{PUBLIC}/diff", params={"from": version}).status_code == 404
    assert app.get(f"/records/{PUBLIC}/diff", params={"to": version}).status_code == 404
    assert app.get(f"/records/{PUBLIC}/versions/v1").status_code == 200


# --------------------------------------------------------------------------------- the queue


def test_the_queue_lists_counts_filters_and_pages(home: Path) -> None:
    with client_for(home, page_size=1) as app:
        page = signed_in(app, "boss").get("/review").text
        assert 'href="/review">Review</a>' in page  # in the header
        assert re.findall(r'/review\?unit=([A-Z]+)"[^>]*>[A-Z]+</a> <span class="muted">'
                          r"\((\d+)\)", page) == [("HA", "1"), ("VP", "2")]
        assert '<p class="muted" id="total">3 records waiting' in page
        assert "no type was read" in page and "no issuer was read" in page
        pages = [queue_ids(app, f"?page={n}") for n in (1, 2, 3)]
        assert [len(ids) for ids in pages] == [1, 1, 1]  # one a page
        assert sorted(ids[0] for ids in pages) == sorted([PUBLIC, INTERNAL, SECRET])
        assert queue_ids(app, "?page=4") == []
        vp = app.get("/review?unit=VP").text
        assert 'href="/review?unit=VP&amp;page=2"' in vp and 'id="previous"' not in vp
        assert sorted(queue_ids(app, "?unit=VP") + queue_ids(app, "?unit=VP&page=2")) == [
            PUBLIC, INTERNAL]
        assert queue_ids(app, "?unit=XX") == []
        entries = [e for e in AuditLog(home).entries() if e["action"] == "review-queue"]
        assert entries[-1]["unit"] == "XX" and entries[-1]["results"] == 0


def test_reviewed_with_nothing_to_correct_leaves_the_queue(
        app: TestClient, home: Path, audit: Callable[[], list[dict[str, Any]]]) -> None:
    page = signed_in(app, "boss").get("/review?unit=VP").text
    done = app.post(f"/review/{PUBLIC}/reviewed", data={
        "csrf": csrf_of(page), "why": "reviewed: nothing to correct", "unit": "VP",
        "page": "1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review?unit=VP"
    after = app.get("/review?unit=VP").text
    assert f"{PUBLIC}: reviewed, nothing to correct (v2)." in after
    assert re.findall(r'<li data-record="([^"]+)">', after) == [INTERNAL]
    assert head_of(home, PUBLIC) == "v2"
    history = app.get(f"/records/{PUBLIC}").text
    assert "none: reviewed" in history and "reviewed: nothing to correct" in history
    entry = [e for e in audit() if e["action"] == "review"][-1]
    assert (entry["user"], entry["record_id"], entry["fields"]) == ("boss", PUBLIC, [])


def test_a_correction_is_vouched_for_with_the_seal(app: TestClient, home: Path,
                                                   web_archive: WebArchive) -> None:
    signed_in(app, "boss")
    assert edit(app, PUBLIC, title=NEW_TITLE, why="subject line").status_code == 303
    verdict = app.post(f"/api/records/{PUBLIC}/verify",
                       headers={"Authorization": f"Bearer {web_archive.tokens['boss']}"}).json()
    assert verdict["ok"], verdict
    assert "v2 is leaf 4, promised by the seal" in verdict["checks"]["log"]["detail"]
    assert "corrected copies of v2" in verdict["checks"]["corrected-copies"]["detail"]


def test_a_seal_that_cannot_be_opened_refuses_the_correction(home: Path) -> None:
    settings = Settings(home=home, signing=SigningSettings(pkcs12_file=home / "no-key.p12"))
    with TestClient(create_app(settings)) as app:
        signed_in(app, "boss")
        refused = edit(app, PUBLIC, title=NEW_TITLE, why="subject line")
    assert refused.status_code == 503
    assert "the seal cannot be used: no signing key at" in refused.text
    assert head_of(home, PUBLIC) == "v1"


# ------------------------------------------------------------------- words on the page image

PAGE = f"/records/{INTERNAL}/pages/1/text"


def fields_of(page: str) -> dict[str, str]:
    form = page[page.index('id="words"'):]
    return dict(re.findall(r'<input id="w-[^"]+" name="([^"]+)" value="([^"]*)"', form))


def test_a_word_corrected_on_the_page_is_found_by_search(app: TestClient, home: Path) -> None:
    signed_in(app, "boss")
    page = app.get(PAGE)
    assert page.status_code == 200, page.text
    words = fields_of(page.text)
    assert len(words) > 50  # a letter's words, each a field
    assert page.text.count('<a href="#w-') == len(words)  # and a box on the scan each
    picture = app.get(f"/records/{INTERNAL}/pages/1/image")
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")

    first = next(iter(words))
    done = app.post(PAGE, data={"csrf": csrf_of(page.text), "seen_version": "v1",
                                "why": "misread", **words, first: "Zebrafinch"},
                    follow_redirects=False)
    assert done.status_code == 303, done.text
    assert head_of(home, INTERNAL) == "v2"
    again = app.get(PAGE).text
    assert "Corrected 1 word on page 1: saved as v2." in again
    assert fields_of(again)[first] == "Zebrafinch"
    hits = app.get("/", params={"q": "zebrafinch"}).text
    assert f'href="/records/{INTERNAL}' in hits and "<mark>Zebrafinch</mark>" in hits
    paths = RecordPaths(home / "archive" / INTERNAL, INTERNAL)
    assert page_words(paths, 1, version="v1").words()[first[2:]].text == words[first]


def test_nothing_changed_or_a_bad_word_is_refused_in_one_line(app: TestClient,
                                                              home: Path) -> None:
    signed_in(app, "boss")
    page = app.get(PAGE).text
    base = {"csrf": csrf_of(page), "seen_version": "v1", "why": "x", **fields_of(page)}
    same = app.post(PAGE, data=base)
    assert same.status_code == 400 and "nothing to correct" in same.text
    unknown = app.post(PAGE, data={**base, "w_string_99999": "x"})
    assert unknown.status_code == 400 and "has no word" in unknown.text
    control = app.post(PAGE, data={**base, next(iter(fields_of(page))): "a\x07b"})
    assert control.status_code == 400 and "control characters" in control.text
    assert head_of(home, INTERNAL) == "v1"


def test_without_the_token_nothing_is_saved(app: TestClient, home: Path) -> None:
    signed_in(app, "boss")
    words = fields_of(app.get(PAGE).text)
    refused = app.post(PAGE, data={"why": "x", **words, next(iter(words)): "y"})
    assert refused.status_code in (400, 403)
    assert head_of(home, INTERNAL) == "v1"


def test_above_the_clearance_the_page_is_not_there(app: TestClient, home: Path) -> None:
    signed_in(app, "reader")  # cleared for public records only
    for path in (PAGE, f"/records/{INTERNAL}/pages/1/image"):
        assert app.get(path).status_code == 404
    csrf = csrf_of(app.get(f"/records/{PUBLIC}").text)
    assert app.post(PAGE, data={"csrf": csrf, "why": "x", "w_string_0": "y"}).status_code == 404
    assert app.get(f"/records/{PUBLIC}/pages/2/text").status_code == 404  # no such page
    assert head_of(home, INTERNAL) == "v1"
