"""What every command shares: its two consoles, progress bars, and how an error ends it.

Results (tables, JSON) go to standard output; messages and progress to standard error, one
line each and never wrapped, so logs and ``grep`` see a message whole whatever the terminal's
width. An error of the project's tree (``config.errors``) ends a command with its own exit
code and its reason: commands do not map errors to codes by hand.
"""

from __future__ import annotations

import getpass
import json
import unicodedata
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from config.errors import ExitCode, RecordsError


class _Output(Console):
    """Standard output: a table fits the terminal's width (its cells wrap), a line of text
    is never wrapped, so a message holding a long path stays whole for ``grep`` and logs."""

    def print(self, *objects: Any, **options: Any) -> None:  # type: ignore[override]
        if objects and all(isinstance(o, str | Text) for o in objects):
            options.setdefault("soft_wrap", True)
        super().print(*objects, **options)


out = _Output()
err = Console(stderr=True, soft_wrap=True)

# Control characters (ANSI escapes, line breaks, tabs), format characters (bidi overrides),
# line and paragraph separators, and lone surrogates (undecodable file names).
_HIDDEN = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))


def visible(value: object) -> str:
    """Text from the archive or a person with every character that could act on a terminal
    written as an escape (``\\x1b``, ``\\n``, ``\\u202e``): no title, file name or user name
    can hide text, move the cursor or fake a row on an administrator's screen."""
    return "".join(ch if unicodedata.category(ch) not in _HIDDEN
                   else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for ch in str(value))


def literal(value: object, style: str = "") -> Text:
    """A value shown as it is, in ``style``: never read as rich markup (``[/]`` in a title
    would otherwise end the program), its hidden characters made visible."""
    return Text(visible(value), style=style)


def shown(value: object) -> str:
    """A value to put inside a message that has markup of its own (``f"[red]{shown(x)}[/]"``)."""
    return escape(visible(value))


def print_json(data: Any) -> None:
    """Data as JSON on standard output, for scripts and the hot folder: letters as they are,
    but every character that could act on a terminal written as a ``\\u`` escape (JSON's own,
    so the document parses to the same values)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    escaped = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) in _HIDDEN
                      and ch not in "\n " else ch for ch in text)
    out.file.write(escaped + "\n")
    out.file.flush()


def shown_value(value: object) -> str:
    """A field's value as one line of text: subjects joined by "; ", nothing as "-"."""
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    return str(value) if value not in ("", None) else "-"


class Listing(Table):
    """A table whose plain-text cells are data: each is shown literally (see ``literal``),
    folded when longer than its column.
    Styled cells are passed as ``rich.text.Text``."""

    def add_row(self, *cells: Any, **options: Any) -> None:  # type: ignore[override]
        # A value longer than its column (a path, an id) folds onto the next line of the
        # cell rather than being cut off with an ellipsis: a table never hides data.
        super().add_row(*(Text(visible(c), overflow="fold") if isinstance(c, str) else c
                          for c in cells), **options)


def progress() -> Progress:
    """A bar of pages done, with the time left, that disappears when the work ends."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("pages"), TimeRemainingColumn(), console=err, transient=True)


def fail(error: RecordsError, context: str = "") -> NoReturn:
    """End the command with the error's exit code, saying why (after ``context``, if any)."""
    said = f"{context}: {error.reason}" if context else error.reason
    err.print(f"[red]{shown(said)}[/red]")
    raise typer.Exit(error.exit_code)


def stop(message: str, code: ExitCode = ExitCode.usage) -> NoReturn:
    """End the command with ``message`` and ``code`` (usage by default)."""
    err.print(f"[red]{shown(message)}[/red]")
    raise typer.Exit(code)


def classification_level(value: str | None) -> str | None:
    """A ``--classification`` option, checked: a level records knows, in lower case.

    Anything else stops the command before any work. Read as "the highest" (as a record's
    unknown level is), a typo would archive records as secret that the officer meant for
    others; refusing is the answer that neither lowers nor silently changes what was asked.
    """
    if value is None:
        return None
    from archive.store import LEVELS

    level = value.strip().lower()
    if level not in LEVELS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LEVELS)}")
    return level


def cli_user() -> str:
    """How the audit log names someone at the machine's command line."""
    return f"cli:{getpass.getuser()}"
