"""OCFL objects as records writes them."""

from __future__ import annotations

from pathlib import Path

from archive.store.objects import create_object


def test_writing_a_version_leaves_logging_as_it_was(tmp_path: Path) -> None:
    """ocfl-py's pairtree calls logging.basicConfig(level=INFO) when imported: every command
    that wrote a version printed an INFO line on stderr until records put logging back."""
    import logging

    root = logging.getLogger()
    level = root.level
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("a", encoding="utf-8")
    create_object("VP-2024-000009", source, tmp_path / "object", "test")
    assert root.level == level  # not INFO: a version writes no line
