"""Rahul's long lists in a real browser: on a 390 px phone the trips, bookings and audit
tables become one block per row (nothing scrolls sideways, not even inside a box); on a
desktop they stay tables. With JavaScript a filter or a page swaps only the list and the
address bar keeps the filters; the Next link of a filtered list keeps them too."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from domain.demo import DEMO_ADMIN
from tests.e2e.test_live_holds import log_in

pytestmark = pytest.mark.e2e

LISTS = (
    "/admin/schedules",
    "/admin/activity-logs",
    "/admin/bookings",
    "/admin/reservations?state=expired",
    "/admin/payments?show=succeeded",
)

# Every table of the page fits the box it sits in (a table in a scrolling box would pass a
# check of the document alone), and the document fits the screen.
OVERFLOW = """() => {
  const wide = [];
  for (const table of document.querySelectorAll("main table")) {
    const box = table.parentElement;
    if (table.scrollWidth > box.clientWidth + 1) {
      wide.push(table.scrollWidth + ">" + box.clientWidth);
    }
  }
  return {doc: document.documentElement.scrollWidth, wide};
}"""


async def test_console_lists_fit_a_phone_without_sideways_scrolling(
    live_server, browser, artifacts
):
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin")
    found = {}
    for path in LISTS:
        await page.goto(live_server + path)
        found[path] = await page.evaluate(OVERFLOW)
    await page.goto(live_server + "/admin/schedules")
    await page.screenshot(path=str(artifacts / "adminlists-trips-phone.png"), full_page=False)
    await page.goto(live_server + "/admin/activity-logs")
    await page.screenshot(path=str(artifacts / "adminlists-activity-phone.png"), full_page=False)
    # A stacked cell still says what it is.
    label = await page.evaluate(
        """() => getComputedStyle(document.querySelector('main td[data-label]'), '::before')
              .content"""
    )
    await context.close()
    assert {p: f for p, f in found.items() if f["doc"] > 390 or f["wide"]} == {}
    assert label == '"When"'


async def test_on_a_desktop_the_lists_stay_tables(live_server, browser, artifacts):
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin")
    await page.goto(live_server + "/admin/schedules")
    display = await page.evaluate(
        "() => getComputedStyle(document.querySelector('#trips-list tbody tr')).display"
    )
    header = page.locator("#trips-list thead th").first
    await expect(header).to_be_visible()
    assert display == "table-row"
    assert (await page.evaluate(OVERFLOW))["doc"] <= 1280
    await page.screenshot(path=str(artifacts / "adminlists-trips-desktop.png"))
    await context.close()


async def test_filters_and_pages_swap_the_list_and_keep_the_filters(
    live_server, browser, artifacts
):
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin")
    await page.goto(live_server + "/admin/schedules")
    await page.evaluate("() => { window.notReloaded = true; }")
    route = page.locator("#trips-list").get_by_label("Route", exact=True)
    second_route = await route.locator("option").nth(1).get_attribute("value")
    await route.select_option(second_route)
    await page.wait_for_url(lambda url: f"route={second_route}" in url)
    assert page.url.startswith(f"{live_server}/admin/schedules?")  # pushed: Back returns here
    rows = page.locator("#trips-list tbody tr")
    await expect(rows.first).to_be_visible()
    names = set(await page.locator("#trips-list td[data-label=Trip] a").all_inner_texts())
    assert len({n.split(",")[0] for n in names}) == 1  # one route only
    assert await page.evaluate("() => window.notReloaded === true")
    next_link = page.get_by_role("link", name="Next page →")
    if await next_link.count():  # the demo's 14 days of one route may fill a page
        await next_link.click()
        await page.wait_for_url(lambda url: "after=" in url)
        assert f"route={second_route}" in page.url and "after=" in page.url
        await expect(page.get_by_role("link", name="← Previous page")).to_be_visible()
        assert await page.evaluate("() => window.notReloaded === true")
    await page.screenshot(path=str(artifacts / "adminlists-trips-filtered.png"))
    await context.close()


async def test_without_javascript_the_filter_form_still_works(live_server, browser):
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin")
    await page.goto(live_server + "/admin/activity-logs")
    await page.get_by_label("About").select_option("User")
    await page.get_by_role("button", name="Filter").click()
    assert "subject_type=User" in page.url
    actions = await page.locator("#activity-list code").all_inner_texts()
    assert actions and all(a.startswith("user.") for a in actions), actions  # users' rows only
    await context.close()
