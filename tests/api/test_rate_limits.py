"""Rate limits through the API: a limit reached is a 429 problem (`too_many_attempts`) with
`Retry-After`, counted in PostgreSQL so that two workers (two apps on one database) share
it, and the website and the API share one budget (the same domain call counts both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from app import create_app
from domain import attempts
from tests.api.conftest import problem_of, token_for
from tests.conftest import make_settings
from tests.factories import make_user
from views.api.auth import needs, require_api_user
from views.api.blueprints import api_blueprint
from views.auth import client_ip
from views.services import services

HOME = ("198.51.100.10", 40000)
CAFE = ("203.0.113.20", 40000)
TRY_LIMITS = attempts.RateLimits(per_account=2, per_ip=3, window=timedelta(minutes=10))

ACCESS: list[tuple[str, str, str]] = []  # no routes of its own (the matrix test)

# A tiny limited route, as the API's limited views are: one domain counter per account and
# per address, checked before the work.
probe = api_blueprint("rate_probe", __name__)


@probe.post("/rate-probe")
@needs("user")
async def post_rate_probe() -> tuple[dict[str, bool], int]:
    user = await require_api_user()
    await attempts.reserve(
        TRY_LIMITS.limits("probe", user.id, client_ip()),
        now=services().now(),
        message="Too many probes.",
    )
    return {"ok": True}, 201


@pytest.fixture
async def workers(database_url: str) -> AsyncIterator[list[Quart]]:
    apps = []
    for _ in range(2):
        app = create_app(make_settings(database_url), manage_database=False, background_tasks=False)
        app.register_blueprint(probe)
        apps.append(app)
    async with apps[0].test_app() as first, apps[1].test_app() as second:
        yield [first, second]  # type: ignore[list-item]


async def send(app: Quart, token: str, peer: tuple[str, int]) -> Any:
    return await app.test_client().post(
        "/api/v1/rate-probe",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        scope_base={"client": peer},
    )


async def assert_limited(response: Any) -> dict[str, Any]:
    assert response.status_code == 429
    body = await problem_of(response)
    assert body["code"] == "too_many_attempts"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 600
    assert body["retry_after"] == retry_after
    return body


async def test_the_account_limit_is_shared_by_two_workers(workers):
    user = await make_user()
    token = token_for(workers[0], user)
    assert (await send(workers[0], token, HOME)).status_code == 201
    assert (await send(workers[1], token, CAFE)).status_code == 201
    body = await assert_limited(await send(workers[0], token, ("192.0.2.1", 1)))
    assert "Too many probes." in body["detail"]
    # another account is not limited by this one
    other = await make_user()
    assert (await send(workers[1], token_for(workers[1], other), CAFE)).status_code == 201


async def test_the_address_limit_is_shared_by_two_workers(workers):
    users = [await make_user() for _ in range(4)]
    for i, user in enumerate(users[:3]):
        assert (await send(workers[i % 2], token_for(workers[0], user), HOME)).status_code == 201
    await assert_limited(await send(workers[1], token_for(workers[1], users[3]), HOME))
    assert (await send(workers[0], token_for(workers[0], users[3]), CAFE)).status_code == 201
