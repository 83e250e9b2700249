"""`Idempotency-Key` on creating POSTs (domain/idempotency.py keeps the answers).

`@idempotent` claims the key for the caller (the user, or the address for a guest) and the
exact request (method, path and body): the first request runs; the same again gets the
first answer, marked `Idempotent-Replayed: true`; the same key with another request is a
422, and while the first is still running a 409. An answer of 5xx or 429 changed nothing
that a retry should not redo, so it frees the key instead of being kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar, cast

from quart import Response, make_response, request

from domain import idempotency
from views.api.auth import api_user
from views.api.problems import from_exception
from views.auth import client_ip
from views.services import services

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
HEADER = "Idempotency-Key"
IDEMPOTENT_ATTRIBUTE = "_api_idempotent"
KEPT_HEADERS = ("Content-Type", "Location")


def idempotent(view: F) -> F:
    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        raw_key = request.headers.get(HEADER)
        if raw_key is None:
            return await view(*args, **kwargs)
        key = idempotency.check_key(raw_key)
        user = await api_user()
        scope = f"user:{user.id}" if user is not None else f"ip:{client_ip()}"
        body = await request.get_data(as_text=False)
        assert isinstance(body, bytes)
        fingerprint = idempotency.fingerprint(request.method, request.full_path, body)
        outcome = await idempotency.begin(scope, key, fingerprint, now=services().now())
        if isinstance(outcome, idempotency.Replay):
            replay = Response(outcome.body, status=outcome.status, headers=outcome.headers)
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        try:
            try:
                response = cast(Response, await make_response(await view(*args, **kwargs)))
            except Exception as exc:  # the problem answer is the request's answer
                response = from_exception(exc)
        except BaseException:
            await idempotency.abandon(outcome)
            raise
        if response.status_code >= 500 or response.status_code == 429:
            await idempotency.abandon(outcome)
            return response
        await idempotency.finish(
            outcome,
            status=response.status_code,
            body=await response.get_data(as_text=True),
            headers={h: response.headers[h] for h in KEPT_HEADERS if h in response.headers},
            now=services().now(),
        )
        return response

    setattr(wrapper, IDEMPOTENT_ATTRIBUTE, True)
    return wrapper  # type: ignore[return-value]
