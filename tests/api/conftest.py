"""API test helpers: a user with an access token, and JSON requests with a bearer header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from domain import api_tokens, clock
from domain.models import User
from tests.factories import make_user


@dataclass
class Caller:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def token_for(app: Quart, user: User, *, minutes: int = 15) -> str:
    secret = getattr(app, "app", app).config["SECRET_KEY"]
    return api_tokens.issue_access_token(
        user, secret=secret, now=clock.now(), minutes=minutes
    ).token


@pytest.fixture
def caller_for(app: Quart) -> Any:
    async def make(*, admin: bool = False, email: str | None = None) -> Caller:
        user = await make_user(email, admin=admin)
        return Caller(user, token_for(app, user))

    return make


async def problem_of(response: Any) -> dict[str, Any]:
    """The problem document of a failed API answer (and its shape checked)."""
    assert response.mimetype == "application/problem+json", await response.get_data(as_text=True)
    body = await response.get_json(force=True)
    assert body["status"] == response.status_code
    assert body["type"] == f"urn:busbook:problem:{body['code']}"
    assert body["title"] and body["detail"]
    assert isinstance(body["errors"], list)
    return body


@pytest.fixture
def api(client: QuartClient) -> QuartClient:
    return client
