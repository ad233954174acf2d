"""Saved searches: each account's own, kept as clean query strings, surviving a reindex, on
both backends."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import delete

from archive.access import (
    SavedSearchError,
    clean_query,
    delete_saved_search,
    save_search,
    saved_searches,
)
from archive.access.saved import MAX_SAVED, saved_searches_table, saving
from archive.index import Catalog, rebuild


@pytest.fixture
def catalog(empty_catalog: Catalog) -> Catalog:
    """An empty catalog with no saved searches: a rebuild keeps them (the session's PostgreSQL
    still holds an earlier test's), so they are emptied here."""
    empty_catalog.ensure(saving)
    with empty_catalog.transaction() as db:
        db.execute(delete(saved_searches_table))
    return empty_catalog


def test_each_account_sees_and_deletes_only_its_own(catalog: Catalog) -> None:
    mine = save_search(catalog, "lan", "VP letters", "q=quyet&unit=VP")
    theirs = save_search(catalog, "minh", "VP letters", "unit=VP&order=title")
    assert [s.name for s in saved_searches(catalog, "lan")] == ["VP letters"]
    assert saved_searches(catalog, "lan")[0].query == "q=quyet&unit=VP"
    assert [s.id for s in saved_searches(catalog, "minh")] == [theirs.id]
    assert saved_searches(catalog, "nobody") == []
    assert not delete_saved_search(catalog, "lan", theirs.id)  # another's: untouched
    assert [s.id for s in saved_searches(catalog, "minh")] == [theirs.id]
    assert delete_saved_search(catalog, "lan", mine.id)
    assert saved_searches(catalog, "lan") == []
    assert not delete_saved_search(catalog, "lan", mine.id)  # gone already


def test_saving_a_name_again_replaces_it_and_names_sort_as_people_read(
        catalog: Catalog) -> None:
    save_search(catalog, "lan", "  zebra   files ", "q=a")
    save_search(catalog, "lan", "Đơn từ", "q=b")
    save_search(catalog, "lan", "công văn", "q=c")
    save_search(catalog, "lan", "zebra files", "q=d")  # spaces folded: the same name
    shown = saved_searches(catalog, "lan")
    assert [s.name for s in shown] == ["công văn", "Đơn từ", "zebra files"]
    assert shown[-1].query == "q=d"


@pytest.mark.parametrize(("given", "kept"), [
    ("?q=quyet+dinh&unit=VP", {"q": "quyet dinh", "unit": "VP"}),
    ('q=<script>alert(1)</script>&x="', {"q": "<script>alert(1)</script>", "x": '"'}),
    ("q=a#fragment", {"q": "a#fragment"}),
    ("q=&unit=VP&page=", {"unit": "VP"}),
])
def test_the_query_is_kept_as_name_value_pairs_only(catalog: Catalog, given: str,
                                                    kept: dict[str, str]) -> None:
    saved = save_search(catalog, "lan", "x", given)
    assert dict(parse_qsl(saved.query)) == kept
    assert saved.query == clean_query(saved.query)  # stable: already clean
    for raw in '<>"# ':
        assert raw not in saved.query  # encoded: nothing of it is markup or a URL part


@pytest.mark.parametrize(("name", "query", "message"), [
    ("   ", "q=a", "give the search a name"),
    ("n" * 101, "q=a", "too long"),
    ("bell\x07", "q=a", "cannot be shown"),
    ("long", "q=" + "a" * 4001, "too long to save"),
])
def test_what_cannot_be_saved_is_said(catalog: Catalog, name: str, query: str,
                                      message: str) -> None:
    with pytest.raises(SavedSearchError, match=message):
        save_search(catalog, "lan", name, query)
    assert saved_searches(catalog, "lan") == []


def test_an_account_keeps_a_bounded_list(catalog: Catalog) -> None:
    for n in range(MAX_SAVED):
        save_search(catalog, "lan", f"s{n}", f"q=w{n}")
    with pytest.raises(SavedSearchError, match="delete one first"):
        save_search(catalog, "lan", "one more", "q=x")
    save_search(catalog, "lan", "s0", "q=again")  # replacing one is still allowed
    assert len(saved_searches(catalog, "lan")) == MAX_SAVED
    assert save_search(catalog, "minh", "theirs", "q=x").name == "theirs"  # per account


def test_a_reindex_keeps_saved_searches(tmp_path: Path) -> None:
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    save_search(catalog, "lan", "kept", "q=a")
    assert rebuild(catalog, tmp_path / "empty-archive") == 0
    assert [s.name for s in saved_searches(catalog, "lan")] == ["kept"]
