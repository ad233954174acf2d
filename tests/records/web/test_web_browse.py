"""Browsing, thumbnails, the record page's reader, saved searches and the hints of an empty
result, through the app as people and programs use it; never above the user's clearance."""

from __future__ import annotations

import html
import json
import re
import shutil
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

from archive.access import AuditLog, saved_searches
from archive.index import Catalog
from archive.store import RecordPaths
from config.settings import Settings
from records.web import thumbnails
from records.web.app import create_app
from tests.records.web.conftest import WebArchive
from tests.records.web.test_web_access import INTERNAL, PUBLIC, SECRET, bearer, signed_in

UNKNOWN = "HA-2099-000001"  # an id no record has
TITLES = {PUBLIC: "Letter 61", INTERNAL: "Letter 62", SECRET: "Letter 63"}  # 8, 9, 1 May


@pytest.fixture
def app(web_archive: WebArchive) -> Iterator[TestClient]:
    with TestClient(create_app(web_archive.settings)) as client:
        yield client


def hits(page: str) -> list[str]:
    """The records a results page links to, in order."""
    return re.findall(r'<h2><a href="/records/([A-Z]+-\d{4}-\d{6})[?"]', page)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), data[:16]
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def copy_home(web_archive: WebArchive, tmp_path: Path) -> Path:
    """A copy of the session's archive, for tests that change its catalog."""
    home = tmp_path / "home"
    shutil.copytree(web_archive.home, home)
    return home


# ---------------------------------------------------------------------------------- browse


@pytest.mark.parametrize(("user", "visible"), [
    ("reader", [PUBLIC]), ("clerk", [INTERNAL, PUBLIC]), ("boss", [INTERNAL, PUBLIC, SECRET]),
])
def test_the_search_page_without_words_lists_what_the_user_may_see(
        app: TestClient, web_archive: WebArchive, user: str, visible: list[str]) -> None:
    page = signed_in(app, user).get("/").text
    assert hits(page) == visible  # newest first
    assert f'<p class="muted" id="total">{len(visible)} record' in page
    for hidden in set(TITLES) - set(visible):
        assert hidden not in page and TITLES[hidden] not in page
    facet = dict(re.findall(r'class="facet-filter">([^<]+)</a> <span class="muted">\((\d+)\)',
                            page))
    assert sum(int(facet[level]) for level in ("public", "internal", "secret")
               if level in facet) == len(visible)
    last = AuditLog(web_archive.home).entries()[-1]
    assert (last["user"], last["action"], last["results"]) == (user, "browse", len(visible))


def test_browsing_sorts_and_keeps_its_filters(app: TestClient) -> None:
    signed_in(app, "boss")
    assert hits(app.get("/", params={"order": "oldest"}).text) == [SECRET, PUBLIC, INTERNAL]
    assert hits(app.get("/", params={"order": "title"}).text) == [PUBLIC, INTERNAL, SECRET]
    assert hits(app.get("/", params={"order": "relevance"}).text) == [INTERNAL, PUBLIC, SECRET]
    browse = app.get("/", params={"unit": "VP"}).text
    assert hits(browse) == [INTERNAL, PUBLIC]
    options = re.findall(r'<option value="([^"]*)"( selected)?>', browse)
    assert ("relevance", "") not in options and ("", " selected") in options  # newest first
    search = app.get("/", params={"q": "nghia OR digit*"}).text
    assert ("relevance", " selected") in re.findall(r'<option value="([^"]*)"( selected)?>',
                                                    search)
    facet = re.search(r'href="\?([^"]+)" class="facet-filter">VP<', browse)
    assert facet and dict(parse_qsl(html.unescape(facet.group(1)))) == {"unit": "VP"}


def test_the_api_browses_without_q(app: TestClient, web_archive: WebArchive) -> None:
    reader = app.get("/api/search", headers=bearer(web_archive, "reader")).json()
    assert (reader["total"], reader["order"]) == (1, "newest")
    assert [h["record_id"] for h in reader["hits"]] == [PUBLIC]
    assert reader["hits"][0]["page"] == 1 and reader["hits"][0]["score"] is None
    assert SECRET not in json.dumps(reader) and INTERNAL not in json.dumps(reader)
    assert sum(reader["facets"]["classification"].values()) == 1
    boss = app.get("/api/search", params={"order": "oldest", "unit": "vp"},
                   headers=bearer(web_archive, "boss")).json()
    assert [h["record_id"] for h in boss["hits"]] == [PUBLIC, INTERNAL]
    assert boss["order"] == "oldest"
    assert app.get("/api/search", params={"q": "   "},
                   headers=bearer(web_archive, "boss")).json()["total"] == 3


