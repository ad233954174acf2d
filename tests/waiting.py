"""Waiting for something to happen in another process, and failing loudly when it does not.

A wait that runs out and carries on lets the test go on to assert something else, and fail
there with a misleading message (or pass without having tested anything). Every poll in the
suite goes through :func:`wait_until`, which fails the test naming what never happened.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest


def wait_until(condition: Callable[[], object], what: str, seconds: float, *,
               process: subprocess.Popen | None = None, every: float = 0.2) -> None:
    """Poll *condition* every *every* seconds until it is true. Fail the test with *what*
    ("two pages recognised") when *seconds* pass first, or when *process* (the one that
    was to make it happen) has ended without it; the process is killed then."""
    deadline = time.monotonic() + seconds
    while not condition():
        ended = process is not None and process.poll() is not None
        if ended or time.monotonic() > deadline:
            if process is not None and not ended:
                process.kill()
            why = f"its process ended ({process.returncode})" if ended and process else \
                f"not within {seconds:.0f} s"
            pytest.fail(f"waited in vain for {what}: {why}")
        time.sleep(every)
