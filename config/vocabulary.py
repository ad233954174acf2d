"""The closed vocabularies every layer shares: classifications, roles, milestone states.

They live in a module that imports nothing, so the command line can name them in its help
without loading the archive (``records --help`` starts in a fraction of a second).
"""

from __future__ import annotations

LEVELS = ("public", "internal", "restricted", "confidential", "secret")
"""Classifications, lowest first; a user cleared for one sees it and every one below."""

ROLES = ("officer", "archivist", "manager", "admin")
"""What a user does in records; what each may do is decided in ``archive.access``."""

MILESTONE_STATES = ("planned", "in progress", "done", "blocked", "dropped")
"""Where a roadmap milestone stands."""
