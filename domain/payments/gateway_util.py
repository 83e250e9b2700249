"""Small helpers the real gateway adapters share: money in minor units, header lookup.
No network, no database."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

# Currencies whose smallest unit is the unit itself (Stripe's and Razorpay's lists agree on
# the ones a bus operator could plausibly use) and the ones with three decimals.
_ZERO_DECIMAL = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def currency_exponent(currency: str) -> int:
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Decimal("499.50"), "INR" -> 49950 (paise). Refuses fractions of the smallest unit:
    rounding money silently is a bug, not a convenience."""
    scaled = amount.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def from_minor_units(value: int, currency: str) -> Decimal:
    """49950, "INR" -> Decimal("499.50")."""
    exponent = currency_exponent(currency)
    return Decimal(int(value)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts too."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None
