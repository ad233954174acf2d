"""The review queue in the browser: the records that need a person, per unit, each with why.

For the roles that may correct (``CORRECTORS``); an officer sees the units they work for, and
nobody sees, or counts, a record above their clearance (``archive.review.review_queue``).
Each entry links to its record, where it is corrected, or is marked "reviewed, nothing to
correct" from the list: a version of its own with who and why, like any correction. Viewing
the queue is audited as ``review-queue``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from archive.access import User
from archive.review import CORRECTORS, correct_record, review_queue
from records.web import shared
from records.web.context import check_csrf, client, context, csrf_token, page_user, templates
from records.web.editing import refusals, sealer
from records.web.flash import flash, take_flash

router = APIRouter(include_in_schema=False)
NOTHING = "reviewed: nothing to correct"  # the reason when the person gives none
UNIT_LENGTH = 64  # the catalog's unit column: a longer "unit" is none, and not logged whole


def corrector(request: Request, user: Annotated[User, Depends(page_user)]) -> User:
    """The signed-in user, if their role may correct; 403 (logged) otherwise."""
    if user.role not in CORRECTORS:
        context(request).audit.record(user.name, "review-queue", outcome="denied",
                                      client=client(request))
        raise HTTPException(403, "the review queue is for these roles: "
                                 f"{', '.join(CORRECTORS)}")
    return user


Corrector = Annotated[User, Depends(corrector)]


def queue_link(unit: str, page: int) -> str:
    """The queue's address at ``page``, of ``unit`` (all units when empty)."""
    asked = urlencode([(k, v) for k, v in (("unit", unit), ("page", str(page)))
                       if v and v != "1"])
    return f"/review?{asked}" if asked else "/review"


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, user: Corrector, unit: str = "",
                page: Annotated[int, Query(ge=1, le=shared.MAX_PAGE)] = 1) -> Response:
    """A page of the queue, oldest first, with the count of each unit the user may see."""
    ctx = context(request)
    unit = unit.strip()[:UNIT_LENGTH]
    size = ctx.settings.web.page_size
    queue = review_queue(ctx.catalog, user, unit=unit or None, limit=size,
                         offset=(page - 1) * size)
    ctx.audit.record(user.name, "review-queue", unit=unit or None, page=page,
                     results=queue.total, client=client(request))
    return templates.TemplateResponse(request, "review.html", {
        "user": user, "csrf": csrf_token(request), "flash": take_flash(request),
        "queue": queue, "unit": unit, "page": page, "nothing": NOTHING,
        "previous": queue_link(unit, page - 1) if page > 1 else "",
        "next": queue_link(unit, page + 1) if queue.total > page * size else ""})


@router.post("/review/{record_id}/reviewed")
def reviewed_form(request: Request, record_id: str, user: Corrector,
                  why: Annotated[str, Form()] = "", unit: Annotated[str, Form()] = "",
                  page: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Mark a record reviewed with nothing to correct; back to the same page of the queue."""
    check_csrf(request, csrf)
    ctx = context(request)
    with refusals(request, user, "review", record_id):
        done = correct_record(ctx.home, ctx.catalog, user, record_id, {}, why.strip() or NOTHING,
                              vouch=None, sealer=sealer(request))
    flash(request, f"{record_id}: reviewed, nothing to correct ({done.correction.version}).")
    number = shared.page_number(page, shared.MAX_PAGE) or 1
    return RedirectResponse(queue_link(unit.strip()[:UNIT_LENGTH], number), status_code=303)
