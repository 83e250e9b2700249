"""The counter: money an operator took in person (an admin's `bookings/create`), recorded
as a Payment like any other so a booking always has the payment it was confirmed from and
the money invariant (tests/integrity.py) reads the same for it.

It is not a gateway anyone pays through: it offers no method online, starts no checkout
and receives no webhooks. A refund of counter money cannot be sent by Busbook: it is paid
back at the counter, so an attempt is refused (the refund stays pending and shows in the
payments console) until an operator records it there as paid back outside Busbook
(refunds.close)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from domain.enums import PaymentMethod
from domain.payments.base import (
    NOTHING_VERIFIED,
    CheckoutStart,
    GatewayError,
    GatewayEvent,
    InvalidSignature,
    PaymentInfo,
    ReturnLinks,
    ReturnOutcome,
)

NAME = "counter"
REFUND_AT_THE_COUNTER = (
    "Paid at the counter: pay it back there and close this refund in the payments console."
)


class CounterGateway:
    name = NAME
    methods: frozenset[PaymentMethod] = frozenset()  # never chosen for an online payment

    async def start_checkout(
        self, payment: PaymentInfo, *, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        raise GatewayError("Counter payments are recorded by an operator, not paid online.")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent | None:
        raise InvalidSignature("The counter sends no notifications.")

    def read_return(
        self, payment: PaymentInfo, values: Mapping[str, str], *, links: ReturnLinks
    ) -> ReturnOutcome:
        return NOTHING_VERIFIED

    async def refund(
        self, payment: PaymentInfo, amount: Decimal, *, idempotency_key: str, reason: str
    ) -> str:
        raise GatewayError(REFUND_AT_THE_COUNTER)
