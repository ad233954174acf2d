"""Correcting a page's words on its image: the scan with each word's box, and the words in
lines beside it, each a field a person can fix.

The boxes are Tesseract's (the page's ALTO); a box is a link to its word's field, and words
the OCR was unsure of are marked on both. Only the words a person changed are sent to
``correct_record``: the corrected ALTO keeps every box and id, the search index takes the
corrected words at once, and the OCR's own text stays in the record as it was. The page is
drawn from the signed PDF, larger than a thumbnail and kept as thumbnails are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from archive.access import User
from archive.review import CorrectionRefused, correct_record
from archive.store import ObjectDamaged, PageWords, RecordPaths, Word, page_words
from records.web import shared
from records.web.context import check_csrf, context, csrf_token, page_user, templates
from records.web.editing import editable, refusals, sealer
from records.web.flash import flash, take_flash
from records.web.thumbnails import Busy, ThumbnailFailed

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]
IMAGE_WIDTH = 1000  # pixels: words of a 300 dpi letter stay legible, a page stays ~150 KB
UNSURE = 0.6  # a word the OCR gave less confidence than this is marked for the eye
MAX_FIELDS = 5000  # a dense page has 600 words; a form with more is not one of ours


@dataclass(frozen=True)
class Box:
    """A word's box as shares of the page (CSS percentages), with its word."""

    word: Word
    left: float
    top: float
    width: float
    height: float
    unsure: bool


def boxes(page: PageWords) -> list[Box]:
    """Each word's box in percent of the page, so it sits on the image at any width."""
    if page.width <= 0 or page.height <= 0:
        return []
    return [Box(w, round(100 * w.left / page.width, 3), round(100 * w.top / page.height, 3),
                round(100 * w.width / page.width, 3), round(100 * w.height / page.height, 3),
                w.confidence is not None and w.confidence < UNSURE)
            for line in page.lines for w in line]


def _page(request: Request, user: User, record_id: str, number: str,
          action: str) -> tuple[RecordPaths, PageWords]:
    paths, row = editable(request, user, record_id, action)
    page = shared.page_number(number, int(row["pages"] or 0))
    if page is None:
        raise HTTPException(404, "no such page")
    try:
        words = page_words(paths, page)
    except (ObjectDamaged, OSError, ValueError) as exc:
        raise shared.damaged(request, user, paths, action, exc) from None
    if words is None:
        raise HTTPException(404, f"page {page} has no word boxes to correct (its text came "
                                 "with the PDF)")
    return paths, words


@router.get("/records/{record_id}/pages/{number}/text", response_class=HTMLResponse)
def text_page(request: Request, record_id: str, number: str, user: SignedIn) -> Response:
    paths, words = _page(request, user, record_id, number, "correct")
    return _show(request, user, paths, words)


def _show(request: Request, user: User, paths: RecordPaths, words: PageWords,
          error: str = "", why: str = "", status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, "page_text.html", {
        "user": user, "csrf": csrf_token(request), "rid": paths.record_id, "page": words,
        "boxes": boxes(words), "seen_version": paths.inventory.head, "error": error,
        "why": why, "image_width": IMAGE_WIDTH, "flash": take_flash(request),
        "image_height": round(IMAGE_WIDTH * words.height / words.width) if words.width else 0,
    }, status_code=status_code)


@router.post("/records/{record_id}/pages/{number}/text", response_class=HTMLResponse)
async def text_form(request: Request, record_id: str, number: str,
                    user: SignedIn) -> Response:
    """Save the changed words as a new version; back to the page, with what was saved. The
    form is read here; the rest, which signs (the seal runs its own event loop), in a
    worker thread as every plain route runs."""
    form = await request.form(max_fields=MAX_FIELDS)
    fields = {key: str(value) for key, value in form.items()}
    return await run_in_threadpool(_save, request, user, record_id, number, fields)


def _save(request: Request, user: User, record_id: str, number: str,
          form: dict[str, str]) -> Response:
    check_csrf(request, form.get("csrf", ""))
    paths, words = _page(request, user, record_id, number, "correct")
    said = {w.id: w.text for line in words.lines for w in line}
    changed = {key[2:]: value for key, value in form.items()
               if key.startswith("w_") and said.get(key[2:]) != value}
    why = form.get("why", "")
    with refusals(request, user, "correct", record_id):
        try:
            if not changed:
                raise CorrectionRefused("nothing to correct: every word is as it was")
            done = correct_record(context(request).home, context(request).catalog, user,
                                  record_id, {}, why, vouch=None, sealer=sealer(request),
                                  seen_version=form.get("seen_version") or None,
                                  words={words.number: changed})
        except CorrectionRefused as exc:
            return _show(request, user, paths, words, exc.reason, why, status_code=400)
    count = sum(len(w) for w in done.correction.words.values())
    flash(request, f"Corrected {count} word{'s' if count != 1 else ''} on page "
                   f"{words.number}: saved as {done.correction.version}.")
    return RedirectResponse(f"/records/{record_id}/pages/{words.number}/text", status_code=303)


@router.get("/records/{record_id}/pages/{number}/image")
def image(request: Request, record_id: str, number: str, user: SignedIn) -> Response:
    """The page drawn large enough to read its words (for those who may correct them)."""
    paths, words = _page(request, user, record_id, number, "correct")
    ctx = context(request)
    try:
        picture = ctx.drawing.kept(ctx.home, paths, words.number, width=IMAGE_WIDTH)
    except (ObjectDamaged, OSError, ValueError) as exc:
        raise shared.damaged(request, user, paths, "correct", exc) from None
    except Busy as exc:
        raise HTTPException(503, exc.reason, headers={"Retry-After": "2"}) from None
    except ThumbnailFailed as exc:
        raise HTTPException(503, exc.reason) from None
    return Response(picture.read_bytes(), media_type="image/png")
