"""Records officers' pages: queue a batch from the browser and follow it live.

An upload is received straight onto disk (``archive.intake.upload``) and then queued exactly
as ``records queue`` queues a folder, by running that command (``records.batches``): here,
with embedded Prefect, or on the Prefect server when one is configured. Its page follows the
batch ledger, which ``records status`` reads too, and is updated by server-sent events.

Who sees what: administrators every batch; anyone else the batches of the units they work for
(``records users set NAME --units``), and, in those, by name and reason only the documents of
their units within their clearance. The others are counted but not named: a file name can say
as much as a title. Only officers and administrators queue.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect

from archive.access import User, units_of
from archive.intake import (
    UploadLimits,
    UploadRecord,
    UploadRefused,
    begin_upload,
    list_uploads,
    load_upload,
    read_manifest,
)
from archive.roadmap import RoadmapError, load_roadmap
from archive.store import LEVELS, level_of, stricter
from records import batches, runtime
from records.web.context import (
    NotSignedIn,
    WebContext,
    client,
    context,
    csrf_token,
    page_user,
    templates,
)
from records.web.receiving import Form, receive

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]
QUEUERS = ("officer", "admin")
ENDED = ("finished", "failed", "interrupted", "could not start", "cancelled", "crashed",
         "completed")
STREAM_SECONDS = 600  # an event stream ends after this; the browser reconnects (and is
# checked again), so a disabled account or a changed unit stops seeing the batch
EVENT_SECONDS = 1.0  # how often a followed batch's ledger is read
SERVER_POLLS = 15  # ... and its Prefect run, in ledger reads
RESUME_SECONDS = 10.0  # how often waiting batches are looked at, besides each upload and end


# ----------------------------------------------------------------------------- who sees what


@dataclass(frozen=True)
class Viewer:
    """A person looking at batches: the units they work for (None: all, administrators)."""

    user: User
    units: frozenset[str] | None

    @classmethod
    def of(cls, ctx: WebContext, user: User) -> Viewer:
        if user.role == "admin":
            return cls(user, None)
        return cls(user, frozenset(units_of(ctx.catalog, user.name)))

    def works_for(self, unit: str) -> bool:
        return self.units is None or unit in self.units

    def sees_batch(self, batch: dict[str, Any]) -> bool:
        units = {d.get("unit") or batch.get("unit", "") for d in batch.get("documents", [])}
        return any(self.works_for(u) for u in units | {batch.get("unit", "")} if u) \
            or (self.units is None)

    def sees_document(self, batch: dict[str, Any], doc: dict[str, Any]) -> bool:
        """A document's name and reason are shown to people of its unit cleared for it. A
        document of a ledger older than this knowledge is judged at the strictest level."""
        level = doc.get("classification") or LEVELS[-1]
        return self.works_for(doc.get("unit") or batch.get("unit", "")) \
            and level in LEVELS and level_of(level) <= self.user.clearance


def _viewer(request: Request, user: User) -> Viewer:
    return Viewer.of(context(request), user)


def _queuer(request: Request, user: User) -> Viewer:
    """Only officers and administrators queue; the refusal is logged."""
    if user.role not in QUEUERS:
        context(request).audit.record(user.name, "batch-queue", outcome="denied",
                                      client=client(request))
        raise HTTPException(403, "queueing batches is for records officers and administrators")
    return _viewer(request, user)


# ----------------------------------------------------------------------------- reading batches


def _all_batches(ctx: WebContext) -> tuple[list[dict[str, Any]], str]:
    """The ledger's batches as ``records status`` shows them, then uploads not yet in it."""
    found = batches.current_statuses(ctx.settings)
    known = {b["batch_id"] for b in found.batches}
    starting = [_from_upload(ctx, u) for u in list_uploads(ctx.home) if u.batch_id not in known
                and (u.runs_as is None or u.runs_as not in known)]
    return starting + found.batches, found.warning


