"""What every command shares: its two consoles, progress bars, and how an error ends it.

Results (tables, JSON) go to standard output; messages and progress to standard error, one
line each and never wrapped, so logs and ``grep`` see a message whole whatever the terminal's
width. An error of the project's tree (``config.errors``) ends a command with its own exit
code and its reason: commands do not map errors to codes by hand.
"""

from __future__ import annotations

import getpass
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from config.errors import ExitCode, RecordsError

out = Console()
err = Console(stderr=True, soft_wrap=True)


def progress() -> Progress:
    """A bar of pages done, with the time left, that disappears when the work ends."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("pages"), TimeRemainingColumn(), console=err, transient=True)


def fail(error: RecordsError, context: str = "") -> NoReturn:
    """End the command with the error's exit code, saying why (after ``context``, if any)."""
    said = f"{context}: {error.reason}" if context else error.reason
    err.print(f"[red]{escape(said)}[/red]")
    raise typer.Exit(error.exit_code)


def stop(message: str, code: ExitCode = ExitCode.usage) -> NoReturn:
    """End the command with ``message`` and ``code`` (usage by default)."""
    err.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(code)


def cli_user() -> str:
    """How the audit log names someone at the machine's command line."""
    return f"cli:{getpass.getuser()}"
