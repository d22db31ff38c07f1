"""A real headless Chromium driven by Playwright, and the checks every page gets: no console
errors, no accessibility violations (axe-core, shipped in tests/web/vendor), and screenshots.

The browser is the machine's Chromium (Debian package `chromium`); Playwright's own browser
download is never used. Without Chromium the browser tests skip, saying how to install it
(`make test` installs it when it runs as root).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

VENDOR = Path(__file__).resolve().parents[1] / "web" / "vendor"
#: With TUNIX_RT_UI_SCREENSHOTS=DIR the page checks save screenshots there (docs/screenshots).
SCREENSHOTS_ENV = "TUNIX_RT_UI_SCREENSHOTS"
SIZES = {"wide": (1280, 800), "narrow": (640, 900)}
CHROMIUM_MISSING = (
    "the browser tests need Chromium: install the Debian package `chromium` "
    "(`make test` does when run as root)"
)


def chromium_path() -> str | None:
    """The Chromium binary itself (Debian's /usr/bin/chromium is a shell wrapper around it)."""
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def launched_browser() -> Iterator[Browser]:
    executable = chromium_path()
    assert executable is not None, CHROMIUM_MISSING
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageErrors:
    """What went wrong in the browser while a test ran: console errors and uncaught errors."""

    messages: list[str] = field(default_factory=list)
    #: Pages the test navigated to that answered 4xx on purpose (an error page it checks): the
    #: browser logs their status as a console error, which is not a fault of the page.
    error_pages: set[str] = field(default_factory=set)

    def console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        page_url = url.split("#", 1)[0]  # a form may post to an address with a fragment
        if message.type == "error" and not (
            message.text.startswith("Failed to load resource") and page_url in self.error_pages
        ):
            self.messages.append(f"console: {message.text} ({url})")

    def response(self, response: Response) -> None:
        if response.request.is_navigation_request() and response.status >= 400:
            self.error_pages.add(response.url)

    def uncaught(self, error: Any) -> None:
        self.messages.append(f"uncaught: {error}")

    def watch(self, page: Page) -> None:
        page.on("response", self.response)
        page.on("console", self.console)
        page.on("pageerror", self.uncaught)


def axe_violations(page: Page) -> list[str]:
    """WCAG 2 A and AA violations on the page as it is now, one line each."""
    page.add_script_tag(path=str(VENDOR / "axe.min.js"))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', "
        "values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations"
    )
    return [
        f"{v['id']}: {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:3])}"
        for v in result
    ]


def check_page(page: Page, name: str, at: str | None = None) -> None:
    """Fail on accessibility violations in light and dark mode; with TUNIX_RT_UI_SCREENSHOTS
    set, save `NAME-wide.png` (1280 x 800) and `NAME-narrow.png` (640 x 900) there, of the
    page's top or, with `at`, from the element of that CSS selector down."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        violations = axe_violations(page)
        assert violations == [], f"{name} ({scheme}): {violations}"
    page.emulate_media(color_scheme="light")
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        original = page.viewport_size
        for size, (width, height) in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            if at is None:  # a page as it opens, not where a test left it
                page.evaluate("window.scrollTo(0, 0)")
            else:
                page.locator(at).evaluate("element => element.scrollIntoView()")
            page.screenshot(path=str(Path(folder) / f"{name}-{size}.png"))
        if original:
            page.set_viewport_size(original)
