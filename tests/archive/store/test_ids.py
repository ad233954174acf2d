"""Record ids have one grammar: what is minted is matched everywhere, and nothing else is a
path into the archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.signing import check_fixity
from archive.store import UnknownRecord, is_record_id, record_paths
from archive.store.ids import id_prefix, record_id


@pytest.mark.parametrize(("unit", "year", "number", "expected"), [
    ("TCCT", 2024, 1, "TCCT-2024-000001"),
    ("Tổng cục Chính trị", 2024, 12, "TONGCUCCHINHTRI-2024-000012"),
    ("Văn phòng", 999, 1, "VANPHONG-999-000001"),  # a letter dated before the year 1000
    ("BMI", 2024, 1_234_567, "BMI-2024-1234567"),
])
def test_what_is_minted_is_an_id(unit: str, year: int, number: int, expected: str) -> None:
    minted = record_id(id_prefix(unit, year), number)
    assert minted == expected and is_record_id(minted)


@pytest.mark.parametrize("name", ["../keys", "VP-2024-000001/../x", "vp-2024-000001",
                                  "VP-2024-1", "VP-02024-000001", "VP-0999-000001", "",
                                  "VP-2024-000001\n", ".events", "VP 2024 000001"])
def test_a_name_that_is_not_an_id_never_becomes_a_path(tmp_path: Path, name: str) -> None:
    assert not is_record_id(name)
    with pytest.raises(UnknownRecord):
        record_paths(tmp_path, name)


def test_a_year_outside_the_calendar_is_refused() -> None:
    with pytest.raises(ValueError):
        id_prefix("VP", 10000)


def test_verifying_a_name_that_is_not_an_id_reads_and_writes_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (tmp_path / "keys").mkdir()
    [verdict] = check_fixity(archive, ["../keys"], roots=[], seals=[])
    assert not verdict.ok and "not a record id" in verdict.failures()[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys"]  # no log written anywhere
