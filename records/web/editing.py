"""Correcting a record's description in the browser, and declassifying it with two people.

The editor (``/records/{id}/edit``) is for the roles that may correct (``CORRECTORS``) and,
for an officer, their units' records; above the clearance it is "no such record", like the
record. It shows the current values and sends back what it showed (``seen_version``): a
record changed by someone else meanwhile is refused (409), never overwritten. Only the
fields whose value the person changed are sent to ``correct_record``, so a value nobody
touched is never tidied into a correction. The classification can only be raised here; a
lower one is proposed (``/records/{id}/declassify``) and a second person approves or refuses
it on the record's page. Every refusal is one line on the form or an error page, never a
traceback; every act is audited by ``archive.review``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from archive.access import AccessError, User
from archive.review import (
    CorrectionRefused,
    Proposal,
    approve,
    correct_record,
    editable_record,
    open_proposals,
    proposal,
    propose,
    refuse,
)
from archive.signing import Sealer, SigningError
from archive.store import (
    EDITABLE,
    LEVELS,
    Descriptive,
    ObjectDamaged,
    RecordPaths,
    UnknownRecord,
    current_descriptive,
    level_of,
)
from records.web import shared
from records.web.context import check_csrf, client, context, csrf_token, page_user, templates
from records.web.flash import flash

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]


class CorrectionForm(BaseModel):
    """The editor as posted: each field as typed (None: not sent, so not changed), the reason,
    the version the form showed, and the form's token."""

    title: str | None = None
    date: str | None = None
    document_number: str | None = None
    document_type: str | None = None
    issuer: str | None = None
    series: str | None = None
    subjects: str | None = None  # separated by ';'
    language: str | None = None
    classification: str | None = None
    why: str = ""
    seen_version: str = ""
    csrf: str = ""

    def edits(self, current: Descriptive) -> dict[str, str]:
        """The fields whose posted value differs from the one the form showed."""
        return {name: value for name in EDITABLE
                if (value := getattr(self, name)) is not None and value != shown(current, name)}


@dataclass(frozen=True)
class ProposalView:
    """An open declassification on the record's page, and what this user may do with it."""

    proposal: Proposal
    decide: bool  # approve or refuse: a second person, cleared, allowed to correct
    own: bool  # the user proposed it: they may withdraw it


@dataclass(frozen=True)
class RecordActions:
    """What the record's page offers this user beyond reading."""

    may_correct: bool
    proposals: list[ProposalView]


def shown(current: Descriptive, name: str) -> str:
    """A field's value as the editor shows it (subjects separated by '; ')."""
    value = getattr(current, name)
    return "; ".join(value) if isinstance(value, list) else str(value)


def sealer(request: Request) -> Sealer | None:
    """The seal, to vouch for a new version and certify its corrected copy (None when
    signing is off; 503 when the key cannot be opened)."""
    ctx = context(request)
    return ctx.seal.sealer(ctx.settings.signing, ctx.home)


@contextmanager
def refusals(request: Request, user: User, action: str, record_id: str = "",
             missing: str = "no such record", refused: int = 400) -> Iterator[None]:
    """The review wing's refusals as answers: a record above the clearance is ``missing``
    (404) like one that does not exist, a role or unit that may not is 403, an act that
    cannot be done as asked is ``refused`` (400; 409 where it conflicts with another's act);
    the first two are audited as denied."""
    try:
        yield
    except UnknownRecord:
        _denied(request, user, action, record_id)
        raise HTTPException(404, missing) from None
    except AccessError as exc:
        _denied(request, user, action, record_id)
        raise HTTPException(403, exc.reason) from None
    except CorrectionRefused as exc:
        raise HTTPException(refused, exc.reason) from None
    except SigningError as exc:  # the corrected copy could not be certified: nothing made
        raise HTTPException(503, f"the corrected copy cannot be signed: {exc.reason}") from None


def _denied(request: Request, user: User, action: str, record_id: str) -> None:
    context(request).audit.record(user.name, action, record_id=record_id[:64] or None,
                                  outcome="denied", client=client(request))


def editable(request: Request, user: User, record_id: str,
             action: str) -> tuple[RecordPaths, dict[str, Any]]:
    """The record's paths and row if ``user`` may correct it: 404 above the clearance (as
    for no record), 403 for a role or unit that may not; both audited."""
    paths, _ = shared.catalogued_within_clearance(request, record_id, user, action)
    with refusals(request, user, action, record_id):
        row = editable_record(context(request).catalog, user, record_id)
    return paths, row


def record_actions(request: Request, user: User, record_id: str) -> RecordActions:
    """What the record's page offers ``user``: the editor, and the open proposals to lower
    its classification (to those who may correct it)."""
    try:
        editable_record(context(request).catalog, user, record_id)
    except (AccessError, UnknownRecord):
        return RecordActions(False, [])
    found = open_proposals(context(request).catalog, user.clearance, record_id)
    return RecordActions(True, [ProposalView(p, decide=p.proposed_by != user.name,
                                             own=p.proposed_by == user.name) for p in found])


def _current(request: Request, user: User, paths: RecordPaths) -> Descriptive:
    try:
        return current_descriptive(paths)
    except (ObjectDamaged, OSError, ValueError, KeyError, TypeError) as exc:
        raise shared.damaged(request, user, paths, "correct", exc) from None


