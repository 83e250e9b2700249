"""Priya books two berths end to end in the browser and downloads her ticket."""

from __future__ import annotations

import io

import pytest
from playwright.async_api import expect
from pypdf import PdfReader

from domain.demo import DEMO_CUSTOMER
from tests.e2e.test_live_holds import first_trip_path, log_in

pytestmark = pytest.mark.e2e


async def test_hold_pay_with_the_simulator_and_download_the_pdf(live_server, browser, artifacts):
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, accept_downloads=True
    )
    page = await context.new_page()
    trip = await first_trip_path(page, live_server)
    await log_in(page, live_server, *DEMO_CUSTOMER, next_path=trip)
    for number in ("33", "34"):
        await page.locator(f'[data-seat-number="{number}"]').click()
    await page.get_by_role("button", name="Hold selected seats").click()
    await expect(page.locator("[data-countdown]")).to_be_visible()

    # A mistake first: the second passenger's age is missing. Nothing typed is lost.
    names = page.get_by_label("Full name")
    await names.nth(0).fill("Priya Sharma")
    await names.nth(1).fill("Arjun Sharma")
    await page.get_by_label("Age").nth(0).fill("31")
    await page.get_by_label("Gender").nth(0).select_option("female")
    await page.get_by_label("Gender").nth(1).select_option("male")
    await page.get_by_label("UPI").check()
    await page.get_by_role("button", name="Pay").click()
    await expect(page.get_by_text("Enter an age between 1 and 120")).to_be_visible()
    await expect(page.get_by_label("Full name").nth(1)).to_have_value("Arjun Sharma")
    await page.get_by_label("Age").nth(1).fill("29")
    await page.get_by_role("button", name="Pay").click()

    await expect(page.get_by_role("heading", name="Pay ₹")).to_be_visible()
    await page.get_by_role("button", name="Approve payment").click()
    await expect(page.locator("h1")).to_contain_text("Booking BK")
    await expect(page.locator(".ticket__qr svg")).to_be_visible()
    await page.screenshot(path=str(artifacts / "booking.png"), full_page=True)
    number = (await page.locator("#ticket-title").inner_text()).removeprefix("Ticket ").strip()

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download PDF").click()
    download = await download_info.value
    pdf = PdfReader(io.BytesIO((await download.path()).read_bytes()))
    text = pdf.pages[0].extract_text()
    assert len(pdf.pages) == 1
    assert number in text and "Priya Sharma" in text and "Arjun Sharma" in text
    await context.close()
