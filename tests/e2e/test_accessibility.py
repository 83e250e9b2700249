"""axe-core over every page of the site, on a phone and on a desktop: a guest's (search,
trip, sign-in, an error page, the API docs), a passenger's (hold, payment, booking, ticket,
cancellation, lists, profile) and an operator's (every console page). The autouse
`page_checks` (conftest.py) audits each load and fails on a serious or critical violation;
this module makes sure each page was audited, after it settled."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from domain.demo import DEMO_ADMIN, DEMO_CUSTOMER
from tests.e2e import axe
from tests.e2e.test_live_holds import log_in

pytestmark = pytest.mark.e2e

SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True},
    "desktop": {
        "viewport": {"width": 1280, "height": 800},
        "is_mobile": False,
        "seats": ("15", "16"),
    },
}
ADMIN_PAGES = (
    "/admin",
    "/admin/reservations",
    "/admin/bookings?q=priya",
    "/admin/activity-logs",
    "/admin/boarding",
    "/admin/buses",
    "/admin/routes",
    "/admin/schedules",
    "/admin/payments",
    "/admin/api-keys",
)


def here(page: Page) -> str:
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def audited(page: Page, findings: axe.Findings, since: int) -> str:
    """Wait for the audit of the page now shown (page_checks runs it on load)."""
    url = here(page)
    for _ in range(300):
        if url in findings.urls[since:]:
            return url
        await asyncio.sleep(0.1)
    raise AssertionError(f"axe did not audit {url}")


async def visit(page: Page, base: str, path: str, findings: axe.Findings) -> str:
    since = len(findings.urls)
    await page.goto(base + path)
    return await audited(page, findings, since)


@pytest.mark.parametrize("size", SIZES)
async def test_every_page_passes_axe(live_server, browser, artifacts, page_checks, size):
    _, findings = page_checks
    shape = SIZES[size]
    seen: list[str] = []

    # A guest.
    guest = await browser.new_context(viewport=shape["viewport"], is_mobile=shape["is_mobile"])
    page = await guest.new_page()
    seen.append(await visit(page, live_server, "/", findings))
    since = len(findings.urls)
    await page.get_by_label("From").fill("Mumbai")
    await page.get_by_label("To").fill("Pune")
    await page.get_by_role("button", name="Search buses").click()
    await expect(page.locator("article.trip").first).to_be_visible()
    seen.append(await audited(page, findings, since))
    trip = await page.locator("article.trip a", has_text="View seats").last.get_attribute("href")
    assert trip
    seen.append(await visit(page, live_server, trip, findings))
    for path in ("/users/login", "/users/register", "/no-such-page", "/docs"):
        seen.append(await visit(page, live_server, path, findings))
    # swagger-ui's own markup, once rendered: reported for a person, not failed on.
    await expect(page.locator(".opblock").first).to_be_visible()
    docs = await axe.audit(page, exclude=())
    assert docs is not None
    (artifacts / f"axe-swagger-ui-{size}.json").write_text(
        json.dumps(docs["violations"], indent=2, ensure_ascii=False)
    )
    await guest.close()

    # A passenger: hold two seats, pay with the simulator, open the booking and cancel one.
    context = await browser.new_context(viewport=shape["viewport"], is_mobile=shape["is_mobile"])
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_CUSTOMER, next_path=trip)
    await expect(page.locator("#seat-map")).to_be_visible()
    free = page.locator('[id^="seat-"][data-status="available"]')
    numbers = [await free.nth(i).get_attribute("data-seat-number") for i in range(2)]
    for number in numbers:
        seat = page.locator(f'[data-seat-number="{number}"]')
        await seat.click()
        await expect(seat.locator("input")).to_be_checked()
    since = len(findings.urls)
    await page.get_by_role("button", name="Hold selected seats").click()
    await expect(page.locator("[data-countdown]").first).to_be_visible()
    seen.append(await audited(page, findings, since))
    for index, (name, gender) in enumerate((("Meera Iyer", "female"), ("Ravi Iyer", "male"))):
        await page.get_by_label("Full name").nth(index).fill(name)
        await page.get_by_label("Age").nth(index).fill(str(30 + index))
        await page.get_by_label("Gender").nth(index).select_option(gender)
    await page.get_by_label("UPI").check()
    since = len(findings.urls)
    await page.get_by_role("button", name="Pay").click()
    await expect(page.get_by_role("button", name="Approve payment")).to_be_visible()
    seen.append(await audited(page, findings, since))
    payment = urlsplit(page.url).path.rsplit("/", 1)[1]
    since = len(findings.urls)
    await page.get_by_role("button", name="Approve payment").click()
    await expect(page.locator("h1")).to_contain_text("Booking BK")
    seen.append(await audited(page, findings, since))
    booking = here(page)
    ticket = (await page.locator("#ticket-title").inner_text()).removeprefix("Ticket ").strip()
    profile = await page.locator('header a[href$="/profile"]').first.get_attribute("href")
    assert profile
    pages = (profile, "/bookings", "/reservations", f"/payments/{payment}", f"/tickets/{ticket}")
    for path in (*pages, f"{booking}/cancel"):
        seen.append(await visit(page, live_server, path, findings))
    await page.locator('input[name="passenger_ids"]').first.check()
    since = len(findings.urls)
    await page.locator('form[method="get"] button[type="submit"]').click()
    seen.append(await audited(page, findings, since))
    since = len(findings.urls)
    await page.locator(f'form[method="post"][action$="{booking}/cancel"] button').click()
    await page.wait_for_url("**/cancellations/**")
    seen.append(await audited(page, findings, since))
    await context.close()

    # An operator: every page of the console.
    context = await browser.new_context(viewport=shape["viewport"], is_mobile=shape["is_mobile"])
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin")
    await expect(page.locator("h1")).to_be_visible()
    for path in ADMIN_PAGES:
        seen.append(await visit(page, live_server, path, findings))
    await page.goto(live_server + "/admin/schedules")
    schedule = await page.locator('td a[href^="/admin/schedules/"]').first.get_attribute("href")
    assert schedule
    seen.append(await visit(page, live_server, schedule, findings))
    await context.close()

    (artifacts / f"axe-pages-{size}.txt").write_text("\n".join(seen) + "\n")
    assert len(seen) >= 25, seen
