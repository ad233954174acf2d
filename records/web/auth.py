"""Signing in and out of the web app.

A sign-in is refused without the password being looked at when its name or its address has
failed too often lately (``archive.access.Throttle``); each sign-in gets a new session id (no
session fixation), kept server-side so that signing out ends it for every copy of the cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from archive.access import Refused, authenticate, close_session, open_session
from records.web.context import check_csrf, client, context, csrf_token, templates

router = APIRouter(include_in_schema=False)


def login_page(request: Request, next: str, error: str, status_code: int = 200,
               headers: dict[str, str] | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html",
                                      {"next": next, "csrf": csrf_token(request),
                                       "error": error},
                                      status_code=status_code, headers=headers)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return login_page(request, next, "")


@router.post("/login")
def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()],
          csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    check_csrf(request, csrf)
    ctx, address = context(request), client(request)
    attempt = ctx.throttle.begin(username, address)
    if isinstance(attempt, Refused):  # the password is not even checked
        ctx.audit.record(username[:64], "login", outcome="throttled", client=address,
                         limit=attempt.scope, retry_after=attempt.seconds)
        return login_page(request, next, attempt.message, status_code=429,
                          headers={"Retry-After": str(attempt.seconds)})
    user = authenticate(ctx.catalog, username, password)
    if user is None:
        ctx.audit.record(username[:64], "login", outcome="denied", client=address)
        return login_page(request, next, "Wrong name or password.", status_code=401)
    ctx.throttle.succeeded(attempt)
    request.session.clear()  # a new session id at every sign-in (no session fixation)
    request.session["sid"] = open_session(ctx.catalog, user.name, ctx.session_seconds,
                                          ctx.clock())
    ctx.audit.record(user.name, "login", client=address)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    session_id = request.session.get("sid")
    if session_id:  # server-side: a kept copy of the cookie stops working too
        close_session(context(request).catalog, session_id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
