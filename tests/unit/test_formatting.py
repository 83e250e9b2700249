"""The one set of formats for pages, the PDF ticket and the emails (domain/formatting.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain import formatting
from domain.formatting import Formatter

KOLKATA = ZoneInfo("Asia/Kolkata")
# 00:30 UTC is 06:00 in Kolkata (UTC+05:30), and already the next day in Auckland.
DEPARTURE = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)


def test_times_are_shown_in_the_zone_passed_in():
    assert formatting.format_datetime(DEPARTURE, KOLKATA) == "Fri 27 Nov 2026, 06:00"
    assert formatting.format_time(DEPARTURE, KOLKATA) == "06:00"
    assert formatting.format_time(DEPARTURE, UTC) == "00:30"
    assert formatting.format_date(DEPARTURE, KOLKATA) == "Fri 27 Nov 2026"
    assert formatting.format_short_date(DEPARTURE, KOLKATA) == "27 Nov"
    late = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # 01:30 on the 28th in Kolkata
    assert formatting.format_iso_date(late, KOLKATA) == "2026-11-28"
    assert formatting.format_iso_date(late, UTC) == "2026-11-27"


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("650.00"), "INR", "₹650"),
        (Decimal("1299.5"), "INR", "₹1,299.50"),
        (Decimal("12500"), "INR", "₹12,500"),
        (0, "USD", "$0"),
        (Decimal("20.05"), "EUR", "€20.05"),
        (Decimal("20"), "CHF", "CHF 20"),
    ],
)
def test_money_has_the_currency_symbol(amount: Decimal | int, currency: str, text: str):
    assert formatting.format_money(amount, currency) == text


def test_durations_and_minutes():
    assert formatting.format_duration(timedelta(hours=3, minutes=5)) == "3h 05m"
    assert formatting.format_duration(timedelta(minutes=45)) == "45m"
    assert formatting.format_minutes(15) == "15 minutes"
    assert formatting.format_minutes(1) == "1 minute"
    assert formatting.format_minutes(0.5) == "30 seconds"


def test_the_formatter_binds_the_zone_and_default_currency():
    fmt = Formatter(KOLKATA, "INR")
    assert fmt.datetime(DEPARTURE) == "Fri 27 Nov 2026, 06:00"
    assert fmt.local(DEPARTURE).hour == 6
    assert fmt.money(Decimal("650")) == "₹650"
    assert fmt.money(Decimal("650"), "GBP") == "£650"
