"""What every answer of the web app tells the browser about itself: no scripts but its own
(served from ``/static``, none inline), no framing by another site, no guessing of content
types, and nothing kept in a cache. A record's page and its PDF hold what only cleared users
may see; a shared office computer's browser cache, or a proxy's, must not keep them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts only from the app's own /static files: inline ones, and any from elsewhere, are
# refused, so text that slipped through escaping could still not run. A batch page follows
# its batch by server-sent events ('self'). Styles are inline in the templates. A record's
# page frames its own PDF ('self').
PAGE_POLICY = ("default-src 'none'; script-src 'self'; connect-src 'self'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
               "form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
# A PDF is shown by the browser's own viewer, which a page policy would hinder: only who may
# frame it is said.
PDF_POLICY = "frame-ancestors 'self'"
COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    # Never to other sites (a record's address names it); within the app, so an expired
    # form's page can lead back to the page it came from.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


class SecurityHeaders:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware would buffer every streamed PDF)."""

    def __init__(self, app: ASGIApp, tls: bool = False) -> None:
        self.app = app
        # Behind TLS (``web.secure_cookies``), browsers are told to come back only over it.
        self.common = (*COMMON, (b"strict-transport-security", b"max-age=31536000")) if tls \
            else COMMON

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"cache-control", b"content-security-policy")]
                pdf = any(k.lower() == b"content-type" and v.startswith(b"application/pdf")
                          for k, v in headers)
                policy = PDF_POLICY if pdf else PAGE_POLICY
                message["headers"] = [*headers, *self.common,
                                      (b"content-security-policy", policy.encode())]
            await send(message)

        await self.app(scope, receive, with_headers)
