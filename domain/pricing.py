"""Fares. A segment pays its share of the route's base fare by distance, in whole units."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

UNIT = Decimal("1")


def segment_fare(base_fare: Decimal, route_km: int, from_km: int, to_km: int) -> Decimal:
    """The fare for [from_km, to_km) of a route of `route_km` km, rounded to whole units.

    A segment never costs less than 10% of the route (short hops still pay for the seat).
    """
    if route_km <= 0 or to_km <= from_km:
        return base_fare.quantize(UNIT, ROUND_HALF_UP)
    share = max(Decimal(to_km - from_km) / Decimal(route_km), Decimal("0.1"))
    return (base_fare * share).quantize(UNIT, ROUND_HALF_UP)


def seat_fare(segment: Decimal, price_factor: Decimal) -> Decimal:
    return (segment * price_factor).quantize(UNIT, ROUND_HALF_UP)
