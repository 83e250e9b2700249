"""Compressed responses (brotli, gzip) as Accept-Encoding allows, never for the live seat
stream, tiny bodies or already-compressed types; static files under versioned URLs cached
for a year (views/compression.py, views/assets.py)."""

from __future__ import annotations

import asyncio
import gzip
import re
from datetime import datetime, timedelta

import brotli
from quart import Response

from domain import holds
from domain.holds import HoldRequest
from tests import factories
from tests.views.test_live import Stream

STATIC_LINK = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def decoded(response_body: bytes, encoding: str | None) -> bytes:
    if encoding == "br":
        return bytes(brotli.decompress(response_body))
    if encoding == "gzip":
        return gzip.decompress(response_body)
    return response_body


async def test_pages_are_compressed_as_the_browser_accepts(client):
    plain = await client.get("/")
    page = await plain.get_data()
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    for accept, expected in (
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("*", "br"),
        ("identity", None),
        ("br;q=0, gzip;q=0", None),
    ):
        response = await client.get("/", headers={"Accept-Encoding": accept})
        body = await response.get_data()
        assert response.headers.get("Content-Encoding") == expected, accept
        assert "Accept-Encoding" in response.headers["Vary"]
        assert int(response.headers["Content-Length"]) == len(body)
        assert decoded(body, expected) == page, accept
        if expected:
            assert len(body) < len(page) / 2


async def test_tiny_bodies_and_compressed_types_are_sent_as_they_are(app, client):
    async def pdf() -> Response:
        return Response(b"%PDF-1.7 " + bytes(range(256)) * 20, mimetype="application/pdf")

    app.app.add_url_rule("/test-pdf", view_func=pdf)

    health = await client.get("/healthz", headers={"Accept-Encoding": "br, gzip"})
    assert "Content-Encoding" not in health.headers  # {"status": "ok"}: a few bytes
    document = await client.get("/test-pdf", headers={"Accept-Encoding": "br, gzip"})
    assert "Content-Encoding" not in document.headers
    assert len(await document.get_data()) == 9 + 256 * 20


async def test_the_live_seat_stream_is_not_compressed_and_flushes_each_event(client, settings):
    trip = await factories.make_trip(datetime.now(settings.tz) + timedelta(days=1), rows=2)
    seats = await factories.schedule_seats(trip)
    connection = client.request(
        f"/schedules/{trip.id}/stream?from=0&to=2", headers={"Accept-Encoding": "br, gzip"}
    )
    await connection.__aenter__()
    await connection.send_complete()
    stream = Stream(connection)
    while "retry:" not in stream.buffer:  # subscribed
        stream.buffer += (await asyncio.wait_for(connection.receive(), 5)).decode()
    assert connection.headers is not None
    assert connection.headers["Content-Type"].startswith("text/event-stream")
    assert "Content-Encoding" not in connection.headers
    user = await factories.make_user()
    request = HoldRequest(trip.id, 0, 2, (seats[0].id,))
    await holds.hold_seats(user, request, now=datetime.now().astimezone())
    # The event arrives on its own, promptly: nothing holds it back to fill a block.
    html = await stream.events_until(f"seat-{seats[0].id}", within=2.0)
    assert 'data-status="held"' in html
    await connection.disconnect()
    await connection.__aexit__(None, None, None)


async def test_pages_link_static_files_by_versioned_urls(client):
    html = (await (await client.get("/")).get_data()).decode()
    links = STATIC_LINK.findall(html)
    assert {"/static/css/busbook.css", "/static/js/busbook.js"} <= {
        link.split("?")[0] for link in links
    }
    for link in links:
        assert re.search(r"\?v=[0-9a-f]{12}$", link), link
        response = await client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        cache = response.headers["Cache-Control"]
        assert "max-age=31536000" in cache and "immutable" in cache and "public" in cache


async def test_unversioned_or_stale_static_urls_are_cached_briefly(client):
    for path in ("/static/css/busbook.css", "/static/css/busbook.css?v=0123456789ab"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "immutable" not in response.headers["Cache-Control"]
        assert "max-age=300" in response.headers["Cache-Control"]


async def test_static_files_are_compressed_and_revalidate(client):
    html = (await (await client.get("/")).get_data()).decode()
    htmx = next(link for link in STATIC_LINK.findall(html) if "htmx-2" in link)
    original = await (await client.get(htmx)).get_data()
    response = await client.get(htmx, headers={"Accept-Encoding": "gzip, br"})
    body = await response.get_data()
    assert response.headers["Content-Encoding"] == "br"
    assert decoded(body, "br") == original
    assert len(body) < 16_000  # 52 KB of JavaScript
    etag = response.headers["ETag"]
    assert etag.startswith('W/"')  # the compressed bytes are another representation
    again = await client.get(htmx, headers={"Accept-Encoding": "gzip, br", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    # A range of the file is sent as it is.
    part = await client.get(htmx, headers={"Accept-Encoding": "br", "Range": "bytes=0-99"})
    assert part.status_code == 206 and "Content-Encoding" not in part.headers
    assert await part.get_data() == original[:100]
