"""The same search tests on both backends: SQLite FTS5 and a real PostgreSQL on loopback."""

from __future__ import annotations

import re
from datetime import date

import pytest

from archive.index import Catalog, Filters, QueryError, search_records
from archive.store import level_of

DOCS = [
    ("VP-2024-000001", "Quyết định về số hóa", "VP", "QUYẾT ĐỊNH", "2024-09-16", "public", True,
     ["BỘ QUỐC PHÒNG\\nQUYẾT ĐỊNH\\nVề việc số hóa hồ sơ lưu trữ của Đảng ủy",
      "Điều 2. Các cơ quan thi hành quyết định này kể từ ngày ký."]),
    ("VP-2024-000002", "Kế hoạch chuyển đổi số", "VP", "KẾ HOẠCH", "2024-03-01", "internal",
     False, ["KẾ HOẠCH\\nChuyển đổi số và digitalisation của văn phòng Đảng ủy"]),
    ("HA-2023-000001", "Aussonderung von Schriftgut", "HA", "BESCHEID", "2023-06-29", "public",
     True, ["Die Behörde ordnet die Digitalisierung der Akten an.",
            "Straße und Hausnummer werden geschwärzt."]),
    ("CRS-2022-000001", "Destruction of duplicate records", "CRS", "CIRCULAR", "2022-01-10",
     "restricted", True, ["Paper originals may be destroyed once the digital copy is checked."]),
    ("CRS-2021-000002", "Secret minutes", "CRS", "MINUTES", "2021-05-05", "secret", True,
     ["The digital vault holds the secret plans of the Behörde."]),
]


@pytest.fixture
def catalog(empty_catalog: Catalog) -> Catalog:
    catalog = empty_catalog
    for record_id, title, unit, kind, day, classification, signed, texts in DOCS:
        catalog.add({"record_id": record_id, "title": title, "unit": unit,
                     "document_type": kind, "document_date": day,
                     "classification": classification, "level": level_of(classification),
                     "signed": signed, "needs_review": record_id == "VP-2024-000002",
                     "pages": len(texts)}, [t.replace("\\n", "\n") for t in texts])
    return catalog


def ids(catalog: Catalog, query: str, clearance: int = 4, **kwargs: object) -> list[str]:
    return sorted(h.record_id for h in search_records(catalog, query, clearance=clearance,
                                              **kwargs).hits)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "expected"), [
    ("quyet dinh", ["VP-2024-000001"]),
    ("Quyết định", ["VP-2024-000001"]),
    ("QUYET DINH", ["VP-2024-000001"]),
    ("dang", ["VP-2024-000001", "VP-2024-000002"]),  # đ folds to d
    ("Đảng", ["VP-2024-000001", "VP-2024-000002"]),
    ("Behorde", ["CRS-2021-000002", "HA-2023-000001"]),
    ("Behörde", ["CRS-2021-000002", "HA-2023-000001"]),
    ("strasse", []),  # ß is a letter of its own: "strase" is not typed by anyone
    ("straße", ["HA-2023-000001"]),
])
def test_diacritics_never_get_in_the_way(catalog: Catalog, query: str,
                                         expected: list[str]) -> None:
    assert ids(catalog, query) == expected


def test_phrase_prefix_and_boolean(catalog: Catalog) -> None:
    assert ids(catalog, '"ho so luu tru"') == ["VP-2024-000001"]
    assert ids(catalog, '"luu ho so"') == []
    assert ids(catalog, "digit*") == ["CRS-2021-000002", "CRS-2022-000001", "HA-2023-000001",
                                      "VP-2024-000002"]
    assert ids(catalog, "digit* AND behorde") == ["CRS-2021-000002", "HA-2023-000001"]
    assert ids(catalog, "digit* -behorde") == ["CRS-2022-000001", "VP-2024-000002"]
    assert ids(catalog, "digit* NOT behorde NOT paper") == ["VP-2024-000002"]
    assert ids(catalog, "quyet OR aussonderung OR akten") == ["HA-2023-000001",
                                                              "VP-2024-000001"]
    # The first has Đảng on page 1 and "kể" on page 2: a record matches as a whole.
    assert ids(catalog, "(dang OR akten) ke") == ["VP-2024-000001", "VP-2024-000002"]
    # ... and is excluded as a whole: "thi" is on the first one's page 2, Đảng on its page 1.
    assert ids(catalog, "dang -thi") == ["VP-2024-000002"]


def test_snippet_shows_the_original_words_and_the_page(catalog: Catalog) -> None:
    [hit] = search_records(catalog, "thi hanh", clearance=4).hits
    assert hit.page == 2
    assert "<mark>thi</mark> <mark>hành</mark> quyết định" in hit.snippet
    [hit] = search_records(catalog, "hausnummer", clearance=4).hits
    assert hit.page == 2 and "<mark>Hausnummer</mark>" in hit.snippet


