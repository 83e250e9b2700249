"""The API's common behaviour: problem details for every failure, strict JSON bodies,
bearer tokens, idempotency keys and the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import Field
from quart import Quart
from quart.testing import QuartClient

from app import create_app
from domain import api_tokens, clock
from domain.models import IdempotencyKey, User
from domain.settings import Settings
from tests.api.conftest import problem_of, token_for
from tests.factories import make_trip, make_user

# The authorization matrix's table (tests/api/test_authorization_matrix.py).
ACCESS = [
    ("GET", "/api/v1/schedules/search", "guest"),
]


async def test_an_unknown_path_is_a_json_404(client: QuartClient, db: str) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    body = await problem_of(response)
    assert body["code"] == "not_found"
    assert "<html" not in (await response.get_data(as_text=True)).lower()


async def test_a_wrong_method_is_a_json_405_with_allow(client: QuartClient, db: str) -> None:
    response = await client.delete("/api/v1/schedules/search")
    assert response.status_code == 405
    body = await problem_of(response)
    assert body["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_html_pages_keep_their_html_errors(client: QuartClient, db: str) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


async def test_a_missing_query_value_names_the_field(client: QuartClient, db: str) -> None:
    response = await client.get("/api/v1/schedules/search?origin_city=Mumbai&date=2030-01-01")
    assert response.status_code == 422
    body = await problem_of(response)
    assert body["code"] == "validation_failed"
    assert {"field": "destination_city", "message": "This field is required."} in body["errors"]


async def test_a_domain_error_keeps_its_code_and_fields(client: QuartClient, db: str) -> None:
    response = await client.get(
        "/api/v1/schedules/search?origin_city=Atlantis&destination_city=Pune&date=2030-01-01"
    )
    assert response.status_code == 422
    body = await problem_of(response)
    assert body["code"] == "validation_failed"
    assert [e["field"] for e in body["errors"]] == ["origin_city", "destination_city"]


async def test_search_finds_the_segment_for_a_guest(client: QuartClient, db: str) -> None:
    departure = clock.now().replace(microsecond=0) + timedelta(days=2)
    trip = await make_trip(departure)
    day = departure.astimezone(ZoneInfo("Asia/Kolkata")).date()
    response = await client.get(
        f"/api/v1/schedules/search?origin_city=Lonavala&destination_city=Pune&date={day}"
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    [found] = body["schedules"]
    assert found["id"] == trip.id
    assert found["route"] == {
        "origin_city": "Lonavala",
        "destination_city": "Pune",
        "distance_km": 65,
    }
    assert found["bus"]["bus_number"].startswith("MH-12-TT-")
    assert found["available_seats"] == found["total_seats"] == 40
    assert isinstance(found["base_price"], str)  # money is a decimal string


# ---------------------------------------------------------------- bodies, via a test route


@pytest.fixture
async def echo_app(settings: Settings) -> AsyncIterator[Quart]:
    """A tiny JSON route on the real API stack (its blueprint factory, body reader,
    idempotency and problem handling), to test what every creating endpoint shares."""
    from views.api.auth import require_api_user
    from views.api.blueprints import api_blueprint
    from views.api.idempotency import idempotent
    from views.api.io import json_body, reply
    from views.api.schemas import Money, Out, Strict

    class Echo(Strict):
        count: int = Field(ge=0, le=10)
        amount: Money

    class Echoed(Out):
        count: int
        amount: Money
        user_id: int
        serial: int

    serial = iter(range(1, 1000))
    blueprint = api_blueprint("echo", __name__)

    @blueprint.post("/echo")
    @idempotent
    @json_body(Echo)
    async def echo(data: Echo) -> object:
        user: User = await require_api_user()
        return reply(Echoed(**data.model_dump(), user_id=user.id, serial=next(serial)), 201)

    application = create_app(settings, manage_database=False, background_tasks=False)
    application.register_blueprint(blueprint)
    async with application.test_app() as test_app:
        yield test_app  # type: ignore[misc]


async def _caller(app: Quart) -> dict[str, str]:
    user = await make_user()
    return {"Authorization": f"Bearer {token_for(app, user)}"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"count": 1, "amount": "1.00"', "application/json", 400, "malformed_json"),
        (b'{"count": 1, "amount": "\xff"}', "application/json", 400, "invalid_encoding"),
        (b"count=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"count": false, "amount": "1"}', "application/json", 422, "validation_failed"),
        (b'{"count": "3", "amount": "1"}', "application/json", 422, "validation_failed"),
        (b'{"count": 1, "amount": "1", "cuont": 2}', "application/json", 422, "validation_failed"),
        (b'{"count": 11, "amount": "1"}', "application/json", 422, "validation_failed"),
        (b"[]", "application/json", 422, "validation_failed"),
    ],
)
async def test_bad_bodies_are_clear_problems(
    echo_app: Quart, db: str, body: bytes, content_type: str, status: int, code: str
) -> None:
    client = echo_app.test_client()
    headers = await _caller(echo_app) | {"Content-Type": content_type}
    response = await client.post("/api/v1/echo", data=body, headers=headers)
    assert response.status_code == status
    problem = await problem_of(response)
    assert problem["code"] == code
    if status == 422:
        assert problem["errors"] and all(e["field"] for e in problem["errors"])


async def test_a_whole_number_written_with_a_fraction_is_that_integer(
    echo_app: Quart, db: str
) -> None:
    """JSON Schema's `integer` includes 3.0; 3.5 is still no integer, false still no number."""
    client = echo_app.test_client()
    headers = await _caller(echo_app)
    response = await client.post(
        "/api/v1/echo", json={"count": 3.0, "amount": 2.0}, headers=headers
    )
    assert response.status_code == 201
    assert (await response.get_json())["count"] == 3
    for count in (3.5, True):
        response = await client.post(
            "/api/v1/echo", json={"count": count, "amount": 1}, headers=headers
        )
        assert response.status_code == 422
        assert (await problem_of(response))["errors"][0]["field"] == "count"


