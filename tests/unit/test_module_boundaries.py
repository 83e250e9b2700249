"""No module reaches into another module's private names.

A leading underscore says "only this module uses it": `from domain.x import _y` or
`x._y` on an imported project module (domain.* / views.*) breaks that promise silently, so a
rename or a split breaks code nobody knew depended on it. Shared helpers are public, with a
docstring. Parsed with `ast`, so strings and comments do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from domain.settings import PROJECT_ROOT

PROJECT_PACKAGES = ("domain", "views")


def sources() -> list[Path]:
    files = [PROJECT_ROOT / "app.py"]
    for package in PROJECT_PACKAGES:
        files += sorted((PROJECT_ROOT / package).rglob("*.py"))
    return files


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_project(module: str) -> bool:
    return module.split(".")[0] in PROJECT_PACKAGES


def is_module(dotted: str) -> bool:
    path = PROJECT_ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute module name of a (possibly relative) `from … import`."""
    if not level:
        return module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def violations(source: str, importer: str, *, is_package: bool = False) -> list[str]:
    """`line: what` for each use of another module's private name in `source`, the text of
    the module named `importer`."""
    tree = ast.parse(source)
    found = []
    modules: set[str] = set()  # local names bound to a project module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_project(alias.name):
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            origin = resolve(node.module, node.level, importer, is_package)
            if not is_project(origin):
                continue
            for alias in node.names:
                if is_private(alias.name):
                    found.append(f"{node.lineno}: from {origin} import {alias.name}")
                elif is_module(f"{origin}.{alias.name}"):
                    # `from domain import holds` binds a module (`from domain.models import
                    # User` binds a class: its ORM's `_underscore` API is not ours).
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        target = node.value
        dotted = []
        while isinstance(target, ast.Attribute):
            dotted.append(target.attr)
            target = target.value
        if isinstance(target, ast.Name) and target.id in modules:
            name = ".".join([target.id, *reversed(dotted), node.attr])
            found.append(f"{node.lineno}: {name}")
    return found


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    found = violations(path.read_text(), module_name(path), is_package=path.name == "__init__.py")
    assert found == []


def test_the_check_sees_both_forms() -> None:
    """The check itself finds what it is for (so an empty list above means something)."""
    code = (
        "from domain.holds import _private\n"
        "from domain import holds\n"
        "import domain.inventory\n"
        "holds._helper()\n"
        "domain.inventory._cache.clear()\n"
        "value = 'holds._not_code'\n"
    )
    assert violations(code, "views.probe") == [
        "1: from domain.holds import _private",
        "4: holds._helper",
        "5: domain.inventory._cache",
    ]


def test_relative_imports_are_resolved() -> None:
    code = "from ._base import thing\nfrom .base import _secret\nfrom . import _rendering\n"
    assert violations(code, "domain.payments.stripe") == [
        "2: from domain.payments.base import _secret",
        "3: from domain.payments import _rendering",
    ]
    assert violations("from .base import _x\n", "domain.payments", is_package=True) == [
        "1: from domain.payments.base import _x"
    ]
