"""The trip page's seat map by keyboard and on a first screen: one Tab stop per deck, arrow
keys between seats, Space ticks, Enter never submits the hold half-chosen; a focused seat
is never under the sticky hold bar; a ticked seat someone else takes is unticked with a
word; the first seats show on a desktop's first screen and a phone's stop select is not cut."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from domain.demo import DEMO_ADMIN, DEMO_CUSTOMER
from tests.e2e.test_live_holds import log_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


async def seater_trip(page: Page, base: str, index: int = 0) -> str:
    """A one-deck seater trip Mumbai -> Pune tomorrow (the index-th one)."""
    tomorrow = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).date()
    await page.goto(
        f"{base}/schedules/search?origin_city=Mumbai&destination_city=Pune&date={tomorrow}"
        "&kind=seater"
    )
    links = page.locator("article.trip a", has_text="View seats")
    href = await links.nth(index).get_attribute("href")
    assert href
    return href


async def focused_seat(page: Page) -> str | None:
    result: str | None = await page.evaluate(
        "() => { const c = document.activeElement.closest('[data-seat-number]');"
        " return c ? c.dataset.seatNumber : null }"
    )
    return result


async def tab_into_map(page: Page) -> None:
    """Tab from the segment form's button until the focus lands on a seat."""
    await page.get_by_role("button", name="Update").focus()
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await focused_seat(page):
            return
    raise AssertionError("Tab never reached the seat map")


async def test_the_seat_map_is_one_tab_stop_and_arrow_keys_move(live_server, browser, artifacts):
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    trip = await seater_trip(page, live_server, index=1)
    await page.goto(live_server + trip)
    await expect(page.locator("[role=grid]")).to_have_count(1)  # one deck: one grid
    await expect(page.locator("[role=grid] [role=row]")).to_have_count(10)
    await expect(page.locator("[role=gridcell]")).to_have_count(40)

    await tab_into_map(page)
    start = await focused_seat(page)
    assert start is not None
    # The first seats of the demo trip: 1 2 | 3 4 in a row, 5 6 | 7 8 below.
    await page.locator('[data-seat-number="1"] input').focus()
    await page.keyboard.press("ArrowRight")
    assert await focused_seat(page) == "2"
    await page.keyboard.press("ArrowRight")  # across the aisle
    assert await focused_seat(page) == "3"
    await page.keyboard.press("ArrowDown")
    assert await focused_seat(page) == "7"
    await page.keyboard.press("End")
    assert await focused_seat(page) == "8"
    await page.keyboard.press("ArrowRight")  # the end of the row: focus stays
    assert await focused_seat(page) == "8"
    await page.keyboard.press("Home")
    assert await focused_seat(page) == "5"
    await page.keyboard.press("Control+End")
    assert await focused_seat(page) == "40"
    await page.keyboard.press("Control+Home")
    assert await focused_seat(page) == "1"
    await page.keyboard.press("ArrowDown")
    assert await focused_seat(page) == "5"

    # What a screen reader hears: number, position, fare, state, and no deck on a seater.
    label = await page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert label.startswith("Seat 5, window, ₹") and label.endswith(", free"), label
    assert "deck" not in (await page.locator("#seat-map").inner_text()).lower()

    await page.keyboard.press("Space")
    await expect(page.locator('[data-seat-number="5"] input')).to_be_checked()
    await expect(page.locator("#selection-summary")).to_contain_text("1 seat (5)")
    url = page.url
    await page.keyboard.press("Enter")  # would have submitted the hold with one seat
    await page.wait_for_timeout(500)
    assert page.url == url
    await expect(page.locator('[data-seat-number="5"] input')).to_be_checked()
    assert await focused_seat(page) == "5"

    # One Tab stop: Tab leaves the map, Shift+Tab comes back to the seat last focused.
    await page.keyboard.press("Tab")
    assert await focused_seat(page) is None
    assert await page.evaluate("() => document.activeElement.id") == "boarding-point"
    await page.keyboard.press("Shift+Tab")
    assert await focused_seat(page) == "5"
    await page.keyboard.press("Space")
    await expect(page.locator('[data-seat-number="5"] input')).not_to_be_checked()
    await page.screenshot(path=str(artifacts / "seat-grid-keyboard.png"))
    await context.close()


