"""When a task is worth running again: only when the catalog's database was briefly away.

A PostgreSQL restart or failover drops connections mid-batch. The document's work is not
lost (its package is committed by rename before it is catalogued, and pages are cached), so
running the task again finishes it: the store finds the record by its content hash and only
the catalog entry is written. Anything else (bad input, a signing error) fails the same way
every time and is not retried.
"""

from __future__ import annotations

import errno
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

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


def explain(error: BaseException) -> str:
    """A reason a records officer can act on, for the failures that are not the scans' fault.

    The work is never half kept (packages are committed by rename), so each reason ends with
    what to do: queueing the batch again finishes it.
    """
    again = "; queue the batch again when it is fixed"
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" ({error.filename})" if error.filename else ""
        return f"no space left on the disk{where}: nothing of the record was kept{again}"
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EROFS):
        return f"cannot write {error.filename or 'to the archive'}: {error.strerror}{again}"
    if isinstance(error, DBAPIError):
        # The driver's own message (no statement, no parameters, no connection password).
        cause = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return f"the catalog database was unavailable ({cause}){again}"
    return f"{type(error).__name__}: {error}"
