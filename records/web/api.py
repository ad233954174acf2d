"""The JSON API (described at ``/docs`` and ``/openapi.json``, to signed-in callers): the same
work as the pages, for programs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from archive.access import User
from archive.index import QueryError, SearchIndexBusy
from archive.roadmap import RoadmapError
from records.web import shared
from records.web.context import api_user, check_csrf, client, context

router = APIRouter(prefix="/api")
Caller = Annotated[User, Depends(api_user)]


def changing_user(request: Request) -> User:
    """The caller of an API call that acts (POST). A program's bearer token cannot be sent by
    another site's page; a browser's session cookie can, so with a session the page's CSRF
    token must come along in ``X-CSRF-Token``."""
    user = api_user(request)
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        check_csrf(request, request.headers.get("x-csrf-token", ""))
    return user


Changer = Annotated[User, Depends(changing_user)]


@router.get("/search", tags=["search"])
def api_search(request: Request, user: Caller, q: str = "", unit: str = "",
               doc_type: Annotated[str, Query(alias="type")] = "",
               date_from: Annotated[date | None, Query(alias="from")] = None,
               date_to: Annotated[date | None, Query(alias="to")] = None,
               classification: str = "", signed: str = "", review: str = "",
               order: str = "",
               page: Annotated[int, Query(ge=1, le=shared.MAX_PAGE)] = 1) -> dict[str, Any]:
    """Records matching ``q`` that the caller may see: hits with snippets, and facets.

    Without ``q`` (or with only spaces) it browses: every record the caller may see, narrowed
    by the filters, with the exact total and facets; each hit's page is 1 and its snippet the
    page's opening words. ``order``: ``relevance`` (the default with ``q``), ``newest`` (the
    default without), ``oldest`` or ``title``; an unknown one is the default. The answer's
    ``order`` says the order the hits came in."""
    filters = shared.filters_of(unit, doc_type, date_from, date_to, classification, signed,
                                review)
    try:
        return shared.run_search(request, user, q, filters, order, page).as_dict()
    except QueryError as exc:
        raise HTTPException(400, exc.reason) from None
    except SearchIndexBusy as exc:  # a reindex: the client may retry
        raise HTTPException(503, exc.reason, headers={"Retry-After": "60"}) from None


@router.get("/records/{record_id}", tags=["records"])
def api_record(request: Request, record_id: str, user: Caller) -> dict[str, Any]:
    """A record's metadata, signature, provenance and later events. ``descriptive`` is the
    current description (corrections applied; ``archived_descriptive`` as archived),
    ``version`` the current version, ``versions`` and ``corrections`` its history."""
    paths = shared.record_within_clearance(request, record_id, user, "view")
    context(request).audit.record(user.name, "view", record_id=record_id,
                                  client=client(request))
    return shared.record_view(request, user, paths)


@router.get("/records/{record_id}/pdf", tags=["records"],
            responses={200: {"content": {"application/pdf": {}}}})
def api_pdf(request: Request, record_id: str, user: Caller,
            copy: Literal["archival", "corrected"] = "archival") -> Response:
    """The signed archival copy, or (``copy=corrected``) the signed copy that carries what
    people corrected, when a correction made one."""
    return shared.pdf(request, record_id, user, download=True, corrected=copy == "corrected")


@router.get("/roadmap", tags=["roadmap"])
def api_roadmap(request: Request, user: Caller, period: str = "",
                as_of: date | None = None) -> dict[str, Any]:
    """Where each unit stands against the roadmap (managers and administrators)."""
    shared.require_manager(request, user)
    try:
        return shared.roadmap(request, user, period or None, as_of)["s"].as_dict()
    except RoadmapError as exc:
        raise HTTPException(400, "; ".join(exc.problems)) from None


@router.post("/records/{record_id}/verify", tags=["records"])
def api_verify(request: Request, record_id: str, user: Changer) -> dict[str, Any]:
    """Verify the archival copy now (hashes, signature, trust, changes, XMP, PDF/A)."""
    paths = shared.record_within_clearance(request, record_id, user, "verify")
    return shared.verdict_view(user, shared.verify(request, user, paths))
