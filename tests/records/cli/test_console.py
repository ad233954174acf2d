"""Messages stay whole on any terminal: a long path in a line of text is never wrapped."""

from __future__ import annotations

import io

from rich.text import Text

from records.cli.console import Listing, _Output, out


def test_a_line_of_text_is_never_wrapped_but_a_table_fits_the_width() -> None:
    path = "/tmp/pytest-of-root/pytest-12/test_a_very_long_test_name_that0/home/archive"
    screen = io.StringIO()
    console = _Output(file=screen, width=40)
    console.print(f"2 archived under {path}, 0 quarantined")
    console.print(Text(f"kept {path}"))
    table = Listing("record", "where")
    table.add_row("VP-2024-000001", path)
    console.print(table)
    lines = screen.getvalue().splitlines()
    assert isinstance(out, _Output)  # what every command prints its results with
    assert lines[0] == f"2 archived under {path}, 0 quarantined"
    assert lines[1] == f"kept {path}"
    assert all(len(line) <= 40 for line in lines[2:])  # the table: cells wrap, none cut
    assert "".join(line.strip("│ ") for line in lines[2:]).count("home/archive") == 1
