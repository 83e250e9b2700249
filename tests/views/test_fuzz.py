"""A bounded random form fuzzer over every route of the app and every role: hostile query
strings, forms and path values must never be answered with a 5xx.

Seeded, so a failure repeats: FUZZ_SEED picks the seed (default fixed), FUZZ_EXAMPLES the
number of requests (default a few hundred, enough for CI; run thousands locally)."""

from __future__ import annotations

import inspect
import os
import random
import re
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.routing import Rule

from domain.models import ScheduleSeat
from tests.views.test_authorization import csrf_of, world  # noqa: F401  (the fixture)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
SEED = int(os.environ.get("FUZZ_SEED", "20261201"))
FIELD_RE = re.compile(r"(?:get|getlist)\(\s*\"([a-z_]+)\"")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# Routes the fuzzer leaves out, and why (the SSE stream never ends when its input is good;
# its bad input is refused before it starts, covered by test_bad_input.py).
SKIP = {"/static/<path:filename>", "/schedules/<int:schedule_id>/stream"}

HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "2147483647",
    "2147483648",
    "99999999999999999999",
    "9" * 5000,
    "²",
    "١٢",
    "1²",
    "½",
    "\x00",
    "a\x00b",
    "Mumbai\x00",
    "\r\n",
    "x" * 10_000,
    "Infinity",
    "-Infinity",
    "NaN",
    "sNaN",
    "1e20",
    "1e-20",
    "0.001",
    "12345678901.99",
    "650",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "24:00",
    "99:99",
    "on",
    "1",
    "approve",
    "upi",
    "female",
    "Mumbai",
    "Pune",
    "priya@example.com",
    "a@b.co" + "m" * 300,
    "TK-" + "9" * 40,
    "BK" + "Z" * 40,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
    "Mumbai | 0 | 0 | Dadar\nPune | 210 | 148 | Swargate",
    "\n".join(f"City{i} | {i} | {i} | p" for i in range(200)),
    "A | 0 | 0\nB | 99999999999 | 5",
    "A | 0 | 0\nB | ² | 5",
]

FIELDS = [
    "ac", "action", "actor", "aisle_after", "base_fare", "blocked", "boarding_point_id",
    "bus_id", "cancelled", "code", "columns", "contact_email", "contact_phone", "created",
    "current_password", "date", "departure_time", "destination_city", "dropping_point_id",
    "email", "error", "first_day", "first_name", "from", "from_stop", "idempotency_key",
    "is_ac", "kind", "last_day", "last_name", "message", "method", "name", "new_password",
    "next", "order_id", "origin_city", "outcome", "page", "passenger_ids", "password",
    "phone_number", "q", "quoted_total", "razorpay_payment_id", "razorpay_signature",
    "reason", "registration", "released", "route_id", "rows", "saved", "schedule_id",
    "seat_ids", "sig", "since", "sort", "stops", "subject_id", "subject_type", "to",
    "to_stop", "token", "until", "weekdays", "window",
]  # fmt: skip

# Which world value a path parameter takes when the fuzzer keeps it valid.
PATH_VALUES = {
    "schedule_id": "trip",
    "reservation_id": "hold",
    "payment_id": "payment",
    "cancellation_id": "cancellation",
    "user_id": "owner_id",
    "schedule_seat_id": "seat",
    "reference": "ref",
    "number": "ticket",
}


def _value(rng: random.Random, values: dict[str, Any]) -> str:
    if rng.random() < 0.2:
        return str(rng.choice([values["trip"], values["seat"], values["hold"], values["ref"]]))
    return rng.choice(HOSTILE)


def _path(rng: random.Random, rule: Rule, values: dict[str, Any]) -> str:
    path = rule.rule
    for name in rule.arguments:
        if rng.random() < 0.6:
            raw = str(values.get(PATH_VALUES.get(name, ""), "simulator"))
        else:
            raw = rng.choice(HOSTILE)
        path = path.replace(f"<int:{name}>", quote(raw, safe="")).replace(
            f"<{name}>", quote(raw, safe="")
        )
    return path


def fields_of(view: Any) -> list[str]:
    """The request fields the view's module reads (so most requests hit real parsing)."""
    source = inspect.getsource(inspect.getmodule(inspect.unwrap(view)) or view)
    return sorted(set(FIELD_RE.findall(source)) & set(FIELDS)) or FIELDS


def _pairs(rng: random.Random, values: dict[str, Any], known: list[str]) -> list[tuple[str, str]]:
    fields = rng.sample(known, rng.randint(0, min(len(known), 10)))
    fields += rng.sample(FIELDS, rng.randint(0, 2))
    seat = values["seat_ids"]
    if rng.random() < 0.3:  # checkout's per-passenger fields
        seat_id = rng.choice(seat)
        fields += [f"passenger-{seat_id}-{part}" for part in ("name", "age", "gender")]
    pairs = []
    for name in fields:
        for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 4)):  # repeated values too
            pairs.append((name, _value(rng, values)))
    return pairs


async def test_no_route_answers_hostile_input_with_a_5xx(app, world):  # noqa: F811
    values, clients = world
    values = dict(values)
    values["seat_ids"] = [s.id for s in await ScheduleSeat.filter(schedule_id=values["trip"])]
    rules = [r for r in app.app.url_map.iter_rules() if r.rule not in SKIP]
    roles = {"guest": clients["guest"], "customer": clients["owner"], "admin": clients["admin"]}
    tokens = {role: await csrf_of(client) for role, client in roles.items()}
    rng = random.Random(SEED)
    failures: list[str] = []
    sent = 0
    for _ in range(EXAMPLES):
        rule = rng.choice(rules)
        role = rng.choice(list(roles))
        client = roles[role]
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        method = rng.choice(methods)
        path = _path(rng, rule, values)
        pairs = _pairs(rng, values, fields_of(app.app.view_functions[rule.endpoint]))
        if method == "GET":
            response = await client.get(f"{path}?{urlencode(pairs)}" if pairs else path)
        else:
            token = tokens[role] if rng.random() < 0.9 else rng.choice(HOSTILE)
            body = urlencode([*pairs, ("csrf_token", token)])
            response = await client.open(path, method=method, data=body, headers=FORM)
        sent += 1
        if response.status_code >= 500:
            failures.append(f"{role} {method} {path} {pairs!r} -> {response.status_code}")
    print(f"fuzz: {sent} requests, seed {SEED}, {len(failures)} answered 5xx")
    assert failures == [], "\n".join(failures)