def starter(request: Request) -> batches.Starter:
    """The app's one starter of received batches (made by ``install``)."""
    return request.app.state.batch_starter


def install(app: FastAPI, ctx: WebContext) -> None:
    """The officers' routes, and the starter of received batches (``lifespan`` runs it)."""
    app.state.batch_starter = batches.Starter(ctx.home, ctx.settings.server.batches_per_worker)
    app.include_router(router)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the app serves: what waited to start when it last stopped starts now, and a
    timer starts what waits behind a batch that ends unseen."""
    starter: batches.Starter = app.state.batch_starter
    await to_thread.run_sync(starter.resume)
    stop = starter.tick_every(RESUME_SECONDS)
    try:
        yield
    finally:
        stop.set()


def _from_upload(ctx: WebContext, upload: UploadRecord) -> dict[str, Any]:
    """A batch the web app received, before (or instead of) its ledger entry."""
    if upload.exit_code is None and upload.pid is None:
        state, reason = "waiting", "it starts when the batch before it has finished"
    elif upload.exit_code is None and batches.process_alive(upload.pid or 0,
                                                            upload.pid_started):
        state, reason = "starting", None
    elif upload.exit_code is None:  # ended while the web app was down: its log says how
        state = "could not start"
        reason = batches.last_error(ctx.home, upload.batch_id) or "it stopped"
    elif upload.outcome:
        state, reason = "queued", f"on the Prefect server: {upload.outcome}"
    else:
        state, reason = "could not start", upload.error or f"exit code {upload.exit_code}"
    return {"batch_id": upload.batch_id, "effective_state": state, "reason": reason,
            "started": upload.received, "unit": upload.unit, "series": upload.series,
            "classification": upload.classification, "languages": upload.languages,
            "documents": [], "counts": {}, "pages_done": 0, "pages_total": 0,
            "eta_seconds": None, "host": ""}


def _find(ctx: WebContext, batch_id: str, ask_server: bool = True) -> dict[str, Any] | None:
    found = batches.current_statuses(ctx.settings, batch_id, ask_server).batches
    exact = [b for b in found if b["batch_id"] == batch_id]
    if exact:
        return exact[0]
    upload = load_upload(ctx.home, batch_id)
    if upload is None:
        return None
    if upload.runs_as:  # the server already knew these scans: follow the batch it ran
        runs = [b for b in batches.current_statuses(ctx.settings, upload.runs_as,
                                                    ask_server).batches
                if b["batch_id"] == upload.runs_as]
        if runs:
            return runs[0]
    return _from_upload(ctx, upload)


def _shown(viewer: Viewer, batch: dict[str, Any]) -> dict[str, Any]:
    """A batch as this viewer may see it: documents they may not see keep only their status."""
    documents = []
    for index, doc in enumerate(batch.get("documents", [])):
        if viewer.sees_document(batch, doc):
            documents.append({**doc, "index": index, "hidden": False})
        else:
            documents.append({"index": index, "hidden": True, "status": doc.get("status"),
                              "pages": doc.get("pages", 0),
                              "pages_done": doc.get("pages_done", 0)})
    shown = {k: v for k, v in batch.items() if k not in ("paths", "pid", "documents")}
    if viewer.units is not None:
        shown.pop("host", None)
    if not _sees_everything(viewer, batch, documents):
        # Warnings, errors and a run's reason are free text the flow writes, naming files:
        # they carry the protection of the documents they may name, so only someone who may
        # see every document of the batch reads them; the others learn how many there are.
        hidden = len(shown.get("warnings") or []) + bool(shown.get("error"))
        shown.update(warnings=[], error=None, hidden_notes=hidden,
                     reason="(the reason is hidden: it may name documents you may not see)"
                     if shown.get("reason") else None)
    return {**shown, "documents": documents,
            "ended": batch.get("effective_state") in ENDED}


def _sees_everything(viewer: Viewer, batch: dict[str, Any], documents: list[dict[str, Any]]
                     ) -> bool:
    if viewer.units is None:
        return True
    level = batch.get("classification") or LEVELS[-1]
    return not any(d["hidden"] for d in documents) and viewer.works_for(batch.get("unit", "")) \
        and level in LEVELS and level_of(level) <= viewer.user.clearance


def _visible(request: Request, user: User, batch_id: str) -> tuple[Viewer, dict[str, Any]]:
    """The batch if this user may see it; 404 alike for one that is not there, one that is
    another unit's, and an id that is none (never looked up: the ledger matches prefixes)."""
    viewer = _viewer(request, user)
    if not batches.is_batch_id(batch_id):
        raise HTTPException(404, f"no batch {batch_id[:40]}")
    batch = _find(context(request), batch_id)
    if batch is None or not viewer.sees_batch(batch):
        raise HTTPException(404, f"no batch {batch_id}")
    return viewer, batch


