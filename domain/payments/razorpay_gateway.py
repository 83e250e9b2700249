"""Razorpay: Orders, Razorpay Checkout on our own page, signed webhooks, refunds, through
the official SDK.

Razorpay has no hosted page to redirect to. `start_checkout` creates an Order and sends the
payer to OUR `return_url` with `?order_id=order_...` appended; the view behind that URL
renders Razorpay Checkout (checkout.js) for the order, with the options from
`checkout_options()`. Checkout posts `razorpay_payment_id`, `razorpay_order_id` and
`razorpay_signature` back to the callback URL; `verify_payment_signature` checks them. The
browser return is only a hint: the payment is applied from the signed webhook
(`payment.captured` / `order.paid`).

`PaymentInfo.gateway_reference` is the order id (`order_...`); refunds need the Razorpay
payment id (`pay_...`), found through the order's payments (or taken from
`gateway_reference` when it already is one). Every SDK call blocks, so it runs in a worker
thread; `requests.Session` is not guaranteed thread-safe, so each thread gets its own client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import razorpay
import razorpay.errors
import requests

from domain.enums import PaymentMethod
from domain.payments.base import (
    MALFORMED,
    NOTHING_VERIFIED,
    CheckoutStart,
    ClientStep,
    GatewayError,
    GatewayEvent,
    InvalidSignature,
    PaymentInfo,
    ReturnKind,
    ReturnLinks,
    ReturnOutcome,
)
from domain.payments.gateway_util import (
    from_minor_units,
    header,
    to_minor_units,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SUCCEEDED_EVENTS = frozenset({"payment.captured", "order.paid"})

CHECKOUT_ORIGIN = "https://checkout.razorpay.com"
CHECKOUT_SCRIPT = f"{CHECKOUT_ORIGIN}/v1/checkout.js"
# Razorpay Checkout on our page: their script from their CDN, their payment frame and the
# calls and styles it makes, on that page only (the view widens its CSP with these).
CHECKOUT_CSP: dict[str, tuple[str, ...]] = {
    "script_src": (CHECKOUT_ORIGIN,),
    "frame_src": ("https://api.razorpay.com", CHECKOUT_ORIGIN),
    "connect_src": ("https://api.razorpay.com", "https://lumberjack.razorpay.com"),
    "img_src": ("https://cdn.razorpay.com",),
    "style_src": ("'unsafe-inline'",),
}
FAILED_EVENTS = frozenset({"payment.failed"})

# What the SDK raises: its own errors for an error answer, requests' for the network, and
# ValueError (json) when a proxy or an outage answers with something that is not JSON.
_SDK_ERRORS: tuple[type[BaseException], ...] = (
    razorpay.errors.BadRequestError,
    razorpay.errors.GatewayError,
    razorpay.errors.ServerError,
    requests.RequestException,
    ValueError,
    KeyError,
)


class RazorpayGateway:
    name = "razorpay"
    methods = frozenset(
        {PaymentMethod.UPI, PaymentMethod.CARD, PaymentMethod.NET_BANKING, PaymentMethod.WALLET}
    )

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        *,
        base_url: str | None = None,
        timeout: float = 20.0,
    ) -> None:
        if not key_id or not key_secret:
            raise ValueError("Razorpay needs RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET")
        if not webhook_secret:
            raise ValueError("Razorpay needs a webhook secret (RAZORPAY_WEBHOOK_SECRET)")
        self.key_id = key_id  # public: checkout.js needs it in the page
        self._key_secret = key_secret
        self._webhook_secret = webhook_secret
        # The SDK appends "/v1/..." itself: base_url is e.g. "https://api.razorpay.com".
        self._base_url = base_url.rstrip("/") if base_url else None
        self._timeout = timeout
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            options = {"base_url": self._base_url} if self._base_url else {}
            client = razorpay.Client(auth=(self.key_id, self._key_secret), **options)
            client.set_app_details({"title": "Busbook"})
            self._local.client = client
        return client

    async def _call(self, what: str, call: Callable[[Any], T], *, message: str | None = None) -> T:
        """Run one blocking SDK call in a worker thread; its failures become GatewayError."""

        def run() -> T:
            return call(self._client())

        try:
            return await asyncio.to_thread(run)
        except _SDK_ERRORS as exc:
            log.warning("razorpay: %s failed: %s: %s", what, type(exc).__name__, exc)
            raise GatewayError(message) from exc

    # -- checkout -------------------------------------------------------------------------

    async def start_checkout(
        self, payment: PaymentInfo, *, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        """Create an Order and send the payer to `return_url?order_id=<order id>`, our page
        that renders Razorpay Checkout. `cancel_url` is not used by Razorpay; the page can
        link to it ("back") and Checkout's dismiss handler can go there."""
        if payment.method not in self.methods:
            raise ValueError(f"Razorpay does not take {payment.method} payments")
        data = {
            "amount": to_minor_units(payment.amount, payment.currency),
            "currency": payment.currency.upper(),
            "receipt": f"payment-{payment.payment_id}"[:40],
            "notes": {"payment_id": str(payment.payment_id)},
            "payment_capture": 1,  # capture at once: payment.captured is what we wait for
        }
        order = await self._call(
            f"creating an order for payment {payment.payment_id}",
            lambda client: client.order.create(data, timeout=self._timeout),
        )
        order_id = order.get("id") if isinstance(order, dict) else None
        if not isinstance(order_id, str) or not order_id:
            raise GatewayError()
        return CheckoutStart(
            redirect_url=_with_query(return_url, order_id=order_id), gateway_reference=order_id
        )

    def checkout_options(
        self,
        payment: PaymentInfo,
        order_id: str,
        *,
        callback_url: str,
        cancel_url: str | None = None,
        name: str = "Busbook",
    ) -> dict[str, Any]:
        """The options object for `new Razorpay(options)` (checkout.js) on our checkout page.
        With `callback_url` and `redirect: true`, Checkout POSTs razorpay_payment_id,
        razorpay_order_id and razorpay_signature (or error[...] fields) to `callback_url`."""
        options: dict[str, Any] = {
            "key": self.key_id,
            "amount": to_minor_units(payment.amount, payment.currency),
            "currency": payment.currency.upper(),
            "name": name,
            "description": payment.description,
            "order_id": order_id,
            "callback_url": callback_url,
            "redirect": True,
            "prefill": {"email": payment.customer_email} if payment.customer_email else {},
            "notes": {"payment_id": str(payment.payment_id)},
        }
        if cancel_url:
            options["cancel_url"] = cancel_url  # ours, for the page's dismiss handler
        return options

    def verify_payment_signature(self, order_id: str, payment_id: str, signature: str) -> bool:
        """Check the signature Checkout hands the browser: HMAC-SHA256 of
        "order_id|payment_id" with the key secret."""
        try:
            return bool(
                self._client().utility.verify_payment_signature(
                    {
                        "razorpay_order_id": order_id,
                        "razorpay_payment_id": payment_id,
                        "razorpay_signature": signature,
                    }
                )
            )
        except (razorpay.errors.SignatureVerificationError, TypeError):
            return False

    # -- the way back -----------------------------------------------------------------------

    def read_return(
        self, payment: PaymentInfo, values: Mapping[str, str], *, links: ReturnLinks
    ) -> ReturnOutcome:
        """Two ways back here. From `start_checkout` the browser arrives with `order_id`:
        Razorpay Checkout still has to run on our page (a client step, with its options).
        Checkout then posts `razorpay_payment_id` and `razorpay_signature` to the callback:
        a good signature for this payment's order is a verified success. Anything else
        (Checkout's `error[...]` fields, a forged post) is left to the webhook."""
        payment_id = values.get("razorpay_payment_id", "")
        signature = values.get("razorpay_signature", "")
        if payment_id or signature:
            order_id = payment.gateway_reference or ""
            if order_id and self.verify_payment_signature(order_id, payment_id, signature):
                return ReturnOutcome(ReturnKind.SUCCEEDED, reference=order_id)
            return NOTHING_VERIFIED
        order_id = values.get("order_id", "")
        if not order_id:
            return NOTHING_VERIFIED
        options = self.checkout_options(
            payment, order_id, callback_url=links.callback_url, cancel_url=links.cancel_url
        )
        return ReturnOutcome(
            ReturnKind.CLIENT_STEP,
            reference=order_id,
            client_step=ClientStep(
                gateway=self.name,
                script_url=CHECKOUT_SCRIPT,
                options=options,
                csp=CHECKOUT_CSP,
            ),
        )

    # -- webhooks -------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent | None:
        """Verify `X-Razorpay-Signature` (HMAC-SHA256 hex of the raw body with the webhook
        secret) with the SDK, then map payment events. Pass the raw request body."""
        signature = header(headers, "X-Razorpay-Signature")
        if not signature:
            raise InvalidSignature()
        try:
            text = body.decode("utf-8")
            self._client().utility.verify_webhook_signature(text, signature, self._webhook_secret)
            data = json.loads(text)
        except (razorpay.errors.SignatureVerificationError, TypeError, ValueError) as exc:
            # TypeError: a non-ASCII signature; ValueError: not UTF-8 / not JSON.
            raise InvalidSignature() from exc
        if not isinstance(data, dict):
            raise InvalidSignature(MALFORMED)
        try:
            return self._map(headers, body, data)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise InvalidSignature(MALFORMED) from exc

    def _map(
        self, headers: Mapping[str, str], body: bytes, data: dict[str, Any]
    ) -> GatewayEvent | None:
        event_type = str(data.get("event", ""))
        if event_type not in SUCCEEDED_EVENTS and event_type not in FAILED_EVENTS:
            return None
        payload = data.get("payload") or {}
        payment = _entity(payload, "payment")
        order = _entity(payload, "order")
        order_id = order.get("id") or payment.get("order_id")
        if not order_id:
            return None  # a payment that did not come through one of our orders

        event_id = header(headers, "X-Razorpay-Event-Id") or (
            "sha256:" + hashlib.sha256(body).hexdigest()
        )
        currency = str(payment.get("currency") or order.get("currency") or "").upper()
        if event_type == "order.paid":
            minor = order.get("amount_paid") or payment.get("amount") or 0
        else:
            minor = payment.get("amount") or 0
        succeeded = event_type in SUCCEEDED_EVENTS
        reason = ""
        if not succeeded:
            reason = str(
                payment.get("error_description")
                or payment.get("error_code")
                or "The payment was declined."
            )
        return GatewayEvent(
            event_id=str(event_id),
            event_type=event_type,
            gateway_reference=str(order_id),
            succeeded=succeeded,
            amount=from_minor_units(int(minor), currency),
            currency=currency,
            payment_id=_our_payment_id(payment, order),
            failure_reason=reason,
            payload={
                "razorpay_payment_id": payment.get("id"),
                "method": payment.get("method"),
                "payment": payment,
                "order": order,
            },
        )

    # -- refunds --------------------------------------------------------------------------

    async def refund(
        self, payment: PaymentInfo, amount: Decimal, *, idempotency_key: str, reason: str
    ) -> str:
        """Refund part or all of the captured payment of our order. Sent with Razorpay's
        X-Refund-Idempotency header (the caller's key for this refund), so a retry after a
        lost answer does not refund twice."""
        reference = payment.gateway_reference
        if not reference:
            raise GatewayError("This payment never reached Razorpay: nothing to refund.")
        minor = to_minor_units(amount, payment.currency)
        if minor <= 0:
            raise ValueError("a refund must be for a positive amount")
        if not idempotency_key:
            raise ValueError("a refund needs an idempotency key")
        key = idempotency_key
        data = {
            "amount": minor,
            "speed": "normal",
            "notes": {"payment_id": str(payment.payment_id), "reason": reason[:256]},
        }

        def create(client: Any) -> str:
            razorpay_payment_id = _captured_payment_id(client, reference, self._timeout)
            refund = client.payment.refund(
                razorpay_payment_id,
                dict(data),
                headers={"X-Refund-Idempotency": key},
                timeout=self._timeout,
            )
            refund_id = refund.get("id") if isinstance(refund, dict) else None
            if not isinstance(refund_id, str) or not refund_id:
                raise ValueError(f"unexpected refund answer: {refund!r}")
            return refund_id

        return await self._call(
            f"refunding payment {payment.payment_id}",
            create,
            message="Razorpay did not accept the refund just now; it will be tried again.",
        )


def _captured_payment_id(client: Any, reference: str, timeout: float) -> str:
    if reference.startswith("pay_"):
        return reference
    answer = client.order.payments(reference, timeout=timeout)
    items = answer.get("items", []) if isinstance(answer, dict) else []
    for item in items:
        if isinstance(item, dict) and item.get("status") == "captured" and item.get("id"):
            return str(item["id"])
    raise GatewayError("Razorpay has no captured payment for this order, so nothing to refund.")


def _entity(payload: Any, name: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        return {}
    wrapper = payload.get(name)
    entity = wrapper.get("entity") if isinstance(wrapper, dict) else None
    return entity if isinstance(entity, dict) else {}


def _our_payment_id(payment: dict[str, Any], order: dict[str, Any]) -> int | None:
    for notes in (payment.get("notes"), order.get("notes")):
        # Razorpay sends empty notes as [] (a PHP-ism), full ones as an object.
        if isinstance(notes, dict):
            value = str(notes.get("payment_id", "")).strip()
            if value.isdigit():
                return int(value)
    receipt = str(order.get("receipt") or "")
    if receipt.startswith("payment-") and receipt[len("payment-") :].isdigit():
        return int(receipt[len("payment-") :])
    return None


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
