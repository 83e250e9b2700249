"""Fares are a distance share of the route's base fare, in whole currency units."""

from decimal import Decimal

import pytest

from domain.pricing import seat_fare, segment_fare


@pytest.mark.parametrize(
    ("route_km", "from_km", "to_km", "expected"),
    [
        (148, 0, 148, "650"),  # the whole route pays the base fare
        (148, 83, 148, "285"),  # 650 * 65/148 = 285.47
        (148, 0, 83, "365"),  # 650 * 83/148 = 364.53
        (148, 0, 5, "65"),  # a short hop pays at least 10% of the route
        (0, 0, 0, "650"),  # a route without distances charges the base fare
    ],
)
def test_segment_fare(route_km, from_km, to_km, expected):
    assert segment_fare(Decimal("650"), route_km, from_km, to_km) == Decimal(expected)


def test_seat_fare_applies_the_seat_factor_and_rounds_half_up():
    assert seat_fare(Decimal("650"), Decimal("1.05")) == Decimal("683")  # 682.5
    assert seat_fare(Decimal("650"), Decimal("1")) == Decimal("650")
