"""The pages people use: search and browse (with saved searches), a record (read at the page
of the hit, with its pages' thumbnails, download, verify now, its history: each version's
description and what changed between two), the roadmap dashboard. Correcting a record is
``editing``'s."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from archive.access import SavedSearchError, User, delete_saved_search, save_search
from archive.index import Filters, QueryError, SearchIndexBusy
from archive.roadmap import MilestoneError, MilestoneLog, RoadmapError, load_roadmap
from archive.store import LEVELS, Descriptive, ObjectDamaged, RecordPaths, differences
from records.web import editing, history, search_page, shared
from records.web.context import (
    api_user,
    check_csrf,
    client,
    context,
    csrf_token,
    page_user,
    templates,
)
from records.web.flash import flash, take_flash

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]


@router.get("/", response_class=HTMLResponse)
def home_page(request: Request, user: SignedIn, q: str = "", unit: str = "",
              doc_type: Annotated[str, Query(alias="type")] = "",
              date_from: Annotated[str, Query(alias="from")] = "",
              date_to: Annotated[str, Query(alias="to")] = "",
              classification: str = "", signed: str = "", review: str = "",
              order: str = "", view: str = "",
              page: Annotated[int, Query(ge=1, le=shared.MAX_PAGE)] = 1) -> Response:
    """Search, or without words browse: every record the user may see, newest first."""
    # Every field as asked, for the links that keep them: a page of results, a facet, the
    # list/grid toggle and a removed filter keep the others.
    asked = search_page.Asked.of([
        ("q", q), ("order", order), ("unit", unit), ("type", doc_type), ("from", date_from),
        ("to", date_to), ("classification", classification), ("signed", signed),
        ("review", review), ("view", "grid" if view == "grid" else "")])
    results, error, removals = None, "", []
    try:  # a browser form sends every field, empty ones as "": dates are read leniently
        filters = asked.filters()
        results = shared.run_search(request, user, q, filters, order, page)
        if not results.total:
            removals = search_page.removals(request, user, asked)
    except (QueryError, SearchIndexBusy, ValueError) as exc:
        filters, error = Filters(), str(exc)
    return templates.TemplateResponse(request, "search.html", {
        "user": user, "q": q, "filters": filters, "page": page,
        "results": results, "error": error, "page_size": context(request).settings.web.page_size,
        "asked": asked.query, "facet_links": search_page.facet_links(asked, results),
        "view": "grid" if view == "grid" else "list", "removals": removals,
        "view_links": search_page.view_links(asked, page),
        "sort_options": search_page.sort_options(q, order),
        "saved": search_page.saved_links(request, user), "flash": take_flash(request),
        "csrf": csrf_token(request), "levels": LEVELS[: user.clearance + 1]})


@router.post("/searches")
def save_search_form(request: Request, user: SignedIn, name: Annotated[str, Form()] = "",
                     query: Annotated[str, Form()] = "",
                     csrf: Annotated[str, Form()] = "") -> Response:
    """Keep the search the page shows under a name of the user's; back to it."""
    check_csrf(request, csrf)
    kept = search_page.Asked.parsed(query).query
    try:
        saved = save_search(context(request).catalog, user.name, name, kept)
    except SavedSearchError as exc:
        raise HTTPException(400, exc.reason) from None
    flash(request, f"Saved the search “{saved.name}”.")
    return RedirectResponse(f"/?{kept}" if kept else "/", status_code=303)


@router.post("/searches/{saved_id}/delete")
def delete_search_form(request: Request, saved_id: str, user: SignedIn,
                       back: Annotated[str, Form()] = "",
                       csrf: Annotated[str, Form()] = "") -> Response:
    """Delete one of the user's saved searches (another's is "no such saved search", as is
    one that never was); back to the search the page showed."""
    check_csrf(request, csrf)
    number = int(saved_id) if saved_id.isascii() and saved_id.isdigit() \
        and len(saved_id) <= 9 else 0  # ids fit PostgreSQL's integer; beyond: none such
    if not delete_saved_search(context(request).catalog, user.name, number):
        raise HTTPException(404, "no such saved search")
    flash(request, "Deleted the saved search.")
    kept = search_page.Asked.parsed(back).query
    return RedirectResponse(f"/?{kept}" if kept else "/", status_code=303)


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, record_id: str, user: SignedIn, page: str = "") -> Response:
    """The document first, opened at ``page`` (a search hit's page; 1 unless it is one of
    the record's pages), then its description, signature and provenance."""
    paths, row = shared.catalogued_within_clearance(request, record_id, user, "view")
    context(request).audit.record(user.name, "view", record_id=record_id,
                                  client=client(request))
    return _record(request, user, paths, row, page, verdict=None)