def _editor(request: Request, user: User, paths: RecordPaths, *,
            form: CorrectionForm | None = None, error: str = "", proposal_error: str = "",
            status_code: int = 200) -> Response:
    """The editor: the current values (or those just posted, with why they were refused)."""
    current = _current(request, user, paths)
    values = {name: shown(current, name) for name in EDITABLE}
    if form is not None:
        values.update({name: v for name in EDITABLE if (v := getattr(form, name)) is not None})
    level = level_of(current.classification)
    return templates.TemplateResponse(request, "edit.html", {
        "user": user, "csrf": csrf_token(request), "rid": paths.record_id, "current": current,
        "values": values, "raise_to": LEVELS[level: user.clearance + 1],
        "lower_to": LEVELS[:level], "why": form.why if form else "",
        "seen_version": form.seen_version if form else paths.inventory.head,
        "error": error, "proposal_error": proposal_error,
        "proposals": open_proposals(context(request).catalog, user.clearance,
                                    paths.record_id)}, status_code=status_code)


@router.get("/records/{record_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, record_id: str, user: SignedIn) -> Response:
    paths, _ = editable(request, user, record_id, "correct")
    return _editor(request, user, paths)


@router.post("/records/{record_id}/edit", response_class=HTMLResponse)
def edit_form(request: Request, record_id: str, user: SignedIn,
              form: Annotated[CorrectionForm, Form()]) -> Response:
    """Save the changed fields as a new version; back to the record, or the form again with
    the reason (409 when the record changed since the form was opened, else 400)."""
    check_csrf(request, form.csrf)
    paths, _ = editable(request, user, record_id, "correct")
    edits = form.edits(_current(request, user, paths))
    with refusals(request, user, "correct", record_id):
        try:
            if not edits:
                raise CorrectionRefused("nothing to correct: every value is as it was")
            done = correct_record(context(request).home, context(request).catalog, user,
                                  record_id, edits, form.why, vouch=None, sealer=sealer(request),
                                  seen_version=form.seen_version or None)
        except CorrectionRefused as exc:
            stale = bool(form.seen_version) and form.seen_version != paths.inventory.head
            return _editor(request, user, paths, form=form, error=exc.reason,
                           status_code=409 if stale else 400)
    act = done.correction
    flash(request, f"Corrected {', '.join(sorted(act.changes))}: saved as {act.version}.")
    return RedirectResponse(f"/records/{record_id}", status_code=303)


@router.post("/records/{record_id}/declassify", response_class=HTMLResponse)
def declassify_form(request: Request, record_id: str, user: SignedIn,
                    to: Annotated[str, Form()] = "", why: Annotated[str, Form()] = "",
                    csrf: Annotated[str, Form()] = "") -> Response:
    """Propose a lower classification; a second person decides on the record's page."""
    check_csrf(request, csrf)
    paths, _ = editable(request, user, record_id, "declassify-propose")
    with refusals(request, user, "declassify-propose", record_id):
        try:
            made = propose(context(request).home, context(request).catalog, user, record_id,
                           to, why)
        except CorrectionRefused as exc:
            return _editor(request, user, paths, proposal_error=exc.reason, status_code=400)
    flash(request, f"Proposed lowering {made.before} to {made.after}: a second person must "
                   "approve it.")
    return RedirectResponse(f"/records/{record_id}", status_code=303)


def _proposal_of(request: Request, user: User, text: str, action: str) -> Proposal:
    """The proposal a URL names; 404 for none, and for one of a record the user may not see
    (its existence is not theirs to learn)."""
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0
    try:
        found = proposal(context(request).catalog, number)
    except CorrectionRefused:
        raise HTTPException(404, "no such proposal") from None
    with refusals(request, user, action, found.record_id, missing="no such proposal"):
        editable_record(context(request).catalog, user, found.record_id)
    return found


@router.post("/declassifications/{proposal_id}/approve")
def approve_form(request: Request, proposal_id: str, user: SignedIn,
                 csrf: Annotated[str, Form()] = "") -> Response:
    """The second person's approval: the record is corrected to the lower classification."""
    check_csrf(request, csrf)
    found = _proposal_of(request, user, proposal_id, "declassify-approve")
    with refusals(request, user, "declassify-approve", found.record_id, "no such proposal",
                  refused=409):
        done = approve(context(request).home, context(request).catalog, user, found.id,
                       vouch=None, sealer=sealer(request))
    flash(request, f"Approved: {found.record_id} is now {found.after} "
                   f"({done.correction.version}).")
    return RedirectResponse(f"/records/{found.record_id}", status_code=303)


@router.post("/declassifications/{proposal_id}/refuse")
def refuse_form(request: Request, proposal_id: str, user: SignedIn,
                csrf: Annotated[str, Form()] = "") -> Response:
    """Refuse a proposal (its proposer: withdraw it); nothing changes."""
    check_csrf(request, csrf)
    found = _proposal_of(request, user, proposal_id, "declassify-refuse")
    with refusals(request, user, "declassify-refuse", found.record_id, "no such proposal",
                  refused=409):
        decided = refuse(context(request).home, context(request).catalog, user, found.id)
    flash(request, f"The proposal to lower {found.record_id} to {found.after} is "
                   f"{decided.state}.")
    return RedirectResponse(f"/records/{found.record_id}", status_code=303)
