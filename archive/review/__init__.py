"""Review and correction: people fix what OCR and extraction got wrong; the archive remembers.

The queue of records that need a person and why (``queue``); corrections of a record's
description, each a new version of its object with who, when and why, vouched for in the
archive's log (``edit``); and declassification, which takes two people (``declassify``).
What was archived, the signed PDF and its sidecar, never changes. Stands on access (who may),
the index (what is catalogued) and the store (versions).
"""

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(__name__, submod_attrs={
    "declassify": ["Proposal", "approve", "open_proposals", "propose", "proposal", "refuse"],
    "edit": ["CORRECTORS", "Corrected", "CorrectionRefused", "clean_edits", "correct_record",
             "editable_record"],
    "queue": ["QueueEntry", "ReviewQueue", "review_queue"],
})