# ------------------------------------------------------------------------------ thumbnails


def test_a_thumbnail_is_a_small_png_kept_privately(app: TestClient, web_archive: WebArchive,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    signed_in(app, "reader")
    got = app.get(f"/records/{PUBLIC}/pages/1/thumbnail")
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    width, height = png_size(got.content)
    assert width == 200 and 100 < height < 400
    [kept] = (web_archive.home / "cache" / "thumbnails" / PUBLIC).glob("1-*.png")
    assert kept.read_bytes() == got.content
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    for folder in (kept.parent, kept.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not list(kept.parent.glob(".*"))  # no half-written file left behind

    def never(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("drawn again")

    monkeypatch.setattr(thumbnails, "render_page", never)
    assert app.get(f"/records/{PUBLIC}/pages/1/thumbnail").content == got.content  # kept


def test_a_new_version_of_the_pdf_is_drawn_anew(web_archive: WebArchive,
                                                tmp_path: Path) -> None:
    """A kept thumbnail belongs to the PDF it was drawn from: a record whose PDF changed (a
    redacted page in a new version) never shows its old page."""
    archive = web_archive.home / "archive"
    pdf = tmp_path / "record.pdf"
    shutil.copyfile(RecordPaths(archive / PUBLIC, PUBLIC).pdf, pdf)
    record = SimpleNamespace(record_id=PUBLIC, pdf=pdf)
    (tmp_path / "home").mkdir()
    drawing = thumbnails.Drawing()
    first = drawing.kept(tmp_path / "home", record, 1)  # type: ignore[arg-type]
    pdf.unlink()
    shutil.copyfile(RecordPaths(archive / SECRET, SECRET).pdf, pdf)  # another page entirely
    second = drawing.kept(tmp_path / "home", record, 1)  # type: ignore[arg-type]
    assert first != second and first.read_bytes() != second.read_bytes()
    assert second.parent == tmp_path / "home" / "cache" / "thumbnails" / PUBLIC


@pytest.mark.parametrize("number", ["2", "0", "-1", "abc", "1.0", "99999999999"])
def test_a_page_the_record_does_not_have_is_404(app: TestClient, number: str) -> None:
    signed_in(app, "reader")
    got = app.get(f"/records/{PUBLIC}/pages/{number}/thumbnail")
    assert got.status_code == 404 and "no such page" in got.text


def test_a_reader_gets_no_thumbnail_of_a_secret_record_and_learns_nothing(
        app: TestClient, web_archive: WebArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[object, ...]] = []

    def draw(*args: object, **_kwargs: object) -> bytes:
        drawn.append(args)
        raise thumbnails.ThumbnailFailed("would have drawn a page of a record")

    monkeypatch.setattr(thumbnails, "render_page", draw)
    signed_in(app, "reader")
    for number in ("1", "7"):  # a page it has, and one it has not: the record's answer first
        secret = app.get(f"/records/{SECRET}/pages/{number}/thumbnail")
        unknown = app.get(f"/records/{UNKNOWN}/pages/{number}/thumbnail")
        assert secret.status_code == unknown.status_code == 404
        assert secret.content == unknown.content
        assert secret.headers["content-type"] == unknown.headers["content-type"]
        assert SECRET not in secret.text and TITLES[SECRET] not in secret.text
    by_token = [app.get(f"/records/{rid}/pages/1/thumbnail",
                        headers=bearer(web_archive, "reader")) for rid in (SECRET, UNKNOWN)]
    assert by_token[0].status_code == by_token[1].status_code == 404
    assert by_token[0].content == by_token[1].content
    assert drawn == []
    denied = AuditLog(web_archive.home).entries()[-1]
    assert (denied["user"], denied["action"], denied["outcome"]) == (
        "reader", "thumbnail", "denied")


def test_results_show_each_first_page_in_a_list_or_a_grid(app: TestClient) -> None:
    signed_in(app, "boss")
    listed = app.get("/", params={"unit": "VP", "signed": "yes", "order": "title"}).text
    images = re.findall(r"<img [^>]+>", listed)
    assert len(images) == 2
    for record_id, image in zip((PUBLIC, INTERNAL), images, strict=True):
        assert f'src="/records/{record_id}/pages/1/thumbnail"' in image
        assert f'alt="{TITLES[record_id]}"' in image
        assert 'width="200"' in image and 'height="283"' in image and 'loading="lazy"' in image
    assert '<ol class="hits list">' in listed
    grid_link = re.search(r'href="\?([^"]+)" id="as-grid"', listed)
    assert grid_link is not None
    grid_query = html.unescape(grid_link.group(1))
    assert dict(parse_qsl(grid_query)) == {"unit": "VP", "signed": "yes", "order": "title",
                                           "view": "grid"}
    grid = app.get("/?" + grid_query).text
    assert '<ol class="hits grid">' in grid and hits(grid) == [PUBLIC, INTERNAL]
    assert '<input type="hidden" name="view" value="grid">' in grid  # a new search keeps it
    back = re.search(r'href="\?([^"]+)" id="as-list"', grid)
    assert back and dict(parse_qsl(html.unescape(back.group(1)))) == {
        "unit": "VP", "signed": "yes", "order": "title"}
    following = re.search(r'href="\?([^"]+)" class="facet-filter">2024<', grid)
    assert following and dict(parse_qsl(html.unescape(following.group(1))))["view"] == "grid"


# ------------------------------------------------------------------------ the record page


def test_the_record_page_shows_the_document_first(app: TestClient,
                                                  web_archive: WebArchive) -> None:
    page = signed_in(app, "reader").get(f"/records/{PUBLIC}").text
    frame = re.search(r"<iframe [^>]+>", page)
    assert frame is not None
    assert 'name="document"' in frame.group(0)
    assert f'src="/records/{PUBLIC}/pdf"' in frame.group(0)  # page 1: where a PDF opens
    assert 'title="' in frame.group(0)
    strip = re.findall(r'<a href="([^"]+)" target="document"[^>]*><img ([^>]+)>', page)
    assert strip == [(f"/records/{PUBLIC}/pdf#page=1",
                      f'src="/records/{PUBLIC}/pages/1/thumbnail" alt="Page 1" width="200" '
                      'height="283" loading="lazy"')]
    order = [page.index(mark) for mark in ("<iframe", 'id="download"', "Verify now",
                                           'id="metadata"', 'id="signature"',
                                           'id="provenance"')]
    assert order == sorted(order)
    assert str(web_archive.home) not in page


@pytest.mark.parametrize("asked", ["2", "0", "-1", "abc", "", "1e3"])
def test_a_page_outside_the_record_opens_page_one(app: TestClient, asked: str) -> None:
    page = signed_in(app, "reader").get(f"/records/{PUBLIC}", params={"page": asked}).text
    assert f'<iframe name="document" id="pdf" src="/records/{PUBLIC}/pdf" ' in page


def test_a_hit_opens_its_record_at_the_page_of_the_hit(copy_home: Path) -> None:
    """A record of three pages (its catalog entry, in a copy of the archive): the hit is on
    page 2, the result links there, and the record page opens the PDF there."""
    catalog = Catalog.open(Settings(home=copy_home).catalog_url())
    row = catalog.get(PUBLIC)
    assert row is not None
    catalog.add({**row, "pages": 3}, ["first page", "the zebra crossing", "third page"])
    catalog.engine.dispose()
    with TestClient(create_app(Settings(home=copy_home))) as client:
        results = signed_in(client, "reader").get("/", params={"q": "zebra"}).text
        assert f'<h2><a href="/records/{PUBLIC}?page=2">' in results
        page = client.get(f"/records/{PUBLIC}", params={"page": "2"}).text
        assert f'src="/records/{PUBLIC}/pdf#page=2"' in page
        assert re.findall(r'href="([^"]+)" target="document"', page) == [
            f"/records/{PUBLIC}/pdf#page={n}" for n in (1, 2, 3)]
        assert f'id="pdf" src="/records/{PUBLIC}/pdf" ' in client.get(
            f"/records/{PUBLIC}", params={"page": "4"}).text
        verified = client.post(f"/records/{PUBLIC}/verify",
                               data={"csrf": csrf_of(page), "page": "3"}).text
        assert "every check passed" in verified
        assert f'src="/records/{PUBLIC}/pdf#page=3"' in verified
        # The catalog says three pages, the PDF has one: said, without the server's paths.
        missing = client.get(f"/records/{PUBLIC}/pages/3/thumbnail")
        assert missing.status_code == 503 and str(copy_home) not in missing.text


# ------------------------------------------------------------------------ saved searches


def test_saved_searches_are_each_users_own(app: TestClient, web_archive: WebArchive) -> None:
    signed_in(app, "reader")
    shown = app.get("/", params={"q": "nghia", "unit": "VP", "page": "1"}).text
    form = re.search(r'<form method="post" action="/searches" class="save">(.*?)</form>', shown,
                     re.S)
    assert form and 'for="saved-name"' in form.group(1)
    query = html.unescape(re.search(r'name="query" value="([^"]*)"', form.group(1)).group(1))  # type: ignore[union-attr]
    assert dict(parse_qsl(query)) == {"q": "nghia", "unit": "VP"}
    name = '<b onclick="x()">VP</b> & "letters"'
    saved = app.post("/searches", data={"name": name, "query": query, "csrf": csrf_of(shown)},
                     follow_redirects=False)
    assert saved.status_code == 303
    assert dict(parse_qsl(urlsplit(saved.headers["location"]).query)) == {"q": "nghia",
                                                                           "unit": "VP"}
    page = app.get(saved.headers["location"]).text
    assert "<b onclick" not in page
    escaped = html.escape(name, quote=False).replace('"', "&#34;")
    assert f'class="saved-search">{escaped}</a>' in page
    assert 'id="flash">Saved the search' in page
    [mine] = saved_searches(Catalog.open(web_archive.settings.catalog_url()), "reader")

    signed_in(app, "clerk")
    theirs = app.get("/").text
    assert "saved-search" not in theirs and "letters" not in theirs
    refused = app.post(f"/searches/{mine.id}/delete", data={"csrf": csrf_of(theirs)})
    assert refused.status_code == 404
    assert app.post(f"/searches/{mine.id}/delete", data={}).status_code == 403  # no token

    signed_in(app, "reader")
    page = app.get("/").text
    done = app.post(f"/searches/{mine.id}/delete", data={"csrf": csrf_of(page),
                                                         "back": "unit=VP"},
                    follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/?unit=VP"
    assert "saved-search" not in app.get("/").text


def test_a_saved_query_is_parsed_again_never_trusted(app: TestClient,
                                                     web_archive: WebArchive) -> None:
    signed_in(app, "reader")
    page = app.get("/").text
    tricky = 'q=a"><script>x</script>&unit=VP&evil=1&page=9#frag'
    assert app.post("/searches", data={"name": "tricky", "query": tricky,
                                       "csrf": csrf_of(page)}).status_code == 200
    page = app.get("/").text
    link = re.search(r'<a href="([^"]*)" class="saved-search">tricky</a>', page)
    assert link is not None
    assert dict(parse_qsl(urlsplit(html.unescape(link.group(1))).query)) == {
        "q": 'a"><script>x</script>', "unit": "VP"}  # "evil" and "page=9#frag" dropped
    assert "<script>" not in page
    catalog = Catalog.open(web_archive.settings.catalog_url())
    [kept] = saved_searches(catalog, "reader")
    assert app.post(f"/searches/{kept.id}/delete", data={"csrf": csrf_of(page)}).status_code \
        == 200
    bad = app.post("/searches", data={"name": "  ", "query": "q=x", "csrf": csrf_of(page)})
    assert bad.status_code == 400 and "give the search a name" in bad.text
    assert saved_searches(catalog, "reader") == []


# ----------------------------------------------------------------------- nothing found


def test_nothing_found_names_each_filter_and_what_removing_it_finds(app: TestClient) -> None:
    signed_in(app, "boss")
    words = "nghia OR digit* OR akten OR behorde* OR freundlichen"
    page = app.get("/", params={"q": words, "unit": "HA", "signed": "no",
                                "order": "oldest"}).text
    assert '<p class="muted" id="total">0 records</p>' in page
    found = {html.unescape(label): (dict(parse_qsl(html.unescape(link))), int(total))
             for link, label, total in re.findall(
                 r'<a href="\?([^"]*)" class="remove-filter">Remove ([^<]+)</a> '
                 r'<span class="muted">\((\d+) record', page)}
    assert found == {
        "unit: HA": ({"q": words, "signed": "no", "order": "oldest"}, 0),
        "signed: no": ({"q": words, "unit": "HA", "order": "oldest"}, 1),
        f'the words "{words}"': ({"unit": "HA", "signed": "no", "order": "oldest"}, 0),
    }
    assert hits(app.get("/?" + "&".join(f"{k}={v}" for k, v in (
        ("unit", "HA"), ("order", "oldest")))).text) == [SECRET]


def test_what_removing_a_filter_finds_is_counted_within_the_clearance(app: TestClient) -> None:
    signed_in(app, "reader")
    page = app.get("/", params={"unit": "HA"}).text  # HA's only record is secret
    assert '<p class="muted" id="total">0 records</p>' in page
    assert re.findall(r'class="remove-filter">Remove ([^<]+)</a> <span class="muted">'
                      r'\((\d+) record', page) == [("unit: HA", "1")]  # not 3
    assert SECRET not in page and TITLES[SECRET] not in page


# ------------------------------------------------------------------ labels and pictures


class _Controls(HTMLParser):
    """The controls and images of a page, and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.images: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        elif tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.controls.append({**found, "wrapped": "yes" if self.in_label else None})
        elif tag == "img":
            self.images.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


@pytest.mark.parametrize("path", ["/", "/?view=grid&order=title", "/?unit=HA&signed=no",
                                  f"/records/{PUBLIC}", "/?q=nghia"])
def test_every_control_is_labelled_and_every_picture_described(app: TestClient,
                                                               path: str) -> None:
    page = signed_in(app, "boss").get(path).text
    parsed = _Controls()
    parsed.feed(page)
    for control in parsed.controls:
        assert (control.get("aria-label") or control["wrapped"]
                or control.get("id") in parsed.label_for), control
    for image in parsed.images:
        assert image.get("alt") and image.get("width") and image.get("height"), image
        assert image.get("loading") == "lazy", image


def test_a_new_page_asked_for_at_once_is_drawn_once_and_never_dated(
        web_archive: WebArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight browsers asking for one undrawn page start one pdftoppm, not eight; the answer
    carries no Last-Modified (when it was drawn is when someone first opened the page)."""
    archive = web_archive.home / "archive"
    record = SimpleNamespace(record_id=PUBLIC, pdf=RecordPaths(archive / PUBLIC, PUBLIC).pdf)
    (tmp_path / "home").mkdir()
    drawn: list[int] = []
    real = thumbnails.render_page

    def counted(*args: object, **kwargs: object) -> bytes:
        drawn.append(1)
        time.sleep(0.2)  # a slow drawing: the others arrive while it runs
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(thumbnails, "render_page", counted)
    drawing = thumbnails.Drawing(at_once=2)
    with ThreadPoolExecutor(8) as pool:
        kept = set(pool.map(lambda _: drawing.kept(tmp_path / "home", record, 1),  # type: ignore[arg-type]
                            range(8)))
    assert len(drawn) == 1 and len(kept) == 1
    busy = thumbnails.Drawing(at_once=1)
    busy._slots.acquire()  # every slot taken by other drawings
    with pytest.raises(thumbnails.Busy):
        busy.kept(tmp_path / "other", record, 1, wait=0.1)  # type: ignore[arg-type]


def test_a_thumbnail_answer_does_not_say_when_it_was_drawn(app: TestClient) -> None:
    signed_in(app, "reader")
    got = app.get(f"/records/{PUBLIC}/pages/1/thumbnail")
    assert got.status_code == 200 and "last-modified" not in got.headers


@pytest.mark.parametrize("path", ["/?page=10001", "/api/search?q=a&page=461168601842738792",
                                  "/api/search?page=1000000000000000000000000000000"])
def test_a_page_number_beyond_any_result_is_refused_not_a_server_error(
        app: TestClient, path: str) -> None:
    signed_in(app, "reader")
    assert app.get(path).status_code in (400, 422)
