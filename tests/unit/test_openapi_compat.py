"""views/api/compat.py on tiny hand-made documents: each kind of breaking change is caught,
additive changes pass."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from views.api.compat import breaking_changes


def base() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1.0.0"},
        "paths": {
            "/items": {
                "get": {
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ItemList"}
                                }
                            },
                        }
                    },
                },
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/New"}}
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            },
                        }
                    },
                },
            },
            "/items/{id}": {
                "get": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            },
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Item": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "price": {"type": "string"},
                        "seats": {"type": "array", "items": {"$ref": "#/components/schemas/Seat"}},
                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                    "required": ["id", "price", "seats"],
                },
                "Seat": {
                    "type": "object",
                    "properties": {"number": {"type": "string"}, "kind": {"type": "string"}},
                    "required": ["number", "kind"],
                },
                "ItemList": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
                    },
                    "required": ["items"],
                },
                "New": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "count": {"type": "integer"},
                        "kind": {"enum": ["seater", "sleeper"], "type": "string"},
                    },
                    "required": ["name"],
                },
            }
        },
    }


def changed(edit: Any) -> list[str]:
    new = copy.deepcopy(base())
    edit(new)
    return breaking_changes(base(), new)


def test_the_same_document_breaks_nothing() -> None:
    assert breaking_changes(base(), base()) == []


def test_a_removed_path_or_operation_is_caught() -> None:
    assert changed(lambda d: d["paths"].pop("/items/{id}")) == ["removed path /items/{id}"]
    assert changed(lambda d: d["paths"]["/items"].pop("post")) == ["removed operation POST /items"]


def test_a_removed_success_answer_is_caught() -> None:
    def to_200(d: dict[str, Any]) -> None:
        post = d["paths"]["/items"]["post"]["responses"]
        post["200"] = post.pop("201")

    assert changed(to_200) == ["POST /items: removed answer 201"]


def test_removed_response_fields_are_caught_also_nested() -> None:
    schemas = lambda d: d["components"]["schemas"]  # noqa: E731
    found = changed(lambda d: schemas(d)["Item"]["properties"].pop("price"))
    assert "GET /items/{id} 200: response field 'price' removed" in found
    assert "GET /items 200.items[]: response field 'price' removed" in found
    found = changed(lambda d: schemas(d)["Seat"]["properties"].pop("kind"))
    assert "GET /items/{id} 200.seats[]: response field 'kind' removed" in found


def test_a_response_field_that_may_now_be_missing_is_caught() -> None:
    found = changed(lambda d: d["components"]["schemas"]["Item"]["required"].remove("price"))
    assert "GET /items/{id} 200: response field 'price' is no longer always present" in found


def test_new_required_inputs_are_caught() -> None:
    def new_param(d: dict[str, Any]) -> None:
        d["paths"]["/items"]["get"]["parameters"].append(
            {"name": "city", "in": "query", "required": True, "schema": {"type": "string"}}
        )

    assert changed(new_param) == ["GET /items: query parameter 'city' is new and required"]

    def param_required(d: dict[str, Any]) -> None:
        d["paths"]["/items"]["get"]["parameters"][0]["required"] = True

    assert changed(param_required) == ["GET /items: query parameter 'limit' became required"]

    def new_field(d: dict[str, Any]) -> None:
        new = d["components"]["schemas"]["New"]
        new["properties"]["colour"] = {"type": "string"}
        new["required"].append("colour")

    assert changed(new_field) == ["POST /items body: field 'colour' is new and required"]
    found = changed(lambda d: d["components"]["schemas"]["New"]["required"].append("count"))
    assert found == ["POST /items body: field 'count' became required"]

    def body_required(d: dict[str, Any]) -> None:
        d["paths"]["/items/{id}"]["get"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }

    assert changed(body_required) == ["GET /items/{id}: a request body is now required"]


def test_a_removed_request_field_is_caught_since_bodies_are_strict() -> None:
    found = changed(lambda d: d["components"]["schemas"]["New"]["properties"].pop("count"))
    assert found == ["POST /items body: field 'count' removed (it would be refused)"]


def test_a_narrowed_enum_is_caught() -> None:
    found = changed(
        lambda d: d["components"]["schemas"]["New"]["properties"]["kind"].update(enum=["seater"])
    )
    assert found == ["POST /items body.kind: no longer accepts ['sleeper']"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["components"]["schemas"]["Item"]["properties"]["price"].update(
                type="number"
            ),
            "GET /items/{id} 200.price: type changed from string to number",
        ),
        (
            lambda d: (
                d["components"]["schemas"]["Item"]["properties"]["id"].update(
                    anyOf=[{"type": "string"}, {"type": "null"}]
                )
                or d["components"]["schemas"]["Item"]["properties"]["id"].pop("type")
            ),
            "GET /items/{id} 200.id: type changed from string to null | string",
        ),
        (
            lambda d: d["components"]["schemas"]["New"]["properties"]["count"].update(
                type="string"
            ),
            "POST /items body.count: type changed from integer to string",
        ),
        (
            lambda d: d["paths"]["/items"]["get"]["parameters"][0]["schema"].update(type="boolean"),
            "GET /items: query parameter 'limit': type changed from integer to boolean",
        ),
        (
            lambda d: d["paths"]["/items/{id}"]["get"]["parameters"][0]["schema"].update(
                type="integer"
            ),
            "GET /items/{id}: path parameter 'id': type changed from string to integer",
        ),
    ],
)
def test_changed_types_are_caught(edit: Any, expected: str) -> None:
    assert expected in changed(edit)


def test_additive_changes_pass() -> None:
    def grow(d: dict[str, Any]) -> None:
        schemas = d["components"]["schemas"]
        d["paths"]["/things"] = copy.deepcopy(d["paths"]["/items"])  # a new path
        d["paths"]["/items/{id}"]["delete"] = {"responses": {"204": {"description": ""}}}
        d["paths"]["/items"]["get"]["parameters"].append(
            {"name": "cursor", "in": "query", "schema": {"type": "string"}}  # optional input
        )
        d["paths"]["/items"]["get"]["responses"]["404"] = {"description": "new answer"}
        schemas["Item"]["properties"]["currency"] = {"type": "string"}  # new response field
        schemas["Item"]["required"].append("note")  # now always present
        schemas["Item"]["properties"]["note"] = {"type": "string"}  # and never null: narrower
        schemas["New"]["properties"]["email"] = {"type": "string"}  # new optional field
        schemas["New"]["properties"]["count"] = {"type": "number"}  # wider input
        schemas["New"]["properties"]["kind"]["enum"].append("semi-sleeper")
        schemas["New"]["required"] = []  # looser input
        d["info"]["description"] = "More words"
        d["paths"]["/items"]["get"]["summary"] = "List items"

    assert changed(grow) == []
