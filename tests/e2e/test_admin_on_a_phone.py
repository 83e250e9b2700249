"""Rahul runs the console from his phone: no page is wider than the screen; a wide table
scrolls inside its own box instead of dragging the whole page (and the menu) sideways."""

from __future__ import annotations

import pytest

from domain.demo import DEMO_ADMIN
from tests.e2e.test_live_holds import log_in

pytestmark = pytest.mark.e2e

PAGES = (
    "/admin/schedules",
    "/admin/bookings?q=priya",
    "/admin/activity-logs",
    "/admin/buses",
    "/admin/api-keys",
)


async def test_console_pages_fit_a_phone_screen(live_server, browser, artifacts):
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin")
    too_wide = {}
    for path in PAGES:
        await page.goto(live_server + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
    await page.goto(live_server + "/admin/schedules")
    await page.screenshot(path=str(artifacts / "admin-trips-phone.png"))
    assert too_wide == {}
    await context.close()
