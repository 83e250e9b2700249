"""The site header is one line at any width (a phone folds the menu into a disclosure that
works without JavaScript), and the page title never sits against it."""

from __future__ import annotations

import pytest

from domain.demo import DEMO_ADMIN, DEMO_CUSTOMER
from tests.e2e.test_live_holds import log_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


async def header_and_title(page) -> dict:
    return await page.evaluate(
        """() => {
          const header = document.querySelector('.site-header__inner').getBoundingClientRect();
          const title = document.querySelector('h1').getBoundingClientRect();
          return {height: header.height, gap: title.top - header.bottom,
                  width: document.documentElement.scrollWidth};
        }"""
    )


@pytest.mark.parametrize("who", ["guest", "passenger", "admin"])
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_the_header_is_one_line_and_the_title_has_room(
    live_server, browser, artifacts, who, size
):
    context = await browser.new_context(viewport=size)
    page = await context.new_page()
    if who != "guest":
        email, password = DEMO_ADMIN if who == "admin" else DEMO_CUSTOMER
        await log_in(page, live_server, email, password, next_path="/bookings")
    else:
        await page.goto(live_server + "/users/login")
    await page.wait_for_load_state()
    shape = await header_and_title(page)
    await page.screenshot(path=str(artifacts / f"header-{who}-{size['width']}.png"))
    assert shape["height"] <= 60, shape  # one line: the header's own 56 px, not 2 or 3 rows
    assert shape["gap"] >= 16, shape  # main's padding: the title does not touch the header
    assert shape["width"] <= size["width"], shape
    await context.close()


async def test_on_a_phone_the_menu_opens_and_closes_from_the_keyboard(live_server, browser):
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/bookings")
    await page.wait_for_load_state()
    bookings = page.get_by_role("link", name="Bookings", exact=True)
    assert not await bookings.is_visible()  # folded away, and not a second copy on screen
    toggle = page.locator("summary.nav-menu__toggle")
    await toggle.focus()
    await page.keyboard.press("Enter")
    await bookings.wait_for(state="visible")
    for name in ("Operations", "Holds"):
        assert await page.get_by_role("link", name=name, exact=True).is_visible()
    assert await page.get_by_role("button", name="Log out").is_visible()
    await page.keyboard.press("Escape")
    await bookings.wait_for(state="hidden")
    assert await page.evaluate("document.activeElement.matches('summary.nav-menu__toggle')")

    await toggle.click()  # a tap outside closes it too
    await bookings.wait_for(state="visible")
    await page.mouse.click(200, 780)  # below the open menu, which covers the title
    await bookings.wait_for(state="hidden")

    await toggle.click()  # and a link in it goes where it says
    await bookings.click()
    await page.wait_for_url("**/bookings")
    await context.close()


async def test_on_a_phone_without_javascript_the_menu_still_opens(live_server, browser):
    context = await browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_CUSTOMER, next_path="/bookings")
    await page.locator("summary.nav-menu__toggle").click()
    await page.get_by_role("link", name="Holds", exact=True).click()
    await page.wait_for_url("**/reservations**")
    await context.close()
