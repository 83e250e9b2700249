"""Reading requests and writing answers under /api: strict pydantic at the edge.

- `@json_body(Model)`: the body must be `application/json` (415 otherwise), UTF-8 (400),
  well-formed JSON (400) and match the model in pydantic's strict mode (422 with one entry
  per field: `false` is no integer, `"3"` no number, unknown fields are refused). The view
  gets it as `data=`.
- `@optional_json_body(Model)`: the same, but an empty body is the model's defaults.
- `@query(Model)`: the query string, converted (a query string is all text) and checked;
  unknown parameters are ignored. The view gets it as `query=`.
- `@responds(Model, status)`: documents the answer in the OpenAPI document.
- `@responds_without_model(status, description, media_type)`: documents an answer that
  is not a JSON model: a 204 with no body, or a file (`application/pdf`).
- `reply(model, status)`: the model as JSON (money as decimal strings, times ISO 8601).

Each decorator records what quart-schema needs to describe the operation, so the document
is made from the same models the code uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Response, request
from quart_schema.openapi import QUART_SCHEMA_TAG_ATTRIBUTE
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
    QUART_SCHEMA_RESPONSE_ATTRIBUTE,
    DataSource,
)

from views.api.problems import ApiProblem
from views.forms import NUL_MESSAGE

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

JSON_TYPES = frozenset({"application/json"})
# A JSON string may spell a NUL character as \u0000 (an odd run of backslashes before the
# u: "\\u0000" is a backslash and text). PostgreSQL text cannot hold one, so it is refused
# before any view sees it, as in a query string or a form (views/forms.py).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# How a refusal by the request's own model (not by a domain rule) begins its `detail`.
INVALID_DETAIL = "Some values are not valid"


def _path(loc: Iterable[int | str]) -> str:
    """pydantic's location as the request's own path: passengers[0].age."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_errors(error: ValidationError) -> list[dict[str, str]]:
    errors = []
    for item in error.errors(include_url=False):
        message = str(item["msg"])
        if item["type"] == "extra_forbidden":
            message = "This field is not part of the request; check its name."
        elif item["type"] == "missing":
            message = "This field is required."
        errors.append({"field": _path(item["loc"]) or "body", "message": message})
    return errors


def invalid(errors: list[dict[str, str]], detail: str | None = None) -> ApiProblem:
    first = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
    return ApiProblem(
        422, "validation_failed", detail or f"{INVALID_DETAIL} ({first}).", errors=errors
    )


async def read_json(model: type[M]) -> M:
    if request.mimetype not in JSON_TYPES and not request.mimetype.endswith("+json"):
        raise ApiProblem(
            415,
            "unsupported_media_type",
            "Send the request body as JSON with 'Content-Type: application/json'.",
        )
    raw = await request.get_data(as_text=False)
    assert isinstance(raw, bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiProblem(
            400,
            "invalid_encoding",
            f"The request body is not valid UTF-8 (byte {exc.start} cannot be read).",
        ) from exc
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise ApiProblem(400, "bad_request", NUL_MESSAGE)
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        broken = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if broken:
            raise ApiProblem(
                400,
                "malformed_json",
                f"The request body is not well-formed JSON ({broken[0]['msg']}).",
            ) from exc
        whole = _integral_numbers_as_ints(exc, text)
        if whole is None:
            raise invalid(validation_errors(exc)) from exc
    # JSON has one number type, and JSON Schema counts 3.0 as an integer: a whole number
    # written with a fraction is taken as that integer (only after a refusal, so the
    # common case parses once). `false` and "3" stay refused.
    try:
        return model.model_validate_json(whole, strict=True)
    except ValidationError as exc:
        raise invalid(validation_errors(exc)) from exc


def _integral_numbers_as_ints(error: ValidationError, text: str) -> str | None:
    """The body again with every whole-valued float as an int, when an int was refused
    because of one; None when that is not what went wrong."""
    if not any(
        e["type"] == "int_type" and isinstance(e.get("input"), float) for e in error.errors()
    ):
        return None

    def whole(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        if isinstance(value, list):
            return [whole(v) for v in value]
        if isinstance(value, dict):
            return {k: whole(v) for k, v in value.items()}
        return value

    return json.dumps(whole(json.loads(text)))


def json_body(model: type[BaseModel]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await view(*args, data=await read_json(model), **kwargs)

        setattr(wrapper, QUART_SCHEMA_REQUEST_ATTRIBUTE, (model, DataSource.JSON))
        return wrapper  # type: ignore[return-value]

    return decorator


OPTIONAL_BODY_ATTRIBUTE = "_api_optional_body"


def optional_json_body(model: type[BaseModel]) -> Callable[[F], F]:
    """Like `json_body`, for a request that may come without a body (then the model's
    defaults); documented with `requestBody.required: false`."""

    def decorator(view: F) -> F:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            raw = await request.get_data(as_text=False)
            data = await read_json(model) if raw else model()
            return await view(*args, data=data, **kwargs)

        setattr(wrapper, QUART_SCHEMA_REQUEST_ATTRIBUTE, (model, DataSource.JSON))
        setattr(wrapper, OPTIONAL_BODY_ATTRIBUTE, True)
        return wrapper  # type: ignore[return-value]

    return decorator


def read_query(model: type[M]) -> M:
    values: dict[str, Any] = {}
    for name in request.args:
        items = request.args.getlist(name)
        field = model.model_fields.get(name)
        is_list = field is not None and getattr(field.annotation, "__origin__", None) is list
        values[name] = items if is_list or len(items) > 1 else items[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid(validation_errors(exc)) from exc


def query(model: type[BaseModel]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await view(*args, query=read_query(model), **kwargs)

        setattr(wrapper, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, model)
        return wrapper  # type: ignore[return-value]

    return decorator


def responds(model: type[BaseModel], status: int = 200) -> Callable[[F], F]:
    """Document an answer (no re-validation at run time: the view builds the model)."""

    def decorator(view: F) -> F:
        schemas = dict(getattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, {}))
        schemas[status] = (model, None)
        setattr(view, QUART_SCHEMA_RESPONSE_ATTRIBUTE, schemas)
        return view

    return decorator


RAW_RESPONSES_ATTRIBUTE = "_api_raw_responses"


def responds_without_model(
    status: int, description: str, media_type: str | None = None
) -> Callable[[F], F]:
    """Document an answer with no JSON model: no body at all (`media_type=None`, a 204) or
    a file of `media_type`. The OpenAPI provider (views/api/openapi.py) writes it."""

    def decorator(view: F) -> F:
        answers = dict(getattr(view, RAW_RESPONSES_ATTRIBUTE, {}))
        answer: dict[str, Any] = {"description": description}
        if media_type is not None:
            answer["content"] = {media_type: {"schema": {"type": "string", "format": "binary"}}}
        answers[str(status)] = answer
        setattr(view, RAW_RESPONSES_ATTRIBUTE, answers)
        return view

    return decorator


def tags(*names: str) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        setattr(view, QUART_SCHEMA_TAG_ATTRIBUTE, set(names))
        return view

    return decorator


def reply(
    value: BaseModel, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(value.model_dump_json(), status=status, mimetype="application/json")
    for name, header in (headers or {}).items():
        response.headers[name] = header
    return response
