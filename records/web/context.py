"""What every route of the web app works with: the app's context, who is asking, and the
templates.

The context is made once by ``create_app`` and kept on the app; a route asks for it (and for
its user) as a FastAPI dependency, so no route reaches for globals. People sign in with a
password (a signed session cookie naming a server-side sign-in, ``archive.access``); programs
send ``Authorization: Bearer <token>``. A bad token counts against the client's address like a
failed sign-in (``archive.access.Throttle``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates

from archive.access import AuditLog, Throttle, User, session_user, user_for_token
from archive.index import Catalog
from archive.review import CORRECTORS
from archive.roadmap import TEMPLATES as REPORT_TEMPLATES
from config.settings import Settings
from records.web.seal import Seal
from records.web.thumbnails import Drawing

templates = Jinja2Templates(directory=[str(Path(__file__).with_name("templates")),
                                       str(REPORT_TEMPLATES)])
# Who the header offers the review queue to: the roles that may correct a description.
templates.env.globals["correctors"] = CORRECTORS


@dataclass(frozen=True)
class WebContext:
    """One app's settings and services: made by ``create_app``, shared by every request."""

    settings: Settings
    home: Path
    catalog: Catalog
    throttle: Throttle
    audit: AuditLog
    clock: Callable[[], float]  # seconds since the epoch; tests move it instead of waiting
    session_seconds: int
    drawing: Drawing = field(default_factory=Drawing)  # page thumbnails, drawn a few at once
    seal: Seal = field(default_factory=Seal)  # vouches for corrections, opened on first use


class NotSignedIn(Exception):
    """A page was asked for without a session: send the browser to the login page."""


def context(request: Request) -> WebContext:
    """The app's context (a FastAPI dependency)."""
    return request.app.state.context


def client(request: Request) -> str:
    """The client's address, as the audit log and the sign-in limits name it."""
    return request.client.host if request.client else ""


def _user_from(request: Request) -> User | None:
    ctx = context(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return _token_user(request, header[7:].strip())
    session_id = request.session.get("sid")
    return session_user(ctx.catalog, session_id, ctx.clock()) if session_id else None


def _token_user(request: Request, secret: str) -> User | None:
    """The token's user. A bad token counts against the client's address, and an address with
    too many failures is refused (429) instead of told "wrong token", so a guessing loop stops.
    A valid token is always honoured: it is 256 random bits, nothing to guess, and refusing it
    would lock out every archivist behind the same office NAT because of one broken script."""
    ctx, address = context(request), client(request)
    user = user_for_token(ctx.catalog, secret)
    if user is not None:
        return user
    refused = ctx.throttle.refused(address)
    if refused:
        ctx.audit.record("", "token", outcome="throttled", client=address,
                         retry_after=refused.seconds)
        raise HTTPException(429, refused.message, headers={"Retry-After": str(refused.seconds)})
    ctx.throttle.failed(address)
    ctx.audit.record("", "token", outcome="denied", client=address)
    return None


def page_user(request: Request) -> User:
    """The signed-in user of a page; the browser is sent to sign in otherwise."""
    user = _user_from(request)
    if user is None:
        raise NotSignedIn
    return user


def api_user(request: Request) -> User:
    """The user of an API call (session or token); 401 otherwise."""
    user = _user_from(request)
    if user is None:
        raise HTTPException(401, "sign in, or send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def csrf_token(request: Request) -> str:
    """The session's form token, made on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


class FormExpired(HTTPException):
    """A form's CSRF token is missing or not this session's: the one refusal a person mends
    alone (reload the page), so its page says so."""

    def __init__(self) -> None:
        super().__init__(403, "the form has expired; reload the page and try again")


def check_csrf(request: Request, token: str) -> None:
    if not token or not secrets.compare_digest(token, request.session.get("csrf", "")):
        raise FormExpired