async def test_a_good_body_and_money_both_ways(echo_app: Quart, db: str) -> None:
    client = echo_app.test_client()
    headers = await _caller(echo_app)
    for amount in (12.5, "12.50"):
        response = await client.post(
            "/api/v1/echo", json={"count": 2, "amount": amount}, headers=headers
        )
        assert response.status_code == 201
        assert (await response.get_json())["amount"] == "12.50"


async def test_tokens_guard_the_route(echo_app: Quart, db: str) -> None:
    client = echo_app.test_client()
    body = {"count": 1, "amount": "1"}
    response = await client.post("/api/v1/echo", json=body)
    assert response.status_code == 401
    assert (await problem_of(response))["code"] == "authentication_required"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")

    for header in ("Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer "):
        response = await client.post("/api/v1/echo", json=body, headers={"Authorization": header})
        assert response.status_code == 401
        assert (await problem_of(response))["code"] == "invalid_token"

    user = await make_user()
    secret = echo_app.app.config["SECRET_KEY"]  # type: ignore[attr-defined]
    old = api_tokens.issue_access_token(
        user, secret=secret, now=clock.now() - timedelta(minutes=20), minutes=15
    )
    response = await client.post(
        "/api/v1/echo", json=body, headers={"Authorization": f"Bearer {old.token}"}
    )
    assert response.status_code == 401
    assert "expired" in (await problem_of(response))["detail"]

    forged = api_tokens.issue_access_token(
        user, secret="another-key" * 4, now=clock.now(), minutes=15
    )
    response = await client.post(
        "/api/v1/echo", json=body, headers={"Authorization": f"Bearer {forged.token}"}
    )
    assert response.status_code == 401

    token = token_for(echo_app, user)
    response = await client.post(
        "/api/v1/echo", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"

    # Logging out everywhere (a new session version) revokes the token at once.
    await User.filter(id=user.id).update(session_version=user.session_version + 1)
    response = await client.post(
        "/api/v1/echo", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert "revoked" in (await problem_of(response))["detail"]


async def test_the_login_cookie_is_never_read_under_the_api(
    echo_app: Quart, db: str, auth: object
) -> None:
    client = echo_app.test_client()
    from tests.conftest import AuthActions

    actions = AuthActions(client)
    await actions.register()
    response = await client.post("/api/v1/echo", json={"count": 1, "amount": "1"})
    assert response.status_code == 401  # signed in by cookie, still no caller; and no CSRF 403


async def test_an_idempotency_key_replays_the_first_answer(echo_app: Quart, db: str) -> None:
    client = echo_app.test_client()
    headers = await _caller(echo_app) | {"Idempotency-Key": "k-1"}
    body = {"count": 3, "amount": "5"}
    first = await client.post("/api/v1/echo", json=body, headers=headers)
    again = await client.post("/api/v1/echo", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert await first.get_json() == await again.get_json()  # same serial: ran once
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers

    other = await client.post("/api/v1/echo", json={"count": 4, "amount": "5"}, headers=headers)
    assert other.status_code == 422
    assert (await problem_of(other))["code"] == "idempotency_key_reused"

    fresh = await client.post(
        "/api/v1/echo", json=body, headers=headers | {"Idempotency-Key": "k-2"}
    )
    assert (await fresh.get_json())["serial"] != (await first.get_json())["serial"]

    # Another caller's same key is theirs alone.
    someone = await _caller(echo_app) | {"Idempotency-Key": "k-1"}
    theirs = await client.post("/api/v1/echo", json=body, headers=someone)
    assert theirs.status_code == 201 and theirs.headers.get("Idempotent-Replayed") is None

    bad = await client.post("/api/v1/echo", json=body, headers=headers | {"Idempotency-Key": ""})
    assert bad.status_code == 422
    assert await IdempotencyKey.all().count() == 3


async def test_a_refused_request_is_replayed_too_but_a_crash_frees_the_key(
    echo_app: Quart, db: str
) -> None:
    client = echo_app.test_client()
    headers = await _caller(echo_app) | {"Idempotency-Key": "k-9"}
    refused = await client.post("/api/v1/echo", json={"count": 99, "amount": "1"}, headers=headers)
    again = await client.post("/api/v1/echo", json={"count": 99, "amount": "1"}, headers=headers)
    assert refused.status_code == again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.mimetype == "application/problem+json"


async def test_the_openapi_document_describes_only_the_api(client: QuartClient, db: str) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = await response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["paths"], "no API paths"
    assert all(path.startswith("/api/") for path in document["paths"])
    search = document["paths"]["/api/v1/schedules/search"]["get"]
    assert search["operationId"] == "get_search_schedules"
    assert {p["name"] for p in search["parameters"]} >= {"origin_city", "destination_city", "date"}
    assert search["responses"]["422"]["content"]["application/problem+json"]
    assert "Problem" in document["components"]["schemas"]


async def test_a_guest_is_told_to_log_in_before_the_body_is_read(
    client: QuartClient, db: str
) -> None:
    for body in (b"not json", b'{"schedule_id": false}'):
        response = await client.post(
            "/api/v1/reservations/create", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401
        assert (await problem_of(response))["code"] == "authentication_required"
    response = await client.post("/api/v1/reservations/create", data=b"x=1")
    assert response.status_code == 401


async def test_needs_checks_the_caller_before_the_body(settings: Settings, db: str) -> None:
    """A guest is told to authenticate (401) and a customer on an admin route is refused
    (403) before the body is read: no 422 that would describe the route to them."""
    from views.api.auth import needs
    from views.api.blueprints import api_blueprint
    from views.api.io import json_body, reply
    from views.api.schemas import Out, Strict

    class Body(Strict):
        count: int

    class Answer(Out):
        count: int

    blueprint = api_blueprint("guarded", __name__)

    @blueprint.post("/guarded/user")
    @needs("user")
    @json_body(Body)
    async def guarded_user(data: Body) -> object:
        return reply(Answer(count=data.count))

    @blueprint.post("/guarded/admin")
    @needs("admin")
    @json_body(Body)
    async def guarded_admin(data: Body) -> object:
        return reply(Answer(count=data.count))

    application = create_app(settings, manage_database=False, background_tasks=False)
    application.register_blueprint(blueprint)
    async with application.test_app() as test_app:
        client = test_app.test_client()
        customer = {"Authorization": f"Bearer {token_for(application, await make_user())}"}
        admin = await make_user(admin=True)
        admin_headers = {"Authorization": f"Bearer {token_for(application, admin)}"}
        for path in ("/api/v1/guarded/user", "/api/v1/guarded/admin"):
            response = await client.post(path, data=b"{not json")
            assert response.status_code == 401, path
            assert (await problem_of(response))["code"] == "authentication_required"
        response = await client.post("/api/v1/guarded/admin", json={}, headers=customer)
        assert response.status_code == 403
        assert (await problem_of(response))["code"] == "forbidden"
        # Past the auth layer, the body is read and checked as before.
        response = await client.post("/api/v1/guarded/user", json={}, headers=customer)
        assert response.status_code == 422
        response = await client.post(
            "/api/v1/guarded/admin", json={"count": 2}, headers=admin_headers
        )
        assert response.status_code == 200 and (await response.get_json()) == {"count": 2}


async def test_answers_without_a_model_are_documented(settings: Settings, db: str) -> None:
    """A 204 (no body) and a file answer appear in the document as such."""
    from quart import Response

    from views.api.blueprints import api_blueprint
    from views.api.io import responds_without_model

    blueprint = api_blueprint("raw", __name__)

    @blueprint.post("/raw/nothing")
    @responds_without_model(204, "Done; nothing to say.")
    async def say_nothing() -> Response:
        """Do it quietly"""
        return Response(b"", status=204)

    @blueprint.get("/raw/file")
    @responds_without_model(200, "The PDF.", "application/pdf")
    async def get_raw_file() -> Response:
        """A file"""
        return Response(b"%PDF-1.7", mimetype="application/pdf")

    application = create_app(settings, manage_database=False, background_tasks=False)
    application.register_blueprint(blueprint)
    async with application.test_app() as test_app:
        client = test_app.test_client()
        response = await client.post("/api/v1/raw/nothing")
        assert response.status_code == 204
        assert await response.get_data() == b""
        document = await (await client.get("/openapi.json")).get_json()
    nothing = document["paths"]["/api/v1/raw/nothing"]["post"]["responses"]["204"]
    assert nothing == {"description": "Done; nothing to say."}
    file = document["paths"]["/api/v1/raw/file"]["get"]["responses"]["200"]
    assert file["content"] == {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}
    }


async def test_a_word_beside_a_public_id_is_never_taken_for_one(
    client: QuartClient, db: str
) -> None:
    """/reservations/active is not /reservations/<id>: its Allow lists its own methods, and
    the document gives public ids their pattern."""
    response = await client.delete("/api/v1/reservations/active")
    assert response.status_code == 405
    assert "DELETE" not in response.headers["Allow"]
    options = await client.options("/api/v1/reservations/create")
    assert "DELETE" not in options.headers["Allow"]
    document = await (await client.get("/openapi.json")).get_json()
    [parameter] = document["paths"]["/api/v1/reservations/{reservation_id}"]["delete"]["parameters"]
    assert parameter["schema"]["pattern"] == "^[a-z]{3}_[0-9a-f]{32}$"


async def test_an_empty_search_names_the_sales_horizon_and_the_nearest_days(
    client: QuartClient, db: str
) -> None:
    tz = ZoneInfo("Asia/Kolkata")
    departure = clock.now().replace(microsecond=0) + timedelta(days=2)
    await make_trip(departure)
    day = departure.astimezone(tz).date()
    far = day + timedelta(days=20)
    response = await client.get(
        f"/api/v1/schedules/search?origin_city=Mumbai&destination_city=Pune&date={far}"
    )
    body = await response.get_json()
    assert body == {
        "schedules": [],
        "on_sale_until": day.isoformat(),
        "nearest_dates": [day.isoformat()],
    }
    found = await client.get(
        f"/api/v1/schedules/search?origin_city=Mumbai&destination_city=Pune&date={day}"
    )
    body = await found.get_json()
    assert len(body["schedules"]) == 1
    assert body["on_sale_until"] is None and body["nearest_dates"] == []