async def test_a_sleeper_names_its_decks_and_taken_seats_stay_reachable(live_server, browser):
    page = await browser.new_page(viewport=DESKTOP)
    tomorrow = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).date()
    await page.goto(
        f"{live_server}/schedules/search?origin_city=Mumbai&destination_city=Pune"
        f"&date={tomorrow}&kind=sleeper"
    )
    await page.locator("article.trip a", has_text="View seats").first.click()
    await expect(page.locator("[role=grid]")).to_have_count(2)
    await expect(page.get_by_role("grid", name="Upper deck")).to_be_visible()
    label = await page.locator('[data-seat-number="L1"] input').get_attribute("aria-label")
    assert label and label.startswith("Lower berth L1, window, ₹"), label
    # Every seat is reachable by arrow keys, a seat nobody can pick included (aria-disabled).
    await page.locator('[data-seat-number="L1"] input').focus()
    await page.keyboard.press("ArrowRight")
    assert await focused_seat(page) == "L2"
    await page.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_a_focused_seat_is_never_under_the_hold_bar(
    live_server, browser, artifacts, viewport
):
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    trip = await seater_trip(page, live_server, index=1)
    await page.goto(live_server + trip)
    await tab_into_map(page)
    await page.keyboard.press("Control+Home")

    async def check(where: str) -> None:
        boxes = await page.evaluate(
            """() => {
              const cell = document.activeElement.closest('[data-seat-number]');
              const seat = cell.matches('.seat') ? cell : cell.querySelector('.seat');
              const r = seat.getBoundingClientRect();
              const b = document.querySelector('.hold-bar').getBoundingClientRect();
              return {seat: [r.top, r.bottom, r.left, r.right],
                      bar: [b.top, b.bottom, b.left, b.right], height: innerHeight};
            }"""
        )
        top, bottom, left, right = boxes["seat"]
        bar_top, bar_bottom, bar_left, bar_right = boxes["bar"]
        assert top >= 0 and bottom <= boxes["height"], f"{where}: seat off screen {boxes}"
        overlaps = top < bar_bottom and bottom > bar_top and left < bar_right and right > bar_left
        assert not overlaps, f"{where}: the focused seat is under the hold bar {boxes}"

    seen = []
    for _ in range(10):
        seen.append(await focused_seat(page))
        await check(f"seat {seen[-1]}")
        await page.keyboard.press("ArrowDown")
    for _ in range(10):
        await page.keyboard.press("ArrowUp")
        await check(f"seat {await focused_seat(page)} going up")
    assert seen[0] == "1" and seen[-1] == "37", seen
    # Plain Tab from the page above lands on a visible seat too.
    await page.keyboard.press("Control+End")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Shift+Tab")
    await check("after Shift+Tab")
    name = "phone" if viewport is PHONE else "desktop"
    await page.screenshot(path=str(artifacts / f"seat-focus-{name}.png"))
    await context.close()


async def test_a_ticked_seat_taken_by_someone_else_is_said(live_server, browser, artifacts):
    priya_ctx = await browser.new_context(viewport=PHONE)
    rival_ctx = await browser.new_context(viewport=DESKTOP)
    priya, rival = await priya_ctx.new_page(), await rival_ctx.new_page()
    trip = await seater_trip(priya, live_server, index=2)
    await log_in(priya, live_server, *DEMO_CUSTOMER, next_path=trip)
    await log_in(rival, live_server, *DEMO_ADMIN, next_path=trip)
    await expect(priya.locator("#seat-map")).to_have_attribute("data-live", "live")
    free = priya.locator('[data-status="available"]')
    first, second = (
        await free.nth(10).get_attribute("data-seat-number"),
        await free.nth(11).get_attribute("data-seat-number"),
    )
    await priya.locator(f'[data-seat-number="{first}"]').click()
    await priya.locator(f'[data-seat-number="{second}"]').click()
    await expect(priya.locator("#selection-summary")).to_contain_text(
        f"2 seats ({first}, {second})"
    )
    # The notice is a live region from the start, so screen readers hear it when it fills.
    await expect(priya.locator("#seat-notice")).to_have_attribute("role", "status")
    await expect(priya.locator("#seat-notice")).to_have_text("")

    await rival.locator(f'[data-seat-number="{first}"]').click()
    await rival.get_by_role("button", name="Hold selected seats").click()
    await expect(rival.locator("[data-countdown]")).to_be_visible()

    taken = priya.locator(f'[data-seat-number="{first}"]')
    await expect(taken).to_have_attribute("data-status", "held", timeout=3000)
    await expect(taken.locator("input")).not_to_be_checked()
    await expect(priya.locator(f'[data-seat-number="{second}"] input')).to_be_checked()
    notice = priya.locator("#seat-notice")
    await expect(notice).to_contain_text(f"Seat {first} was just taken by someone else")
    await expect(notice).to_contain_text("Your other seat is still ticked")
    await expect(notice).to_be_visible()
    await expect(priya.locator("#selection-summary")).to_contain_text(f"1 seat ({second})")
    await priya.screenshot(path=str(artifacts / "seat-taken-notice.png"))
    # The next pick clears the word.
    await priya.locator(f'[data-seat-number="{second}"]').click()
    await expect(notice).to_have_text("")

    # The stream asks for a fresh page (it fell behind): the ticks come back with it, and a
    # seat asked for that is no longer free is named.
    await priya.locator(f'[data-seat-number="{second}"]').click()
    await expect(priya.locator("#selection-summary")).to_contain_text(f"1 seat ({second})")
    first_id = await priya.locator(f'[data-seat-number="{first}"] input').get_attribute("value")
    async with priya.expect_navigation():
        await priya.evaluate(
            "() => document.body.dispatchEvent(new CustomEvent('htmx:sseMessage',"
            " {detail: {type: 'reload'}}))"
        )
    await expect(priya.locator(f'[data-seat-number="{second}"] input')).to_be_checked()
    assert "seat_ids=" in priya.url
    await priya.goto(priya.url + f"&seat_ids={first_id}")
    await expect(priya.locator(f'[data-seat-number="{second}"] input')).to_be_checked()
    await expect(notice).to_contain_text(f"Seat {first} was just taken by someone else")
    await priya_ctx.close()
    await rival_ctx.close()


