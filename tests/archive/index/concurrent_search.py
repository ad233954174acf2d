"""One process of the multi-process search test (``test_textsync.py``), run as
``python -m tests.archive.index.concurrent_search ROLE URL FOLDER SECONDS``.

``writer`` adds public records holding the word ``archiv`` and raises some of them to secret
(never lowering one back), for SECONDS. ``searcher`` searches ``archiv`` at the public
clearance over its own full-text folder for SECONDS, and checks each answer against the
catalog read around it: no record already secret before the search began may be shown, and
no more may be counted than were public at some moment of the search. It prints one JSON
line: searches made and violations found; then, once the writer
is done (``writer.done`` beside FOLDER), its final answer for comparison with the catalog.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from archive.index import Catalog, search_records
from archive.index.catalog import records

WORD = "archiv"


def add(catalog: Catalog, number: int) -> None:
    catalog.add({"record_id": f"VP-2024-{number:06d}", "title": f"Akte {number}",
                 "unit": "VP", "document_date": "2024-01-01", "classification": "public",
                 "level": 0, "signed": True, "needs_review": False, "pages": 1},
                [f"Das {WORD.capitalize()} der Behörde, Vorgang {number}"])


def writer(catalog: Catalog, seconds: float) -> dict[str, int]:
    added = raised = 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        added += 1
        add(catalog, added)
        if added % 3 == 0:
            catalog.restrict(f"VP-2024-{added - 1:06d}", "secret")
            raised += 1
        time.sleep(0.01)
    return {"added": added, "raised": raised}


def level_counts(catalog: Catalog) -> tuple[set[str], int]:
    """The records secret now, and how many are public now."""
    with catalog.engine.connect() as db:
        secret = set(db.execute(select(records.c.record_id).where(records.c.level > 0))
                     .scalars())
        public = db.execute(select(func.count()).select_from(records)
                            .where(records.c.level == 0)).scalar_one()
    return secret, public


def searcher(catalog: Catalog, seconds: float, done: Path) -> dict[str, object]:
    searches, violations = 0, []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        secret_before, _ = level_counts(catalog)
        found = search_records(catalog, WORD, clearance=0, limit=10_000)
        secret_after, public_after = level_counts(catalog)
        shown = {hit.record_id for hit in found.hits}
        searches += 1
        if shown & secret_before:
            violations.append(f"shown while secret: {sorted(shown & secret_before)[:3]}")
        # Public at some moment of the search: public now, or raised while it ran.
        could = public_after + len(secret_after - secret_before)
        if found.total > could or set(found.facets.get("classification", {})) - {"public"}:
            violations.append(f"counted {found.total} of {could} public during the search")
    while not done.exists():
        time.sleep(0.1)
    final = search_records(catalog, WORD, clearance=0, limit=10_000)
    return {"searches": searches, "violations": violations[:5], "total": final.total,
            "shown": sorted(h.record_id for h in final.hits)}


def main() -> None:
    role, url, folder, seconds = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
    catalog = Catalog.open(url, search_index=folder)
    if role == "writer":
        print(json.dumps(writer(catalog, seconds)), flush=True)
    else:
        print(json.dumps(searcher(catalog, seconds + 2, folder.parent / "writer.done")),
              flush=True)


if __name__ == "__main__":
    main()