def test_clearance_hides_records_everywhere(catalog: Catalog) -> None:
    public = search_records(catalog, "digit* OR behorde", clearance=0)
    assert sorted(h.record_id for h in public.hits) == ["HA-2023-000001"]
    assert public.total == 1
    assert public.facets["classification"] == {"public": 1}
    assert set(public.facets["unit"]) == {"HA"}
    secret = search_records(catalog, "digit* OR behorde", clearance=4)
    assert secret.total == 4 and secret.facets["unit"] == {"CRS": 2, "HA": 1, "VP": 1}
    assert ids(catalog, "vault", clearance=3) == []
    assert ids(catalog, "vault", clearance=4) == ["CRS-2021-000002"]


def test_filters_and_facets(catalog: Catalog) -> None:
    assert ids(catalog, "digit*", filters=Filters(unit="CRS")) == ["CRS-2021-000002",
                                                                    "CRS-2022-000001"]
    assert ids(catalog, "dang", filters=Filters(document_type="KẾ HOẠCH")) == [
        "VP-2024-000002"]
    assert ids(catalog, "digit*", filters=Filters(date_from=date(2022, 1, 1),
                                                  date_to=date(2023, 12, 31))) == [
        "CRS-2022-000001", "HA-2023-000001"]
    assert ids(catalog, "digit*", filters=Filters(signed=False)) == ["VP-2024-000002"]
    assert ids(catalog, "digit*", filters=Filters(needs_review=True)) == ["VP-2024-000002"]
    assert ids(catalog, "digit*", filters=Filters(classification="restricted")) == [
        "CRS-2022-000001"]
    facets = search_records(catalog, "digit*", clearance=4).facets
    assert facets["year"] == {"2021": 1, "2022": 1, "2023": 1, "2024": 1}
    assert facets["signed"] == {"signed": 3, "unsigned": 1}


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(unit="vp"), ["VP-2024-000001", "VP-2024-000002"]),
    (Filters(unit=" Vp "), ["VP-2024-000001", "VP-2024-000002"]),
    (Filters(document_type="ke hoach"), ["VP-2024-000002"]),
    (Filters(document_type="Kế Hoạch"), ["VP-2024-000002"]),
    (Filters(document_type="quyet"), []),  # the whole value, not a part of it
    (Filters(unit="nowhere"), []),
])
def test_unit_and_type_filters_ignore_case_and_diacritics(catalog: Catalog, filters: Filters,
                                                          expected: list[str]) -> None:
    assert ids(catalog, "digit* OR dang", filters=filters) == expected