async def test_the_first_seats_show_on_a_desktop_first_screen(live_server, browser, artifacts):
    page = await browser.new_page(viewport=DESKTOP)
    trip = await seater_trip(page, live_server, index=1)
    await page.goto(live_server + trip)
    first_row = await page.locator('[data-seat-number="1"]').bounding_box()
    assert first_row and first_row["y"] + first_row["height"] <= DESKTOP["height"], first_row
    hold_button = await page.get_by_role("button", name="Hold selected seats").bounding_box()
    assert hold_button and hold_button["y"] + hold_button["height"] <= DESKTOP["height"]
    await page.screenshot(path=str(artifacts / "trip-desktop-first-screen.png"))
    await page.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_stop_selects_are_not_cut_and_points_are_clear_of_the_bar(
    live_server, browser, viewport
):
    page = await browser.new_page(viewport=viewport)
    trip = await seater_trip(page, live_server, index=1)
    await page.goto(live_server + trip)
    # Every stop name and time fits its select ("Mumbai · 22:3" was cut on a phone).
    cut = await page.evaluate(
        """() => {
          const ctx = document.createElement('canvas').getContext('2d'), cut = [];
          for (const sel of document.querySelectorAll('.segment-form select')) {
            const s = getComputedStyle(sel);
            ctx.font = s.font;
            const pad = parseFloat(s.paddingLeft) + parseFloat(s.paddingRight);
            const room = sel.clientWidth - pad - 20;  // 20: the select's arrow
            for (const o of sel.options) if (ctx.measureText(o.text).width > room) cut.push(o.text);
          }
          return cut;
        }"""
    )
    assert cut == []
    # The dropping-point select is not under the sticky hold bar once scrolled to.
    dropping = page.get_by_label("Dropping point in Pune")
    await dropping.scroll_into_view_if_needed()
    on_top = await dropping.evaluate(
        """el => { const r = el.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return hit === el || el.contains(hit); }"""
    )
    assert on_top
    await page.close()


async def test_without_javascript_the_seat_map_is_a_form_of_checkboxes(live_server, browser):
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = await context.new_page()
    trip = await seater_trip(page, live_server, index=1)
    await page.goto(live_server + trip)
    await expect(page.locator("[role=grid]")).to_have_count(0)  # no grid without its keys
    free = page.locator('[data-status="available"] input')
    # Each seat is its own Tab stop, ticked with Space, as any checkbox.
    await free.nth(0).focus()
    await page.keyboard.press("Space")
    await expect(free.nth(0)).to_be_checked()
    await page.keyboard.press("Tab")
    assert await focused_seat(page) is not None
    await page.get_by_role("button", name="Hold selected seats").click()
    await expect(page).to_have_url(re.compile(r"/users/login"))
    await context.close()
