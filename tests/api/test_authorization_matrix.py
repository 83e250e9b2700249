"""The API's authorization matrix: every /api route x guest, customer, another customer,
admin and an admin API key (once domain/api_keys.py exists).

Each tests/api/test_*.py names its routes in a module-level table,
`ACCESS = [("GET", "/api/v1/reservations/active", "user"), ...]` (audience "guest", "user"
or "admin", path parameters as `{id}`); this test collects them all and fails when an /api
route (the WebSocket aside) is in none of them, when a table names a route that does not
exist, or when its audience is not what the view's `@needs` says.

Then every entry is requested as each caller, with dummy path values (a 404 or 422 for the
resource is fine: this is about the auth layer, which answers first): a guest on a "user"
or "admin" route gets a 401 problem, a customer on an "admin" route a 403 problem, an
authenticated caller is never told to authenticate, an admin (and an admin's API key) is
let through on "admin" routes; nobody ever gets a 5xx or HTML. "Another customer" calls
with the first customer's user id in `/users/{id}/...` and may not succeed there.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from quart import Quart
from quart.testing import QuartClient

from domain import clock
from domain.models import User
from tests.api.conftest import problem_of, token_for
from tests.factories import make_trip
from views.api.auth import NEEDS_ATTRIBUTE

AUDIENCES = {"guest", "user", "admin"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
HERE = Path(__file__).parent
PARAM = re.compile(r"\{[^}]+\}")
# Dummy values for a path parameter, by the resource the path names first. Public ids have
# their real shapes (domain/public_ids.py), so they reach the lookup, not a format check.
DUMMIES = {
    "reservations": "rsv_" + "0" * 32,
    "payments": "pay_" + "0" * 32,
    "cancellations": "cnl_" + "0" * 32,
    "refunds": "rfd_" + "0" * 32,
    "bookings": "BK000000",
    "tickets": "BK000000",
    "webhook": "simulator",
}


def shape(path: str) -> str:
    return PARAM.sub("{}", re.sub(r"<[^>]+>", "{}", path))


def access_tables() -> dict[str, list[tuple[str, str, str]]]:
    """Every tests/api/test_*.py module's ACCESS, by module name."""
    tables = {}
    for file in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(f"tests.api.{file.stem}")
        table = getattr(module, "ACCESS", None)
        if table is not None:
            tables[file.stem] = list(table)
    return tables


def entries() -> dict[tuple[str, str], tuple[str, str]]:
    """(method, path shape) -> (audience, path as written), one per route."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for module, table in access_tables().items():
        for method, path, audience in table:
            assert audience in AUDIENCES, f"{module}: {method} {path}: audience {audience!r}"
            key = (method.upper(), shape(path))
            if key in found:
                assert found[key][0] == audience, f"{module}: {method} {path} listed twice"
            found[key] = (audience, path)
    return found


def api_routes(app: Quart) -> dict[tuple[str, str], str | None]:
    """(method, path shape) -> what the view `needs` (None: anyone), for each /api route."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.websocket:
            continue
        needs = getattr(app.view_functions[rule.endpoint], NEEDS_ATTRIBUTE, None)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes[(method, shape(rule.rule))] = needs
    return routes


def test_every_api_route_is_in_an_access_table(app: Any) -> None:
    routes = api_routes(app.app)
    listed = entries()
    missing = sorted(f"{m} {p}" for m, p in routes.keys() - listed.keys())
    assert missing == [], (
        "API routes in no tests/api/test_*.py ACCESS table (add them to the table of the "
        f"module that tests them): {missing}"
    )
    stale = sorted(f"{m} {listed[(m, p)][1]}" for m, p in listed.keys() - routes.keys())
    assert stale == [], f"ACCESS entries with no such route: {stale}"
    wrong = sorted(
        f"{method} {listed[(method, path)][1]}: ACCESS says {listed[(method, path)][0]!r}, "
        f"the view needs {needs or 'guest'!r}"
        for (method, path), needs in routes.items()
        if listed[(method, path)][0] != (needs or "guest")
    )
    assert wrong == []


