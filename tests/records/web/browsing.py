"""What the browser tests share: opening a page as a user at a given width, and the two checks
every page must pass, accessibility (axe-core at WCAG 2.1 AA) and fitting a phone's width.

axe-core comes from the ``axe-playwright-python`` package (its ``axe.min.js`` is in the
wheel), so nothing is fetched from a CDN. It is injected with ``page.evaluate``, which runs
through the DevTools protocol: the app's Content-Security-Policy, which refuses every script,
does not stop it, so the pages are checked under the very policy users get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.records.web.conftest import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}  # a small phone upright: the narrowest
WIDTHS: dict[int, ViewportSize] = {1280: DESKTOP, 375: PHONE}
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


def open_as(browser: Browser, server: str, path: str, user: str | None,
            viewport: ViewportSize = DESKTOP) -> Page:
    """A fresh browser context at ``viewport`` showing ``path``, signed in through the login
    form as ``user`` first (``None``: not signed in). The page must have answered 200: an
    error page that happens to be accessible would let the real page go unchecked."""
    page = browser.new_context(viewport=viewport).new_page()
    if user is None:
        page.goto(server + path)
    else:
        page.goto(f"{server}/login?next={quote(path, safe='')}")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server + path)
    status = page.evaluate("performance.getEntriesByType('navigation')[0].responseStatus")
    assert status == 200, f"{path} as {user}: HTTP {status}"
    return page


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.0 and 2.1, levels A and AA, on the page as it is."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)},
               "resultTypes": ["violations"]}
    return Axe().run(page, options=options).response["violations"]


def describe(violations: list[dict[str, Any]], most: int = 8) -> str:
    """One paragraph per violation: what rule, how bad, what to do, and where (the first
    ``most`` places: a wrong colour in a table repeats on every row, and the rest is noise)."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        lines += [f"    at {', '.join(map(str, node['target']))}" for node in v["nodes"][:most]]
        if len(v["nodes"]) > most:
            lines.append(f"    and {len(v['nodes']) - most} more")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail with every axe-core violation at WCAG 2.1 AA, in one readable message."""
    violations = axe_violations(page)
    assert not violations, (f"{len(violations)} accessibility violation(s) on {page.url}:\n"
                            + describe(violations))


# The elements whose right edge passes the viewport's: what to fix when a page scrolls sideways.
_OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.body.querySelectorAll('*')].filter(
    e => e.getBoundingClientRect().right > width + 0.5);
  const innermost = wide.filter(e => !wide.some(o => o !== e && e.contains(o)));
  return innermost.slice(0, 10).map(e => e.tagName.toLowerCase()
    + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string'
      ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + ' (right edge ' + Math.round(e.getBoundingClientRect().right) + ' px)');
}"""


def assert_no_horizontal_scroll(page: Page) -> None:
    """At a phone's width (375x740), the page must not scroll sideways: the document is no
    wider than the viewport. Fails naming the innermost elements that stick out."""
    if page.viewport_size != PHONE:
        page.set_viewport_size(PHONE)
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if scroll <= client:
        return
    culprits = "\n".join(f"    {c}" for c in page.evaluate(_OVERFLOWING))
    raise AssertionError(f"{page.url} scrolls sideways at {PHONE['width']} px: the document "
                         f"is {scroll} px wide for {client} px; sticking out:\n{culprits}")