@router.post("/records/{record_id}/verify", response_class=HTMLResponse)
def verify_page(request: Request, record_id: str, user: SignedIn,
                csrf: Annotated[str, Form()] = "", page: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    paths, row = shared.catalogued_within_clearance(request, record_id, user, "verify")
    verdict = shared.verdict_view(user, shared.verify(request, user, paths))
    return _record(request, user, paths, row, page, verdict)


def _record(request: Request, user: User, paths: RecordPaths, row: dict[str, Any],
            page: str, verdict: dict[str, Any] | None) -> Response:
    pages = int(row["pages"] or 0)
    return templates.TemplateResponse(request, "record.html", {
        "user": user, "record": shared.record_view(request, user, paths),
        "page": shared.page_number(page, pages) or 1, "pages": range(1, pages + 1),
        "csrf": csrf_token(request), "verdict": verdict, "flash": take_flash(request),
        "actions": editing.record_actions(request, user, paths.record_id)})


@dataclass(frozen=True)
class ShownVersions:
    """Versions of a record a page shows: the record's history, and the description each
    of the versions asked gives, in the order asked."""

    entries: list[history.VersionEntry]
    versions: list[str]
    described: list[Descriptive]


def _versions(request: Request, user: User, record_id: str, asked: list[str]) -> ShownVersions:
    """The versions ``asked`` of a record ("": the current one), for a version or a diff
    page: 404 for a record above the clearance, and for a version it does not have or the
    user may not open (``history.shown_version``). Audited as a view."""
    paths, _ = shared.catalogued_within_clearance(request, record_id, user, "view")
    try:
        entries = history.history(paths, paths.read_sidecar(), user)
        found = [history.shown_version(entries, text or entries[-1].version) for text in asked]
        versions = [v for v in found if v]
        if len(versions) < len(asked):
            raise HTTPException(404, "no such version")
        described = [history.description_at(paths, v) for v in versions]
    except (ObjectDamaged, OSError, ValueError, KeyError, TypeError) as exc:
        raise shared.damaged(request, user, paths, "view", exc) from None
    context(request).audit.record(user.name, "view", record_id=record_id, versions=versions,
                                  client=client(request))
    return ShownVersions(entries, versions, described)


@router.get("/records/{record_id}/versions/{version}", response_class=HTMLResponse)
def version_page(request: Request, record_id: str, version: str, user: SignedIn) -> Response:
    """The description one version of the record gives, each value with its source."""
    asked = _versions(request, user, record_id, [version])
    return templates.TemplateResponse(request, "version.html", {
        "user": user, "csrf": csrf_token(request), "rid": record_id,
        "entry": next(e for e in asked.entries if e.version == asked.versions[0]),
        "head": asked.entries[-1].version, "described": asdict(asked.described[0])})


@router.get("/records/{record_id}/diff", response_class=HTMLResponse)
def diff_page(request: Request, record_id: str, user: SignedIn,
              before: Annotated[str, Query(alias="from")] = "v1",
              after: Annotated[str, Query(alias="to")] = "") -> Response:
    """The fields whose values differ between two versions (to the current one by default)."""
    asked = _versions(request, user, record_id, [before, after])
    return templates.TemplateResponse(request, "diff.html", {
        "user": user, "csrf": csrf_token(request), "rid": record_id,
        "before": asked.versions[0], "after": asked.versions[1],
        "versions": [e.version for e in asked.entries if not e.hidden],
        "changes": differences(*asked.described)})


@router.get("/records/{record_id}/pages/{number}/thumbnail")
def thumbnail_page(request: Request, record_id: str, number: str, user: SignedIn) -> Response:
    """A page's thumbnail (PNG, 200 px wide): 404 for a record above the clearance, as for
    none, and for a page the record does not have."""
    return shared.thumbnail(request, record_id, number, user)


@router.get("/records/{record_id}/pdf")
def pdf_page(request: Request, record_id: str, user: SignedIn,
             download: bool = False, copy: Literal["archival", "corrected"] = "archival"
             ) -> Response:
    return shared.pdf(request, record_id, user, download, corrected=copy == "corrected")


@router.get("/roadmap", response_class=HTMLResponse)
def roadmap_page(request: Request, user: SignedIn, period: str = "", as_of: str = "") -> Response:
    """The dashboard. What a milestone form did is said from the session (``flash``), never
    from the URL: a ``?message=`` let any link make the page say anything as a success."""
    shared.require_manager(request, user)
    try:
        shown = shared.roadmap(request, user, period or None, shared.day(as_of))
    except (RoadmapError, ValueError) as exc:
        shown = shared.roadmap(request, user, None, None)
        shown["error"] = str(exc)
    return templates.TemplateResponse(request, "roadmap.html", {
        **shown, "user": user, "csrf": csrf_token(request), "flash": take_flash(request)})


@router.post("/roadmap/milestones/{milestone_id}")
def milestone_form(request: Request, milestone_id: str, user: SignedIn,
                   status: Annotated[str, Form()], note: Annotated[str, Form()] = "",
                   csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    shared.require_manager(request, user)
    ctx = context(request)
    try:
        plan = load_roadmap(ctx.settings.roadmap.file)
        entry = MilestoneLog(ctx.home).set_status(plan, milestone_id, status, user.name,
                                                  note[:500])
    except (MilestoneError, RoadmapError) as exc:
        raise HTTPException(400, exc.reason) from None
    ctx.audit.record(user.name, "milestone", milestone=entry.milestone, status=entry.status,
                     client=client(request))
    flash(request, f"milestone {entry.milestone} set to {entry.status}")
    period = next(m.period for m in plan.milestones if m.id == entry.milestone)
    return RedirectResponse(f"/roadmap?{urlencode({'period': period})}", status_code=303)


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
