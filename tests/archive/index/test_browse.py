"""Browsing: every record a user may see, without a query, on both backends (SQLite with its
search keys in memory, and a real PostgreSQL on loopback), and the orders both share with
search. The two backends must answer alike: one test builds the same catalog on each and
compares their answers whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from archive.index import Catalog, Filters, browse_records, search_records
from archive.store import level_of
from tests.conftest import new_database

# record id, title, unit, date, classification, signed, first page
DOCS = [
    ("VP-2024-000001", "Quyết định về số hóa", "VP", "2024-09-16", "public", True,
     "BỘ QUỐC PHÒNG QUYẾT ĐỊNH Về việc số hóa hồ sơ lưu trữ"),
    ("VP-2024-000002", "Kế hoạch chuyển đổi số", "VP", "2024-03-01", "internal", False,
     "KẾ HOẠCH chuyển đổi số và digitalisation"),
    ("VP-2024-000003", "Đơn xin số hóa", "VP", None, "public", True,
     "Đơn xin digitalisation của văn phòng"),
    ("HA-2023-000001", "Aussonderung von Schriftgut", "HA", "2023-06-29", "public", True,
     "Die Behörde ordnet die Digitalisierung der Akten an."),
    ("CRS-2022-000001", "Ấn phẩm lưu trữ", "CRS", "2022-01-10", "restricted", True,
     "Paper originals may be destroyed once the digital copy is checked."),
    ("CRS-2021-000002", "Secret minutes", "CRS", "2021-05-05", "secret", True,
     "The digital vault holds the secret plans of the Behörde."),
    ("CRS-2021-000003", "", "CRS", "2021-05-05", "public", False,
     "An untitled digital page " + "word " * 40),
]
PUBLIC = ["VP-2024-000001", "VP-2024-000003", "HA-2023-000001", "CRS-2021-000003"]


def fill(catalog: Catalog) -> Catalog:
    for record_id, title, unit, day, classification, signed, text in DOCS:
        catalog.add({"record_id": record_id, "title": title, "unit": unit,
                     "document_type": "LETTER", "document_date": day,
                     "classification": classification, "level": level_of(classification),
                     "signed": signed, "needs_review": record_id == "VP-2024-000002",
                     "pages": 1}, [text])
    return catalog


@pytest.fixture
def catalog(empty_catalog: Catalog) -> Catalog:
    return fill(empty_catalog)


def listed(catalog: Catalog, clearance: int = 4, **kwargs: object) -> list[str]:
    return [h.record_id for h in browse_records(catalog, clearance=clearance,
                                                **kwargs).hits]  # type: ignore[arg-type]


def test_browsing_lists_every_visible_record_newest_first(catalog: Catalog) -> None:
    found = browse_records(catalog, clearance=4)
    assert found.total == 7 and found.order == "newest"
    # Undated last; equal dates by record id.
    assert [h.record_id for h in found.hits] == [
        "VP-2024-000001", "VP-2024-000002", "HA-2023-000001", "CRS-2022-000001",
        "CRS-2021-000002", "CRS-2021-000003", "VP-2024-000003"]
    first = found.hits[0]
    assert (first.title, first.page, first.score) == ("Quyết định về số hóa", 1, None)
    assert first.snippet.startswith("BỘ QUỐC PHÒNG QUYẾT ĐỊNH")  # the page's opening words
    assert "<mark>" not in first.snippet
    long = next(h for h in found.hits if h.record_id == "CRS-2021-000003")
    assert long.snippet.endswith(" …") and len(long.snippet.split()) == 25
    assert found.facets["unit"] == {"CRS": 3, "VP": 3, "HA": 1}
    assert found.facets["year"] == {"2021": 2, "2022": 1, "2023": 1, "2024": 2, "unknown": 1}
    assert found.facets["signed"] == {"signed": 5, "unsigned": 2}


def test_records_above_the_clearance_are_in_no_list_count_or_facet(catalog: Catalog) -> None:
    public = browse_records(catalog, clearance=0)
    assert sorted(h.record_id for h in public.hits) == sorted(PUBLIC)
    assert public.total == 4
    assert public.facets["classification"] == {"public": 4}
    assert public.facets["unit"] == {"CRS": 1, "VP": 2, "HA": 1}
    shown = json.dumps(public.as_dict(), ensure_ascii=False)
    for hidden in ("VP-2024-000002", "CRS-2022-000001", "CRS-2021-000002", "Secret minutes"):
        assert hidden not in shown
    assert browse_records(catalog, clearance=2).total == 6  # restricted, not secret
    # A filter asking for a level above the clearance finds nothing, and says so in numbers.
    secret = browse_records(catalog, clearance=0, filters=Filters(classification="secret"))
    assert (secret.total, secret.hits, secret.facets["unit"]) == (0, [], {})


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(unit="crs"), ["CRS-2022-000001", "CRS-2021-000002", "CRS-2021-000003"]),
    (Filters(date_from=date(2022, 1, 1), date_to=date(2023, 12, 31)),
     ["HA-2023-000001", "CRS-2022-000001"]),
    (Filters(date_from=date(2024, 1, 1)), ["VP-2024-000001", "VP-2024-000002"]),  # not undated
    (Filters(signed=False), ["VP-2024-000002", "CRS-2021-000003"]),
    (Filters(needs_review=True), ["VP-2024-000002"]),
    (Filters(classification="restricted"), ["CRS-2022-000001"]),
    (Filters(unit="nowhere"), []),
])
def test_filters_narrow_a_browse_as_they_narrow_a_search(catalog: Catalog, filters: Filters,
                                                          expected: list[str]) -> None:
    found = browse_records(catalog, clearance=4, filters=filters)
    assert [h.record_id for h in found.hits] == expected
    assert found.total == len(expected) == sum(found.facets["classification"].values())


def test_oldest_first_and_title_order(catalog: Catalog) -> None:
    assert listed(catalog, order="oldest") == [
        "CRS-2021-000002", "CRS-2021-000003", "CRS-2022-000001", "HA-2023-000001",
        "VP-2024-000002", "VP-2024-000001", "VP-2024-000003"]
    # Folded: Ấn among the A's, Đơn among the D's; the untitled record last.
    assert [h.title for h in browse_records(catalog, clearance=4, order="title").hits] == [
        "Ấn phẩm lưu trữ", "Aussonderung von Schriftgut", "Đơn xin số hóa",
        "Kế hoạch chuyển đổi số", "Quyết định về số hóa", "Secret minutes", ""]
    assert browse_records(catalog, clearance=4, order="title").order == "title"
    # Nothing to rank by: relevance (or an order nobody knows) is newest first.
    assert listed(catalog, order="relevance") == listed(catalog)
    assert browse_records(catalog, clearance=4, order="relevance").order == "newest"
    assert listed(catalog, order="sideways") == listed(catalog)  # type: ignore[arg-type]


@pytest.mark.parametrize("order", ["newest", "oldest", "title"])
def test_pages_of_a_browse_add_up_to_the_whole(catalog: Catalog, order: str) -> None:
    whole = listed(catalog, order=order)
    pages = [browse_records(catalog, clearance=4, order=order, limit=3, offset=start)  # type: ignore[arg-type]
             for start in (0, 3, 6)]
    assert [h.record_id for page in pages for h in page.hits] == whole
    assert {page.total for page in pages} == {7}
    assert browse_records(catalog, clearance=4, order=order, offset=7).hits == []  # type: ignore[arg-type]


def test_a_search_may_come_oldest_first_or_by_title(catalog: Catalog) -> None:
    """The orders of a browse are a search's too, within what the query matches."""
    oldest = search_records(catalog, "digit*", clearance=4, order="oldest")
    assert [h.record_id for h in oldest.hits] == [
        "CRS-2021-000002", "CRS-2021-000003", "CRS-2022-000001", "HA-2023-000001",
        "VP-2024-000002", "VP-2024-000003"]
    assert oldest.order == "oldest" and all(h.score is None for h in oldest.hits)
    titled = search_records(catalog, "digit*", clearance=0, order="title")
    assert [h.record_id for h in titled.hits] == [
        "HA-2023-000001", "VP-2024-000003", "CRS-2021-000003"]
    assert titled.total == 3 and "<mark>" in titled.hits[0].snippet
    second = search_records(catalog, "digit*", clearance=4, order="title", limit=2, offset=2)
    assert [h.title for h in second.hits] == ["Đơn xin số hóa", "Kế hoạch chuyển đổi số"]


