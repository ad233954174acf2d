"""What the web app answers when it cannot do what was asked: a page for people, JSON for
programs.

A person who follows a stale link, opens a form that has expired or meets a bug gets a page
of the app (its header, a heading, the reason in one line, a way back), not FastAPI's JSON;
programs under ``/api/`` get the JSON they get today (``{"detail": ...}``). A record above the
reader's clearance and a record that does not exist raise the same error, and the page shows
nothing but that error, so both look the same. A server error says nothing of its cause
(exception texts hold paths, SQL and names): the traceback goes to the server's log.

Starlette runs the handler of ``Exception`` in its outermost middleware, outside the security
headers and the session, so its page would go out without them; ``ServerErrors`` sits
innermost and answers there instead (the handler stays for a fault in a middleware itself).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive.access import User, session_user
from records.web.context import FormExpired, context, csrf_token, templates

SERVER_ERROR = "Something went wrong on the server. It has been logged; try again later."
REASON_LENGTH = 300
# Starlette's own reasons (the status's phrase) said for people.
PLAIN = {404: "There is no such page.",
         405: "This address does not take that kind of request."}


def is_api(path: str) -> bool:
    """Whether ``path`` is answered for programs: the API and its description."""
    return path == "/api" or path.startswith("/api/") or path == "/openapi.json"


def one_line(text: object) -> str:
    """A reason as one short line: an error's detail can span lines or run long."""
    return " ".join(str(text).split())[:REASON_LENGTH]


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Refusals and missing things (403, 404, 410, 429...): the error page, or the API's JSON."""
    if is_api(request.url.path) or exc.status_code < 400:
        return await http_exception_handler(request, exc)
    reason = one_line(exc.detail)
    if isinstance(exc, FormExpired):
        return error_page(request, 403, reason, heading="The form has expired",
                          back=back_path(request), headers=exc.headers)
    if reason == HTTPStatus(exc.status_code).phrase:
        reason = PLAIN.get(exc.status_code, reason)
    return error_page(request, exc.status_code, reason, headers=exc.headers)


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """A query or form that does not fit the route (a page number of 0, a missing field): a
    400 page that says which field and why. Never the value sent: it may be a password."""
    if is_api(request.url.path):
        return await request_validation_exception_handler(request, exc)
    return error_page(request, 400, one_line(
        "The request cannot be used: " + "; ".join(_problem(e) for e in exc.errors())))


def _problem(error: dict[str, Any]) -> str:
    where = " ".join(str(part) for part in error.get("loc", ())[1:])  # ("query", "page")
    said = str(error.get("msg", "not valid"))
    return f"{where}: {said}" if where else said


async def server_error(request: Request, _exc: Exception) -> Response:
    """An unhandled exception: a generic answer, nothing of the exception in it."""
    if is_api(request.url.path):
        return JSONResponse({"detail": SERVER_ERROR}, status_code=500)
    return error_page(request, 500, SERVER_ERROR)


class ServerErrors:
    """Pure ASGI middleware, the innermost: an unhandled exception is answered here with
    ``server_error``, so the answer passes through the session and the security headers. The
    exception is raised on after the answer: the server logs it with its traceback, and
    Starlette's ServerErrorMiddleware, seeing the answer begun, sends nothing more."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if not started:  # a streamed PDF that fails half-way cannot be taken back
                response = await server_error(Request(scope, receive), exc)
                await response(scope, receive, send)
            raise


def error_page(request: Request, status: int, reason: str, *, heading: str = "",
               back: str = "", headers: dict[str, str] | None = None) -> Response:
    """The error page: the app's header (with the signed-in user, if any), a heading, the
    reason, and the way back."""
    user = _signed_in(request)
    return templates.TemplateResponse(request, "error.html", {
        "user": user, "csrf": csrf_token(request) if user else "", "status": status,
        "heading": heading or _phrase(status), "reason": reason, "back": back},
        status_code=status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _signed_in(request: Request) -> User | None:
    """The session's user, for the header. From the session only: looking at a bearer token
    again would count a bad one twice against its address. An error page must not fail in
    turn, so a catalog that cannot be read (perhaps the very fault) means nobody."""
    if "session" not in request.scope or not request.session.get("sid"):
        return None
    ctx = context(request)
    try:
        return session_user(ctx.catalog, request.session["sid"], ctx.clock())
    except Exception:
        return None


def back_path(request: Request) -> str:
    """Where the expired form was: the Referer's path when it is a page of this site, else the
    search page. Never another site: the link must not lead out of the app."""
    referer = urlsplit(request.headers.get("referer", ""))
    ours = referer.scheme in ("http", "https") and referer.netloc == request.url.netloc
    path = referer.path
    if not ours or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    return f"{path}?{referer.query}" if referer.query else path
