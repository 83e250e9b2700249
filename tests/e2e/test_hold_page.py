"""The hold page in the browser (issue 12, items 3-5): the countdown stays in view while
passengers are typed and warns before the hold runs out; a declined payment and an
expired hold lose nothing that was typed."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import E2E_HOLD_SECONDS

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
_accounts = itertools.count(1)


async def sign_up(page: Page, base: str, next_path: str = "/") -> None:
    """A fresh account for each test: no test reaches another's hold limits."""
    await page.goto(f"{base}/users/register?next={next_path}")
    await page.get_by_label("First name").fill("Meera")
    await page.get_by_label("Last name").fill("Iyer")
    email = f"holdpage{next(_accounts)}-{datetime.now().timestamp():.0f}@example.com"
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Mobile number").fill("9812345678")
    await page.get_by_label("Password").fill("meera-pass-2026")
    await page.get_by_role("button", name="Create account").click()


async def trip_in_days(page: Page, base: str, days: int, index: int = 0) -> str:
    """A Mumbai -> Pune trip some days ahead (other tests use tomorrow's first one)."""
    day = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=days)).date()
    await page.goto(f"{base}/schedules/search?origin_city=Mumbai&destination_city=Pune&date={day}")
    links = page.locator("article.trip a", has_text="View seats")
    href = await links.nth(index).get_attribute("href")
    assert href
    return href


async def hold(page: Page, base: str, trip: str, numbers: list[str]) -> None:
    await page.goto(base + trip)
    for number in numbers:
        await page.locator(f'[data-seat-number="{number}"]').click()
    await page.get_by_role("button", name="Hold selected seats").click()
    await expect(page.locator("[data-countdown]")).to_be_visible()


async def type_passengers(page: Page, count: int) -> None:
    for i in range(count):
        await page.get_by_label("Full name").nth(i).fill(f"Passenger {i + 1}")
        await page.get_by_label("Age").nth(i).fill(str(30 + i))
        await page.get_by_label("Gender").nth(i).select_option("female" if i % 2 else "male")


async def assert_passengers(page: Page, count: int) -> None:
    for i in range(count):
        await expect(page.get_by_label("Full name").nth(i)).to_have_value(f"Passenger {i + 1}")
        await expect(page.get_by_label("Age").nth(i)).to_have_value(str(30 + i))
        await expect(page.get_by_label("Gender").nth(i)).to_have_value(
            "female" if i % 2 else "male"
        )


@pytest.mark.parametrize(
    ("size", "viewport", "seats"),
    [("phone", PHONE, ["25", "26", "27", "28"]), ("desktop", DESKTOP, ["29", "30", "31", "32"])],
)
async def test_countdown_stays_in_view_down_to_the_last_passenger(
    live_server, browser: Browser, artifacts, size, viewport, seats
):
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    trip = await trip_in_days(page, live_server, 3)
    await sign_up(page, live_server, next_path=trip)
    await hold(page, live_server, trip, seats)
    timer = page.locator(".hold-timer .countdown")
    await expect(timer).to_be_in_viewport()

    last = page.get_by_label("Gender").last
    await last.focus()
    await last.scroll_into_view_if_needed()
    await page.get_by_role("button", name="Pay").scroll_into_view_if_needed()
    assert await page.evaluate("window.scrollY") > 200  # the page did scroll
    await expect(timer).to_be_in_viewport()
    box = await timer.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
    await expect(timer).to_contain_text(":")  # the script's m:ss, ticking
    await page.screenshot(path=str(artifacts / f"hold-sticky-{size}.png"))
    # Going back up with Shift+Tab, each focused field scrolls clear of the sticky timer.
    await page.get_by_role("button", name="Pay").focus()
    hidden = []
    for _ in range(4 * len(seats)):
        await page.keyboard.press("Shift+Tab")
        overlap = await page.evaluate(
            """() => {
              const t = document.querySelector('.hold-timer').getBoundingClientRect();
              const f = document.activeElement.getBoundingClientRect();
              return f.top < t.bottom - 1 ? document.activeElement.id : null;
            }"""
        )
        if overlap:
            hidden.append(overlap)
    assert hidden == []
    await context.close()


