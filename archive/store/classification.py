"""Classifications: how much protection a record needs, and how they rank.

A user cleared for one classification sees records of it and of every one below. A value that
is not one of them ranks highest: when records cannot tell what protection a record needs, it
takes the stricter answer.
"""

from __future__ import annotations

from config.vocabulary import LEVELS as LEVELS  # re-exported

FULL_CLEARANCE = len(LEVELS) - 1


def level_of(classification: str) -> int:
    """The classification's rank; an unknown one ranks highest (fail closed)."""
    value = classification.strip().lower()
    return LEVELS.index(value) if value in LEVELS else FULL_CLEARANCE


def stricter(*classifications: str | None) -> str:
    """The strictest of the classifications given (None and "" left out); "public" if none
    is. Two people asking for a record's protection get the stricter of their answers."""
    given = [c.strip().lower() for c in classifications if c and c.strip()]
    return max(given, key=level_of) if given else LEVELS[0]
