"""The pages people use: search, a record (read, download, verify now), the roadmap dashboard."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from archive.access import User
from archive.index import Filters, QueryError
from archive.roadmap import MilestoneError, MilestoneLog, RoadmapError, load_roadmap
from archive.store import LEVELS
from records.web import shared
from records.web.context import (
    api_user,
    check_csrf,
    client,
    context,
    csrf_token,
    page_user,
    templates,
)

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]


@router.get("/", response_class=HTMLResponse)
def home_page(request: Request, user: SignedIn, q: str = "", unit: str = "",
              doc_type: Annotated[str, Query(alias="type")] = "",
              date_from: Annotated[str, Query(alias="from")] = "",
              date_to: Annotated[str, Query(alias="to")] = "",
              classification: str = "", signed: str = "", review: str = "",
              order: str = "relevance", page: Annotated[int, Query(ge=1)] = 1) -> Response:
    # A browser form sends every field, empty ones as "": read dates leniently.
    results, error = None, ""
    try:
        filters = shared.filters_of(unit, doc_type, shared.day(date_from), shared.day(date_to),
                                    classification, signed, review)
        if q.strip():
            results = shared.run_search(request, user, q, filters, order, page)
    except (QueryError, ValueError) as exc:
        filters, error = Filters(), str(exc)
    # Every field as asked, for the links to the next and previous pages: a page of results
    # keeps the filters that made it.
    params = {name: value for name, value in (
        ("q", q), ("order", order), ("unit", unit), ("type", doc_type), ("from", date_from),
        ("to", date_to), ("classification", classification), ("signed", signed),
        ("review", review)) if value}
    asked = urlencode(params)
    return templates.TemplateResponse(request, "search.html", {
        "user": user, "q": q, "filters": filters, "order": order, "page": page,
        "results": results, "error": error, "page_size": shared.PAGE_SIZE, "asked": asked,
        "facet_links": _facet_links(params, results),
        "csrf": csrf_token(request), "levels": LEVELS[: user.clearance + 1]})


# A facet's value as the filter that selects it (the year as a span of dates).
_FACET_FILTERS = {
    "unit": lambda v: {"unit": v},
    "document_type": lambda v: {"type": v},
    "classification": lambda v: {"classification": v},
    "year": lambda v: {"from": f"{v}-01-01", "to": f"{v}-12-31"},
    "signed": lambda v: {"signed": "yes" if v == "signed" else "no"},
}


def _facet_links(params: dict[str, str], results: object) -> dict[tuple[str, str], str]:
    """For each facet value shown, the query string of this search with it as a filter (the
    first page). "unknown" (no value) selects nothing, so it has no link."""
    links: dict[tuple[str, str], str] = {}
    for name, counts in getattr(results, "facets", {}).items():
        for value in counts:
            if value != "unknown" and name in _FACET_FILTERS:
                links[name, value] = urlencode({**params, **_FACET_FILTERS[name](value)})
    return links


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, record_id: str, user: SignedIn) -> Response:
    paths = shared.record_within_clearance(request, record_id, user, "view")
    context(request).audit.record(user.name, "view", record_id=record_id,
                                  client=client(request))
    return templates.TemplateResponse(request, "record.html", {
        "user": user, "record": shared.record_view(request, user, paths),
        "csrf": csrf_token(request), "verdict": None})


@router.post("/records/{record_id}/verify", response_class=HTMLResponse)
def verify_page(request: Request, record_id: str, user: SignedIn,
                csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    paths = shared.record_within_clearance(request, record_id, user, "verify")
    verdict = shared.verdict_view(user, shared.verify(request, user, paths))
    return templates.TemplateResponse(request, "record.html", {
        "user": user, "record": shared.record_view(request, user, paths),
        "csrf": csrf_token(request), "verdict": verdict})


@router.get("/records/{record_id}/pdf")
def pdf_page(request: Request, record_id: str, user: SignedIn,
             download: bool = False) -> Response:
    return shared.pdf(request, record_id, user, download)


@router.get("/roadmap", response_class=HTMLResponse)
def roadmap_page(request: Request, user: SignedIn, period: str = "", as_of: str = "",
                 message: str = "") -> Response:
    shared.require_manager(request, user)
    try:
        shown = shared.roadmap(request, user, period or None, shared.day(as_of))
    except (RoadmapError, ValueError) as exc:
        shown = shared.roadmap(request, user, None, None)
        shown["error"] = str(exc)
    return templates.TemplateResponse(request, "roadmap.html", {
        **shown, "user": user, "csrf": csrf_token(request), "message": message[:200]})


@router.post("/roadmap/milestones/{milestone_id}")
def milestone_form(request: Request, milestone_id: str, user: SignedIn,
                   status: Annotated[str, Form()], note: Annotated[str, Form()] = "",
                   csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    shared.require_manager(request, user)
    ctx = context(request)
    try:
        entry = MilestoneLog(ctx.home).set_status(load_roadmap(ctx.settings.roadmap.file),
                                                  milestone_id, status, user.name, note[:500])
    except (MilestoneError, RoadmapError) as exc:
        raise HTTPException(400, exc.reason) from None
    ctx.audit.record(user.name, "milestone", milestone=entry.milestone, status=entry.status,
                     client=client(request))
    return RedirectResponse(f"/roadmap?message=milestone+{entry.milestone}+set+to+"
                            f"{entry.status.replace(' ', '+')}", status_code=303)


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, user: SignedIn) -> Response:
    """The API described for people, signed in only, on a page without scripts: FastAPI's own
    /docs and /redoc load Swagger UI and ReDoc from a third-party CDN onto the archive's origin,
    and answer anyone."""
    schema = request.app.openapi()
    operations = [
        {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
         "description": op.get("description", ""),
         "parameters": [{"name": p["name"], "where": p["in"], "required": p.get("required")}
                        for p in op.get("parameters", [])]}
        for path, methods in schema["paths"].items() for method, op in methods.items()]
    return templates.TemplateResponse(request, "docs.html", {
        "user": user, "csrf": csrf_token(request), "operations": operations,
        "title": schema["info"]["title"], "version": schema["openapi"]})


@router.get("/redoc")
def redoc(_user: SignedIn) -> Response:
    return RedirectResponse("/docs", status_code=303)


@router.get("/openapi.json")
def openapi_schema(request: Request, _user: Annotated[User, Depends(api_user)]) -> dict:
    """The OpenAPI description, to callers of the API only."""
    return request.app.openapi()
