"""What the pages and the API both do: find a record within clearance, search or browse,
verify, send a PDF or a page's thumbnail, measure the roadmap. Each writes its audit entry
here, so both front ends log alike.

A record above the user's clearance is answered exactly like a record that does not exist
(404), so its existence does not leak.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date
from pathlib import PurePath
from typing import Any, cast

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, Response

from archive.access import User
from archive.index import ORDERS, Filters, Order, Results, browse_records, search_records
from archive.roadmap import MILESTONE_STATES, MilestoneLog, measure_roadmap, report_context
from archive.signing import (
    SigningError,
    Verdict,
    read_log,
    seal_certificates,
    trust_roots,
    verify_record,
)
from archive.store import (
    ObjectDamaged,
    RecordPaths,
    archive_root,
    corrected_copy_name,
    descriptive_from,
    is_record_id,
    level_of,
    read_corrections,
    record_events,
    record_paths,
    replayed,
)
from records.web import history
from records.web.context import client, context
from records.web.thumbnails import Busy, ThumbnailFailed

# The last page of results one may ask for (at 20 a page, 200,000 records): further on, a
# search is narrowed rather than paged, and an offset stays a number every database takes.
MAX_PAGE = 10_000
MANAGERS = ("manager", "admin")  # who sees the roadmap dashboard and sets milestones
# The events a person's act on a record leaves: hidden with the acts the reader may not see.
PEOPLES_ACTS = ("corrected", "reviewed")


def record_within_clearance(request: Request, record_id: str, user: User,
                            action: str) -> RecordPaths:
    """The record's paths if ``user`` may see it; 404 (and an audit entry) otherwise."""
    return catalogued_within_clearance(request, record_id, user, action)[0]


def catalogued_within_clearance(request: Request, record_id: str, user: User,
                                action: str) -> tuple[RecordPaths, dict[str, Any]]:
    """The record's paths and catalog row if ``user`` may see it; 404 (and an audit entry)
    otherwise, the same for a record above the clearance as for none at all."""
    ctx = context(request)
    row = ctx.catalog.get(record_id) if is_record_id(record_id) else None
    if row is None or row["level"] > user.clearance:
        ctx.audit.record(user.name, action, record_id=record_id[:64], outcome="denied",
                         client=client(request))
        raise HTTPException(404, "no such record")
    return record_paths(archive_root(ctx.home), record_id), row


def page_number(text: str, pages: int) -> int | None:
    """A page number as a URL gives it (``"3"``): None unless it is one of ``pages``."""
    number = int(text) if re.fullmatch(r"[0-9]{1,9}", text.strip()) else 0
    return number if 1 <= number <= pages else None


def thumbnail(request: Request, record_id: str, number: str, user: User) -> Response:
    """A small PNG of a page of the record's signed PDF. The clearance first, so a record
    above it is "no such record" whatever the page; then a page the record does not have is
    "no such page". A served thumbnail is not audited: a page of results shows twenty, the
    search or browse that listed them is audited, and a refusal is."""
    paths, row = catalogued_within_clearance(request, record_id, user, "thumbnail")
    page = page_number(number, int(row["pages"] or 0))
    if page is None:
        raise HTTPException(404, "no such page")
    ctx = context(request)
    try:
        picture = ctx.drawing.kept(ctx.home, paths, page).read_bytes()
    except (ObjectDamaged, OSError, ValueError) as exc:
        raise damaged(request, user, paths, "thumbnail", exc) from None
    except Busy as exc:
        raise HTTPException(503, exc.reason, headers={"Retry-After": "2"}) from None
    except ThumbnailFailed as exc:
        raise HTTPException(503, exc.reason) from None
    # Sent without Last-Modified: when a picture was drawn is when someone first opened the
    # page, which is not another reader's to know.
    return Response(picture, media_type="image/png")


def damaged(request: Request, user: User, paths: RecordPaths, action: str,
            exc: Exception) -> HTTPException:
    """The answer when the catalog knows a record whose files the archive no longer holds
    whole (deleted or damaged): said and logged, never a server error."""
    context(request).audit.record(user.name, action, record_id=paths.record_id,
                                  outcome="damaged", client=client(request))
    return HTTPException(410, f"the archive no longer holds {paths.record_id} whole "
                              f"({type(exc).__name__}); an administrator should run "
                              "`records verify --all`")


def sort_order(q: str, order: str) -> Order:
    """The order results come in: as asked when it is one of ``ORDERS``; otherwise (nothing
    asked, or something unknown) by relevance for a search, newest first for a browse, which
    has nothing to rank by."""
    if not q.strip():
        return cast(Order, order) if order in ("oldest", "title") else "newest"
    return cast(Order, order) if order in ORDERS else "relevance"


