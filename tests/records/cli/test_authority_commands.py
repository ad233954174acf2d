"""Managers extend the issuers' authority list at the command line; a bad list is refused
in one line, and every addition is in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

from archive.access import AuditLog
from tests.records.cli.test_cli import run


def test_a_manager_adds_a_body_and_its_unit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    orphan = run(["authority", "add", "PC-BYT", "VỤ PHÁP CHẾ", "--parent", "BYT"], home)
    assert orphan.returncode == 2
    assert "parent 'BYT' is not in the authority list" in orphan.stderr
    assert run(["authority", "add", "BYT", "BỘ Y TẾ"], home).returncode == 0
    before = (home / "authorities.toml").read_bytes()
    clash = run(["authority", "add", "PC-BYT", "VỤ PHÁP CHẾ", "--parent", "BYT",
                 "--abbreviation", "PC"], home)  # PC is the department's own Vụ Pháp chế
    assert clash.returncode == 2
    assert "not added: code 'PC' of PC-BYT is also PC's" in clash.stderr
    assert (home / "authorities.toml").read_bytes() == before  # nothing written
    bad = run(["authority", "add", "NL", "Line one\nline two"], home)
    assert bad.returncode == 2 and (home / "authorities.toml").read_bytes() == before
    added = run(["authority", "add", "PC-BYT", "VỤ PHÁP CHẾ", "--parent", "BYT",
                 "--abbreviation", "PCBYT", "--variant", "Vụ Pháp chế Bộ Y tế"], home)
    assert added.returncode == 0, added.stderr
    assert "BỘ Y TẾ / VỤ PHÁP CHẾ" in added.stderr
    listed = run(["authority", "list", "--json"], home)
    bodies = {b["code"]: b for b in json.loads(listed.stdout)}
    assert bodies["PC-BYT"]["heading"] == "BỘ Y TẾ / VỤ PHÁP CHẾ"
    assert bodies["PC-BYT"]["abbreviations"] == ["PCBYT"]
    assert "TCCT" in bodies and "DNG" in bodies  # the shipped list and the roadmap's units
    assert (home / "authorities.toml").stat().st_mode & 0o077 == 0
    actions = [(e["action"], e.get("code")) for e in AuditLog(home).entries()]
    assert ("authority-add", "PC-BYT") in actions and ("authority-add", "BYT") in actions


def test_a_broken_list_is_refused_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "authorities.toml").write_text('[[authority]]\ncode = "X Y"\nname = ""\n',
                                           encoding="utf-8")
    checked = run(["authority", "check"], home)
    assert checked.returncode == 2
    [line] = checked.stderr.strip().splitlines()
    assert line.startswith("the authority list cannot be used: ") and "'X Y'" in line
    assert "Traceback" not in checked.stderr
