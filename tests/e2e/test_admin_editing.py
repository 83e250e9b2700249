"""Rahul edits his fleet and cancels a trip from the console, on a phone and at a desk, with
JavaScript on and off: a saved bus comes back filled in and saves again; the layout preview
says which field is wrong; "Cancel trip and refund all" asks first, with no browser dialog."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.async_api import Dialog, Page, expect

from domain.demo import DEMO_ADMIN
from tests.e2e.test_live_holds import log_in

pytestmark = pytest.mark.e2e

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
_registrations = itertools.count(1)


def refuse_dialogs(page: Page, seen: list[str]) -> None:
    async def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
async def test_a_saved_bus_stays_filled_in_and_saves_again(
    live_server, browser, artifacts, size, js
):
    context = await browser.new_context(viewport=SIZES[size], java_script_enabled=js)
    page = await context.new_page()
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin/buses")
    registration = f"MH-01-EE-{next(_registrations):02d}{size[0].upper()}{int(js)}"
    await page.get_by_label("Name", exact=True).fill("Volvo 9600 Sleeper")
    await page.get_by_label("Registration").fill(registration)
    await page.get_by_label("Operator").select_option(label="Konkan Express")
    await page.get_by_label("Kind").select_option("sleeper")
    await page.get_by_label("Rows (per deck)").fill("6")
    await page.get_by_label("Seats per row").fill("9")
    preview = page.locator("#layout-preview")
    if js:  # the preview follows the fields, and names the one that is wrong
        await expect(preview).to_contain_text("Seats per row: enter a whole number from 1 to 6.")
        await page.screenshot(path=str(artifacts / f"bus-preview-error-{size}.png"), full_page=True)
    await page.get_by_label("Seats per row").fill("3")
    await page.get_by_label("Aisle after seat").fill("1")
    if js:
        await expect(preview).to_contain_text("36 seats")
    await page.get_by_role("button", name="Save bus").click()

    await expect(page.locator(".alert--success")).to_contain_text(f"Bus {registration} added.")
    for label, value in (
        ("Name", "Volvo 9600 Sleeper"),
        ("Registration", registration),
        ("Rows (per deck)", "6"),
        ("Seats per row", "3"),
        ("Aisle after seat", "1"),
    ):
        await expect(page.get_by_label(label, exact=True)).to_have_value(value)
    await expect(page.get_by_label("Operator")).to_have_value(
        await page.locator("#f-operator_id option", has_text="Konkan Express").get_attribute(
            "value"
        )
        or ""
    )
    await expect(page.get_by_label("Kind")).to_have_value("sleeper")
    await expect(preview).to_contain_text("36 seats")
    await page.screenshot(path=str(artifacts / f"bus-saved-{size}-{'js' if js else 'nojs'}.png"))

    await page.get_by_role("button", name="Save changes").click()  # again, unchanged
    await expect(page.locator(".alert--success")).to_contain_text(
        f"Nothing to save: bus {registration} is as it was."
    )
    await expect(page.get_by_label("Rows (per deck)")).to_have_value("6")
    await page.get_by_label("Name", exact=True).fill("Volvo 9600 Multi-axle")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".alert--success")).to_contain_text(f"Bus {registration} saved.")
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Volvo 9600 Multi-axle")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"]
    await context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
async def test_cancel_trip_and_refund_all_asks_first(live_server, browser, artifacts, size, js):
    context = await browser.new_context(viewport=SIZES[size], java_script_enabled=js)
    page = await context.new_page()
    dialogs: list[str] = []
    refuse_dialogs(page, dialogs)
    await log_in(page, live_server, *DEMO_ADMIN, next_path="/admin/schedules")
    form = page.locator("form.cancel-trip").first
    action = await form.get_attribute("action")
    await form.locator("input[name=reason]").fill("Breakdown at the depot")
    await form.get_by_role("button", name="Cancel trip and refund all").click()

    confirm = page.locator(".cancel-confirm")
    await expect(confirm).to_be_visible()
    await expect(confirm).to_contain_text(re.compile(r"refunded ₹[\d,.]+ in full|nobody to refund"))
    await expect(confirm.get_by_label("Reason (passengers are told)")).to_have_value(
        "Breakdown at the depot"
    )
    await expect(confirm.get_by_role("button", name="Cancel the trip")).to_be_visible()
    # The step takes the focus (it replaced the button that had it), on the reason to confirm.
    await expect(confirm.get_by_label("Reason (passengers are told)")).to_be_focused()
    if js:  # in place, on the trips page
        assert page.url.endswith("/admin/schedules")
    else:  # a page of its own
        await expect(page.get_by_role("heading", name="Cancel this trip?")).to_be_visible()
    shot = f"cancel-trip-confirm-{size}-{'js' if js else 'nojs'}.png"
    await page.screenshot(path=str(artifacts / shot))  # the focused step is scrolled into view
    await confirm.get_by_role("link", name="Keep the trip").click()
    # Nothing happened: the trip still sells, its cancel form is still there.
    await expect(page.locator(f'form.cancel-trip[action="{action}"]')).to_have_count(1)
    assert dialogs == []
    await context.close()
