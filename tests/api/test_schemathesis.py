"""schemathesis over the served /openapi.json, against the app in this process: every
operation, schemathesis's default phases (examples, coverage, fuzzing, stateful links) and
all its default checks (no 5xx, status codes, content types, headers and bodies as
documented, invalid input refused, valid input accepted, auth not ignored...), with a
bounded number of generated examples. Zero failures.

The database has a little in it (a trip with seats, a customer and an admin), and the
bearer tokens go to the operations that declare the bearer scheme: the admin's to those
whose view `needs("admin")`, the customer's to the rest, so authenticated operations run
their real code, not only their 401.

How it runs in-process: schemathesis drives an ASGI app from its own thread and event loop
(anyio's blocking portal), but this app's database connections belong to the test
session's loop. `LoopBridge` is the ASGI app schemathesis gets: it forwards each request to
the real app on the session's loop, which stays free because the test awaits the whole
schemathesis run in a worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import schemathesis
from quart import Quart
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from schemathesis.generation import GenerationMode

from domain import clock
from tests.factories import make_trip
from views.api.auth import NEEDS_ATTRIBUTE
from views.api.io import INVALID_DETAIL

ASGIApp = Callable[[dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Any]], Any]
MAX_EXAMPLES = 10  # per operation and phase; the whole test stays well under 90 s
SEED = 20261202  # the same cases every run: a failure here is reproducible


class LoopBridge:
    """An ASGI app that runs `app` on `loop` (another thread's) for each request."""

    def __init__(self, app: Quart, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            # The real app is already serving (the test's `app` fixture started it).
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        here = asyncio.get_running_loop()

        def over_there(call: Awaitable[Any]) -> Awaitable[Any]:
            return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call, here))  # type: ignore[arg-type]

        async def bridged_receive() -> Any:
            return await over_there(receive())

        async def bridged_send(message: Any) -> None:
            await over_there(send(message))

        done = asyncio.run_coroutine_threadsafe(
            self.app(scope, bridged_receive, bridged_send),  # type: ignore[arg-type]
            self.loop,
        )
        await asyncio.wrap_future(done)


def admin_operation_ids(app: Quart) -> list[str]:
    """The operationIds of views marked `needs("admin")`, named as the document names them."""
    provider = app.extensions["QUART_SCHEMA"].openapi_provider
    ids = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if view is None or getattr(view, NEEDS_ATTRIBUTE, None) != "admin":
            continue
        for method in rule.methods or ():
            if method not in {"HEAD", "OPTIONS"}:
                ids.append(provider.operation_id(method, rule.rule, view))  # type: ignore[arg-type]
    return sorted(ids)


def run_schemathesis(
    app: ASGIApp, *, customer_token: str, admin_token: str, admin_ids: list[str]
) -> tuple[list[str], dict[str, int]]:
    """Run every default phase and check; the failures found, and how many scenarios ran
    per phase."""
    settings: dict[str, Any] = {
        "seed": SEED,
        "cache": {"enabled": False},  # each run from scratch: no state between CI runs
        "generation": {"max-examples": MAX_EXAMPLES},
        "auth": {"openapi": {"bearer": {"bearer": customer_token}}},
        "phases": {"stateful": {"max-steps": 10}},
        "continue-on-failure": True,
        # A request can match the document and still break a domain rule the document
        # cannot state (an unknown city, a date in the past, a seat taken meanwhile): the
        # domain refuses it with 422 and its field errors. Refusals by the request's own
        # model are still failures: `_refused_by_the_model` below. And a NUL character,
        # which PostgreSQL text cannot hold, is refused with a 400 wherever it comes
        # (views/forms.py), which no JSON Schema `string` says.
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", "3XX", "400", "401", "403", "404", "409", "422", "429"]
            }
        },
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    }
    if admin_ids:
        settings["operations"] = [
            {
                "include-operation-id": admin_ids,
                # (per-operation auth takes only basic credentials; the header does it)
                "headers": {"Authorization": f"Bearer {admin_token}"},
            }
        ]
    config = SchemathesisConfig.from_dict(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    failures: list[str] = []
    ran: dict[str, int] = {}
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            ran[event.phase.value] = ran.get(event.phase.value, 0) + 1
            failures.extend(_failures_of(event))
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error {event.info.format()}")
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception!r}")
    return failures, ran


def _refused_by_the_model(event: events.ScenarioFinished) -> list[str]:
    """Schema-valid requests that the API's own pydantic model refused (a 422 whose detail
    is views/api/io.py's): the document and the model disagree."""
    found = []
    for case_id, node in event.recorder.cases.items():
        case = node.value
        if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
            continue
        interaction = event.recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        if response is None or response.status_code != 422:
            continue
        body = json.loads(response.content or b"{}")
        if str(body.get("detail", "")).startswith(INVALID_DETAIL):
            found.append(
                f"[{event.phase.value}] {event.recorder.label}: a schema-valid request was "
                f"refused by its model: {body.get('errors')}\n    {case.method} "
                f"{case.formatted_path} query={case.query} body={case.body!r:.200}"
            )
    return found


def _failures_of(event: events.ScenarioFinished) -> list[str]:
    found = _refused_by_the_model(event)
    recorder = event.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            case = recorder.cases[case_id].value
            interaction = recorder.interactions.get(case_id)
            answer = ""
            if interaction is not None and interaction.response is not None:
                response = interaction.response
                answer = f" -> {response.status_code} {(response.content or b'')[:300]!r}"
            failure = check.failure_info.failure
            found.append(
                f"[{event.phase.value}] {recorder.label}: {check.name}: {failure.title}"
                f" ({failure.message.strip()[:300]})\n    {case.method} {case.formatted_path}"
                f" query={case.query} body={json.dumps(case.body, default=str)[:200]}{answer}"
            )
    return found


async def test_schemathesis_finds_no_failure(app: Any, db: str, caller_for: Any) -> None:
    quart_app: Quart = app.app
    await make_trip(clock.now().replace(microsecond=0) + timedelta(days=2))
    customer = await caller_for()
    admin = await caller_for(admin=True)
    bridge = LoopBridge(quart_app, asyncio.get_running_loop())
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        failures, ran = await asyncio.get_running_loop().run_in_executor(
            pool,
            lambda: run_schemathesis(
                bridge,  # type: ignore[arg-type]
                customer_token=customer.token,
                admin_token=admin.token,
                admin_ids=admin_operation_ids(quart_app),
            ),
        )
    elapsed = time.monotonic() - started
    assert ran.get("fuzzing"), f"schemathesis ran nothing: {ran}"
    assert failures == [], "\n".join(failures)
    assert elapsed < 90, f"schemathesis took {elapsed:.0f} s; lower MAX_EXAMPLES"
