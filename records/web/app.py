"""The archivists' web app: search, read, download and verify, within each user's clearance.

Server-rendered pages (Jinja2) for people and a JSON API (OpenAPI at ``/openapi.json``) for
programs, over the same functions. People sign in with a password (a signed session cookie
naming a server-side sign-in that ends after ``web.session_hours`` or at sign-out); programs
send ``Authorization: Bearer <token>``. Repeated failed sign-ins or bad tokens are refused for a
while (``archive.throttle``). A record above the user's clearance is answered exactly like a
record that does not exist (404), so its existence does not leak. Every search, view, download,
verification and refusal is written to the audit log.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from archive import audit, events, milestones
from archive.access import (
    User,
    authenticate,
    close_session,
    open_session,
    prepare_sessions,
    session_user,
    user_for_token,
)
from archive.catalog import LEVELS, Catalog
from archive.plan import MILESTONE_STATES, RoadmapError, load_roadmap
from archive.progress import load_facts
from archive.query import QueryError
from archive.report import TEMPLATES as REPORT_TEMPLATES
from archive.report import report_context
from archive.roadmap import standing
from archive.search import Filters, Results, search
from archive.sign import SigningError, trust_roots
from archive.throttle import Refused, Throttle
from archive.verify import Verdict, verify_record
from config.settings import Settings, load_settings

RECORD_ID = re.compile(r"^[A-Z0-9]{1,16}-\d{4}-\d{6}$")
PAGE_SIZE = 20
templates = Jinja2Templates(directory=[str(Path(__file__).with_name("templates")),
                                       str(REPORT_TEMPLATES)])
MANAGERS = ("manager", "admin")  # who sees the roadmap dashboard and sets milestones


class NotSignedIn(Exception):
    """A page was asked for without a session: send the browser to the login page."""


def _secret_key(home: Path) -> str:
    """The session-signing key, made once per RECORDS_HOME and readable by its owner only."""
    path = home / "web" / "session.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_app(settings: Settings | None = None,
               clock: Callable[[], float] = time.time) -> FastAPI:
    """The app; ``clock`` (seconds since the epoch) times sign-ins and failures, so tests can
    move it instead of waiting hours."""
    settings = settings or load_settings()
    home = settings.home.resolve()
    catalog = Catalog.open(settings.catalog_url())
    prepare_sessions(catalog)
    app = FastAPI(title="records", summary="Search, read and verify the signed archive",
                  version="1")
    session_seconds = round(settings.web.session_hours * 3600)
    app.add_middleware(SessionMiddleware, secret_key=_secret_key(home), max_age=session_seconds,
                       same_site="strict", session_cookie="records_session")
    app.state.home, app.state.catalog, app.state.settings = home, catalog, settings
    app.state.clock, app.state.session_seconds = clock, session_seconds
    app.state.throttle = Throttle(catalog, settings.web, clock)

    @app.exception_handler(NotSignedIn)
    async def _to_login(request: Request, _exc: NotSignedIn) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    _pages(app)
    _api(app)
    return app


# ----------------------------------------------------------------------------- who is asking


def _user_from(request: Request) -> User | None:
    state = request.app.state
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return _token_user(request, header[7:].strip())
    session_id = request.session.get("sid")
    return session_user(state.catalog, session_id, state.clock()) if session_id else None


def _token_user(request: Request, secret: str) -> User | None:
    """The token's user. A bad token counts against the client's address, and an address with
    too many failures is refused (429) instead of told "wrong token", so a guessing loop stops.
    A valid token is always honoured: it is 256 random bits, nothing to guess, and refusing it
    would lock out every archivist behind the same office NAT because of one broken script."""
    state, client = request.app.state, _client(request)
    user = user_for_token(state.catalog, secret)
    if user is not None:
        return user
    refused = state.throttle.refused(client)
    if refused:
        audit.record(state.home, "", "token", outcome="throttled", client=client,
                     retry_after=refused.seconds)
        raise HTTPException(429, refused.message, headers={"Retry-After": str(refused.seconds)})
    state.throttle.failed(client)
    audit.record(state.home, "", "token", outcome="denied", client=client)
    return None


def page_user(request: Request) -> User:
    user = _user_from(request)
    if user is None:
        raise NotSignedIn
    return user


def api_user(request: Request) -> User:
    user = _user_from(request)
    if user is None:
        raise HTTPException(401, "sign in, or send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def _check_csrf(request: Request, token: str) -> None:
    if not token or not secrets.compare_digest(token, request.session.get("csrf", "")):
        raise HTTPException(403, "the form has expired; reload the page and try again")


# ----------------------------------------------------------------------------- shared work


def _record_dir(request: Request, record_id: str, user: User, action: str) -> Path:
    """The record folder if ``user`` may see it; 404 (and an audit entry) otherwise."""
    home: Path = request.app.state.home
    row = request.app.state.catalog.get(record_id) if RECORD_ID.match(record_id) else None
    if row is None or row["level"] > user.clearance:
        audit.record(home, user.name, action, record_id=record_id[:64], outcome="denied",
                     client=_client(request))
        raise HTTPException(404, "no such record")
    return home / "archive" / record_id


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _run_search(request: Request, user: User, q: str, filters: Filters, order: str,
                page: int) -> Results:
    results = search(request.app.state.catalog, q, clearance=user.clearance, filters=filters,
                     order="newest" if order == "newest" else "relevance", limit=PAGE_SIZE,
                     offset=(page - 1) * PAGE_SIZE,
                     rank_limit=request.app.state.settings.catalog.rank_limit)
    audit.record(request.app.state.home, user.name, "search", query=q,
                 filters={k: str(v) for k, v in asdict(filters).items() if v is not None},
                 results=results.total, client=_client(request))
    return results


def _filters(unit: str | None, doc_type: str | None, date_from: date | None,
             date_to: date | None, classification: str | None, signed: str | None,
             review: str | None) -> Filters:
    return Filters(unit=unit or None, document_type=doc_type or None, date_from=date_from,
                   date_to=date_to, classification=classification or None,
                   signed={"yes": True, "no": False}.get(signed or ""),
                   needs_review={"yes": True, "no": False}.get(review or ""))


def _day(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _verify(request: Request, user: User, folder: Path) -> Verdict:
    app_state = request.app.state
    try:
        roots = trust_roots(app_state.settings.signing, app_state.home)
    except SigningError as exc:
        raise HTTPException(503, str(exc)) from None
    verdict = verify_record(folder, roots)
    audit.record(app_state.home, user.name, "verify", record_id=folder.name,
                 outcome="ok" if verdict.ok else "failed", client=_client(request))
    return verdict


def _record_view(folder: Path) -> dict[str, Any]:
    record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    record["later_events"] = events.read(folder.parent, folder.name)
    return record


# ----------------------------------------------------------------------------- pages


def _pages(app: FastAPI) -> None:
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        return _login_page(request, next, "")

    @app.post("/login", include_in_schema=False)
    def login(request: Request, username: Annotated[str, Form()],
              password: Annotated[str, Form()], csrf: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "/") -> Response:
        _check_csrf(request, csrf)
        state, client = request.app.state, _client(request)
        attempt = state.throttle.begin(username, client)
        if isinstance(attempt, Refused):  # the password is not even checked
            audit.record(state.home, username[:64], "login", outcome="throttled", client=client,
                         limit=attempt.scope, retry_after=attempt.seconds)
            return _login_page(request, next, attempt.message, status_code=429,
                               headers={"Retry-After": str(attempt.seconds)})
        user = authenticate(state.catalog, username, password)
        if user is None:
            audit.record(state.home, username[:64], "login", outcome="denied", client=client)
            return _login_page(request, next, "Wrong name or password.", status_code=401)
        state.throttle.succeeded(attempt)
        request.session.clear()  # a new session id at every sign-in (no session fixation)
        request.session["sid"] = open_session(state.catalog, user.name, state.session_seconds,
                                              state.clock())
        audit.record(state.home, user.name, "login", client=client)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        return RedirectResponse(target, status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        _check_csrf(request, csrf)
        session_id = request.session.get("sid")
        if session_id:  # server-side: a kept copy of the cookie stops working too
            close_session(request.app.state.catalog, session_id)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home_page(request: Request, user: Annotated[User, Depends(page_user)], q: str = "",
                  unit: str = "", doc_type: Annotated[str, Query(alias="type")] = "",
                  date_from: Annotated[str, Query(alias="from")] = "",
                  date_to: Annotated[str, Query(alias="to")] = "",
                  classification: str = "", signed: str = "", review: str = "",
                  order: str = "relevance", page: Annotated[int, Query(ge=1)] = 1) -> Response:
        # A browser form sends every field, empty ones as "": read dates leniently.
        results, error = None, ""
        try:
            filters = _filters(unit, doc_type, _day(date_from), _day(date_to), classification,
                               signed, review)
            if q.strip():
                results = _run_search(request, user, q, filters, order, page)
        except (QueryError, ValueError) as exc:
            filters, error = Filters(), str(exc)
        return templates.TemplateResponse(request, "search.html", {
            "user": user, "q": q, "filters": filters, "order": order, "page": page,
            "results": results, "error": error, "page_size": PAGE_SIZE, "csrf": _csrf(request),
            "levels": LEVELS[: user.clearance + 1]})

    @app.get("/records/{record_id}", response_class=HTMLResponse, include_in_schema=False)
    def record_page(request: Request, record_id: str,
                    user: Annotated[User, Depends(page_user)]) -> Response:
        folder = _record_dir(request, record_id, user, "view")
        audit.record(request.app.state.home, user.name, "view", record_id=record_id,
                     client=_client(request))
        return templates.TemplateResponse(request, "record.html", {
            "user": user, "record": _record_view(folder), "csrf": _csrf(request),
            "verdict": None})

    @app.post("/records/{record_id}/verify", response_class=HTMLResponse,
              include_in_schema=False)
    def verify_page(request: Request, record_id: str, user: Annotated[User, Depends(page_user)],
                    csrf: Annotated[str, Form()] = "") -> Response:
        _check_csrf(request, csrf)
        folder = _record_dir(request, record_id, user, "verify")
        verdict = _verify(request, user, folder)
        return templates.TemplateResponse(request, "record.html", {
            "user": user, "record": _record_view(folder), "csrf": _csrf(request),
            "verdict": verdict})

    @app.get("/records/{record_id}/pdf", include_in_schema=False)
    def pdf_page(request: Request, record_id: str, user: Annotated[User, Depends(page_user)],
                 download: bool = False) -> Response:
        return _pdf(request, record_id, user, download)


    @app.get("/roadmap", response_class=HTMLResponse, include_in_schema=False)
    def roadmap_page(request: Request, user: Annotated[User, Depends(page_user)],
                     period: str = "", as_of: str = "", message: str = "") -> Response:
        _require_manager(request, user)
        try:
            context = _roadmap(request, user, period or None, _day(as_of))
        except (RoadmapError, ValueError) as exc:
            context = _roadmap(request, user, None, None)
            context["error"] = str(exc)
        return templates.TemplateResponse(request, "roadmap.html", {
            **context, "user": user, "csrf": _csrf(request), "message": message[:200]})

    @app.post("/roadmap/milestones/{milestone_id}", include_in_schema=False)
    def milestone_form(request: Request, milestone_id: str,
                       user: Annotated[User, Depends(page_user)],
                       status: Annotated[str, Form()], note: Annotated[str, Form()] = "",
                       csrf: Annotated[str, Form()] = "") -> Response:
        _check_csrf(request, csrf)
        _require_manager(request, user)
        state = request.app.state
        try:
            entry = milestones.set_status(state.home, load_roadmap(state.settings.roadmap.file),
                                          milestone_id, status, user.name, note[:500])
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        audit.record(state.home, user.name, "milestone", milestone=entry.milestone,
                     status=entry.status, client=_client(request))
        return RedirectResponse(f"/roadmap?message=milestone+{entry.milestone}+set+to+"
                                f"{entry.status.replace(' ', '+')}", status_code=303)


def _login_page(request: Request, next: str, error: str, status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html",
                                      {"next": next, "csrf": _csrf(request), "error": error},
                                      status_code=status_code, headers=headers)


def _require_manager(request: Request, user: User) -> None:
    """The roadmap counts every record, whatever its classification (counts, never titles):
    managers and administrators see it; others are told so, and it is logged."""
    if user.role not in MANAGERS:
        audit.record(request.app.state.home, user.name, "roadmap", outcome="denied",
                     client=_client(request))
        raise HTTPException(403, "the roadmap is for managers and administrators")


def _roadmap(request: Request, user: User, period: str | None,
             as_of: date | None) -> dict[str, Any]:
    state = request.app.state
    roadmap = load_roadmap(state.settings.roadmap.file)
    day = as_of or datetime.now(UTC).date()
    facts = load_facts(state.catalog)
    result = standing(roadmap, facts, milestones.statuses(state.home, day), as_of=day,
                      period_id=period)
    audit.record(state.home, user.name, "roadmap", period=result.period.id,
                 as_of=day.isoformat(), client=_client(request))
    current = milestones.statuses(state.home)
    return {**report_context(roadmap, facts, result), "roadmap": roadmap,
            "periods": [p.id for p in roadmap.periods], "states": MILESTONE_STATES,
            "milestones": [(m, current.get(m.id)) for m in roadmap.milestones
                           if m.period == result.period.id], "error": ""}


class PdfResponse(FileResponse):
    """A PDF sent in 1 MiB chunks: Starlette's 64 KiB chunks each take a trip through the thread
    pool, which made a download three times slower than a record page (bench/load.py: p95
    766 -> 319 ms with 1 MiB)."""

    chunk_size = 1 << 20


def _pdf(request: Request, record_id: str, user: User, download: bool) -> Response:
    folder = _record_dir(request, record_id, user, "download" if download else "read")
    audit.record(request.app.state.home, user.name, "download" if download else "read",
                 record_id=record_id, client=_client(request))
    return PdfResponse(folder / f"{record_id}.pdf", media_type="application/pdf",
                        filename=f"{record_id}.pdf",
                        content_disposition_type="attachment" if download else "inline")


# ----------------------------------------------------------------------------- JSON API


def _api(app: FastAPI) -> None:
    @app.get("/api/search", tags=["search"])
    def api_search(request: Request, user: Annotated[User, Depends(api_user)], q: str,
                   unit: str = "", doc_type: Annotated[str, Query(alias="type")] = "",
                   date_from: Annotated[date | None, Query(alias="from")] = None,
                   date_to: Annotated[date | None, Query(alias="to")] = None,
                   classification: str = "", signed: str = "", review: str = "",
                   order: str = "relevance",
                   page: Annotated[int, Query(ge=1)] = 1) -> dict[str, Any]:
        """Records matching ``q`` that the caller may see: hits with snippets, and facets."""
        filters = _filters(unit, doc_type, date_from, date_to, classification, signed, review)
        try:
            return _run_search(request, user, q, filters, order, page).as_dict()
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/api/records/{record_id}", tags=["records"])
    def api_record(request: Request, record_id: str,
                   user: Annotated[User, Depends(api_user)]) -> dict[str, Any]:
        """A record's metadata, signature, provenance and later events."""
        folder = _record_dir(request, record_id, user, "view")
        audit.record(request.app.state.home, user.name, "view", record_id=record_id,
                     client=_client(request))
        return _record_view(folder)

    @app.get("/api/records/{record_id}/pdf", tags=["records"],
             responses={200: {"content": {"application/pdf": {}}}})
    def api_pdf(request: Request, record_id: str,
                user: Annotated[User, Depends(api_user)]) -> Response:
        """The signed archival copy."""
        return _pdf(request, record_id, user, download=True)

    @app.get("/api/roadmap", tags=["roadmap"])
    def api_roadmap(request: Request, user: Annotated[User, Depends(api_user)],
                    period: str = "", as_of: date | None = None) -> dict[str, Any]:
        """Where each unit stands against the roadmap (managers and administrators)."""
        _require_manager(request, user)
        try:
            return _roadmap(request, user, period or None, as_of)["s"].as_dict()
        except RoadmapError as exc:
            raise HTTPException(400, "; ".join(exc.problems)) from None

    @app.post("/api/records/{record_id}/verify", tags=["records"])
    def api_verify(request: Request, record_id: str,
                   user: Annotated[User, Depends(api_user)]) -> dict[str, Any]:
        """Verify the archival copy now (hashes, signature, trust, changes, XMP, PDF/A)."""
        folder = _record_dir(request, record_id, user, "verify")
        return _verify(request, user, folder).as_dict()
