"""The OpenAPI document is the API's contract: docs/openapi.json is the committed copy of what
/openapi.json serves, CI fails when the two differ (regenerate it with
`uv run busbook openapi --output docs/openapi.json`), and a new version may not break a
client of the last published one (views/api/compat.py). Plus what every operation must
carry for a client to generate an SDK from the document."""

from __future__ import annotations

import difflib
import json
import re
import subprocess
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from domain.settings import PROJECT_ROOT
from views.api.auth import NEEDS_ATTRIBUTE
from views.api.compat import breaking_changes
from views.api.openapi import as_text

SNAPSHOT = PROJECT_ROOT / "docs" / "openapi.json"
SNAPSHOT_PATH = "docs/openapi.json"
EXPORT = "uv run busbook openapi --output docs/openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
async def served(client: QuartClient, db: str) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return await response.get_json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


# ------------------------------------------------------------------ served vs committed


async def test_the_served_document_is_the_committed_one(served: dict[str, Any]) -> None:
    assert SNAPSHOT.exists(), f"docs/openapi.json is missing: run `{EXPORT}`"
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    if committed != served:
        diff = difflib.unified_diff(
            as_text(committed).splitlines(),
            as_text(served).splitlines(),
            "docs/openapi.json",
            "/openapi.json",
            lineterm="",
            n=2,
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(
            f"/openapi.json differs from docs/openapi.json: run `{EXPORT}` and commit it "
            f"(after checking the change is what you meant).\n{shown}"
        )
    assert SNAPSHOT.read_text(encoding="utf-8") == as_text(committed), (
        f"docs/openapi.json is not in the export's form (sorted keys, indent 2): run `{EXPORT}`"
    )


async def test_the_export_command_writes_the_served_document(
    served: dict[str, Any], tmp_path: Any
) -> None:
    from click.testing import CliRunner

    from app import main

    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == as_text(served)
    printed = CliRunner().invoke(main, ["openapi"])
    assert json.loads(printed.stdout) == served


def published_versions() -> list[dict[str, Any]]:
    """docs/openapi.json as each commit that changed it left it, newest first ([] without
    git history: a source tarball, or a clone too shallow to hold the file's history)."""
    try:
        log = subprocess.run(
            ["git", "log", "--format=%H", "--", SNAPSHOT_PATH],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return []
    versions = []
    for commit in log:
        shown = subprocess.run(
            ["git", "show", f"{commit}:{SNAPSHOT_PATH}"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if shown.returncode == 0:
            versions.append(json.loads(shown.stdout))
    return versions


def baseline_for(current: dict[str, Any]) -> dict[str, Any]:
    """What `current` must stay compatible with: the newest committed version of
    docs/openapi.json that differs from it — the one in HEAD while the change is not yet
    committed, the one before the change once it is. Without git history, the working
    tree's docs/openapi.json."""
    for version in published_versions():
        if version != current:
            return version
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def major(document: dict[str, Any]) -> str:
    return str(document.get("info", {}).get("version", "0")).split(".")[0]


async def test_the_document_stays_compatible_with_the_last_published_one(
    served: dict[str, Any],
) -> None:
    baseline = baseline_for(served)
    if major(baseline) != major(served):
        return  # a new major version (info.version) is where breaking changes go
    broken = breaking_changes(baseline, served)
    assert broken == [], (
        "This change breaks clients of the published API (docs/openapi.json in git):\n  "
        + "\n  ".join(broken)
        + "\nKeep the old shape (add, don't remove or tighten), or bump info.version's major."
    )


# ------------------------------------------------------------- what every operation has


def optional_bodies(app: Quart) -> set[tuple[str, str]]:
    """Operations whose view takes its body as optional (io.optional_json_body, where it
    exists), documented with `required: false` on purpose."""
    from views.api import io

    attribute = getattr(io, "OPTIONAL_BODY_ATTRIBUTE", "_api_optional_body")
    return {
        (method, openapi_path(rule.rule))
        for rule in api_rules(app)
        if getattr(app.view_functions[rule.endpoint], attribute, False)
        for method in rule.methods or ()
    }


async def test_every_operation_can_be_generated_into_an_sdk(
    app: Any, served: dict[str, Any]
) -> None:
    optional = optional_bodies(app.app)
    found = operations(served)
    assert found, "no operations"
    ids = [operation.get("operationId") for _, _, operation in found]
    problems = []
    if len(set(ids)) != len(ids) or None in ids:
        problems.append(f"operationIds missing or repeated: {sorted(map(str, ids))}")
    for method, path, operation in found:
        where = f"{method} {path}"
        if not operation.get("summary"):
            problems.append(f"{where}: no summary (the view's docstring, first line)")
        answers = operation.get("responses", {})
        successes = {s: a for s, a in answers.items() if str(s).startswith("2")}
        if not successes:
            problems.append(f"{where}: no 2xx answer documented (@responds)")
        for status, answer in successes.items():
            has_schema = any(media.get("schema") for media in answer.get("content", {}).values())
            if status != "204" and not has_schema:
                problems.append(f"{where}: answer {status} has no schema")
        body = operation.get("requestBody")
        if body is not None and body.get("required") is not True and (method, path) not in optional:
            problems.append(f"{where}: requestBody.required is not true")
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "path" and parameter.get("required") is not True:
                problems.append(f"{where}: path parameter {parameter['name']} not required")
    assert problems == [], "\n".join(problems)


def api_rules(app: Quart) -> list[Any]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and not rule.websocket
    ]


def openapi_path(rule_path: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule_path)


async def test_the_bearer_scheme_is_on_exactly_the_views_that_need_a_caller(
    app: Any, served: dict[str, Any]
) -> None:
    quart_app: Quart = app.app
    assert served["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    wrong = []
    for rule in api_rules(quart_app):
        view = quart_app.view_functions[rule.endpoint]
        needs = getattr(view, NEEDS_ATTRIBUTE, None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = served["paths"][openapi_path(rule.rule)][method.lower()]
            security = operation.get("security")
            if needs and {"bearer": []} not in (security or []):
                wrong.append(f"{method} {rule.rule} needs {needs!r} but shows {security}")
            if not needs and security:
                wrong.append(f"{method} {rule.rule} is open but shows {security}")
            if needs and "401" not in operation["responses"]:
                wrong.append(f"{method} {rule.rule} needs a caller but documents no 401")
    assert wrong == [], "\n".join(wrong)


async def test_the_document_holds_every_api_route_and_nothing_else(
    app: Any, served: dict[str, Any]
) -> None:
    quart_app: Quart = app.app
    routes = {
        (method, openapi_path(rule.rule))
        for rule in api_rules(quart_app)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(method, path) for method, path, _ in operations(served)}
    assert documented == routes
    assert all(path.startswith("/api/v1/") for _, path in documented)


async def test_required_query_parameters_are_marked_required(served: dict[str, Any]) -> None:
    search = served["paths"]["/api/v1/schedules/search"]["get"]
    required = {p["name"]: p.get("required", False) for p in search["parameters"]}
    assert required == {
        "origin_city": True,
        "destination_city": True,
        "date": True,
        "sort": False,
    }


async def test_every_reference_resolves(served: dict[str, Any]) -> None:
    text = json.dumps(served)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs, "no $ref at all"
    assert refs <= set(served["components"]["schemas"]), refs - set(served["components"]["schemas"])
    assert "$defs" not in text
