"""When a task is worth running again: only when the catalog's database was briefly away.

A PostgreSQL restart or failover drops connections mid-batch. The document's work is not
lost (its package is committed by rename before it is catalogued, and pages are cached), so
running the task again finishes it: the store finds the record by its content hash and only
the catalog entry is written. Anything else (bad input, a signing error) fails the same way
every time and is not retried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

DATABASE_RETRIES = 4
DATABASE_RETRY_DELAYS = [2, 5, 10, 20]  # seconds: long enough for a restart or a failover


def database_unavailable(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect's retry_condition_fn: retry only on a lost or refused database connection."""
    try:
        state.result()
    except (OperationalError, InterfaceError):
        return True
    except Exception:
        return False
    return False