def test_order_and_pagination(catalog: Catalog) -> None:
    newest = [h.record_id
              for h in search_records(catalog, "digit*", clearance=4, order="newest").hits]
    assert newest == ["VP-2024-000002", "HA-2023-000001", "CRS-2022-000001", "CRS-2021-000002"]
    first = search_records(catalog, "digit*", clearance=4, order="newest", limit=2)
    second = search_records(catalog, "digit*", clearance=4, order="newest", limit=2, offset=2)
    assert first.total == second.total == 4
    assert [h.record_id for h in first.hits + second.hits] == newest
    scores = [h.score for h in search_records(catalog, "digit*", clearance=4).hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(("query", "message"), [
    ("", "type a word"),
    ("NOT dang", "at least one word to find"),
    ("dang OR", "ends where a word was expected"),
    ("(dang", "never closed"),
    ('"dang', "never closed"),
    ("d*", "at least two letters"),
    ("*** & !", "type a word"),
    ("(" * 900 + "dang" + ")" * 900, "too deeply nested"),
    ("dang " + "NOT " * 400 + "x", "too deeply nested"),
    ("dang " + "-" * 1500 + "x", "too deeply nested"),
    ("dang " * 500, "too long"),
    ("dang " + " ".join(f"NOT x{n}" for n in range(40)), "too many words"),  # flat: not deep
])
def test_malformed_query_gets_a_clear_message(catalog: Catalog, query: str,
                                              message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        search_records(catalog, query, clearance=4)


def test_stray_dashes_and_many_flat_nots_are_not_nesting(catalog: Catalog) -> None:
    assert ids(catalog, "dang " + "- " * 900 + "-x") == ["VP-2024-000001", "VP-2024-000002"]
    assert ids(catalog, "dang " + " ".join(f"NOT x{n}" for n in range(20))) == [
        "VP-2024-000001", "VP-2024-000002"]


def test_operators_typed_as_text_are_only_words(catalog: Catalog) -> None:
    """Search engines' operator syntax inside a word (FTS5, tsquery, tantivy's query
    language) is only a word, never interpreted."""
    assert ids(catalog, "dang:* NEAR(x) col:y") == []
    assert ids(catalog, "'dang' & quyet") == ["VP-2024-000001"]
    assert ids(catalog, 'dang" OR "x') == []  # a quote mid-word starts a phrase: "or"


def test_every_match_is_ranked_however_many(catalog: Catalog) -> None:
    """No newest-first fallback: a query matching every record is ranked by relevance, and
    asking for newest first changes the order only."""
    ranked = search_records(catalog, "digit* OR behorde", clearance=4)
    assert ranked.order == "relevance" and ranked.total == 4
    assert all(h.score is not None for h in ranked.hits)
    assert [h.score for h in ranked.hits] == sorted((h.score for h in ranked.hits),
                                                    reverse=True)
    newest = search_records(catalog, "digit* OR behorde", clearance=4, order="newest")
    assert newest.as_dict()["order"] == "newest"
    assert [h.record_id for h in newest.hits] == ["VP-2024-000002", "HA-2023-000001",
                                                  "CRS-2022-000001", "CRS-2021-000002"]
    assert all(h.score is None for h in newest.hits)
    assert (newest.total, newest.facets) == (ranked.total, ranked.facets)


def test_what_a_searcher_sees_does_not_tell_of_records_they_may_not_see(
        catalog: Catalog) -> None:
    """Secret records holding a word are added: a public searcher's answer (hits, order,
    total, facets and scores) stays exactly as it was. bm25 weighs a word by the whole
    catalog, so a score shown to them would have dropped."""
    before = search_records(catalog, "behorde OR digit*", clearance=0).as_dict()
    for n in range(30):
        catalog.add({"record_id": f"SEC-2020-{n + 1:06d}", "title": "Hidden", "unit": "SEC",
                     "document_date": "2020-01-01", "classification": "secret", "level": 4,
                     "signed": True, "needs_review": False, "pages": 1},
                    ["Behörde Behörde digitalisation"])
    after = search_records(catalog, "behorde OR digit*", clearance=0).as_dict()
    assert after == before
    assert all(hit["score"] is None for hit in after["hits"])
    full = search_records(catalog, "behorde", clearance=4)
    assert full.total == 32 and all(h.score is not None for h in full.hits)


def test_newest_first_ties_go_by_record_id(catalog: Catalog) -> None:
    for record_id in ("ZZ-2024-000009", "AA-2024-000009"):
        catalog.add({"record_id": record_id, "title": "Tie", "unit": "VP",
                     "document_date": "2030-01-01", "classification": "public", "level": 0,
                     "signed": False, "needs_review": False, "pages": 1}, ["digitised tie"])
    hits = search_records(catalog, "digit*", clearance=4, order="newest", limit=3).hits
    assert [h.record_id for h in hits] == ["AA-2024-000009", "ZZ-2024-000009",
                                           "VP-2024-000002"]


def test_search_sees_every_change_to_the_catalog_at_once(catalog: Catalog) -> None:
    """Keys kept in memory between searches never show a record as it no longer is."""
    assert ids(catalog, "vault", clearance=4) == ["CRS-2021-000002"]
    row = {"record_id": "CRS-2021-000002", "title": "Secret minutes", "unit": "CRS",
           "document_type": "MINUTES", "document_date": "2021-05-05", "signed": True,
           "needs_review": False, "pages": 1}
    text_ = ["The digital vault holds the secret plans of the Behörde."]
    catalog.add({**row, "classification": "public", "level": 0}, text_)  # declassified
    assert ids(catalog, "vault", clearance=0) == ["CRS-2021-000002"]
    assert search_records(catalog, "vault", clearance=0).facets["classification"] == {"public": 1}
    catalog.add({**row, "classification": "secret", "level": 4}, text_)  # and back
    assert ids(catalog, "vault", clearance=0) == []
    assert search_records(catalog, "vault", clearance=0).total == 0
    catalog.add({**row, "record_id": "CRS-2025-000003", "classification": "public",
                 "level": 0}, text_)  # a new record
    assert ids(catalog, "vault", clearance=0) == ["CRS-2025-000003"]
    catalog.drop()
    catalog.create()  # a rebuilt catalog reuses row ids
    catalog.add({**row, "record_id": "HA-2025-000001", "classification": "internal",
                 "level": 1}, ["vault"])
    found = search_records(catalog, "vault", clearance=4)
    assert [h.record_id for h in found.hits] == ["HA-2025-000001"]
    assert found.facets["classification"] == {"internal": 1}
