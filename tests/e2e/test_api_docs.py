"""A developer opens /docs at a desktop size: swagger-ui (vendored) renders every operation
of the served document, nothing is blocked by the Content-Security-Policy (the autouse
watcher in conftest.py), nothing is loaded from another site, and "Try it out" on the
search answers from this server."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.e2e


async def test_the_docs_render_every_operation_and_try_one(live_server, browser, artifacts):
    async with httpx.AsyncClient() as http:
        document = (await http.get(live_server + "/openapi.json")).json()
    # swagger-ui shows an operation once under each of its tags
    operations = sum(
        len(operation.get("tags") or ["default"])
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
    )
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    hosts: set[str] = set()
    errors: list[str] = []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    await page.goto(live_server + "/docs")

    await expect(page.locator(".opblock")).to_have_count(operations)
    await expect(page.locator(".info .title")).to_contain_text("Busbook API")
    await expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    # Every $ref resolves (swagger-ui shows a red "Errors" box otherwise).
    await expect(page.locator(".errors-wrapper")).to_have_count(0)

    search = page.locator("#operations-schedules-get_search_schedules")
    await search.locator(".opblock-summary").click()
    await search.get_by_role("button", name="Try it out").click()
    await search.locator("input[placeholder='origin_city']").fill("Mumbai")
    await search.locator("input[placeholder='destination_city']").fill("Pune")
    tomorrow = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)).date()
    await search.locator("input[placeholder='date']").fill(tomorrow.isoformat())
    await search.get_by_role("button", name="Execute").click()
    status = search.locator(".live-responses-table .response .response-col_status")
    await expect(status.first).to_have_text("200")
    await page.screenshot(path=str(artifacts / "api-docs.png"))

    assert hosts == {urlsplit(live_server).netloc}, f"loaded from elsewhere: {hosts}"
    assert errors == []
    await context.close()
