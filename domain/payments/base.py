"""The contract every payment gateway adapter fulfils.

Adapters talk to the gateway and verify what it sends back; they never touch the database.
`domain.payment_outcomes` decides what a verified event means for payments, holds and bookings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from domain.enums import PaymentMethod
from domain.errors import DomainError

INT32_MAX = 2**31 - 1
MONEY_MAX = Decimal("9999999999.99")  # DECIMAL(12, 2)
MALFORMED = "The payment notification is malformed."


class InvalidSignature(DomainError):
    """A webhook whose signature does not verify: answered 400, logged, nothing changed."""

    code = "invalid_signature"
    status = 400
    message = "The payment notification could not be verified."


class GatewayError(DomainError):
    """The gateway refused or could not be reached (for a refund: retried later)."""

    code = "gateway_error"
    status = 502
    message = "The payment provider did not answer. Nothing was charged; please try again."


@dataclass(frozen=True)
class PaymentInfo:
    """What an adapter needs to know about one of our payments."""

    payment_id: int
    amount: Decimal
    currency: str
    method: PaymentMethod
    description: str
    customer_email: str
    idempotency_key: str
    gateway_reference: str | None = None  # the gateway's id (session, order, payment)
    public_id: str = ""  # what our URLs call the payment (domain.public_ids)


@dataclass(frozen=True)
class CheckoutStart:
    redirect_url: str  # where the payer's browser goes next
    gateway_reference: str  # the gateway's id for this checkout (session id, order id)


@dataclass(frozen=True)
class GatewayEvent:
    """A verified notification from a gateway."""

    event_id: str  # unique per gateway: the webhook inbox key
    event_type: str  # the gateway's own name for it, for the record
    gateway_reference: str  # matches Payment.gateway_reference
    succeeded: bool  # money was captured
    amount: Decimal
    currency: str
    payment_id: int | None = None  # our Payment id, when the gateway echoes it back
    failure_reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Even a correctly signed notification is checked against what the inbox and the
        payment columns hold; adapters turn the ValueError into InvalidSignature(MALFORMED)
        (a 400), never a database error."""
        if not 0 < len(self.event_id) <= 128 or len(self.event_type) > 64:
            raise ValueError("event id or type out of bounds")
        if not 0 < len(self.gateway_reference) <= 128:
            raise ValueError("gateway reference out of bounds")
        if not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isalpha()):
            raise ValueError("not a currency code")
        if not (self.amount.is_finite() and 0 <= self.amount <= MONEY_MAX):
            raise ValueError("amount out of bounds")
        if self.payment_id is not None and not 0 < self.payment_id <= INT32_MAX:
            raise ValueError("payment id out of bounds")
        text = (self.event_id, self.event_type, self.gateway_reference, self.failure_reason)
        if any("\x00" in t for t in text) or "\\u0000" in json.dumps(self.payload, default=str):
            raise ValueError("NUL in the notification")  # PostgreSQL text and jsonb refuse it


class ReturnKind(StrEnum):
    """What a payer's way back from a gateway (a browser return or a client-side checkout's
    post) says, once the adapter has checked it."""

    SUCCEEDED = "succeeded"  # verified: the money is in
    FAILED = "failed"  # verified: the payer declined
    NONE = "none"  # nothing verifiable (the webhook decides)
    CLIENT_STEP = "client_step"  # the payer still has to pay in a gateway script on our page


@dataclass(frozen=True)
class ReturnLinks:
    """Our addresses a client-side checkout needs."""

    callback_url: str  # where the gateway's script posts its result (read_return again)
    cancel_url: str  # back to the hold


@dataclass(frozen=True)
class ClientStep:
    """A checkout that runs in the gateway's script on our own page (Razorpay Checkout):
    what the page loads, the options it hands the script, and the sources the page's
    Content-Security-Policy must allow for it (directive name with underscores -> sources)."""

    gateway: str  # names the page that runs it
    script_url: str
    options: dict[str, Any]
    csp: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReturnOutcome:
    kind: ReturnKind
    reference: str = ""  # the gateway's id the return names, when it names one
    client_step: ClientStep | None = None

    @property
    def verified(self) -> bool:
        return self.kind in {ReturnKind.SUCCEEDED, ReturnKind.FAILED}


NOTHING_VERIFIED = ReturnOutcome(ReturnKind.NONE)


class Gateway(Protocol):
    name: str
    methods: frozenset[PaymentMethod]

    async def start_checkout(
        self, payment: PaymentInfo, *, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        """Create the checkout at the gateway; return where to send the payer."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent | None:
        """Verify and parse a webhook. Raise InvalidSignature when it does not verify;
        return None for event types that do not concern a payment's outcome."""
        ...

    def read_return(
        self, payment: PaymentInfo, values: Mapping[str, str], *, links: ReturnLinks
    ) -> ReturnOutcome:
        """Read the query or form values the payer's browser brought back for `payment`
        (a return from the gateway's page, or the post of its script on ours): a verified
        success or failure, nothing verifiable, or the client-side step still to run.
        Never raises for values it does not understand: those are NOTHING_VERIFIED."""
        ...

    async def refund(
        self, payment: PaymentInfo, amount: Decimal, *, idempotency_key: str, reason: str
    ) -> str:
        """Refund `amount` of a captured payment; return the gateway's refund id.
        `idempotency_key` names this refund (the same for every attempt of it: the gateway
        answers a repeat with the first refund); `reason` is only a note for people.
        Raise GatewayError when the gateway refuses or cannot be reached."""
        ...
