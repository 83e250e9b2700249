"""Stripe: hosted Checkout Sessions, signed webhooks, refunds through the official SDK.

The payer goes to the Checkout Session's Stripe-hosted page; the outcome arrives as a
signed webhook (`checkout.session.completed` and friends). `PaymentInfo.gateway_reference`
is the Checkout Session id (`cs_...`); a refund looks the session up to find its
PaymentIntent. Every SDK call blocks, so it runs in a worker thread; each gateway instance
has its own `StripeClient`, so the API base (a fake server in tests) and the key are never
global state.

Methods: cards, and wallets (Apple Pay / Google Pay are offered by Checkout on top of the
`card` method when they are switched on in the Stripe Dashboard). UPI is off by default
(`upi=True` turns it on): Stripe offers UPI in Checkout only for INR on Indian Stripe
accounts that have it enabled, and Razorpay is the gateway for UPI here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import stripe

from domain.enums import PaymentMethod
from domain.payments.base import (
    MALFORMED,
    NOTHING_VERIFIED,
    CheckoutStart,
    GatewayError,
    GatewayEvent,
    InvalidSignature,
    PaymentInfo,
    ReturnLinks,
    ReturnOutcome,
)
from domain.payments.gateway_util import (
    from_minor_units,
    header,
    to_minor_units,
)

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams
    from stripe.params.checkout import SessionCreateParams

log = logging.getLogger(__name__)

# Events that mean "the money is in" once the session says payment_status == "paid":
# `completed` for cards and wallets, `async_payment_succeeded` for delayed methods (UPI).
SUCCEEDED_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)
FAILED_EVENTS = {
    "checkout.session.async_payment_failed": "The payment was declined.",
    "checkout.session.expired": "The checkout expired before it was paid.",
}

_METHOD_TYPES: dict[PaymentMethod, list[str]] = {
    PaymentMethod.CARD: ["card"],
    PaymentMethod.WALLET: ["card"],  # Apple Pay / Google Pay ride on the card method
    PaymentMethod.UPI: ["upi"],
}


class StripeGateway:
    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        upi: bool = False,
        timeout: float = 20.0,
        max_network_retries: int = 2,
        webhook_tolerance: int = stripe.Webhook.DEFAULT_TOLERANCE,
    ) -> None:
        if not secret_key:
            raise ValueError("Stripe needs a secret key (STRIPE_SECRET_KEY)")
        if not webhook_secret:
            raise ValueError("Stripe needs a webhook signing secret (STRIPE_WEBHOOK_SECRET)")
        if webhook_tolerance <= 0:
            raise ValueError("webhook_tolerance must be positive (0 would accept replays)")
        methods = {PaymentMethod.CARD, PaymentMethod.WALLET}
        if upi:
            methods.add(PaymentMethod.UPI)
        self.methods: frozenset[PaymentMethod] = frozenset(methods)
        self._webhook_secret = webhook_secret
        self._tolerance = webhook_tolerance
        # Retries are safe: every POST carries an idempotency key.
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    # -- checkout -------------------------------------------------------------------------

    async def start_checkout(
        self, payment: PaymentInfo, *, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        """Create a Checkout Session. `return_url` may contain Stripe's literal
        `{CHECKOUT_SESSION_ID}` placeholder, which Stripe fills in on the way back."""
        if payment.method not in self.methods:
            raise ValueError(f"Stripe is not set up to take {payment.method} payments")
        currency = payment.currency.lower()
        ours = str(payment.payment_id)
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": to_minor_units(payment.amount, payment.currency),
                        "product_data": {"name": payment.description},
                    },
                }
            ],
            # API 2026-09-30.endive removed `payment_method_types` from session creation;
            # `allowed_payment_method_types` filters the dynamically eligible methods.
            "allowed_payment_method_types": list(_METHOD_TYPES[payment.method]),
            "success_url": return_url,
            "cancel_url": cancel_url,
            "client_reference_id": ours,
            "metadata": {"payment_id": ours},
            "payment_intent_data": {
                "description": payment.description,
                "metadata": {"payment_id": ours},
            },
        }
        if payment.customer_email:
            params["customer_email"] = payment.customer_email

        def create() -> stripe.checkout.Session:
            return self._client.v1.checkout.sessions.create(
                params, {"idempotency_key": payment.idempotency_key}
            )

        try:
            session = await asyncio.to_thread(create)
        except stripe.StripeError as exc:
            log.warning("stripe: creating a checkout for payment %s failed: %s", ours, exc)
            raise GatewayError() from exc
        if not session.url:
            raise GatewayError()
        return CheckoutStart(redirect_url=session.url, gateway_reference=session.id)

    # -- webhooks -------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent | None:
        """Verify `Stripe-Signature` (HMAC-SHA256, timestamp within the tolerance) with the
        SDK, then map Checkout Session events. Pass the raw request body, unparsed."""
        signature = header(headers, "Stripe-Signature")
        try:
            event = self._client.construct_event(
                body, signature, self._webhook_secret, self._tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature() from exc
        except (ValueError, TypeError, AttributeError) as exc:
            # signed, but not a JSON object (the SDK calls .get on a list, a number, null)
            raise InvalidSignature(MALFORMED) from exc
        try:
            return self._map(event.to_dict(for_json=True))
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise InvalidSignature(MALFORMED) from exc

    def _map(self, data: dict[str, Any]) -> GatewayEvent | None:
        event_type = str(data.get("type", ""))
        inner = data.get("data")
        session = inner.get("object") if isinstance(inner, dict) else None
        if not isinstance(session, dict) or session.get("object") != "checkout.session":
            return None
        if event_type in SUCCEEDED_EVENTS:
            if session.get("payment_status") != "paid":
                return None  # a delayed method: async_payment_succeeded/failed follows
            return self._event(data, session, succeeded=True)
        if event_type in FAILED_EVENTS:
            return self._event(data, session, succeeded=False, reason=FAILED_EVENTS[event_type])
        return None

    def _event(
        self, event: dict[str, Any], session: dict[str, Any], *, succeeded: bool, reason: str = ""
    ) -> GatewayEvent:
        currency = str(session.get("currency") or "").upper()
        payment_intent = session.get("payment_intent")
        if isinstance(payment_intent, dict):
            payment_intent = payment_intent.get("id")
        metadata = session.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        return GatewayEvent(
            event_id=str(event["id"]),
            event_type=str(event["type"]),
            gateway_reference=str(session["id"]),
            succeeded=succeeded,
            amount=from_minor_units(int(session.get("amount_total") or 0), currency),
            currency=currency,
            payment_id=_as_int(metadata.get("payment_id"))
            or _as_int(session.get("client_reference_id")),
            failure_reason=reason,
            payload={"payment_intent": payment_intent, "session": session},
        )

    # -- the way back -----------------------------------------------------------------------

    def read_return(
        self, payment: PaymentInfo, values: Mapping[str, str], *, links: ReturnLinks
    ) -> ReturnOutcome:
        """Stripe's return carries only the session id (`session_id`), which proves
        nothing: the signed webhook applies the outcome."""
        return NOTHING_VERIFIED

    # -- refunds --------------------------------------------------------------------------

    async def refund(
        self, payment: PaymentInfo, amount: Decimal, *, idempotency_key: str, reason: str
    ) -> str:
        """Refund part or all of a paid Checkout Session, sent with Stripe's Idempotency-Key
        (the caller's key for this refund): a retried refund is not paid twice, and two
        refunds of one payment are two keys whatever their reasons say."""
        reference = payment.gateway_reference
        if not reference:
            raise GatewayError("This payment never reached Stripe, so there is nothing to refund.")
        minor = to_minor_units(amount, payment.currency)
        if minor <= 0:
            raise ValueError("a refund must be for a positive amount")
        if not idempotency_key:
            raise ValueError("a refund needs an idempotency key")
        key = idempotency_key
        params: RefundCreateParams = {
            "amount": minor,
            "reason": "requested_by_customer",
            "metadata": {"payment_id": str(payment.payment_id), "reason": reason[:500]},
        }

        def create() -> str:
            params["payment_intent"] = self._payment_intent(reference)
            refund = self._client.v1.refunds.create(params, {"idempotency_key": key})
            return refund.id

        try:
            return await asyncio.to_thread(create)
        except stripe.StripeError as exc:
            log.warning("stripe: refund of payment %s failed: %s", payment.payment_id, exc)
            raise GatewayError(
                "Stripe did not accept the refund just now; it will be tried again."
            ) from exc

    def _payment_intent(self, reference: str) -> str:
        if reference.startswith("pi_"):
            return reference
        session = self._client.v1.checkout.sessions.retrieve(reference)
        intent = session.payment_intent
        if intent is None:
            raise GatewayError("This Stripe checkout was never paid: nothing to refund.")
        return intent if isinstance(intent, str) else intent.id


def _as_int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
