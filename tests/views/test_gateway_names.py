"""No view names a payment gateway: the way back from any gateway is one domain call
(`payment_outcomes.payment_return`, read by each adapter's `Gateway.read_return`), so a new
gateway needs no view. The one exception is views/simulator.py, the simulator's hosted page:
it stands in for a real gateway's own website, which by nature belongs to one gateway."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VIEWS = Path(__file__).resolve().parents[2] / "views"
GATEWAY_NAMES = ("simulator", "stripe", "razorpay")
OWN_PAGES = {VIEWS / "simulator.py"}


def string_constants(path: Path) -> list[str]:
    """Every string literal in a module (f-strings' literal parts and docstrings too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


MODULES = sorted(p for p in VIEWS.rglob("*.py") if p not in OWN_PAGES)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(VIEWS)))
def test_no_view_names_a_gateway(path: Path) -> None:
    named = [
        (name, text)
        for text in string_constants(path)
        for name in GATEWAY_NAMES
        if name in text.lower()
    ]
    assert named == []


def test_the_check_sees_the_modules_and_a_name_in_a_string() -> None:
    assert len(MODULES) > 10 and VIEWS / "checkout.py" in MODULES
    assert "simulator" in " ".join(string_constants(VIEWS / "simulator.py")).lower()
