"""Breaking changes between two versions of the OpenAPI document (docs/openapi.json).

`breaking_changes(old, new)` lists what would break a client written against `old`:

- a path or an operation (method) removed;
- a success answer (2xx status) removed; a response field removed, no longer always
  present, or of another type;
- a new required parameter or body field, a parameter or body field that became required,
  a body that became required; a parameter or body field removed (bodies are strict: an
  unknown field is refused) or of another type, an enum value a client could send removed.

Additive changes pass: new operations, new optional inputs, new response fields, new
answers, wider request types, text. Types compare by their JSON types (`anyOf`/`oneOf`
alternatives included, so `integer` -> `integer | null` widens a request and narrows
nothing in a response) and format; `$ref`s are followed into the document's components.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
JSON_TYPES = ("application/json", "application/problem+json")


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return list(_Compare(old, new).run())


class _Compare:
    def __init__(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.old = old
        self.new = new

    def run(self) -> Iterator[str]:
        new_paths = self.new.get("paths", {})
        for path, old_item in self.old.get("paths", {}).items():
            new_item = new_paths.get(path)
            if new_item is None:
                yield f"removed path {path}"
                continue
            for method in METHODS:
                if method not in old_item:
                    continue
                where = f"{method.upper()} {path}"
                if method not in new_item:
                    yield f"removed operation {where}"
                    continue
                yield from self.operation(where, old_item[method], new_item[method])

    # ---------------------------------------------------------------- operations

    def operation(
        self, where: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> Iterator[str]:
        yield from self.parameters(where, old.get("parameters", []), new.get("parameters", []))
        yield from self.request_body(where, old.get("requestBody"), new.get("requestBody"))
        old_answers = old.get("responses", {})
        new_answers = new.get("responses", {})
        for status, old_answer in old_answers.items():
            if not str(status).startswith("2"):
                continue
            new_answer = new_answers.get(status)
            if new_answer is None:
                yield f"{where}: removed answer {status}"
                continue
            old_schema, new_schema = _json_schema(old_answer), _json_schema(new_answer)
            if old_schema is not None and new_schema is not None:
                yield from self.response(f"{where} {status}", old_schema, new_schema, set())

    def parameters(self, where: str, old: list[Any], new: list[Any]) -> Iterator[str]:
        old_by_key = {(p["in"], p["name"]): p for p in map(self.old_ref, old)}
        new_by_key = {(p["in"], p["name"]): p for p in map(self.new_ref, new)}
        for key, parameter in new_by_key.items():
            label = f"{where}: {key[0]} parameter {key[1]!r}"
            before = old_by_key.get(key)
            if parameter.get("required") and before is None:
                yield f"{label} is new and required"
            elif parameter.get("required") and not before.get("required"):  # type: ignore[union-attr]
                yield f"{label} became required"
        for key, before in old_by_key.items():
            label = f"{where}: {key[0]} parameter {key[1]!r}"
            after = new_by_key.get(key)
            if after is None:
                # A removed query or header parameter is ignored when sent; a path one
                # changes the path, which the paths above already compare.
                continue
            yield from self.request(label, before.get("schema", {}), after.get("schema", {}), set())

    def request_body(self, where: str, old: Any, new: Any) -> Iterator[str]:
        if new is None:
            return
        new = self.new_ref(new)
        if old is None:
            if new.get("required"):
                yield f"{where}: a request body is now required"
            return
        old = self.old_ref(old)
        if new.get("required") and not old.get("required"):
            yield f"{where}: the request body became required"
        old_schema, new_schema = _json_schema(old), _json_schema(new)
        if old_schema is not None and new_schema is not None:
            yield from self.request(f"{where} body", old_schema, new_schema, set())

    # ------------------------------------------------------------------- schemas

    def request(self, where: str, old: Any, new: Any, seen: set[tuple[str, str]]) -> Iterator[str]:
        """What a client sends: the new schema must accept everything the old one did."""
        old, new, key = self._resolve(old, new)
        if key in seen:
            return
        seen = seen | {key}
        old_types, new_types = _types(old), _types(new)
        if old_types and new_types and not _within(old_types, new_types):
            yield f"{where}: type changed from {_show(old_types)} to {_show(new_types)}"
            return
        if "enum" in old and "enum" in new:
            lost = [v for v in old["enum"] if v not in new["enum"]]
            if lost:
                yield f"{where}: no longer accepts {lost}"
        old_props, new_props = _properties(old), _properties(new)
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name in sorted(new_required - old_required):
            state = "is new and required" if name not in old_props else "became required"
            yield f"{where}: field {name!r} {state}"
        for name, old_prop in old_props.items():
            if name not in new_props:
                if new.get("additionalProperties") is not True:
                    yield f"{where}: field {name!r} removed (it would be refused)"
                continue
            yield from self.request(f"{where}.{name}", old_prop, new_props[name], seen)
        if "items" in old and "items" in new:
            yield from self.request(f"{where}[]", old["items"], new["items"], seen)

    def response(self, where: str, old: Any, new: Any, seen: set[tuple[str, str]]) -> Iterator[str]:
        """What a client reads: everything the old schema promised must still be there."""
        old, new, key = self._resolve(old, new)
        if key in seen:
            return
        seen = seen | {key}
        old_types, new_types = _types(old), _types(new)
        if old_types and new_types and not _within(new_types, old_types):
            yield f"{where}: type changed from {_show(old_types)} to {_show(new_types)}"
            return
        old_props, new_props = _properties(old), _properties(new)
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name, old_prop in old_props.items():
            if name not in new_props:
                yield f"{where}: response field {name!r} removed"
                continue
            if name in old_required and name not in new_required:
                yield f"{where}: response field {name!r} is no longer always present"
            yield from self.response(f"{where}.{name}", old_prop, new_props[name], seen)
        if "items" in old and "items" in new:
            yield from self.response(f"{where}[]", old["items"], new["items"], seen)

    def _resolve(self, old: Any, new: Any) -> tuple[Any, Any, tuple[str, str]]:
        key = (old.get("$ref", ""), new.get("$ref", ""))
        return self.old_ref(old), self.new_ref(new), key

    def old_ref(self, node: Any) -> Any:
        return _deref(self.old, node)

    def new_ref(self, node: Any) -> Any:
        return _deref(self.new, node)


def _deref(document: Mapping[str, Any], node: Any) -> Any:
    for _ in range(32):  # a $ref to a $ref...
        if not isinstance(node, Mapping) or "$ref" not in node:
            return node
        target: Any = document
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra} if extra else target
    return node


def _json_schema(container: Mapping[str, Any]) -> Any:
    content = container.get("content", {})
    for media in JSON_TYPES:
        if media in content:
            return content[media].get("schema")
    return None


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a schema allows (with format: `string:date-time`); empty = any."""
    found: set[str] = set()
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        for alternative in alternatives:
            if "$ref" in alternative:
                found.add("object")  # a named model; its fields are compared separately
                continue
            inner = _types(alternative)
            if not inner:
                return frozenset()
            found |= inner
        return frozenset(found)
    declared = schema.get("type")
    if declared is None:
        if "properties" in schema:
            return frozenset({"object"})
        if "enum" in schema or "const" in schema:
            values = schema.get("enum", [schema.get("const")])
            return frozenset(_type_of(v) for v in values)
        return frozenset()
    names = declared if isinstance(declared, list) else [declared]
    fmt = schema.get("format")
    return frozenset(f"{n}:{fmt}" if fmt and n == "string" else n for n in names)


def _within(inner: frozenset[str], outer: frozenset[str]) -> bool:
    """Every value of `inner`'s types is one of `outer`'s (an integer is a number, a
    formatted string a string)."""

    def fits(kind: str) -> bool:
        return (
            kind in outer
            or (kind == "integer" and "number" in outer)
            or (kind.startswith("string:") and "string" in outer)
        )

    return all(fits(kind) for kind in inner)


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    props = dict(schema.get("properties", {}))
    for alternative in schema.get("allOf", ()):
        props.update(alternative.get("properties", {}))
    return props


def _show(types: frozenset[str]) -> str:
    return " | ".join(sorted(types))
