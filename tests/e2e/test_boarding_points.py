"""Issue 12: the boarding and dropping points a passenger picks, each at its own time, come
back on the hold page, the booking page and the PDF ticket; a Devanagari name prints in it."""

from __future__ import annotations

import io
import re

import pytest
from playwright.async_api import expect
from pypdf import PdfReader

from domain.demo import DEMO_CUSTOMER
from tests.e2e.test_live_holds import log_in

pytestmark = pytest.mark.e2e

SIZES = {"phone": (390, 844), "desktop": (1280, 800)}


async def trip_path(page, base: str, nth: int) -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    day = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).date()
    await page.goto(f"{base}/schedules/search?origin_city=Mumbai&destination_city=Pune&date={day}")
    href = (
        await page.locator("article.trip a", has_text="View seats").nth(nth).get_attribute("href")
    )
    assert href
    return href


@pytest.mark.parametrize("size", SIZES)
async def test_the_chosen_points_and_times_follow_the_booking(
    live_server, browser, artifacts, size
):
    width, height = SIZES[size]
    context = await browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    page = await context.new_page()
    trip = await trip_path(page, live_server, nth=list(SIZES).index(size))
    await log_in(page, live_server, *DEMO_CUSTOMER, next_path=trip)
    for select, name in (("#boarding-point", "Dadar TT Circle"), ("#dropping-point", "Swargate")):
        option = page.locator(f"{select} option", has_text=name)
        await page.locator(select).select_option(await option.get_attribute("value"))
    # "23:10 · Dadar TT Circle (Opposite …)" as the trip page offers them
    board = (await page.locator("#boarding-point option:checked").inner_text()).split(" (")[0]
    drop = (await page.locator("#dropping-point option:checked").inner_text()).split(" (")[0]
    await page.locator('.seat-cell[data-status="available"]').first.click()
    await page.get_by_role("button", name="Hold selected seats").click()
    await expect(page.locator("[data-countdown]")).to_be_visible()

    facts = page.locator(".hold dl.facts")
    await expect(facts).to_contain_text(board)
    await expect(facts).to_contain_text("Boarding point in Mumbai, Opposite Swaminarayan Temple")
    await expect(facts).to_contain_text(drop)
    await page.screenshot(path=str(artifacts / f"points-hold-{size}.png"))
    # nothing runs off the side of a phone
    assert await page.evaluate("document.documentElement.scrollWidth") <= width

    await page.get_by_label("Full name").first.fill("अनीता देवी")
    await page.get_by_label("Age").first.fill("31")
    await page.get_by_label("Gender").first.select_option("female")
    await page.get_by_label("UPI").check()
    await page.get_by_role("button", name="Pay").click()
    await page.get_by_role("button", name="Approve payment").click()
    await expect(page.locator("h1")).to_contain_text("Booking BK")
    facts = page.locator("dl.facts")
    await expect(facts).to_contain_text(board)
    await expect(facts).to_contain_text(drop)
    await page.screenshot(path=str(artifacts / f"points-booking-{size}.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= width

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download PDF").click()
    download = await download_info.value
    text = PdfReader(io.BytesIO((await download.path()).read_bytes())).pages[0].extract_text()
    board_time, board_name = board.split(" · ", 1)
    assert re.search(rf"{board_time}\s+{re.escape(board_name)}", text), text
    assert drop.split(" · ")[0] in text and "Swargate" in text
    assert "अनीता देवी" in text
    await context.close()
