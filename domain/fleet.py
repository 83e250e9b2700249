"""Bus layouts: the seat grids that a bus's seats (and each trip's inventory) come from."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.enums import Deck, SeatPosition, SeatType


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
