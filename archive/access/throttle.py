"""Failed sign-ins, counted where every web worker sees them, so online guessing stops.

After ``web.login_attempts`` failures for one user name, or ``web.client_attempts`` from one
client address (failed sign-ins and bad API tokens together), within ``web.login_window_minutes``,
further attempts for that name or address are refused without the password or token being
looked at, until the oldest of those failures leaves the window. A successful sign-in clears its
name's failures (not its address's: one valid account must not buy an address more guesses).

Where the count lives: a small table, ``login_failures``, in the catalog database. ``records
serve`` runs one uvicorn process today, but the app is just as well run as ``uvicorn --factory
records.web.app:create_app --workers 4``, under gunicorn, or on several machines sharing a
PostgreSQL catalog. A dict in one process would give each worker its own count (N workers, N
times the guesses, spread by the load balancer) and forget it at every restart. The audit log
holds the same facts, but it grows for decades and would be read in full on every sign-in. The
table is pruned of rows older than the window as new ones arrive, so it stays a few rows long.

A sign-in is counted as failed *before* its password is checked (its row committed, then the
rows counted), and the row is removed once it succeeds or is refused: of concurrent guesses, the
one counting last sees every other that went on to a password check, so a burst of requests
cannot pass the check together before any failure is written (a burst may be refused more
than strictly needed: it fails closed). Bad API tokens are counted after the fact (a token is
256 random bits, so the few extra tries a burst could get do not matter).

Client addresses are what uvicorn reports: behind a reverse proxy on another machine, set
``FORWARDED_ALLOW_IPS`` to the proxy's address, or every client counts as the proxy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    insert,
    or_,
    select,
)

from archive.index import Catalog
from config.settings import WebSettings

USER, CLIENT = "user", "client"  # the two counts a failure adds to
NAME_LENGTH = 64  # as users.name: a longer name typed counts against its first 64 characters

# Not derived from the archive, and not accounts: its own metadata, which a rebuild never drops.
schema = MetaData()
failures = Table(
    "login_failures", schema,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(8), nullable=False),  # USER or CLIENT
    Column("key", String(256), nullable=False),  # the name typed, or the client's address
    Column("at", Float, nullable=False, index=True),  # seconds since the epoch
)


@dataclass(frozen=True)
class Refused:
    """Attempts for this name (``scope`` USER) or address (CLIENT) are refused ``seconds`` more."""

    scope: str
    seconds: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.seconds / 60))
        return (f"too many failed sign-ins; try again in {minutes} "
                f"minute{'s' if minutes > 1 else ''}")


@dataclass(frozen=True)
class Attempt:
    """A sign-in whose password is being checked: counted as failed until it succeeds."""

    name: str
    row_ids: tuple[int, ...]


class Throttle:
    """The failure counts of one catalog database, read with ``clock`` (injectable for tests)."""

    def __init__(self, catalog: Catalog, web: WebSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine, self.clock = catalog.engine, clock
        self.limits = {USER: web.login_attempts, CLIENT: web.client_attempts}
        self.window = web.login_window_minutes * 60
        catalog.ensure(schema)

    def begin(self, name: str, client: str) -> Attempt | Refused:
        """Count a sign-in as failed, or refuse it (then it is not counted: a locked-out name
        is not kept locked by the refusals) when its name or address has had enough failures."""
        now, keys = self.clock(), ((USER, name[:NAME_LENGTH]), (CLIENT, client))
        with self.engine.begin() as db:
            db.execute(delete(failures).where(failures.c.at <= now - self.window))
            ids = tuple(db.execute(insert(failures).values(scope=scope, key=key, at=now))
                        .inserted_primary_key[0] for scope, key in keys)
        refusals = [refused for (scope, key), row_id in zip(keys, ids, strict=True)
                    if (refused := self._refusal(scope, key, now, besides=row_id))]
        if refusals:
            self._forget(ids)
            return max(refusals, key=lambda refused: refused.seconds)
        return Attempt(name[:NAME_LENGTH], ids)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget this attempt and every failure of its name."""
        with self.engine.begin() as db:
            db.execute(delete(failures).where(or_(
                failures.c.id.in_(attempt.row_ids),
                and_(failures.c.scope == USER, failures.c.key == attempt.name))))

    def refused(self, client: str) -> Refused | None:
        """Whether the address is locked out (asked once its API token proved bad)."""
        return self._refusal(CLIENT, client, self.clock())

    def failed(self, client: str) -> None:
        """A bad API token came from the address."""
        now = self.clock()
        with self.engine.begin() as db:
            db.execute(delete(failures).where(failures.c.at <= now - self.window))
            db.execute(insert(failures).values(scope=CLIENT, key=client, at=now))

    def _refusal(self, scope: str, key: str, now: float,
                 besides: int | None = None) -> Refused | None:
        """Refused if the window holds the limit of failures (other than row ``besides``, the
        attempt asking): for as long as the oldest of the last ``limit`` takes to leave it."""
        query = select(failures.c.at).where(failures.c.scope == scope, failures.c.key == key,
                                            failures.c.at > now - self.window)
        if besides is not None:
            query = query.where(failures.c.id != besides)
        with self.engine.connect() as db:
            times: Sequence[float] = db.execute(query.order_by(failures.c.at)).scalars().all()
        limit = self.limits[scope]
        if len(times) < limit:
            return None
        return Refused(scope, max(1, math.ceil(times[-limit] + self.window - now)))

    def _forget(self, row_ids: tuple[int, ...]) -> None:
        with self.engine.begin() as db:
            db.execute(delete(failures).where(failures.c.id.in_(row_ids)))
