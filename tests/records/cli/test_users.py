"""An administrator manages accounts at the command line: each change is audited, and the
account's next request is judged by it."""

from __future__ import annotations

import json
from pathlib import Path

from archive.access import AuditLog, authenticate, units_of, user_for_token
from archive.index import Catalog
from tests.records.cli.test_cli import run

OLD, NEW = "a long enough passphrase 1", "another long passphrase 2"


def test_disable_enable_password_and_set_are_audited_and_take_effect(home: Path) -> None:
    assert run(["users", "add", "lan", "--role", "archivist", "--clearance", "internal"], home,
               {"RECORDS_NEW_PASSWORD": OLD}).returncode == 0
    token = run(["users", "token", "lan"], home).stdout.strip()
    catalog = Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")
    assert user_for_token(catalog, token) is not None

    disabled = run(["users", "disable", "lan"], home)
    assert disabled.returncode == 0 and "disabled" in disabled.stderr
    assert user_for_token(catalog, token) is None
    assert "lan" not in run(["users", "list"], home).stdout
    assert "disabled" in run(["users", "list", "--all"], home, {"COLUMNS": "200"}).stdout
    assert run(["users", "enable", "lan"], home).returncode == 0
    assert user_for_token(catalog, token) is None  # revoked for good

    changed = run(["users", "password", "lan", "--password-stdin"], home, input=NEW + "\n")
    assert changed.returncode == 0, changed.stderr
    assert authenticate(catalog, "lan", NEW) is not None
    assert authenticate(catalog, "lan", OLD) is None
    moved = run(["users", "set", "lan", "--role", "manager", "--clearance", "secret"], home)
    assert moved.returncode == 0 and "manager, cleared secret" in moved.stderr
    wrong = run(["users", "set", "lan", "--clearance", "cosmic"], home)
    assert wrong.returncode == 2 and "unknown clearance 'cosmic'" in wrong.stderr
    assert run(["users", "disable", "nobody"], home).returncode == 2

    actions = [(e["action"], e.get("target")) for e in AuditLog(home).entries()]
    for action in ("user-disabled", "user-enabled", "password-set", "user-changed"):
        assert (action, "lan") in actions, action
    assert NEW not in json.dumps(AuditLog(home).entries())


def test_units_are_assigned_listed_and_audited(home: Path) -> None:
    assert run(["users", "add", "mai", "--role", "officer", "--clearance", "internal"], home,
               {"RECORDS_NEW_PASSWORD": OLD}).returncode == 0
    catalog = Catalog.open(f"sqlite:///{home / 'catalog.sqlite'}")
    assert units_of(catalog, "mai") == ()  # none until an administrator says so
    given = run(["users", "set", "mai", "--units", "VP, HN,VP"], home)
    assert given.returncode == 0 and "HN, VP" in given.stderr
    assert units_of(catalog, "mai") == ("HN", "VP")
    assert "HN, VP" in run(["users", "list"], home, {"COLUMNS": "200"}).stdout
    assert run(["users", "set", "mai", "--units", ""], home).returncode == 0
    assert units_of(catalog, "mai") == ()
    assert run(["users", "set", "nobody", "--units", "VP"], home).returncode == 2
    units = [e.get("units") for e in AuditLog(home).entries() if e["action"] == "user-units"]
    assert units == [["HN", "VP"], []]
