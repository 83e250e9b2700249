"""The OpenAPI 3.1 document at /openapi.json: quart-schema's, limited to /api and completed.

quart-schema describes every route of the app and never marks a request body required;
this provider keeps only the API's operations, marks bodies required, names each
operation after its view (unique across modules), adds the bearer scheme where a view
`needs` a caller, the `Idempotency-Key` header where a view is `idempotent`, and the
problem document as the answer to every failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from quart import Quart
from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import Rule

from views.api.auth import NEEDS_ATTRIBUTE
from views.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from views.api.idempotency import IDEMPOTENT_ATTRIBUTE
from views.api.io import OPTIONAL_BODY_ATTRIBUTE, RAW_RESPONSES_ATTRIBUTE
from views.api.problems import MEDIA_TYPE
from views.api.schemas import Problem

API_PREFIX = "/api/"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
FAILURES = {
    "400": "The request could not be read (malformed JSON, undecodable bytes).",
    "401": "No valid access token.",
    "403": "The caller may not do this.",
    "404": "No such resource (or not the caller's).",
    "405": "Method not allowed (see Allow).",
    "409": "Something changed meanwhile (a seat was taken, a hold expired).",
    "415": "The body is not JSON.",
    "422": "Some values are not valid (see errors).",
    "429": "Too many requests (see Retry-After).",
}


class ApiOpenAPIProvider(OpenAPIProvider):
    def generate_rules(self) -> Iterable[Rule]:
        for rule in super().generate_rules():
            if rule.rule.startswith(API_PREFIX):
                yield rule

    def build_querystring_parameters(
        self, model: Any
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        # quart-schema looks for `required` on each property, where JSON Schema never puts
        # it: every query parameter came out optional, also those a request cannot omit.
        parameters, components = super().build_querystring_parameters(model)
        required = set(model.model_json_schema().get("required", ()))
        for parameter in parameters:
            if parameter["name"] in required:
                parameter["required"] = True
        return parameters, components

    def build_path_parameter(self, name: str, converter: Any) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        pattern = getattr(converter, "pattern", None)
        if pattern:
            parameter["schema"] = dict(parameter["schema"], pattern=pattern)
        return parameter

    def build_request_body(self, model: Any, source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        body, components = super().build_request_body(model, source)
        body["required"] = True
        return body, components

    def operation_id(self, method: str, path: str, func: Callable[..., Any]) -> str | None:
        return f"{method.lower()}_{func.__name__}"

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        for operations in paths.values():
            for method, operation in operations.items():
                operation = operations[method] = dict(operation)
                if "tags" in operation:  # a set in quart-schema: its order changed per process
                    operation["tags"] = sorted(operation["tags"])
                responses = {str(k): v for k, v in operation.get("responses", {}).items()}
                responses.update(getattr(func, RAW_RESPONSES_ATTRIBUTE, {}))
                for status, text in FAILURES.items():
                    if status == "401" and not getattr(func, NEEDS_ATTRIBUTE, None):
                        continue
                    responses.setdefault(status, _problem(text))
                responses.setdefault("default", _problem("Any other failure."))
                operation["responses"] = responses
                parameters = list(operation.get("parameters", []))
                if getattr(func, IDEMPOTENT_ATTRIBUTE, False):
                    parameters.append(
                        {
                            "name": IDEMPOTENCY_HEADER,
                            "in": "header",
                            "required": False,
                            "description": (
                                "Send the same key to repeat this request safely: the first "
                                "answer comes back. 1-255 printable ASCII characters."
                            ),
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        }
                    )
                operation["parameters"] = parameters
                if getattr(func, OPTIONAL_BODY_ATTRIBUTE, False) and "requestBody" in operation:
                    operation["requestBody"] = dict(operation["requestBody"], required=False)
        # The problem's own models ($defs: FieldError) become components beside it: the
        # $refs point there, and a $ref into a nested $defs does not resolve.
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
        return paths, components


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}}}


def document_of(app: Quart) -> dict[str, Any]:
    """The document as /openapi.json serves it (the app's JSON encoding, parsed back)."""
    schema = app.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return json.loads(app.json.dumps(schema))  # type: ignore[no-any-return]


def as_text(document: dict[str, Any]) -> str:
    """The document as docs/openapi.json holds it: keys sorted, indent 2, one final newline,
    so a change shows as a readable diff."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