async def test_warnings_are_announced_once_at_two_minutes_and_thirty_seconds(
    live_server, browser: Browser, artifacts
):
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.clock.install()
    trip = await trip_in_days(page, live_server, 3, index=1)
    await sign_up(page, live_server, next_path=trip)
    await hold(page, live_server, trip, ["5"])
    polite = page.locator('[data-countdown-notice="polite"]')
    urgent = page.locator('[data-countdown-notice="assertive"]')
    await expect(polite).to_have_attribute("aria-live", "polite")
    await expect(urgent).to_have_attribute("aria-live", "assertive")
    await expect(polite).to_have_text("")
    # Count every change of the two regions: a screen reader hears each one.
    await page.evaluate(
        """() => {
          window.__notices = [];
          document.querySelectorAll('[data-countdown-notice]').forEach(function (el) {
            new MutationObserver(function () {
              if (el.textContent) window.__notices.push(el.textContent);
            }).observe(el, {childList: true, characterData: true, subtree: true});
          });
        }"""
    )
    await page.clock.fast_forward("12:50")  # 15-minute holds: 2:10 left
    await page.clock.run_for(2000)
    await expect(polite).to_have_text("")
    await page.clock.run_for(15_000)  # past 2:00
    await expect(polite).to_contain_text("Less than 2 minutes left")
    await expect(page.locator(".hold-timer")).to_have_attribute("data-warning", "soon")
    await page.clock.run_for(10_000)
    assert await page.evaluate("window.__notices.length") == 1  # once, not every second
    await page.screenshot(path=str(artifacts / "hold-warning-2min.png"))

    await page.clock.fast_forward("01:25")  # 0:25 left
    await page.clock.run_for(1000)
    await expect(urgent).to_contain_text("Less than 30 seconds left")
    await expect(polite).to_have_text("")
    await page.clock.run_for(5000)
    assert await page.evaluate("window.__notices") == [
        "Less than 2 minutes left to pay. When the time runs out, the seats are released.",
        "Less than 30 seconds left: pay now or the seats are released.",
    ]
    await page.screenshot(path=str(artifacts / "hold-warning-30s.png"))
    await context.close()


async def test_an_expired_hold_comes_back_in_one_step_with_the_passengers(
    short_hold_server, browser: Browser, artifacts
):
    base = short_hold_server
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    trip = await trip_in_days(page, base, 3)
    await sign_up(page, base, next_path=trip)
    await hold(page, base, trip, ["9", "10"])
    # Holds of a few seconds: the 30-second warning is there from the start.
    await expect(page.locator('[data-countdown-notice="assertive"]')).to_contain_text("30 seconds")
    await type_passengers(page, 2)
    # The hold runs out while she types; the page reloads itself and offers the seats again.
    again = page.get_by_role("button", name="Hold seats 9 and 10 again")
    await expect(again).to_be_visible(timeout=(E2E_HOLD_SECONDS + 5) * 1000)
    await expect(page.get_by_text("the passengers you typed are kept")).to_be_visible()
    await page.screenshot(path=str(artifacts / "hold-expired-again.png"), full_page=True)
    await again.click()
    await expect(page.locator("[data-countdown]")).to_be_visible()
    await assert_passengers(page, 2)
    await context.close()


async def test_try_again_after_a_decline_keeps_everything_without_javascript(
    live_server, browser: Browser, artifacts
):
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = await context.new_page()
    trip = await trip_in_days(page, live_server, 4)
    await sign_up(page, live_server, next_path=trip)
    await hold(page, live_server, trip, ["11", "12"])
    await type_passengers(page, 2)
    await page.get_by_label("Credit or debit card").check()
    await page.get_by_role("button", name="Pay").click()
    await page.get_by_role("button", name="Decline").click()
    await expect(page.get_by_text("did not go through")).to_be_visible()
    await page.get_by_role("link", name="Try again").click()
    await assert_passengers(page, 2)
    await expect(page.get_by_label("Credit or debit card")).to_be_checked()
    await page.screenshot(path=str(artifacts / "hold-try-again.png"), full_page=True)
    await context.close()
