"""The archivists' web app: search, read, download and verify, within each user's clearance.

Server-rendered pages (Jinja2, ``pages``) for people and a JSON API (OpenAPI at
``/openapi.json``, ``api``) for programs, over the same functions (``shared``); signing in and
out is ``auth``. People sign in with a password (a signed session cookie naming a server-side
sign-in that ends after ``web.session_hours`` or at sign-out); programs send
``Authorization: Bearer <token>``. Repeated failed sign-ins or bad tokens are refused for a
while (``archive.access.Throttle``). A record above the user's clearance is answered exactly
like a record that does not exist (404), so its existence does not leak. Every search, view,
download, verification and refusal is written to the audit log. Administrators manage accounts
at ``/admin/users`` (``admin``). Officers, archivists and administrators correct descriptions
(``editing``: each correction a new version, lowering a classification takes two people) and
work through the review queue at ``/review`` (``review_pages``); every reader sees a record's
history (``history``). Pages answer errors with a page of the app and the API with
JSON (``errors``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from archive.access import AuditLog, Throttle
from archive.index import Catalog
from archive.store import keep_private
from config.settings import Settings, load_settings
from records.web import (
    admin,
    api,
    auth,
    batch_pages,
    editing,
    errors,
    page_text,
    pages,
    review_pages,
)
from records.web.context import NotSignedIn, WebContext
from records.web.headers import SecurityHeaders


def _secret_key(home: Path) -> str:
    """The session-signing key, made once per RECORDS_HOME and readable by its owner only.

    Every process serving the home signs with it (a sign-in made by one is honoured by the
    others). Processes starting together on a new home race to make it: each writes a key of
    its own aside and links it into place, and the first link wins for all."""
    path = home / "web" / "session.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".session.key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
        finally:
            aside.unlink()
    return path.read_text().strip()


def create_app(settings: Settings | None = None,
               clock: Callable[[], float] = time.time) -> FastAPI:
    """The app; ``clock`` (seconds since the epoch) times sign-ins and failures, so tests can
    move it instead of waiting hours."""
    settings = settings or load_settings()
    home = keep_private(settings.home.resolve())
    catalog = Catalog.open(settings.catalog_url())
    session_seconds = round(settings.web.session_hours * 3600)
    # FastAPI's own /docs, /redoc and /openapi.json answer anyone, and the first two load
    # scripts from a CDN: ``pages`` serves all three to signed-in users instead.
    app = FastAPI(title="records", summary="Search, read and verify the signed archive",
                  version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=batch_pages.lifespan)
    # Innermost: a server error's page still passes through the session and security headers.
    app.add_middleware(errors.ServerErrors)
    app.add_middleware(SessionMiddleware, secret_key=_secret_key(home), max_age=session_seconds,
                       same_site="strict", session_cookie="records_session",
                       https_only=settings.web.secure_cookies)
    app.add_middleware(SecurityHeaders, tls=settings.web.secure_cookies)
    if settings.web.trusted_proxies:  # outermost: the client address every layer sees
        app.add_middleware(ProxyHeadersMiddleware,
                           trusted_hosts=list(settings.web.trusted_proxies))
    app.state.context = WebContext(settings, home, catalog, Throttle(catalog, settings.web, clock),
                                   AuditLog(home), clock, session_seconds)

    @app.exception_handler(NotSignedIn)
    async def _to_login(request: Request, _exc: NotSignedIn) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    # Pages answer errors with a page, the API with JSON (``errors``).
    app.add_exception_handler(StarletteHTTPException, errors.http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError,
                              errors.invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, errors.server_error)

    app.include_router(auth.router)
    app.include_router(pages.router)
    app.include_router(editing.router)
    app.include_router(page_text.router)
    app.include_router(review_pages.router)
    app.include_router(api.router)
    app.include_router(admin.router)
    batch_pages.install(app, app.state.context)
    # The app's own script (a batch page follows its batch); vendored, never from a CDN.
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")),
              name="static")
    return app
