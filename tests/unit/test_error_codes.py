"""Every domain error a client can receive has its own stable machine code."""

from __future__ import annotations

import importlib
import pkgutil
import re

import domain
from domain.errors import (
    DomainError,
    HoldLimitReached,
    SeatsUnavailable,
    ServiceUnavailable,
    ValidationFailed,
)

CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def all_domain_errors() -> list[type[DomainError]]:
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[DomainError]] = []
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_defines_its_own_well_formed_code() -> None:
    classes = all_domain_errors()
    assert len(classes) > 20  # the walk really found the domain's errors
    for cls in classes:
        assert "code" in vars(cls), f"{cls.__module__}.{cls.__name__} has no code of its own"
        assert CODE.fullmatch(cls.code), cls.code


def test_codes_are_unique() -> None:
    by_code: dict[str, str] = {}
    for cls in all_domain_errors():
        name = f"{cls.__module__}.{cls.__name__}"
        assert cls.code not in by_code, f"{name} and {by_code[cls.code]} share {cls.code}"
        by_code[cls.code] = name


def test_structured_data_sits_next_to_the_message() -> None:
    taken = SeatsUnavailable(["L3", "L4"])
    assert taken.code == "seats_unavailable"
    assert taken.data == {"seats": ["L3", "L4"], "blocked": False}
    assert "L3 and L4" in taken.message
    invalid = ValidationFailed({"passengers[0].age": "Enter an age between 1 and 120."})
    assert invalid.data == {"errors": {"passengers[0].age": "Enter an age between 1 and 120."}}
    assert ServiceUnavailable().data == {"retry_after": ServiceUnavailable.retry_after}
    limit = HoldLimitReached("Too many holds.", limit="active_holds", max=3)
    assert (limit.code, limit.data) == ("hold_limit_reached", {"limit": "active_holds", "max": 3})