# ----------------------------------------------------------------------------- pages


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, user: SignedIn, state: str = "") -> Response:
    viewer = _viewer(request, user)
    every, warning = _all_batches(context(request))
    shown = [_shown(viewer, b) for b in every if viewer.sees_batch(b)]
    if state:
        shown = [b for b in shown if b["effective_state"] == state]
    return templates.TemplateResponse(request, "batches.html", {
        "user": user, "csrf": csrf_token(request), "batches": shown, "warning": warning,
        "state": state, "states": ("waiting", "starting", "queued", "running", "finished",
                                   "interrupted", "failed", "could not start"),
        "units": viewer.units, "queues": user.role in QUEUERS})


@router.get("/batches/new", response_class=HTMLResponse)
def new_batch_page(request: Request, user: SignedIn, requeue: str = "",
                   doc: Annotated[int, Query(ge=0)] = 0) -> Response:
    viewer = _queuer(request, user)
    asked: dict[str, Any] = {}
    replacing = None
    if requeue:
        _, batch = _visible(request, user, requeue)
        docs = batch.get("documents", [])
        if doc >= len(docs) or not viewer.sees_document(batch, docs[doc]):
            raise HTTPException(404, f"no such document in batch {requeue}")
        replacing = {**docs[doc], "batch_id": requeue, "index": doc}
        asked = {"unit": docs[doc].get("unit") or batch.get("unit", ""),
                 "series": batch.get("series", ""),
                 "classification": docs[doc].get("classification") or
                 batch.get("classification", ""), "languages": batch.get("languages") or ""}
    return _form(request, user, viewer, asked, replacing, "")


def _form(request: Request, user: User, viewer: Viewer, asked: dict[str, Any],
          replacing: dict[str, Any] | None, error: str, status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, "batch_new.html", {
        "user": user, "csrf": csrf_token(request), "units": _units_offered(request, viewer),
        "levels": LEVELS[: user.clearance + 1], "languages": _languages(request),
        "default_languages": context(request).settings.ocr.languages, "asked": asked,
        "replacing": replacing, "error": error,
        "max_mb": context(request).settings.web.max_upload_mb}, status_code=status_code)


def _units_offered(request: Request, viewer: Viewer) -> list[tuple[str, str]]:
    """The roadmap's units this person works for, as (code, name)."""
    try:
        units = load_roadmap(context(request).settings.roadmap.file).units
    except RoadmapError:
        units = ()
    return [(u.code, u.name) for u in units if viewer.works_for(u.code)]


def _languages(request: Request) -> list[str]:
    """The Tesseract languages installed (orientation and equations are not languages)."""
    from ocr.tools import installed_languages

    return [code for code in installed_languages() if code not in ("osd", "equ")]