def run_search(request: Request, user: User, q: str, filters: Filters, order: str,
               page: int) -> Results:
    """A search for ``q`` or, when ``q`` is empty, a browse of every record the user may see
    (the filters apply to both), audited as a "search" or a "browse"."""
    ctx = context(request)
    size = ctx.settings.web.page_size
    order, offset = sort_order(q, order), (page - 1) * size
    if q.strip():
        results = search_records(ctx.catalog, q, clearance=user.clearance, filters=filters,
                                 order=order, limit=size, offset=offset)
    else:
        results = browse_records(ctx.catalog, clearance=user.clearance, filters=filters,
                                 order=order, limit=size, offset=offset)
    ctx.audit.record(user.name, "search" if q.strip() else "browse", query=q,
                     filters={k: str(v) for k, v in asdict(filters).items() if v is not None},
                     order=results.order, results=results.total, client=client(request))
    return results


def count(request: Request, user: User, q: str, filters: Filters) -> int:
    """How many records a search for ``q`` (a browse when empty) finds within the user's
    clearance: the hints of a search that found nothing. Not audited on its own: it shows only
    a number of what the user may see, and the search that found nothing is audited."""
    ctx = context(request)
    if q.strip():
        return search_records(ctx.catalog, q, clearance=user.clearance, filters=filters,
                              order="newest", limit=0).total
    return browse_records(ctx.catalog, clearance=user.clearance, filters=filters,
                          limit=0).total


def filters_of(unit: str | None, doc_type: str | None, date_from: date | None,
               date_to: date | None, classification: str | None, signed: str | None,
               review: str | None) -> Filters:
    """Search filters from a form or query string, where an empty field means "any"."""
    return Filters(unit=unit or None, document_type=doc_type or None, date_from=date_from,
                   date_to=date_to, classification=classification or None,
                   signed={"yes": True, "no": False}.get(signed or ""),
                   needs_review={"yes": True, "no": False}.get(review or ""))


def day(value: str) -> date | None:
    """A date typed in a form, or None for an empty field."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def verify(request: Request, user: User, paths: RecordPaths) -> Verdict:
    """Every check of the record, and of the archive's log it is proven by."""
    ctx = context(request)
    try:
        roots = trust_roots(ctx.settings.signing, ctx.home)
        seals = seal_certificates(ctx.settings.signing, ctx.home)
    except SigningError as exc:
        raise HTTPException(503, exc.reason) from None
    log = read_log(ctx.home, roots, seals, all_signatures=False)
    verdict = verify_record(paths.folder, roots, log.record_check)
    verdict.checks.update(log.checks)
    ctx.audit.record(user.name, "verify", record_id=paths.record_id,
                     outcome="ok" if verdict.ok else "failed", client=client(request))
    return verdict


def record_view(request: Request, user: User, paths: RecordPaths) -> dict[str, Any]:
    """A record's sidecar with what happened to it later (the events its versions carry, and
    its verifications since), as pages and the API show it. ``descriptive`` is the current
    description (what people corrected counts), ``archived_descriptive`` the sidecar's;
    ``version`` the current version, ``versions`` and ``corrections`` its history as the
    user may see it (``history``)."""
    try:
        record = paths.read_sidecar()
        if not isinstance(record, dict):
            raise ValueError("record.json is not an object")
        record = {**record, **_described(paths, record, user)}
    except (ObjectDamaged, OSError, ValueError, KeyError, TypeError) as exc:
        raise damaged(request, user, paths, "view", exc) from None
    # The stricter of the catalog's word (checked before) and the archive's: a raise the
    # catalog has not caught up with yet still keeps the record from whom it now exceeds.
    if level_of(record["descriptive"]["classification"]) > user.clearance:
        context(request).audit.record(user.name, "view", record_id=paths.record_id,
                                      outcome="denied", client=client(request))
        raise HTTPException(404, "no such record")
    at_ingest = {e["time"] for e in record.get("provenance", []) if e.get("type") == "verified"}
    checks = [{"time": at, "type": "verified", "outcome": "success" if ok else "failure",
               "detail": "", "agent": ""}
              for at, ok in context(request).catalog.checks(paths.record_id)
              if at not in at_ingest]
    # With some of the acts hidden, so are the events they left (their details say why).
    hidden = any(v["hidden"] for v in record["versions"])
    later = [e for e in record_events(paths) if isinstance(e, dict)
             and not (hidden and e.get("type") in PEOPLES_ACTS)] + checks
    record["later_events"] = sorted(later, key=lambda e: str(e.get("time", "")))
    if user.role != "admin":
        for name in ("provenance", "later_events"):
            record[name] = [_for_readers(e) for e in record.get(name, []) if isinstance(e, dict)]
    return record


