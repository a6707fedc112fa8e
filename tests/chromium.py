"""Launch Debian's chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, WebError, async_playwright

from bot.settings import PROJECT_ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Where the browser tests leave a picture of each page they look at, for a reviewer to open.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or PROJECT_ROOT / "var" / "screenshots")
# Without the background-networking flags chromium keeps dialling Google's hosts, which this
# network refuses; the rest are the usual flags for headless chromium as root in a container.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Yield a headless chromium browser; fail the test if any of its pages threw an uncaught error.

    A script that throws (a missing import, a typo) leaves a page half-wired while its markup looks fine,
    so a test could pass on what the page still shows: every context the test opens reports its errors.
    """
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        new_context = browser.new_context

        def report(error: WebError) -> None:
            errors.append(f"{error.page.url if error.page else 'a page'}: {error.error}")

        async def reporting_context(**options: Any) -> BrowserContext:
            context = await new_context(**options)
            context.on("weberror", lambda error: report(error))
            return context

        browser.new_context = reporting_context  # type: ignore[method-assign]
        try:
            yield browser
        finally:
            await browser.close()
    assert not errors, "uncaught errors in the pages:\n" + "\n".join(errors)


# axe-core from the npm registry (`make ui`), run inside the page under test.
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
_BLOCKING = ("serious", "critical")


async def assert_accessible(page: Page, name: str) -> None:
    """Run axe-core (WCAG 2.1 A/AA and best practices) on what ``page`` shows; fail on serious or worse.

    The script is evaluated through the DevTools protocol, which the pages' CSP (script-src 'self') does
    not block, so the page is checked exactly as staff and customers get it.
    """
    await page.evaluate(AXE.read_text() + "\n;0")
    violations = await page.evaluate(
        """async () => (await axe.run(document)).violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " → " + n.failureSummary)}))"""
    )
    blocking = [v for v in violations if v["impact"] in _BLOCKING]
    report = "\n".join(
        f"{v['impact']} {v['id']} ({v['help']}):\n  " + "\n  ".join(v["nodes"]) for v in blocking
    )
    assert not blocking, f"axe-core on {name}:\n{report}"


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save what ``page`` shows as ``SCREENSHOTS/name.png`` and return the file."""
    path = SCREENSHOTS / f"{name}.png"  # Playwright makes the folder
    await page.screenshot(path=str(path), full_page=full_page)
    return path
