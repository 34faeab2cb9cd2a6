"""Debian's Chromium, driven headless by Playwright (installed by `make test`; nothing downloads a browser)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # the screenshots the browser tests save
# How long an `expect(...)` waits for its condition unless the test says otherwise. Playwright's own is 5 s, which a
# page's `set_default_timeout` does not change: on CI's busy cores a proof of work or a server's answer took longer.
EXPECT_SECONDS = 15.0


async def until_true(page: Page, expression: str, timeout: float = 10.0) -> None:
    """Wait until `expression`, evaluated in the page, is truthy. Not `page.wait_for_function`: it polls by `eval`
    in the page, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses from the second poll on
    (microsoft/playwright#7395), so it failed whenever the condition did not hold at once. Each `evaluate` here is
    the DevTools protocol's own, which the policy does not govern."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(expression):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never true in the page within {timeout} s: {expression}")
        await asyncio.sleep(0.05)


async def plays_past(video: Locator, seconds: float, timeout: float = 10.0) -> bool:
    """Start `video` and wait until it has played past `seconds`: False if it never did within `timeout`. Not a
    fixed wait read once: on a loaded machine the decoder can fall behind a clip that plays."""
    await video.evaluate("v => v.play()")
    deadline = asyncio.get_running_loop().time() + timeout
    while await video.evaluate("v => v.currentTime") <= seconds:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
