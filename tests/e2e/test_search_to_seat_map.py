"""Priya on her phone: search Mumbai -> Pune, open a trip, see and pick seats on the map."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.e2e


async def test_search_open_trip_and_pick_a_seat(live_server, browser, artifacts):
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = await context.new_page()
    await page.goto(live_server + "/")

    # Cities are suggested as she types (htmx replaces the datalist options).
    origin = page.get_by_label("From")
    await origin.press_sequentially("Lon", delay=30)
    await expect(page.locator("#origin-cities option")).to_have_count(1)
    await expect(page.locator("#origin-cities option")).to_have_attribute("value", "Lonavala")
    await origin.fill("Mumbai")
    await page.get_by_label("To").fill("Pune")
    tomorrow = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).date()
    await page.get_by_label("Date of travel").fill(tomorrow.isoformat())
    await page.get_by_role("button", name="Search buses").click()

    await expect(page.locator("h1")).to_contain_text("Mumbai → Pune")
    trips = page.locator("article.trip")
    await expect(trips.first).to_be_visible()
    total = await trips.count()
    assert total >= 4

    # Narrow to sleepers in place (htmx), without a page load.
    await page.get_by_label("Sleeper").check()
    await expect(page.locator("article.trip")).to_have_count(1)
    assert "kind=sleeper" in page.url
    await page.get_by_label("Sleeper").uncheck()
    await expect(page.locator("article.trip")).to_have_count(total)

    await trips.first.get_by_role("link", name="View seats").click()
    seat_map = page.locator("#seat-map")
    await expect(seat_map).to_be_visible()
    seats = page.locator("[id^=seat-][data-status]")
    assert await seats.count() == 40
    first = page.locator('[data-seat-number="1"]')
    await expect(first).to_have_attribute("data-status", "available")
    await first.click()
    await expect(first.locator("input")).to_be_checked()
    await page.screenshot(path=str(artifacts / "seat-map.png"), full_page=True)
    await context.close()


async def test_bad_search_shows_the_message_next_to_the_field(live_server, browser):
    page = await browser.new_page()
    await page.goto(live_server + "/")
    await page.get_by_label("From").fill("Atlantis")
    await page.get_by_label("To").fill("Pune")
    await page.get_by_role("button", name="Search buses").click()
    error = page.locator("#f-origin_city-error")
    await expect(error).to_contain_text("We don't serve “Atlantis” yet")
    await page.close()
