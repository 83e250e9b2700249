"""Problem details (RFC 9457) for every failure under /api: one JSON shape,
`application/problem+json`, whatever went wrong — a domain error (its stable `code` and
`data`), bad JSON, a wrong content type, undecodable bytes, an unknown path, a wrong
method (with `Allow`), an outage (503 with `Retry-After`) or a crash (500, logged, no trace).

    {"type": "urn:busbook:problem:seats_unavailable", "title": "That just changed",
     "status": 409, "code": "seats_unavailable", "detail": "Seat 4 was just taken...",
     "errors": [], "seats": ["4"]}

`errors` lists per-field messages, `field` being the request's own path
(`passengers[0].age`). The domain error's other facts (`seats`, `retry_after`, `total`...)
are extension members beside them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from quart import Response, has_request_context, has_websocket_context, request, websocket
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from domain import database
from domain.errors import DomainError, ServiceUnavailable

log = logging.getLogger("views.api")

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:busbook:problem:"
RESERVED = frozenset({"type", "title", "status", "detail", "code", "errors", "instance"})

TITLES = {
    400: "The request could not be read",
    401: "Authentication needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "That just changed",
    410: "Gone",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Some values are not valid",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "Briefly unavailable",
}
HTTP_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}
HTTP_DETAILS = {
    404: "There is no such resource. Check the path against /openapi.json.",
    405: "This resource does not accept that method; the Allow header lists those it does.",
    413: "The request body is larger than this API accepts (1 MiB).",
    500: "We could not finish this request; nothing was changed. Please try again in a moment.",
}


class ApiProblem(Exception):
    """A failure the API layer itself finds (content type, encoding, JSON, headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []
        self.headers = dict(headers or {})


def is_api_request() -> bool:
    """Whether the request (or WebSocket: the live seat socket's errors come here too) is
    under /api."""
    if has_request_context():
        path = request.path
    elif has_websocket_context():
        path = websocket.path
    else:
        return False
    return path == "/api" or path.startswith("/api/")


def field_errors(
    errors: Mapping[str, str], names: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """A domain ValidationFailed's {path: message} as the problem's `errors` list, each
    path renamed through `names` where the request calls it otherwise."""
    names = names or {}
    return [
        {"field": names.get(field, field), "message": message} for field, message in errors.items()
    ]


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The problem document itself (the WebSocket sends it inside an `error` message)."""
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title or TITLES.get(status, "Request failed"),
        "status": status,
        "code": code,
        "detail": detail,
        "errors": errors or [],
    }
    for key, value in (extra or {}).items():
        if key not in RESERVED:
            body[key] = value
    return body


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(status, code, detail, title=title, errors=errors, extra=extra)
    response = Response(json.dumps(body, default=str), status=status, mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="busbook"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def domain_body(error: DomainError, fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A domain error's problem document; `fields` renames the domain's field paths to the
    request's own names (`from` -> `from_stop`)."""
    data = dict(error.data)
    errors = data.pop("errors", None)
    return problem_body(
        error.status,
        error.code,
        error.message,
        errors=field_errors(errors, fields) if isinstance(errors, Mapping) else None,
        extra=data,
    )


def from_domain(error: DomainError) -> Response:
    data = dict(error.data)
    errors = data.pop("errors", None)
    headers: dict[str, str] = {}
    retry_after = data.get("retry_after")
    if isinstance(retry_after, int | float) and error.status in (429, 503):
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return problem(
        error.status,
        error.code,
        error.message,
        errors=field_errors(errors) if isinstance(errors, Mapping) else None,
        extra=data,
        headers=headers,
    )


def from_http(error: HTTPException) -> Response:
    status = error.code or 500
    description = error.description or ""
    # Werkzeug's stock texts ("The requested URL was not found...") speak of pages.
    if not description or description.startswith(("The ", "No ", "You ")):
        description = HTTP_DETAILS.get(status, TITLES.get(status, "The request failed."))
    headers: dict[str, str] = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if error.response is not None and error.response.headers.get("Retry-After"):
        headers["Retry-After"] = error.response.headers["Retry-After"]
    return problem(status, HTTP_CODES.get(status, "http_error"), description, headers=headers)


def from_exception(error: BaseException) -> Response:
    """Any failure under /api as its problem response."""
    if isinstance(error, ApiProblem):
        return problem(
            error.status, error.code, error.detail, errors=error.errors, headers=error.headers
        )
    if isinstance(error, DomainError):
        return from_domain(error)
    if isinstance(error, HTTPException):
        return from_http(error)
    if database.is_outage(error):
        log.warning("database unavailable: %s: %s", type(error).__name__, error)
        return from_domain(ServiceUnavailable())
    log.exception("unhandled API error", exc_info=error)
    return problem(500, "internal_error", HTTP_DETAILS[500])


async def handle(error: BaseException) -> Response:
    return from_exception(error)