def test_a_browse_sees_every_change_to_the_catalog_at_once(catalog: Catalog) -> None:
    assert "HA-2025-000001" not in listed(catalog, clearance=0)
    row = {"record_id": "HA-2025-000001", "title": "New", "unit": "HA",
           "document_date": "2025-01-01", "signed": True, "needs_review": False, "pages": 1}
    catalog.add({**row, "classification": "public", "level": 0}, ["new page"])
    assert listed(catalog, clearance=0)[0] == "HA-2025-000001"
    catalog.add({**row, "classification": "secret", "level": 4}, ["new page"])  # reclassified
    found = browse_records(catalog, clearance=0)
    assert "HA-2025-000001" not in [h.record_id for h in found.hits]
    assert found.total == 4 and found.facets["unit"]["HA"] == 1


# ------------------------------------------------------------- both backends, one answer


@pytest.fixture
def both(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Catalog, Catalog]]:
    """The same records in a SQLite catalog and in a PostgreSQL one."""
    lite = fill(Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}"))
    pg = fill(Catalog.open(new_database(postgres_url, "browse_agreement")))
    yield lite, pg
    lite.engine.dispose()
    pg.engine.dispose()


@pytest.mark.parametrize("clearance", [0, 1, 4])
def test_both_backends_browse_alike(both: tuple[Catalog, Catalog], clearance: int) -> None:
    lite, pg = both
    asked: list[dict[str, object]] = [
        {}, {"order": "oldest"}, {"order": "title"}, {"order": "title", "limit": 2, "offset": 1},
        {"filters": Filters(unit="vp")}, {"filters": Filters(signed=True), "order": "oldest"},
        {"filters": Filters(date_from=date(2022, 1, 1))}, {"limit": 2, "offset": 3}]
    for kwargs in asked:
        answers = [browse_records(c, clearance=clearance, **kwargs).as_dict()  # type: ignore[arg-type]
                   for c in (lite, pg)]
        assert answers[0] == answers[1], kwargs
        assert answers[0]["total"] == sum(answers[0]["facets"]["signed"].values())
    for order in ("oldest", "title", "newest"):
        found = [search_records(c, "digit* OR dang", clearance=clearance,
                                order=order).as_dict() for c in (lite, pg)]  # type: ignore[arg-type]
        assert found[0] == found[1], order
