"""How Busbook writes times and money for people: pages, the PDF ticket and the emails.

Times are stored UTC-aware and shown in the operator's time zone; amounts are shown with
the currency's symbol (₹650, ₹1,299.50). The functions are pure (the time zone and the
currency are passed in); `Formatter` binds them to the configured zone and currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

# The class below names a method `datetime`; its annotations use this alias instead.
Instant = datetime
DEFAULT_TIMEZONE = "Asia/Kolkata"  # the defaults of TIMEZONE and CURRENCY (domain/settings.py)
DEFAULT_CURRENCY = "INR"
CURRENCY_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£"}


def local(value: datetime, tz: tzinfo) -> datetime:
    return value.astimezone(tz)


def format_datetime(value: datetime, tz: tzinfo) -> str:
    """Fri 27 Nov 2026, 06:00"""
    return local(value, tz).strftime("%a %-d %b %Y, %H:%M")


def format_date(value: datetime, tz: tzinfo) -> str:
    """Fri 27 Nov 2026"""
    return local(value, tz).strftime("%a %-d %b %Y")


def format_iso_date(value: datetime, tz: tzinfo) -> str:
    """2026-11-27 (the local day, as a date input wants it)"""
    return local(value, tz).date().isoformat()


def format_short_date(value: datetime, tz: tzinfo) -> str:
    """27 Nov"""
    return local(value, tz).strftime("%-d %b")


def format_time(value: datetime, tz: tzinfo) -> str:
    """06:00"""
    return local(value, tz).strftime("%H:%M")


def format_duration(value: timedelta) -> str:
    """3h 05m, or 45m under an hour"""
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def format_minutes(value: float) -> str:
    """15 minutes, 1 minute, or 30 seconds under a minute"""
    if value >= 1 and float(value).is_integer():
        return f"{int(value)} minute{'s' if value != 1 else ''}"
    return f"{round(value * 60)} seconds"


def format_money(value: Decimal | int, currency: str) -> str:
    """₹650, ₹1,299.50; a currency without a known symbol keeps its code (CHF 20)."""
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    amount = Decimal(value)
    text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{symbol}{text}"


@dataclass(frozen=True)
class Formatter:
    """The formatting functions bound to the operator's time zone and default currency."""

    tz: ZoneInfo
    currency: str

    @classmethod
    def default(cls) -> Formatter:
        return cls(ZoneInfo(DEFAULT_TIMEZONE), DEFAULT_CURRENCY)

    def local(self, value: Instant) -> Instant:
        return local(value, self.tz)

    def datetime(self, value: Instant) -> str:
        return format_datetime(value, self.tz)

    def date(self, value: Instant) -> str:
        return format_date(value, self.tz)

    def iso_date(self, value: Instant) -> str:
        return format_iso_date(value, self.tz)

    def short_date(self, value: Instant) -> str:
        return format_short_date(value, self.tz)

    def time(self, value: Instant) -> str:
        return format_time(value, self.tz)

    def duration(self, value: timedelta) -> str:
        return format_duration(value)

    def minutes(self, value: float) -> str:
        return format_minutes(value)

    def money(self, value: Decimal | int, currency: str | None = None) -> str:
        return format_money(value, currency or self.currency)
