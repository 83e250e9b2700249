"""Every row lock in the domain waits a bounded time (domain/locking.py): a function that
takes `select_for_update()` (a waiting lock, not a skip-locked claim) opens its transaction
with `locking.transaction()`, never a bare `in_transaction()`."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"


def waiting_locks(node: ast.AST) -> list[int]:
    lines = []
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "select_for_update"
            and not any(k.arg in {"skip_locked", "nowait"} for k in call.keywords)
        ):
            lines.append(call.lineno)
    return lines


def bare_transactions(node: ast.AST) -> list[int]:
    return [
        call.lineno
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "in_transaction"
    ]


def test_waiting_row_locks_use_the_bounded_transaction() -> None:
    offenders = []
    for path in sorted(DOMAIN.rglob("*.py")):
        if path.name == "locking.py" or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for fn in ast.walk(tree):
            is_function = isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and waiting_locks(fn) and bare_transactions(fn):
                offenders.append(f"{path.name}:{fn.lineno} {fn.name}")
    assert not offenders, f"row locks under a bare in_transaction(): {offenders}"


def test_the_rule_sees_a_violation() -> None:
    bad = ast.parse(
        "async def f():\n"
        "    async with in_transaction() as conn:\n"
        "        await M.filter(id=1).select_for_update().using_db(conn).first()\n"
    )
    good = ast.parse(
        "async def f():\n"
        "    async with in_transaction() as conn:\n"
        "        await M.filter(id=1).select_for_update(skip_locked=True).using_db(conn)\n"
    )
    assert waiting_locks(bad) and bare_transactions(bad)
    assert not waiting_locks(good)
