"""Launch Debian's chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

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
    """Yield a headless chromium browser."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save what ``page`` shows as ``SCREENSHOTS/name.png`` and return the file."""
    path = SCREENSHOTS / f"{name}.png"  # Playwright makes the folder
    await page.screenshot(path=str(path), full_page=full_page)
    return path
