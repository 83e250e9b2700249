"""CORS: browsers on the origins in CORS_ORIGINS may call /api (preflight and the answer
itself), any other origin gets no CORS headers, the HTML routes never do, and with
CORS_ORIGINS unset no origin is allowed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from quart import Quart

from app import create_app
from domain import clock
from tests.conftest import make_settings
from tests.factories import make_trip

PARTNER = "https://partner.example"
STRANGER = "https://evil.example"
SEARCH = "/api/v1/schedules/search?origin_city=Mumbai&destination_city=Pune&date=2030-01-01"
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
)


async def started(database_url: str, **overrides: Any) -> AsyncIterator[Quart]:
    app = create_app(
        make_settings(database_url, **overrides), manage_database=False, background_tasks=False
    )
    async with app.test_app() as test_app:
        yield test_app  # type: ignore[misc]


ACCESS: list[tuple[str, str, str]] = []  # no routes of its own (the matrix test)


@pytest.fixture
async def partner_app(database_url: str) -> AsyncIterator[Quart]:
    async for app in started(database_url, cors_origins=(PARTNER,)):
        yield app


@pytest.fixture
async def closed_app(database_url: str) -> AsyncIterator[Quart]:
    async for app in started(database_url):
        yield app


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


def no_cors(response: Any) -> None:
    present = [name for name in CORS_HEADERS if name in response.headers]
    assert not present, f"CORS headers {present} on {response.status_code}"


def listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


async def test_a_preflight_from_the_configured_origin_is_allowed(partner_app):
    client = partner_app.test_client()
    response = await client.options(SEARCH, headers=preflight(PARTNER))
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert listed(response.headers["Access-Control-Allow-Headers"]) >= {
        "authorization",
        "content-type",
        "idempotency-key",
    }
    assert listed(response.headers["Access-Control-Allow-Methods"]) >= {
        "get",
        "post",
        "put",
        "delete",
    }
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "origin" in listed(response.headers.get("Vary", ""))
    # the API uses bearer tokens, never the cookies: no credentialed CORS
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_the_answer_itself_names_the_origin_and_exposes_the_api_headers(partner_app):
    departure = clock.now().replace(microsecond=0) + timedelta(days=2)
    await make_trip(departure)
    day = departure.astimezone(ZoneInfo("Asia/Kolkata")).date()
    client = partner_app.test_client()
    response = await client.get(
        f"/api/v1/schedules/search?origin_city=Mumbai&destination_city=Pune&date={day}",
        headers={"Origin": PARTNER},
    )
    assert response.status_code == 200
    assert (await response.get_json())["schedules"]
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert listed(response.headers["Access-Control-Expose-Headers"]) >= {
        "retry-after",
        "location",
        "idempotent-replayed",
    }
    # a problem answer too: a browser client must be able to read the error
    missing = await client.get("/api/v1/schedules/search", headers={"Origin": PARTNER})
    assert missing.status_code == 422
    assert missing.headers["Access-Control-Allow-Origin"] == PARTNER


async def test_another_origin_gets_no_cors_headers(partner_app):
    client = partner_app.test_client()
    no_cors(await client.options(SEARCH, headers=preflight(STRANGER)))
    no_cors(await client.get(SEARCH, headers={"Origin": STRANGER}))
    # a look-alike of the partner is another origin
    no_cors(await client.options(SEARCH, headers=preflight("http://partner.example")))
    no_cors(await client.options(SEARCH, headers=preflight(PARTNER + ".evil.example")))


@pytest.mark.parametrize(
    "path", ["/", "/users/login", "/users/register", "/reservations", "/schedules/1"]
)
async def test_html_routes_never_get_cors_headers(partner_app, path):
    client = partner_app.test_client()
    no_cors(await client.options(path, headers=preflight(PARTNER)))
    no_cors(await client.get(path, headers={"Origin": PARTNER}))


async def test_with_cors_origins_unset_no_origin_is_allowed(closed_app):
    client = closed_app.test_client()
    for origin in (PARTNER, STRANGER, "http://localhost:8000"):
        no_cors(await client.options(SEARCH, headers=preflight(origin)))
        no_cors(await client.get(SEARCH, headers={"Origin": origin}))
