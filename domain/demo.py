"""Demo data: a small Indian intercity network, its fleet and a rolling 14-day timetable.

`seed_demo` is idempotent: it builds the network once, and every run tops the timetable up
so that there are always trips for the next 14 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from domain import accounts, audit
from domain.enums import BusKind, UserRole
from domain.fleet import seater_layout, sleeper_layout
from domain.models import Bus, City, Operator, Route, RouteStop, Schedule, Seat, StopPoint, User

DEMO_ADMIN = ("admin@busbook.local", "admin-demo-2026")
DEMO_CUSTOMER = ("priya@busbook.local", "priya-demo-2026")
PRIYA = ("Priya", "Sharma", "+919876543210")
DAYS_AHEAD = 14

CITIES = {
    "Mumbai": "Maharashtra",
    "Lonavala": "Maharashtra",
    "Pune": "Maharashtra",
    "Nashik": "Maharashtra",
    "Aurangabad": "Maharashtra",
    "Chiplun": "Maharashtra",
    "Ratnagiri": "Maharashtra",
    "Panaji": "Goa",
    "Solapur": "Maharashtra",
    "Hyderabad": "Telangana",
    "Bengaluru": "Karnataka",
    "Vellore": "Tamil Nadu",
    "Chennai": "Tamil Nadu",
}

# Boarding/dropping points per city: (name, landmark, minutes after the stop's time).
POINTS = {
    "Mumbai": [
        ("Borivali East", "Near National Park gate", 0),
        ("Dadar TT Circle", "Opposite Swaminarayan Temple", 40),
        ("Sion Circle", "Below the flyover", 55),
        ("Vashi Highway", "Vashi plaza bus stop", 75),
    ],
    "Lonavala": [
        ("Lonavala Bus Stand", "MSRTC depot", 0),
        ("Kumar Resort", "Old Mumbai-Pune highway", 5),
    ],
    "Pune": [
        ("Wakad Bridge", "Near Dange Chowk", 0),
        ("Shivajinagar", "Near the railway station", 20),
        ("Swargate", "Swargate bus stand", 35),
    ],
    "Nashik": [("Dwarka Circle", "Near the flyover", 0), ("CBS Nashik", "Central bus stand", 10)],
    "Aurangabad": [
        ("Cidco Bus Stand", "Jalna Road", 0),
        ("Kranti Chowk", "Near the police station", 10),
    ],
    "Chiplun": [("Chiplun Bus Stand", "Bahadur Shaikh Naka", 0)],
    "Ratnagiri": [("Ratnagiri Bus Stand", "Maruti Mandir", 0), ("Kuwarbav", "MIDC", 10)],
    "Panaji": [("Porvorim", "Near the bypass", 0), ("Panaji Kadamba", "Kadamba bus stand", 15)],
    "Solapur": [("Solapur Bus Stand", "Railway lines", 0)],
    "Hyderabad": [
        ("Miyapur", "X roads", 0),
        ("Ameerpet", "Near Metro station", 30),
        ("Lakdikapul", "Opposite Hotel Ashoka", 45),
    ],
    "Bengaluru": [
        ("Majestic", "Kempegowda bus station", 0),
        ("Silk Board", "Junction bus stop", 30),
        ("KR Puram", "Hanging bridge", 50),
    ],
    "Vellore": [("Vellore New Bus Stand", "Katpadi road", 0)],
    "Chennai": [
        ("Poonamallee", "Bypass", 0),
        ("Koyambedu", "CMBT", 20),
        ("Guindy", "Kathipara junction", 40),
    ],
}


@dataclass(frozen=True)
class RouteSpec:
    code: str
    name: str
    operator: str
    stops: list[tuple[str, int, int]]  # city, minutes from origin, km from origin
    base_fare: Decimal
    departures: list[tuple[time, str]]  # local departure time, bus template


ROUTES = [
    RouteSpec(
        "MUM-PUN",
        "Mumbai - Lonavala - Pune",
        "Sahyadri Travels",
        [("Mumbai", 0, 0), ("Lonavala", 120, 83), ("Pune", 210, 148)],
        Decimal("650"),
        [
            (time(6, 0), "ac-seater"),
            (time(9, 30), "seater"),
            (time(14, 0), "ac-seater"),
            (time(18, 30), "seater"),
            (time(22, 30), "ac-sleeper"),
        ],
    ),
    RouteSpec(
        "PUN-MUM",
        "Pune - Lonavala - Mumbai",
        "Sahyadri Travels",
        [("Pune", 0, 0), ("Lonavala", 90, 65), ("Mumbai", 210, 148)],
        Decimal("650"),
        [(time(7, 0), "ac-seater"), (time(16, 0), "seater"), (time(23, 0), "ac-sleeper")],
    ),
    RouteSpec(
        "MUM-GOA",
        "Mumbai - Chiplun - Ratnagiri - Panaji",
        "Konkan Express",
        [("Mumbai", 0, 0), ("Chiplun", 300, 250), ("Ratnagiri", 420, 330), ("Panaji", 720, 590)],
        Decimal("1450"),
        [(time(19, 0), "ac-sleeper"), (time(21, 0), "sleeper")],
    ),
    RouteSpec(
        "MUM-AUR",
        "Mumbai - Nashik - Aurangabad",
        "Deccan Lines",
        [("Mumbai", 0, 0), ("Nashik", 210, 167), ("Aurangabad", 480, 335)],
        Decimal("900"),
        [(time(8, 0), "ac-seater"), (time(22, 0), "sleeper")],
    ),
    RouteSpec(
        "PUN-HYD",
        "Pune - Solapur - Hyderabad",
        "Deccan Lines",
        [("Pune", 0, 0), ("Solapur", 270, 250), ("Hyderabad", 600, 560)],
        Decimal("1300"),
        [(time(20, 30), "ac-sleeper"), (time(10, 0), "seater")],
    ),
    RouteSpec(
        "BLR-CHE",
        "Bengaluru - Vellore - Chennai",
        "Southern Star",
        [("Bengaluru", 0, 0), ("Vellore", 240, 210), ("Chennai", 390, 345)],
        Decimal("850"),
        [(time(6, 30), "ac-seater"), (time(13, 0), "seater"), (time(22, 45), "ac-sleeper")],
    ),
]


BUS_TEMPLATES = {
    "ac-seater": dict(kind=BusKind.SEATER, is_ac=True, decks=1, rows=10, columns=4, aisle_after=2),
    "seater": dict(kind=BusKind.SEATER, is_ac=False, decks=1, rows=10, columns=4, aisle_after=2),
    "ac-sleeper": dict(kind=BusKind.SLEEPER, is_ac=True, decks=2, rows=6, columns=3, aisle_after=1),
    "sleeper": dict(kind=BusKind.SLEEPER, is_ac=False, decks=2, rows=6, columns=3, aisle_after=1),
}
FARE_FACTOR = {
    "ac-seater": Decimal("1.0"),
    "seater": Decimal("0.75"),
    "ac-sleeper": Decimal("1.4"),
    "sleeper": Decimal("1.1"),
}
BUS_NAMES = {
    "ac-seater": "Volvo B11R AC Seater",
    "seater": "Ashok Leyland Seater",
    "ac-sleeper": "Scania AC Sleeper",
    "sleeper": "Bharat Benz Sleeper",
}


async def _build_network(now: datetime) -> None:
    async with in_transaction() as conn:
        cities = {
            name: await City.create(name=name, state=state, using_db=conn)
            for name, state in CITIES.items()
        }
        operators: dict[str, Operator] = {}
        bus_count = 0
        for spec in ROUTES:
            operator = operators.get(spec.operator)
            if operator is None:
                operator = await Operator.create(
                    name=spec.operator, support_phone="+912240000000", using_db=conn
                )
                operators[spec.operator] = operator
            route = await Route.create(
                code=spec.code, name=spec.name, operator=operator, using_db=conn
            )
            for seq, (city, minutes, km) in enumerate(spec.stops):
                stop = await RouteStop.create(
                    route=route,
                    seq=seq,
                    city=cities[city],
                    minutes_from_origin=minutes,
                    km_from_origin=km,
                    using_db=conn,
                )
                last = seq == len(spec.stops) - 1
                for name, landmark, offset in POINTS[city]:
                    await StopPoint.create(
                        stop=stop,
                        name=name,
                        landmark=landmark,
                        minutes_offset=offset,
                        is_boarding=not last,
                        is_dropping=seq > 0,
                        using_db=conn,
                    )
            # One bus per daily departure, so no bus is on two trips at once.
            for index, (_departure, template) in enumerate(spec.departures):
                bus_count += 1
                bus = await Bus.create(
                    registration=_registration(spec, index),
                    name=BUS_NAMES[template],
                    operator=operator,
                    using_db=conn,
                    **BUS_TEMPLATES[template],
                )
                layout = sleeper_layout(rows=6) if "sleeper" in template else seater_layout(rows=10)
                await Seat.bulk_create(
                    [Seat(bus=bus, **vars(seat)) for seat in layout], using_db=conn
                )
        await audit.record(
            "demo.network_created",
            now=now,
            data={"routes": len(ROUTES), "cities": len(CITIES), "buses": bus_count},
            using_db=conn,
        )


async def _top_up_timetable(now: datetime, tz: ZoneInfo, currency: str) -> int:
    """Create the demo schedules missing for the next DAYS_AHEAD days, and their seats."""
    today = now.astimezone(tz).date()
    created = 0
    async with in_transaction() as conn:
        for spec in ROUTES:
            route = await Route.get(code=spec.code, using_db=conn)
            route_buses = [
                await Bus.get(registration=_registration(spec, index), using_db=conn)
                for index in range(len(spec.departures))
            ]
            duration = timedelta(minutes=spec.stops[-1][1])
            existing = set(
                await Schedule.filter(route=route, departure_at__gte=now - timedelta(days=1))
                .using_db(conn)
                .values_list("departure_at", flat=True)
            )
            new = []
            for offset in range(DAYS_AHEAD):
                day: date = today + timedelta(days=offset)
                for (departure, template), bus in zip(spec.departures, route_buses, strict=True):
                    start = datetime.combine(day, departure, tz)
                    if start in existing or start <= now:
                        continue
                    new.append(
                        Schedule(
                            route=route,
                            bus=bus,
                            departure_at=start,
                            arrival_at=start + duration,
                            base_fare=(spec.base_fare * FARE_FACTOR[template]).quantize(
                                Decimal("1")
                            ),
                            currency=currency,
                        )
                    )
            if new:
                await Schedule.bulk_create(new, using_db=conn)
                created += len(new)
        # Inventory for every schedule that has none yet, in one statement.
        await conn.execute_query(
            """
            INSERT INTO schedule_seats (schedule_id, seat_id, is_blocked, blocked_reason)
            SELECT s.id, seat.id, false, ''
            FROM schedules s JOIN seats seat ON seat.bus_id = s.bus_id
            WHERE NOT EXISTS (SELECT 1 FROM schedule_seats x WHERE x.schedule_id = s.id)
            """
        )
        if created:
            await audit.record(
                "demo.timetable_extended", now=now, data={"schedules": created}, using_db=conn
            )
    return created


def _registration(spec: RouteSpec, index: int) -> str:
    return f"MH-{10 + ROUTES.index(spec):02d}-BB-{1001 + index}"


async def seed_demo(now: datetime, tz: ZoneInfo, *, currency: str) -> dict[str, int]:
    """Build the demo network (once) and top up its timetable, its trips priced in
    `currency` (the CURRENCY setting). Returns what was created."""
    created_network = False
    if not await Route.exists():
        await _build_network(now)
        created_network = True
    schedules = await _top_up_timetable(now, tz, currency)
    users = 0
    for (email, password), is_admin in ((DEMO_ADMIN, True), (DEMO_CUSTOMER, False)):
        if await User.filter(email=email).exists():
            continue
        first, last, phone = ("Rahul", "Mehta", "+919820000000") if is_admin else PRIYA
        await accounts.register(
            accounts.ProfileInput(email, first, last, phone),
            password,
            now=now,
            role=UserRole.ADMIN if is_admin else UserRole.CUSTOMER,
        )
        users += 1
    await connections.get("default").execute_query("ANALYZE")
    return {"network": int(created_network), "schedules": schedules, "users": users}
