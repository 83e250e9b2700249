"""Rahul releases a stuck hold; Priya's open seat map shows the seat free within a second."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from domain.demo import DEMO_ADMIN, DEMO_CUSTOMER
from tests.e2e.test_live_holds import first_trip_path, log_in

pytestmark = pytest.mark.e2e


async def test_admin_release_frees_the_seat_on_the_customers_map(live_server, browser):
    priya_ctx, rahul_ctx = await browser.new_context(), await browser.new_context()
    priya, rahul = await priya_ctx.new_page(), await rahul_ctx.new_page()
    trip = await first_trip_path(priya, live_server)
    await log_in(priya, live_server, *DEMO_CUSTOMER, next_path=trip)
    seat = '[data-seat-number="21"]'
    await priya.locator(seat).click()
    await priya.get_by_role("button", name="Hold selected seats").click()
    await expect(priya.locator("[data-countdown]")).to_be_visible()
    await priya.goto(live_server + trip)
    await expect(priya.locator(seat)).to_have_attribute("data-status", "mine")
    await expect(priya.locator("#seat-map")).to_have_attribute("data-live", "live")

    await log_in(rahul, live_server, *DEMO_ADMIN, next_path="/admin/reservations?q=priya")
    card = rahul.locator("article", has_text="Priya Sharma").first
    await card.get_by_label("Reason for releasing").fill("Payment failed; customer called")
    await card.get_by_role("button", name="Release hold").click()
    await expect(rahul.get_by_role("status")).to_contain_text("released")

    await expect(priya.locator(seat)).to_have_attribute("data-status", "available", timeout=1000)
    await rahul.goto(live_server + "/admin/activity-logs?action=reservation.released")
    await expect(rahul.locator("table")).to_contain_text("Payment failed; customer called")
    await priya_ctx.close()
    await rahul_ctx.close()