@router.post("/batches")
async def queue_batch(request: Request, user: SignedIn) -> Response:
    """Receive the form as it streams in: every file straight to disk, the CSRF token
    checked before the first file's first byte is kept."""
    viewer = await to_thread.run_sync(_queuer, request, user)
    ctx = context(request)
    limits = UploadLimits(ctx.settings.web.max_upload_mb << 20, ctx.settings.web.max_upload_files)
    staged = await to_thread.run_sync(begin_upload, ctx.home, limits)
    form = Form(staged, request.session.get("csrf", ""))
    try:
        await receive(request, form)
        options, requeue_of = await to_thread.run_sync(_options, request, viewer, form.fields)
        await to_thread.run_sync(_check_manifest, request, viewer, staged.folder)
        batch_id = await to_thread.run_sync(runtime.batch_id, [staged.folder])
        record = UploadRecord(batch_id, user.name, options.unit, options.series,
                              options.classification, options.languages, requeue_of=requeue_of)
        await to_thread.run_sync(staged.commit, batch_id, record)
    except UploadRefused as exc:
        await to_thread.run_sync(staged.discard)
        ctx.audit.record(user.name, "batch-queue", outcome="refused", client=client(request),
                         reason=exc.reason)
        asked = {k: form.fields.get(k, "") for k in ("unit", "series", "classification",
                                                      "languages")}
        return await to_thread.run_sync(_refused_form, request, user, viewer, asked,
                                        exc.reason)
    except ClientDisconnect:
        await to_thread.run_sync(staged.discard)
        return Response(status_code=400)
    except BaseException:
        await to_thread.run_sync(staged.discard)
        raise
    await to_thread.run_sync(starter(request).resume)
    ctx.audit.record(user.name, "batch-queued", batch=batch_id, unit=options.unit,
                     classification=options.classification, files=record.files,
                     client=client(request))
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


def _refused_form(request: Request, user: User, viewer: Viewer, asked: dict[str, Any],
                  reason: str) -> Response:
    return _form(request, user, viewer, asked, None, reason, status_code=400)


def _options(request: Request, viewer: Viewer, fields: dict[str, str]
             ) -> tuple[batches.BatchOptions, str | None]:
    """The form's choices, checked against what this person may choose: never trusted
    because the form only offered those."""
    for name, value in fields.items():
        if any(not ch.isprintable() for ch in value):
            raise UploadRefused(f"the field {name!r} holds control characters")
    unit = fields.get("unit", "").strip()
    if unit not in {code for code, _ in _units_offered(request, viewer)}:
        raise UploadRefused(f"choose one of your units (not {unit!r})" if unit
                            else "choose the unit the records belong to")
    level = fields.get("classification", "").strip().lower()
    if level not in LEVELS[: viewer.user.clearance + 1]:
        raise UploadRefused("choose a classification you are cleared for")
    languages = fields.get("languages", "").strip() or None
    if languages and not set(languages.split("+")) <= set(_languages(request)):
        raise UploadRefused(f"no Tesseract language pack for {languages!r}")
    requeue = fields.get("requeue_of", "").strip() or None
    if requeue:
        level = stricter(level, _replaced(request, viewer, requeue).get("classification"))
    return (batches.BatchOptions(unit, fields.get("series", "").strip()[:200], level,
                                 languages), requeue)


def _replaced(request: Request, viewer: Viewer, requeue: str) -> dict[str, Any]:
    """The quarantined document a fixed file replaces, checked as the form that offered it
    checked it: a batch this person may see, a document of it they may see, quarantined. The
    fixed file is archived with at least that document's protection."""
    batch_id, _, source = requeue.partition("/")
    found = _find(context(request), batch_id) if batches.is_batch_id(batch_id) else None
    docs = [d for d in (found or {}).get("documents", [])
            if d.get("source") == source and d.get("status") == "quarantined"]
    if found is None or not viewer.sees_batch(found) or not docs \
            or not viewer.sees_document(found, docs[0]):
        raise UploadRefused("the document to queue again is not one you may replace")
    return docs[0]


