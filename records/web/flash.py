"""One-shot messages ("flash") from a form's POST to the page it redirects to.

A form that changed something answers 303 to a page (so reloading it does not post again),
and that page says what was done. The message travels in the signed session, never in the
URL: a query parameter would let any link make the app say anything in its own voice (a
green "done" under the app's name is a phishing tool), and would leave it in the browser's
history and the server's access log.
"""

from __future__ import annotations

from fastapi import Request

FLASH_KEY = "flash"
FLASH_LENGTH = 300  # the session is a cookie: a message is one line, not a report


def flash(request: Request, text: str) -> None:
    """Keep ``text`` for the next page that shows messages."""
    request.session[FLASH_KEY] = " ".join(text.split())[:FLASH_LENGTH]


def take_flash(request: Request) -> str:
    """The message kept for this page, removed so that it is shown once."""
    text = request.session.pop(FLASH_KEY, "")
    return text if isinstance(text, str) else ""