def _described(paths: RecordPaths, record: dict[str, Any], user: User) -> dict[str, Any]:
    """The current description and the history of a record, for :func:`record_view`."""
    acts = read_corrections(paths)
    entries = history.history(paths, record, user)
    return {"archived_descriptive": record["descriptive"],
            "descriptive": asdict(replayed(descriptive_from(record), acts,
                                           paths.record_id)),
            "version": paths.inventory.head,
            "versions": [asdict(e) for e in entries],
            "corrections": [a.as_dict() for a in history.visible_acts(entries, acts)],
            # The signed copy that carries the corrections, and the version it describes.
            "corrected_copy": next((a.version for a in reversed(acts) if a.copy), None)}


# An absolute path (a folder at least) where a word starts: /srv/x/a.pdf, C:\x\a.pdf,
# \\server\share\a.pdf, file:// and smb:// URLs. "PDF/A-2b" and "CN=Org/O=x" are not paths.
_PATH = re.compile(r"(?<![^\s'\"(\[])(?:[a-z]+://[^/\s]*|[A-Za-z]:)?[/\\]{1,2}"
                   r"(?:[^\s/\\;,()\[\]]+[/\\])+([^\s/\\;,()\[\]]*)")


def no_paths(text: str) -> str:
    """``text`` with each absolute path cut to its last name."""
    return _PATH.sub(r"\1", text)


def _for_readers(event: dict[str, Any]) -> dict[str, Any]:
    """An event as readers see it: without the account and machine that did it (``root@host``)
    and with file paths cut to their names (a received file's detail is its path: only its
    name is shown). Where the scans lay on the server, and under which account records runs,
    are the administrators' business; the record keeps them whole."""
    detail = event.get("detail")
    if isinstance(detail, str):
        detail = PurePath(detail).name if event.get("type") == "received" and detail \
            else no_paths(detail)
    return {**event, "agent": "", "detail": detail}


def verdict_view(user: User, verdict: Verdict) -> dict[str, Any]:
    """A verification as the API and the page show it: for readers, without the record's
    folder on the server and with paths in the checks' details cut to names."""
    shown = verdict.as_dict()
    if user.role != "admin":
        shown.pop("path", None)
        for check in shown["checks"].values():
            check["detail"] = no_paths(check["detail"])
    return shown


class PdfResponse(FileResponse):
    """A PDF sent in 1 MiB chunks: Starlette's 64 KiB chunks each take a trip through the thread
    pool, which made a download three times slower than a record page (bench/load.py: p95
    766 -> 319 ms with 1 MiB)."""

    chunk_size = 1 << 20


def pdf(request: Request, record_id: str, user: User, download: bool,
        corrected: bool = False) -> Response:
    """The signed archival copy, or with ``corrected`` the signed copy that carries the
    corrections (``archive.signing.derive``): 404 when no correction made one."""
    action = "download" if download else "read"
    paths = record_within_clearance(request, record_id, user, action)
    try:
        copy = paths.file(corrected_copy_name(paths.record_id)) if corrected else paths.pdf
        if copy is None:
            raise HTTPException(404, f"{paths.record_id} has no corrected copy: its "
                                "description and text are as archived")
        if not copy.is_file():
            raise FileNotFoundError(copy.name)
    except (ObjectDamaged, OSError, ValueError) as exc:
        raise damaged(request, user, paths, action, exc) from None
    context(request).audit.record(user.name, action, record_id=record_id, client=client(request),
                                  **({"copy": "corrected"} if corrected else {}))
    return PdfResponse(copy, media_type="application/pdf", filename=copy.name,
                       content_disposition_type="attachment" if download else "inline")


def require_manager(request: Request, user: User) -> None:
    """The roadmap counts every record, whatever its classification (counts, never titles):
    managers and administrators see it; others are told so, and it is logged."""
    if user.role not in MANAGERS:
        context(request).audit.record(user.name, "roadmap", outcome="denied",
                                      client=client(request))
        raise HTTPException(403, "the roadmap is for managers and administrators")


def roadmap(request: Request, user: User, period: str | None,
            as_of: date | None) -> dict[str, Any]:
    """The roadmap dashboard's context: the report's, plus the periods and milestones."""
    ctx = context(request)
    view = measure_roadmap(ctx.catalog, ctx.home, ctx.settings.roadmap.file, as_of=as_of,
                           period=period)
    result = view.standing
    ctx.audit.record(user.name, "roadmap", period=result.period.id,
                     as_of=result.as_of.isoformat(), client=client(request))
    current = MilestoneLog(ctx.home).statuses()
    return {**report_context(view.roadmap, view.facts, result), "roadmap": view.roadmap,
            "periods": [p.id for p in view.roadmap.periods], "states": MILESTONE_STATES,
            "milestones": [(m, current.get(m.id)) for m in view.roadmap.milestones
                           if m.period == result.period.id], "error": ""}
