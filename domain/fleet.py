"""The fleet: buses and their seat layouts (the grids a bus's seats, and each trip's
inventory, come from), the layout editor's preview, adding a bus and listing buses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tortoise.transactions import in_transaction

from domain import audit, events, inventory, keyset, locking
from domain.enums import BusKind, Deck, SeatPosition, SeatType
from domain.errors import BusInService, BusNotFound, ValidationFailed
from domain.models import Bus, Operator, Schedule, Seat, User


@dataclass(frozen=True)
class SeatSpec:
    number: str
    deck: Deck
    row: int
    column: int
    seat_type: SeatType
    position: SeatPosition
    price_factor: Decimal


def _position(column: int, columns: int) -> SeatPosition:
    return SeatPosition.WINDOW if column in (1, columns) else SeatPosition.AISLE


def seater_layout(
    rows: int, columns: int = 4, window_factor: Decimal = Decimal("1.05")
) -> list[SeatSpec]:
    """A one-deck seater (2+2 by default); seats numbered 1.. row by row."""
    seats: list[SeatSpec] = []
    for row in range(1, rows + 1):
        for column in range(1, columns + 1):
            position = _position(column, columns)
            seats.append(
                SeatSpec(
                    number=str(len(seats) + 1),
                    deck=Deck.LOWER,
                    row=row,
                    column=column,
                    seat_type=SeatType.SEATER,
                    position=position,
                    price_factor=window_factor if position is SeatPosition.WINDOW else Decimal(1),
                )
            )
    return seats


def sleeper_layout(
    rows: int, columns: int = 3, lower_factor: Decimal = Decimal("1.10")
) -> list[SeatSpec]:
    """A two-deck sleeper (1+2 by default): berths L1.. below, U1.. above; lower costs more."""
    seats: list[SeatSpec] = []
    for deck, prefix, factor in ((Deck.LOWER, "L", lower_factor), (Deck.UPPER, "U", Decimal(1))):
        for index in range(rows * columns):
            row, column = divmod(index, columns)
            seats.append(
                SeatSpec(
                    number=f"{prefix}{index + 1}",
                    deck=deck,
                    row=row + 1,
                    column=column + 1,
                    seat_type=SeatType.SLEEPER,
                    position=_position(column + 1, columns),
                    price_factor=factor,
                )
            )
    return seats


@dataclass(frozen=True)
class LayoutInput:
    """A bus and its seat grid. Errors name these fields (`rows`, `aisle_after`, ...)."""

    name: str
    registration: str
    kind: BusKind
    is_ac: bool
    rows: int
    columns: int
    aisle_after: int
    # The bus's operator; None: unchanged on an update, and on a new bus the one operator
    # there is (created as "Busbook Operator" on a network that has none yet).
    operator_id: int | None = None


@dataclass(frozen=True)
class Layout:
    kind: BusKind
    rows: int
    columns: int
    aisle_after: int
    seats: list[SeatSpec]


# The layout editor's bounds: a real bus has at most 20 rows and 6 seats across.
LAYOUT_BOUNDS = {"rows": (1, 20), "columns": (1, 6), "aisle_after": (0, 6)}


def plan_layout(data: LayoutInput) -> Layout:
    """Validate a layout and lay its seats out (the editor's preview and the saved bus)."""
    errors: dict[str, str] = {}
    numbers = {"rows": data.rows, "columns": data.columns, "aisle_after": data.aisle_after}
    for field, (low, high) in LAYOUT_BOUNDS.items():
        if not low <= numbers[field] <= high:
            errors[field] = f"Enter a whole number from {low} to {high}."
    if not errors and numbers["aisle_after"] >= numbers["columns"]:
        errors["aisle_after"] = "The aisle must run between two columns of seats."
    if not errors and numbers["rows"] * numbers["columns"] == 0:
        errors["rows"] = "A bus needs at least one seat."
    if errors:
        raise ValidationFailed(errors)
    kind = data.kind
    build = sleeper_layout if kind is BusKind.SLEEPER else seater_layout
    seats = build(numbers["rows"], numbers["columns"])
    if len({(s.deck, s.number) for s in seats}) != len(seats):
        raise ValidationFailed({"rows": "Seat numbers would repeat; change the layout."})
    return Layout(kind, numbers["rows"], numbers["columns"], numbers["aisle_after"], seats)


async def _check_bus(
    data: LayoutInput, bus_id: int | None = None
) -> tuple[Layout, str, Operator | None]:
    """The layout, the tidied registration and the chosen operator (None when none was
    chosen), or ValidationFailed naming the fields."""
    layout = plan_layout(data)
    errors = {}
    registration = data.registration.strip().upper()
    if not registration:
        errors["registration"] = "Enter the registration number."
    elif await Bus.filter(registration=registration).exclude(id=bus_id or 0).exists():
        errors["registration"] = "A bus with this registration already exists."
    if not data.name.strip():
        errors["name"] = "Give the bus a name passengers will recognise."
    operator = None
    if data.operator_id is not None:
        operator = await Operator.get_or_none(id=data.operator_id)
        if operator is None:
            errors["operator_id"] = "Choose the bus's operator from the list."
    if errors:
        raise ValidationFailed(errors)
    return layout, registration, operator


async def list_operators() -> list[Operator]:
    """The operators a bus can belong to, by name (the bus form's choices)."""
    return list(await Operator.all().order_by("name"))


async def create_bus(admin: User, data: LayoutInput, *, now: datetime) -> Bus:
    layout, registration, operator = await _check_bus(data)
    if operator is None:
        operator = await Operator.first()
    if operator is None:
        operator = await Operator.create(name="Busbook Operator")
    async with in_transaction() as conn:
        bus = await Bus.create(
            registration=registration,
            name=data.name.strip()[:120],
            operator=operator,
            kind=layout.kind,
            is_ac=data.is_ac,
            decks=2 if layout.kind is BusKind.SLEEPER else 1,
            rows=layout.rows,
            columns=layout.columns,
            aisle_after=layout.aisle_after,
            using_db=conn,
        )
        await Seat.bulk_create([Seat(bus=bus, **vars(s)) for s in layout.seats], using_db=conn)
        await audit.record(
            "bus.created",
            now=now,
            actor=admin,
            subject=bus,
            using_db=conn,
            data={
                "registration": registration,
                "operator": operator.name,
                "seats": len(layout.seats),
            },
        )
    return bus


def _plain(value: object) -> object:
    """A field's value as the audit row keeps it (an enum as its value)."""
    return value.value if isinstance(value, BusKind) else value


@dataclass(frozen=True)
class BusUpdate:
    """A saved bus and what the save changed (nothing: it was saved as it was)."""

    bus: Bus
    changed: tuple[str, ...]


async def update_bus(admin: User, bus_id: int, data: LayoutInput, *, now: datetime) -> BusUpdate:
    """Change a bus: its name, registration, operator and air conditioning at any time; its
    seat layout only while no trip has been scheduled on it (each trip's seats are the bus's
    seats), else BusInService. Saving a bus as it is changes nothing and writes no audit
    row, so a form sent twice is harmless."""
    if not await Bus.filter(id=bus_id).exists():
        raise BusNotFound()
    layout, registration, operator = await _check_bus(data, bus_id)
    async with locking.transaction() as conn:
        bus = await Bus.filter(id=bus_id).select_for_update().using_db(conn).first()
        if bus is None:
            raise BusNotFound()
        wanted = {
            "registration": registration,
            "name": data.name.strip()[:120],
            "operator_id": operator.id if operator else bus.operator_id,
            "is_ac": data.is_ac,
            "kind": layout.kind,
            "rows": layout.rows,
            "columns": layout.columns,
            "aisle_after": layout.aisle_after,
        }
        before = {field: getattr(bus, field) for field in wanted}
        changed = tuple(field for field, value in wanted.items() if before[field] != value)
        if not changed:
            return BusUpdate(bus, ())
        relaid = any(field in changed for field in ("kind", "rows", "columns", "aisle_after"))
        if relaid:
            if await Schedule.filter(bus_id=bus.id).using_db(conn).exists():
                raise BusInService()
            await Seat.filter(bus_id=bus.id).using_db(conn).delete()
            await Seat.bulk_create([Seat(bus=bus, **vars(s)) for s in layout.seats], using_db=conn)
        for field, value in wanted.items():
            setattr(bus, field, value)
        bus.decks = 2 if layout.kind is BusKind.SLEEPER else 1
        await bus.save(using_db=conn)
        await audit.record(
            "bus.updated",
            now=now,
            actor=admin,
            subject=bus,
            using_db=conn,
            data={
                "registration": registration,
                "relaid": relaid,
                "seats": len(layout.seats),
                "changed": {
                    field: {"before": _plain(before[field]), "after": _plain(wanted[field])}
                    for field in changed
                },
            },
        )
        # Trips show the bus's name and registration from each process's cache.
        await events.announce_bus_changed(conn, bus.id)
    inventory.forget_bus(bus.id)
    return BusUpdate(bus, changed)


async def get_bus(bus_id: int) -> Bus:
    bus = await Bus.get_or_none(id=bus_id).prefetch_related("operator")
    if bus is None:
        raise BusNotFound()
    return bus


async def bus_layout(bus_id: int) -> list[Seat]:
    """A bus's seats in the layout's order (deck, row, column)."""
    return list(await Seat.filter(bus_id=bus_id).order_by("deck", "row", "column", "id"))


async def list_buses(*, after: str | None = None, limit: int | None = None) -> list[Bus]:
    """Buses by registration; `after` is the last registration already seen."""
    query = Bus.all().order_by("registration")
    if after is not None:
        query = query.filter(registration__gt=after)
    if limit is not None:
        query = query.limit(limit)
    return await query.prefetch_related("operator")


async def bus_page(window: keyset.Window) -> keyset.Page[Bus]:
    """One page of the fleet by registration (unique), with the operator."""
    return await keyset.read_page(Bus.all(), ("registration",), window, "operator")