async def test_a_route_in_no_table_is_reported(settings: Any) -> None:
    """The check above is not vacuous: a new API route nobody listed shows as missing."""
    from app import create_app
    from views.api.auth import needs
    from views.api.blueprints import api_blueprint

    blueprint = api_blueprint("matrix_probe", __name__)

    @blueprint.get("/matrix-probe/<int:probe_id>")
    @needs("user")
    async def probe(probe_id: int) -> str:
        return ""

    application = create_app(settings, manage_database=False, background_tasks=False)
    application.register_blueprint(blueprint)
    routes = api_routes(application)
    assert routes[("GET", "/api/v1/matrix-probe/{}")] == "user"
    assert ("GET", "/api/v1/matrix-probe/{}") not in entries()


def api_keys_supported() -> bool:
    """Admin API keys (`bbk_...`) arrive with domain/api_keys.py; the column turns on then."""
    return importlib.util.find_spec("domain.api_keys") is not None


async def admin_api_key(admin: Any) -> str:
    api_keys = importlib.import_module("domain.api_keys")
    _, secret = await api_keys.create_api_key(admin, "Authorization matrix", now=clock.now())
    return str(secret)


@dataclass
class Caller:
    name: str
    headers: dict[str, str]
    authenticated: bool
    admin: bool


def fill(path: str, trip_id: int, owner_id: int) -> str:
    parts = path.strip("/").split("/")
    out = []
    for index, part in enumerate(parts):
        if PARAM.fullmatch(part):
            resource = parts[index - 1] if index else ""
            if resource == "users":
                out.append(str(owner_id))
            elif resource == "schedules":
                out.append(str(trip_id))
            else:
                out.append(DUMMIES.get(resource, "999999"))
        else:
            out.append(part)
    return "/" + "/".join(out)


async def test_every_api_route_for_every_caller(
    app: Any, client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await make_trip(clock.now().replace(microsecond=0) + timedelta(days=2))
    owner = await caller_for()
    other = await caller_for()
    admin = await caller_for(admin=True)
    key = await admin_api_key(admin.user) if api_keys_supported() else None

    async def callers() -> list[Caller]:
        """Fresh tokens for each route: one before may have logged its caller out."""
        fresh = [await User.get(id=c.user.id) for c in (other, owner, admin)]
        tokens = [{"Authorization": f"Bearer {token_for(app, user)}"} for user in fresh]
        found = [
            Caller("guest", {}, authenticated=False, admin=False),
            Caller("another customer", tokens[0], authenticated=True, admin=False),
            Caller("customer", tokens[1], authenticated=True, admin=False),
            Caller("admin", tokens[2], authenticated=True, admin=True),
        ]
        if key is not None:
            bearer = {"Authorization": f"Bearer {key}"}
            found.append(Caller("admin API key", bearer, authenticated=True, admin=True))
        return found

    failures = []
    for (method, _), (audience, template) in sorted(entries().items()):
        path = fill(template, trip.id, owner.user.id)
        for caller in await callers():
            kwargs: dict[str, Any] = {"headers": dict(caller.headers)}
            if method in BODY_METHODS:
                kwargs["json"] = {}
            response = await client.open(path, method=method, **kwargs)
            status = response.status_code
            where = f"{method} {path} as {caller.name}: {status}"
            text = await response.get_data(as_text=True)
            if text and (response.mimetype == "text/html" or "<html" in text.lower()):
                failures.append(f"{where}, answered HTML")
            if status >= 500:
                failures.append(f"{where}, a server error: {text[:200]}")
            if status >= 400:
                try:
                    await problem_of(response)
                except AssertionError as exc:
                    failures.append(f"{where}, not a problem document: {exc}")
            expected = expectation(audience, caller, template, status)
            if expected:
                failures.append(f"{where}, {expected}")
    assert failures == [], "\n".join(failures)


def expectation(audience: str, caller: Caller, template: str, status: int) -> str | None:
    """What is wrong with `status` for this caller on this route, or None."""
    if audience != "guest" and not caller.authenticated:
        return None if status == 401 else "expected 401 (authentication needed)"
    if caller.authenticated and status == 401:
        return "an authenticated caller was told to authenticate"
    if audience == "admin" and not caller.admin:
        return None if status == 403 else "expected 403 (admins only)"
    if audience == "admin" and caller.admin and status == 403:
        return "an admin was refused an admin route"
    if (
        caller.name == "another customer"
        and template.startswith("/api/v1/users/{")
        and 200 <= status < 300
    ):
        return "another customer reached the first customer's account"
    return None