def _check_manifest(request: Request, viewer: Viewer, folder: Path) -> None:
    """A manifest row may name a unit for its document: only units this person works for.
    (Its classification may only raise a record's protection, so any level is accepted.)"""
    offered = {code for code, _ in _units_offered(request, viewer)}
    manifest = read_manifest(folder, context(request).settings.intake.manifest_encoding)
    for row in manifest.rows:
        unit = row.fields.get("unit", "").strip()
        if unit and unit not in offered:
            raise UploadRefused(f"{row.where} files {row.source!r} under unit {unit!r}, which "
                                "you do not work for")


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: str, user: SignedIn) -> Response:
    viewer, batch = _visible(request, user, batch_id)
    return templates.TemplateResponse(request, "batch.html", {
        "user": user, "csrf": csrf_token(request), "batch": _shown(viewer, batch),
        "requeued": _requeued(context(request), batch_id),
        "queues": user.role in QUEUERS})


def _requeued(ctx: WebContext, batch_id: str) -> dict[str, str]:
    """Documents of this batch queued again, by source: the batch that took each."""
    return {u.requeue_of.split("/", 1)[1]: u.batch_id for u in list_uploads(ctx.home)
            if u.requeue_of and u.requeue_of.startswith(batch_id + "/")}


@router.get("/batches/{batch_id}/events")
async def batch_events(request: Request, batch_id: str, user: SignedIn) -> Response:
    """Server-sent events: the batch's progress, rendered as its page renders it, whenever
    it changes, until the batch ends (the browser reconnects if the stream breaks)."""
    viewer, _ = await to_thread.run_sync(_visible, request, user, batch_id)
    ctx = context(request)
    ends = ctx.clock() + STREAM_SECONDS

    async def events() -> AsyncIterator[str]:
        nonlocal viewer
        last = ""
        polls = 0
        while not await request.is_disconnected() and ctx.clock() < ends:
            try:  # who is asking, judged afresh: disabled, signed out, or moved off the unit
                viewer, _ = await to_thread.run_sync(_visible, request, page_user(request),
                                                     batch_id)
            except (HTTPException, NotSignedIn):
                return
            # The ledger every second; a Prefect server, if any, every SERVER_POLLS seconds:
            # each follower's page must not cost the server an API call a second.
            ask = polls % SERVER_POLLS == 0
            polls += 1
            batch = await to_thread.run_sync(_find, ctx, batch_id, ask)
            if batch is None:
                return
            shown = _shown(viewer, batch)
            html = templates.get_template("batch_progress.html").render(
                batch=shown, requeued=_requeued(ctx, batch_id),
                queues=user.role in QUEUERS)
            if html != last:
                last = html
                yield f"data: {json.dumps({'html': html, 'ended': shown['ended']})}\n\n"
            if shown["ended"]:
                return
            await asyncio.sleep(EVENT_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/batches/{batch_id}/documents/{index}/original")
def quarantined_original(request: Request, batch_id: str, index: int,
                         user: SignedIn) -> Response:
    """The copy of a quarantined document the quarantine keeps (a folder as a zip): the
    officer's original, to fix and queue again."""
    viewer, batch = _visible(request, user, batch_id)
    docs = batch.get("documents", [])
    if not 0 <= index < len(docs) or not viewer.sees_document(batch, docs[index]) \
            or docs[index].get("status") != "quarantined":
        raise HTTPException(404, "no such quarantined document")
    ctx = context(request)
    held = ctx.home / "quarantine" / batch_id / docs[index]["source"]
    if held.is_symlink() or not held.exists() or held.parent != ctx.home / "quarantine" / batch_id:
        raise HTTPException(404, "the quarantine holds no copy of it")
    ctx.audit.record(user.name, "quarantine-download", batch=batch_id,
                     source=docs[index]["source"], client=client(request))
    if held.is_file():
        return FileResponse(held, filename=held.name, content_disposition_type="attachment")
    work = Path(tempfile.mkdtemp(dir=ctx.home / "tmp" if (ctx.home / "tmp").is_dir() else None))
    archive = shutil.make_archive(str(work / held.name), "zip", held)
    return FileResponse(archive, filename=f"{held.name}.zip",
                        content_disposition_type="attachment",
                        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True))
