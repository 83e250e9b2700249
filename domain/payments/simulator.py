"""The simulator gateway: a hosted checkout page inside Busbook for development and demos.

It behaves like a real gateway where it matters: the payer approves or declines on "its"
page, the outcome reaches Busbook as a webhook whose body is signed with HMAC-SHA256
(`X-Simulator-Signature: t=<unix>,v1=<hex>`), duplicates carry the same event id, and
refunds return a reference. It can be told to fail refunds, for tests of the retry path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.enums import ONLINE_METHODS
from domain.payments.base import (
    MALFORMED,
    NOTHING_VERIFIED,
    CheckoutStart,
    GatewayError,
    GatewayEvent,
    InvalidSignature,
    PaymentInfo,
    ReturnKind,
    ReturnLinks,
    ReturnOutcome,
)

SIGNATURE_HEADER = "X-Simulator-Signature"
TOLERANCE_SECONDS = 300


class SimulatorGateway:
    name = "simulator"
    methods = ONLINE_METHODS

    def __init__(self, secret: str, *, checkout_path: str = "/payments/simulator") -> None:
        self._key = hashlib.sha256(b"busbook-simulator:" + secret.encode()).digest()
        self.checkout_path = checkout_path
        self.fail_refunds = False  # tests switch refund failures on and off
        self.refunds: list[tuple[str, Decimal]] = []  # refunds made (one per key)
        self.refund_requests: list[str] = []  # every refund call's idempotency key
        self._refund_by_key: dict[str, str] = {}

    async def start_checkout(
        self, payment: PaymentInfo, *, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        reference = f"sim_{payment.payment_id}_{secrets.token_hex(6)}"
        ref = payment.public_id or str(payment.payment_id)
        return CheckoutStart(f"{self.checkout_path}/{ref}?token={self.page_token(ref)}", reference)

    def page_token(self, payment_ref: str) -> str:
        """Signs the hosted page's address for one payment. Like a real gateway's hosted
        checkout, whoever has the checkout URL (the payer's browser, a mobile app, a script
        that got it from the API) may open and answer the page without a Busbook login; the
        token is also the page form's proof against cross-site posts (nobody else knows it)."""
        return hmac.new(self._key, f"page:{payment_ref}".encode(), hashlib.sha256).hexdigest()

    def read_page_token(self, payment_ref: str, token: str) -> bool:
        expected = self.page_token(payment_ref)
        return bool(token) and hmac.compare_digest(expected.encode(), token.encode())

    def sign(self, body: bytes, *, timestamp: int | None = None) -> str:
        stamp = int(time.time()) if timestamp is None else timestamp
        digest = hmac.new(self._key, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"

    def webhook(
        self,
        payment: PaymentInfo,
        *,
        succeeded: bool,
        event_id: str | None = None,
        amount: Decimal | None = None,
        currency: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The signed notification the simulator sends for an approved or declined payment.
        `amount`/`currency` may be overridden to simulate a gateway that charged otherwise."""
        body = json.dumps(
            {
                "id": event_id or f"evt_{secrets.token_hex(8)}",
                "type": "payment.succeeded" if succeeded else "payment.failed",
                "reference": payment.gateway_reference,
                "payment_id": payment.payment_id,
                "amount": str(payment.amount if amount is None else amount),
                "currency": currency or payment.currency,
                "method": payment.method.value,
            },
            separators=(",", ":"),
        ).encode()
        return {SIGNATURE_HEADER: self.sign(body), "Content-Type": "application/json"}, body

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent | None:
        header = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower()) or ""
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            stamp = int(parts.get("t", ""))
        except ValueError as exc:
            raise InvalidSignature() from exc
        expected = self.sign(body, timestamp=stamp).split("v1=", 1)[1]
        # bytes: compare_digest raises TypeError on a non-ASCII str (headers arrive latin-1)
        if not hmac.compare_digest(expected.encode(), parts.get("v1", "").encode()):
            raise InvalidSignature()
        if abs(time.time() - stamp) > TOLERANCE_SECONDS:
            raise InvalidSignature("The payment notification is too old.")
        try:
            data: dict[str, Any] = json.loads(body)
            if not isinstance(data, dict):  # signed, but a list, a number or a string
                raise TypeError("not a JSON object")
            kind = str(data["type"])
            amount = Decimal(str(data["amount"]))
            event = GatewayEvent(
                event_id=str(data["id"]),
                event_type=kind,
                gateway_reference=str(data["reference"]),
                succeeded=kind == "payment.succeeded",
                amount=amount,
                currency=str(data["currency"]).upper(),
                payment_id=int(data["payment_id"]) if data.get("payment_id") else None,
                failure_reason="" if kind == "payment.succeeded" else "Declined by the payer",
                payload=data,
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise InvalidSignature(MALFORMED) from exc
        if kind not in {"payment.succeeded", "payment.failed"}:
            return None
        return event

    def return_token(self, payment_ref: str, *, succeeded: bool) -> str:
        """Signs the browser's way back (for the payment's public id), so the return can
        apply the outcome too."""
        message = f"return:{payment_ref}:{'ok' if succeeded else 'declined'}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def read_return_token(self, payment_ref: str, token: str) -> bool | None:
        """True (approved), False (declined) or None (not a token we signed)."""
        for succeeded in (True, False):
            expected = self.return_token(payment_ref, succeeded=succeeded)
            if hmac.compare_digest(expected.encode(), token.encode()):
                return succeeded
        return None

    def return_values(self, payment_ref: str, *, succeeded: bool) -> dict[str, str]:
        """The query string of the browser's way back from the simulator's page."""
        return {"sig": self.return_token(payment_ref, succeeded=succeeded)}

    def read_return(
        self, payment: PaymentInfo, values: Mapping[str, str], *, links: ReturnLinks
    ) -> ReturnOutcome:
        """The simulator's page sends the browser back with `sig`, signed for the payment's
        public id and its outcome."""
        token = values.get("sig", "")
        outcome = self.read_return_token(payment.public_id, token) if token else None
        if outcome is None:
            return NOTHING_VERIFIED
        return ReturnOutcome(ReturnKind.SUCCEEDED if outcome else ReturnKind.FAILED)

    async def refund(
        self, payment: PaymentInfo, amount: Decimal, *, idempotency_key: str, reason: str
    ) -> str:
        """Like the real gateways, a repeated idempotency key answers with the first
        refund instead of paying again."""
        if not idempotency_key:
            raise ValueError("a refund needs an idempotency key")
        self.refund_requests.append(idempotency_key)
        if self.fail_refunds:
            raise GatewayError("The simulator was told to refuse refunds.")
        if idempotency_key in self._refund_by_key:
            return self._refund_by_key[idempotency_key]
        reference = f"sim_rf_{secrets.token_hex(6)}"
        self._refund_by_key[idempotency_key] = reference
        self.refunds.append((reference, amount))
        return reference
