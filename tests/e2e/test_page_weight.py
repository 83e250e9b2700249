"""Priya on a slow phone connection opens a trip: the whole cold load (HTML, CSS, JavaScript,
icon) is under 40 KB on the wire, compressed; static files come from versioned URLs the
browser keeps for a year, so the next page costs its HTML alone."""

from __future__ import annotations

import pytest
from playwright.async_api import Request, Response, expect

from tests.e2e.test_live_holds import first_trip_path

pytestmark = pytest.mark.e2e

BUDGET = 40_000


async def test_the_trip_page_transfers_under_40_kb_cold(live_server, browser, artifacts):
    scout = await browser.new_context()
    trip = await first_trip_path(await scout.new_page(), live_server)
    await scout.close()

    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = await context.new_page()  # a new context: an empty cache, a cold load
    finished: list[Request] = []
    streams: list[Response] = []

    def on_response(response: Response) -> None:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            streams.append(response)

    page.on("requestfinished", lambda request: finished.append(request))
    page.on("response", on_response)
    await page.goto(live_server + trip)
    await expect(page.locator("#seat-map")).to_have_attribute("data-live", "live")

    lines, total = [], 0
    for request in finished:
        sizes = await request.sizes()
        response = await request.response()
        assert response is not None
        # What crossed the wire: the encoded (compressed) body and the response headers.
        wire = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        total += wire
        encoding = response.headers.get("content-encoding", "-")
        lines.append(f"{wire:>7} B  {encoding:<4} {request.url.removeprefix(live_server)}")
        if "/static/" in request.url:
            assert "immutable" in response.headers["cache-control"], request.url
        textual = response.headers.get("content-type", "").startswith(("text/", "application/j"))
        if textual and sizes["responseBodySize"] > 1024:
            assert encoding in ("br", "gzip"), request.url
    lines.append(f"{total:>7} B  total (the live seat stream, still open, not counted)")
    (artifacts / "trip-page-weight.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    # The live seat stream is never compressed: each event must reach the map at once.
    assert streams and "content-encoding" not in streams[0].headers
    assert total < BUDGET, "\n".join(lines)

    # The next page of the site loads its HTML alone: CSS and scripts come from the cache,
    # without even a revalidation (what crossed the wire, from Chromium's network log).
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    urls: dict[str, str] = {}
    wire: dict[str, int] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.update({e["requestId"]: e["request"]["url"]})
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: wire.update({urls.get(e["requestId"], "?"): int(e["encodedDataLength"])}),
    )
    await page.goto(live_server + "/")
    await expect(page.get_by_role("button", name="Search buses")).to_be_visible()
    fetched = {url: size for url, size in wire.items() if "/static/" in url and size > 0}
    assert fetched == {}, f"fetched again: {fetched}"
    assert any(url.rstrip("/") == live_server for url in wire), wire
    await context.close()
