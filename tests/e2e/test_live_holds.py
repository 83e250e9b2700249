"""Two passengers watch one trip: a hold in one browser shows in the other within a second,
and when the hold expires both maps show the seat free again."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from domain.demo import DEMO_CUSTOMER as CUSTOMER
from tests.e2e.conftest import E2E_HOLD_SECONDS

pytestmark = pytest.mark.e2e


async def log_in(page: Page, base: str, email: str, password: str, next_path: str) -> None:
    await page.goto(f"{base}/users/login?next={next_path}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


async def first_trip_path(page: Page, base: str) -> str:
    tomorrow = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).date()
    await page.goto(
        f"{base}/schedules/search?origin_city=Mumbai&destination_city=Pune&date={tomorrow}"
    )
    href = await page.locator("article.trip a", has_text="View seats").first.get_attribute("href")
    assert href
    return href


async def test_hold_appears_live_and_expiry_frees_it_everywhere(
    short_hold_server, browser, artifacts
):
    live_server = short_hold_server
    priya_ctx = await browser.new_context(viewport={"width": 390, "height": 844})
    guest_ctx = await browser.new_context(viewport={"width": 1024, "height": 900})
    priya, guest = await priya_ctx.new_page(), await guest_ctx.new_page()

    trip = await first_trip_path(guest, live_server)
    await guest.goto(live_server + trip)
    await log_in(priya, live_server, *CUSTOMER, next_path=trip)
    await expect(priya.locator("#seat-map")).to_be_visible()

    seat = '[data-seat-number="7"]'
    await expect(guest.locator(seat)).to_have_attribute("data-status", "available")
    # Let the guest's live stream connect before the hold.
    await expect(guest.locator("#seat-map")).to_have_attribute("data-live", "live")
    await priya.locator(seat).click()
    await expect(priya.locator("#selection-summary")).to_contain_text("1 seat (7)")
    clicked = time.monotonic()
    await priya.get_by_role("button", name="Hold selected seats").click()
    await expect(priya.locator("[data-countdown]")).to_be_visible()

    await expect(guest.locator(seat)).to_have_attribute("data-status", "held", timeout=1000)
    seen_after = time.monotonic() - clicked
    await guest.screenshot(path=str(artifacts / "live-hold-guest.png"), full_page=True)

    await priya.goto(live_server + trip)
    await expect(priya.locator(seat)).to_have_attribute("data-status", "mine")

    # The hold runs out: both maps free the seat, without a reload.
    await expect(guest.locator(seat)).to_have_attribute(
        "data-status", "available", timeout=(E2E_HOLD_SECONDS + 3) * 1000
    )
    await expect(priya.locator(seat)).to_have_attribute("data-status", "available", timeout=2000)
    print(f"hold seen by the other browser {seen_after:.2f} s after the click")
    await priya_ctx.close()
    await guest_ctx.close()
