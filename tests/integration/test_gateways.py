"""The Stripe and Razorpay adapters against a local fake of their HTTP APIs.

The official SDKs do the talking; a standard-library HTTP server on 127.0.0.1 answers the
endpoints they call with realistic JSON, records every request (so the tests can check
amounts in paise, currency, idempotency headers and metadata) and can be told to fail.
Webhook signatures are made locally with the SDK's own helper (Stripe) or the documented
algorithm (Razorpay: HMAC-SHA256 hex of the raw body). Nothing here touches the network
or the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import stripe

from domain.enums import PaymentMethod
from domain.payments.base import GatewayError, InvalidSignature, PaymentInfo
from domain.payments.gateway_util import from_minor_units, to_minor_units
from domain.payments.razorpay_gateway import RazorpayGateway
from domain.payments.stripe_gateway import StripeGateway

STRIPE_KEY = "sk_test_busbook"
STRIPE_WHSEC = "whsec_test_busbook"
RZP_KEY_ID = "rzp_test_busbook"
RZP_KEY_SECRET = "rzp_secret_busbook"
RZP_WHSEC = "rzp_webhook_busbook"


# -- the fake API ------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """Stripe's form encoding, flattened: {"line_items[0][quantity]": "1", ...}."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Failure:
    status: int
    body: Any
    delay: float = 0.0


@dataclass
class FakeAPI:
    """One fake for both providers: the paths do not overlap."""

    requests: list[Recorded] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    order_payments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    replays: dict[str, tuple[int, Any]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.failures.clear()
            self.sessions.clear()
            self.order_payments.clear()
            self.replays.clear()

    def fail(
        self, status: int = 500, body: Any = None, *, times: int = 1, delay: float = 0
    ) -> None:
        """The next `times` requests get this answer instead of the real one."""
        if body is None:
            body = {"error": {"type": "api_error", "message": "Something went wrong."}}
        self.failures.extend(Failure(status, body, delay) for _ in range(times))

    def of(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    # Request handling (runs in the server's threads).

    def handle(self, req: Recorded) -> tuple[int, Any, float]:
        with self.lock:
            self.requests.append(req)
            if self.failures:
                failure = self.failures.pop(0)
                return failure.status, failure.body, failure.delay
            # Both providers replay the first answer for a repeated idempotency key.
            key = req.headers.get("idempotency-key") or req.headers.get("x-refund-idempotency")
            if key and key in self.replays:
                status, body = self.replays[key]
                return status, body, 0
            status, body = self.route(req)
            if key:
                self.replays[key] = (status, body)
            return status, body, 0

    def route(self, req: Recorded) -> tuple[int, Any]:
        n = next(self.ids)
        now = int(time.time())
        path, method = req.path, req.method
        # Stripe
        if method == "POST" and path == "/v1/checkout/sessions":
            if not req.headers.get("authorization", "").startswith("Bearer sk_"):
                return 401, {"error": {"type": "invalid_request_error", "message": "No key"}}
            f = req.form
            session_id = f"cs_test_a1{n:06d}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": int(f["line_items[0][price_data][unit_amount]"]),
                "amount_total": int(f["line_items[0][price_data][unit_amount]"]),
                "cancel_url": f["cancel_url"],
                "client_reference_id": f.get("client_reference_id"),
                "created": now,
                "currency": f["line_items[0][price_data][currency]"],
                "customer_email": f.get("customer_email"),
                "expires_at": now + 86400,
                "livemode": False,
                "metadata": {"payment_id": f.get("metadata[payment_id]")},
                "mode": "payment",
                "payment_intent": None,
                "payment_method_types": [
                    v for k, v in f.items() if k.startswith("allowed_payment_method_types")
                ],
                "payment_status": "unpaid",
                "status": "open",
                "success_url": f["success_url"],
                "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwn",
            }
            self.sessions[session_id] = session
            return 200, session
        if method == "GET" and (m := re.fullmatch(r"/v1/checkout/sessions/([^/]+)", path)):
            if m.group(1) in self.sessions:
                return 200, self.sessions[m.group(1)]
            return 404, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such checkout.session: '{m.group(1)}'",
                }
            }
        if method == "POST" and path == "/v1/refunds":
            f = req.form
            return 200, {
                "id": f"re_3Q{n:06d}",
                "object": "refund",
                "amount": int(f["amount"]),
                "currency": "inr",
                "created": now,
                "metadata": {k[9:-1]: v for k, v in f.items() if k.startswith("metadata[")},
                "payment_intent": f["payment_intent"],
                "reason": f.get("reason"),
                "status": "succeeded",
            }
        # Razorpay
        if not path.startswith("/v1/"):
            return 404, {"error": "unknown path"}
        if method == "POST" and path == "/v1/orders":
            data = req.json
            order_id = f"order_R{n:07d}"
            return 200, {
                "id": order_id,
                "entity": "order",
                "amount": data["amount"],
                "amount_paid": 0,
                "amount_due": data["amount"],
                "currency": data["currency"],
                "receipt": data.get("receipt"),
                "offer_id": None,
                "status": "created",
                "attempts": 0,
                "notes": data.get("notes") or [],
                "created_at": now,
            }
        if method == "GET" and (m := re.fullmatch(r"/v1/orders/([^/]+)/payments", path)):
            items = self.order_payments.get(m.group(1), [])
            return 200, {"entity": "collection", "count": len(items), "items": items}
        if method == "POST" and (m := re.fullmatch(r"/v1/payments/([^/]+)/refund", path)):
            data = req.json
            return 200, {
                "id": f"rfnd_R{n:07d}",
                "entity": "refund",
                "amount": data["amount"],
                "currency": "INR",
                "payment_id": m.group(1),
                "notes": data.get("notes") or [],
                "receipt": None,
                "acquirer_data": {"arn": None},
                "created_at": now,
                "batch_id": None,
                "status": "processed",
                "speed_processed": "normal",
                "speed_requested": data.get("speed", "normal"),
            }
        return 404, {
            "error": {
                "code": "BAD_REQUEST_ERROR",
                "description": "The requested URL was not found on the server.",
            }
        }


def _handler(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            req = Recorded(
                method=self.command,
                path=parts.path,
                query={k: v[0] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            status, answer, delay = api.handle(req)
            if delay:
                time.sleep(delay)
            raw = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            ctype = "text/html" if isinstance(answer, str) else "application/json"
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", "req_fake")
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout tests)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeAPI]:
    api = FakeAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake(fake_server: FakeAPI) -> FakeAPI:
    fake_server.reset()
    return fake_server


@pytest.fixture
def dead_url() -> str:
    """An address where nothing listens: connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_payment(**overrides: Any) -> PaymentInfo:
    values: dict[str, Any] = {
        "payment_id": 42,
        "amount": Decimal("1249.50"),
        "currency": "INR",
        "method": PaymentMethod.CARD,
        "description": "Mumbai → Pune, 3 Dec, seats L3 L4",
        "customer_email": "priya@example.com",
        "idempotency_key": "pay-42-7f3c9a",
    }
    return PaymentInfo(**(values | overrides))


def stripe_gateway(base: str, **kwargs: Any) -> StripeGateway:
    kwargs.setdefault("max_network_retries", 0)
    return StripeGateway(STRIPE_KEY, STRIPE_WHSEC, api_base=base, **kwargs)


def razorpay_gateway(base: str, **kwargs: Any) -> RazorpayGateway:
    return RazorpayGateway(RZP_KEY_ID, RZP_KEY_SECRET, RZP_WHSEC, base_url=base, **kwargs)


# -- money -------------------------------------------------------------------------------


def test_minor_units_are_exact():
    assert to_minor_units(Decimal("1249.50"), "INR") == 124950
    assert to_minor_units(Decimal("1"), "inr") == 100
    assert to_minor_units(Decimal("500"), "JPY") == 500
    assert from_minor_units(124950, "INR") == Decimal("1249.50")
    assert str(from_minor_units(100, "INR")) == "1.00"
    with pytest.raises(ValueError):
        to_minor_units(Decimal("10.005"), "INR")


# -- Stripe: checkout --------------------------------------------------------------------


async def test_stripe_checkout_creates_a_session_in_paise(fake: FakeAPI):
    gateway = stripe_gateway(fake.url)
    start = await gateway.start_checkout(
        make_payment(),
        return_url="https://busbook.test/payments/42/return?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://busbook.test/reservations/9",
    )
    [req] = fake.of("POST", "/v1/checkout/sessions")
    form = req.form
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "124950"
    assert form["line_items[0][price_data][currency]"] == "inr"
    assert form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][product_data][name]"].startswith("Mumbai → Pune")
    assert form["client_reference_id"] == "42"
    assert form["metadata[payment_id]"] == "42"
    assert form["payment_intent_data[metadata][payment_id]"] == "42"
    assert form["customer_email"] == "priya@example.com"
    assert form["allowed_payment_method_types[0]"] == "card"
    assert form["success_url"].endswith("session_id={CHECKOUT_SESSION_ID}")
    assert form["cancel_url"] == "https://busbook.test/reservations/9"
    assert req.headers["idempotency-key"] == "pay-42-7f3c9a"
    assert req.headers["authorization"] == f"Bearer {STRIPE_KEY}"
    assert start.gateway_reference.startswith("cs_test_")
    assert start.redirect_url == fake.sessions[start.gateway_reference]["url"]


async def test_stripe_methods_and_upi_opt_in(fake: FakeAPI):
    assert stripe_gateway(fake.url).methods == {PaymentMethod.CARD, PaymentMethod.WALLET}
    gateway = stripe_gateway(fake.url, upi=True)
    assert PaymentMethod.UPI in gateway.methods
    await gateway.start_checkout(
        make_payment(method=PaymentMethod.UPI), return_url="https://x/r", cancel_url="https://x/c"
    )
    assert fake.requests[-1].form["allowed_payment_method_types[0]"] == "upi"
    with pytest.raises(ValueError):
        await stripe_gateway(fake.url).start_checkout(
            make_payment(method=PaymentMethod.NET_BANKING), return_url="r", cancel_url="c"
        )


async def test_stripe_checkout_failure_is_a_gateway_error(fake: FakeAPI, dead_url: str):
    fake.fail(500)
    with pytest.raises(GatewayError):
        await stripe_gateway(fake.url).start_checkout(
            make_payment(), return_url="https://x/r", cancel_url="https://x/c"
        )
    fake.fail(
        400, {"error": {"type": "invalid_request_error", "message": "Amount must be positive"}}
    )
    with pytest.raises(GatewayError):
        await stripe_gateway(fake.url).start_checkout(
            make_payment(), return_url="https://x/r", cancel_url="https://x/c"
        )
    with pytest.raises(GatewayError):
        await stripe_gateway(dead_url).start_checkout(
            make_payment(), return_url="https://x/r", cancel_url="https://x/c"
        )


async def test_stripe_timeout_is_a_gateway_error(fake: FakeAPI):
    fake.fail(200, {}, delay=1.0)
    with pytest.raises(GatewayError):
        await stripe_gateway(fake.url, timeout=0.2).start_checkout(
            make_payment(), return_url="https://x/r", cancel_url="https://x/c"
        )


async def test_stripe_retries_a_500_with_the_same_idempotency_key(fake: FakeAPI):
    fake.fail(500)
    start = await stripe_gateway(fake.url, max_network_retries=1).start_checkout(
        make_payment(), return_url="https://x/r", cancel_url="https://x/c"
    )
    first, second = fake.of("POST", "/v1/checkout/sessions")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "pay-42-7f3c9a"
    assert start.gateway_reference in fake.sessions


# -- Stripe: webhooks --------------------------------------------------------------------


def stripe_event(event_type: str, **session: Any) -> bytes:
    obj = {
        "id": "cs_test_a1000001",
        "object": "checkout.session",
        "amount_subtotal": 124950,
        "amount_total": 124950,
        "client_reference_id": "42",
        "currency": "inr",
        "livemode": False,
        "metadata": {"payment_id": "42"},
        "mode": "payment",
        "payment_intent": "pi_3QabcDEF",
        "payment_status": "paid",
        "status": "complete",
    } | session
    event = {
        "id": "evt_1QxyzABC",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event).encode()


def stripe_sign(body: bytes, secret: str = STRIPE_WHSEC, timestamp: int | None = None) -> dict:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": header}


def test_stripe_signature_helper_matches_stripes_documented_scheme():
    body = stripe_event("checkout.session.completed")
    t = 1_700_000_000
    expected = hmac.new(STRIPE_WHSEC.encode(), f"{t}.".encode() + body, hashlib.sha256)
    assert stripe_sign(body, timestamp=t)["Stripe-Signature"] == f"t={t},v1={expected.hexdigest()}"


def test_stripe_completed_and_paid_is_a_success():
    gateway = stripe_gateway("http://127.0.0.1:9")
    body = stripe_event("checkout.session.completed")
    event = gateway.parse_webhook(stripe_sign(body), body)
    assert event is not None
    assert event.succeeded
    assert event.event_id == "evt_1QxyzABC"
    assert event.event_type == "checkout.session.completed"
    assert event.gateway_reference == "cs_test_a1000001"
    assert event.amount == Decimal("1249.50")
    assert event.currency == "INR"
    assert event.payment_id == 42
    assert event.payload["payment_intent"] == "pi_3QabcDEF"


def test_stripe_headers_are_case_insensitive_and_payment_id_falls_back():
    gateway = stripe_gateway("http://127.0.0.1:9")
    body = stripe_event("checkout.session.async_payment_succeeded", metadata={})
    headers = {"stripe-signature": stripe_sign(body)["Stripe-Signature"]}
    event = gateway.parse_webhook(headers, body)
    assert event is not None and event.succeeded
    assert event.payment_id == 42  # from client_reference_id


@pytest.mark.parametrize(
    ("event_type", "session"),
    [
        ("checkout.session.async_payment_failed", {"payment_status": "unpaid"}),
        ("checkout.session.expired", {"payment_status": "unpaid", "status": "expired"}),
    ],
)
def test_stripe_failed_and_expired_are_failures(event_type: str, session: dict):
    gateway = stripe_gateway("http://127.0.0.1:9")
    body = stripe_event(event_type, **session)
    event = gateway.parse_webhook(stripe_sign(body), body)
    assert event is not None
    assert not event.succeeded
    assert event.failure_reason
    assert event.gateway_reference == "cs_test_a1000001"
    assert event.payment_id == 42


@pytest.mark.parametrize(
    ("event_type", "session"),
    [
        ("checkout.session.completed", {"payment_status": "unpaid"}),  # delayed method
        ("payment_intent.created", {}),
        ("charge.refunded", {"object": "charge"}),
    ],
)
def test_stripe_other_events_are_ignored(event_type: str, session: dict):
    gateway = stripe_gateway("http://127.0.0.1:9")
    body = stripe_event(event_type, **session)
    assert gateway.parse_webhook(stripe_sign(body), body) is None


def test_stripe_bad_signatures_are_rejected():
    gateway = stripe_gateway("http://127.0.0.1:9")
    body = stripe_event("checkout.session.completed")
    tampered = body.replace(b"124950", b"100")
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(stripe_sign(body), tampered)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(stripe_sign(body, secret="whsec_someone_else"), body)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook({}, body)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook({"Stripe-Signature": "garbage"}, body)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(stripe_sign(b"not json"), b"not json")


def test_stripe_old_timestamps_are_rejected():
    gateway = stripe_gateway("http://127.0.0.1:9")
    body = stripe_event("checkout.session.completed")
    old = int(time.time()) - stripe.Webhook.DEFAULT_TOLERANCE - 60
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(stripe_sign(body, timestamp=old), body)
    recent = int(time.time()) - 60
    assert gateway.parse_webhook(stripe_sign(body, timestamp=recent), body) is not None


# -- Stripe: refunds ---------------------------------------------------------------------


async def paid_stripe_session(gateway: StripeGateway, fake: FakeAPI) -> str:
    start = await gateway.start_checkout(
        make_payment(), return_url="https://x/r", cancel_url="https://x/c"
    )
    fake.sessions[start.gateway_reference] |= {
        "payment_intent": "pi_3QpaidXYZ",
        "payment_status": "paid",
        "status": "complete",
    }
    return start.gateway_reference


async def test_stripe_refund_finds_the_payment_intent_and_refunds_in_paise(fake: FakeAPI):
    gateway = stripe_gateway(fake.url)
    session_id = await paid_stripe_session(gateway, fake)
    payment = make_payment(gateway_reference=session_id)

    refund_id = await gateway.refund(
        payment, Decimal("600.00"), idempotency_key="refund-rfd_7", reason="cancellation 7"
    )

    assert refund_id.startswith("re_")
    assert fake.of("GET", f"/v1/checkout/sessions/{session_id}")
    [req] = fake.of("POST", "/v1/refunds")
    assert req.form["payment_intent"] == "pi_3QpaidXYZ"
    assert req.form["amount"] == "60000"
    assert req.form["reason"] == "requested_by_customer"
    assert req.form["metadata[payment_id]"] == "42"
    assert req.form["metadata[reason]"] == "cancellation 7"
    assert req.headers["idempotency-key"] == "refund-rfd_7"  # the caller's key, as given

    # The same refund retried replays (same key, whatever the reason text says now);
    # another refund is another key and a new refund.
    again = await gateway.refund(
        payment, Decimal("600.00"), idempotency_key="refund-rfd_7", reason="retried"
    )
    assert again == refund_id
    other = await gateway.refund(
        payment, Decimal("600.00"), idempotency_key="refund-rfd_8", reason="cancellation 7"
    )
    assert other != refund_id
    keys = [r.headers["idempotency-key"] for r in fake.of("POST", "/v1/refunds")]
    assert keys == ["refund-rfd_7", "refund-rfd_7", "refund-rfd_8"]
    with pytest.raises(ValueError):  # no refund without a key
        await gateway.refund(payment, Decimal("1"), idempotency_key="", reason="x")


async def test_stripe_refund_with_a_payment_intent_reference_skips_the_lookup(fake: FakeAPI):
    gateway = stripe_gateway(fake.url)
    payment = make_payment(gateway_reference="pi_3Qdirect")
    await gateway.refund(
        payment,
        Decimal("1249.50"),
        idempotency_key="refund-cancellation-1",
        reason="cancellation 1",
    )
    assert not fake.of("GET", r"/v1/checkout/sessions/.*")
    [req] = fake.of("POST", "/v1/refunds")
    assert req.form["payment_intent"] == "pi_3Qdirect"
    assert req.form["amount"] == "124950"


async def test_stripe_refund_failures_are_gateway_errors(fake: FakeAPI, dead_url: str):
    gateway = stripe_gateway(fake.url)
    session_id = await paid_stripe_session(gateway, fake)
    payment = make_payment(gateway_reference=session_id)

    fake.fail(500)  # on the session lookup
    with pytest.raises(GatewayError):
        await gateway.refund(payment, Decimal("100"), idempotency_key="refund-c1", reason="c1")

    fake.failures.clear()
    fake.fail(
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "charge_already_refunded",
                "message": "Charge ch_1 has already been refunded.",
            }
        },
    )
    fake.failures.insert(0, Failure(200, fake.sessions[session_id]))  # lookup succeeds
    with pytest.raises(GatewayError, match="tried again"):
        await gateway.refund(payment, Decimal("100"), idempotency_key="refund-c2", reason="c2")

    with pytest.raises(GatewayError):  # unknown session: 404
        await gateway.refund(
            make_payment(gateway_reference="cs_missing"),
            Decimal("1"),
            idempotency_key="refund-x",
            reason="x",
        )
    unpaid = await stripe_gateway(fake.url).start_checkout(
        make_payment(idempotency_key="other"), return_url="https://x/r", cancel_url="https://x/c"
    )
    with pytest.raises(GatewayError, match="never paid"):
        await gateway.refund(
            make_payment(gateway_reference=unpaid.gateway_reference),
            Decimal("1"),
            idempotency_key="refund-x",
            reason="x",
        )
    with pytest.raises(GatewayError):  # never reached Stripe
        await gateway.refund(make_payment(), Decimal("1"), idempotency_key="refund-x", reason="x")
    with pytest.raises(GatewayError):  # connection refused
        await stripe_gateway(dead_url).refund(
            payment, Decimal("1"), idempotency_key="refund-x", reason="x"
        )


# -- Razorpay: checkout ------------------------------------------------------------------


async def test_razorpay_checkout_creates_an_order_and_points_at_our_page(fake: FakeAPI):
    gateway = razorpay_gateway(fake.url)
    payment = make_payment(method=PaymentMethod.UPI)
    start = await gateway.start_checkout(
        payment,
        return_url="https://busbook.test/payments/42/razorpay?lang=en",
        cancel_url="https://busbook.test/reservations/9",
    )
    [req] = fake.of("POST", "/v1/orders")
    assert req.json == {
        "amount": 124950,
        "currency": "INR",
        "receipt": "payment-42",
        "notes": {"payment_id": "42"},
        "payment_capture": 1,
    }
    user, _, secret = (
        base64.b64decode(req.headers["authorization"].split()[1]).decode().partition(":")
    )
    assert (user, secret) == (RZP_KEY_ID, RZP_KEY_SECRET)
    assert start.gateway_reference.startswith("order_")
    assert start.redirect_url == (
        f"https://busbook.test/payments/42/razorpay?lang=en&order_id={start.gateway_reference}"
    )

    options = gateway.checkout_options(
        payment, start.gateway_reference, callback_url="https://busbook.test/payments/42/return"
    )
    assert options["key"] == RZP_KEY_ID
    assert options["amount"] == 124950
    assert options["currency"] == "INR"
    assert options["order_id"] == start.gateway_reference
    assert options["callback_url"] == "https://busbook.test/payments/42/return"
    assert options["prefill"] == {"email": "priya@example.com"}
    assert gateway.methods == {
        PaymentMethod.UPI,
        PaymentMethod.CARD,
        PaymentMethod.NET_BANKING,
        PaymentMethod.WALLET,
    }


async def test_razorpay_checkout_failures_are_gateway_errors(fake: FakeAPI, dead_url: str):
    gateway = razorpay_gateway(fake.url)
    fake.fail(500, "<html>502 Bad Gateway</html>")  # not even JSON
    with pytest.raises(GatewayError):
        await gateway.start_checkout(make_payment(), return_url="https://x/r", cancel_url="c")
    fake.fail(500, {"error": {"code": "SERVER_ERROR", "description": "The server is down"}})
    with pytest.raises(GatewayError):
        await gateway.start_checkout(make_payment(), return_url="https://x/r", cancel_url="c")
    fake.fail(
        400,
        {"error": {"code": "BAD_REQUEST_ERROR", "description": "The amount must be atleast 1"}},
    )
    with pytest.raises(GatewayError):
        await gateway.start_checkout(make_payment(), return_url="https://x/r", cancel_url="c")
    fake.fail(401, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Auth failed"}})
    with pytest.raises(GatewayError):
        await gateway.start_checkout(make_payment(), return_url="https://x/r", cancel_url="c")
    with pytest.raises(GatewayError):
        await razorpay_gateway(dead_url).start_checkout(
            make_payment(), return_url="https://x/r", cancel_url="c"
        )
    fake.fail(200, {}, delay=1.0)
    with pytest.raises(GatewayError):
        await razorpay_gateway(fake.url, timeout=0.2).start_checkout(
            make_payment(), return_url="https://x/r", cancel_url="c"
        )


# -- Razorpay: browser return and webhooks -----------------------------------------------


def test_razorpay_payment_signature_from_the_browser():
    gateway = razorpay_gateway("http://127.0.0.1:9")
    good = hmac.new(
        RZP_KEY_SECRET.encode(), b"order_R0000001|pay_R0000009", hashlib.sha256
    ).hexdigest()
    assert gateway.verify_payment_signature("order_R0000001", "pay_R0000009", good)
    assert not gateway.verify_payment_signature("order_R0000001", "pay_R0000010", good)
    assert not gateway.verify_payment_signature("order_R0000001", "pay_R0000009", "0" * 64)
    assert not gateway.verify_payment_signature("order_R0000001", "pay_R0000009", "")
    assert not gateway.verify_payment_signature("order_R0000001", "pay_R0000009", "é" * 64)


def razorpay_payment(**fields: Any) -> dict[str, Any]:
    return {
        "id": "pay_R0000009",
        "entity": "payment",
        "amount": 124950,
        "currency": "INR",
        "status": "captured",
        "order_id": "order_R0000001",
        "invoice_id": None,
        "international": False,
        "method": "upi",
        "amount_refunded": 0,
        "refund_status": None,
        "captured": True,
        "description": "Mumbai → Pune",
        "vpa": "priya@okhdfc",
        "email": "priya@example.com",
        "contact": "+919876543210",
        "notes": {"payment_id": "42"},
        "fee": 2949,
        "tax": 450,
        "error_code": None,
        "error_description": None,
        "error_source": None,
        "error_step": None,
        "error_reason": None,
        "created_at": int(time.time()),
    } | fields


def razorpay_event(event_type: str, payment: dict[str, Any], order: dict | None = None) -> bytes:
    payload: dict[str, Any] = {"payment": {"entity": payment}}
    if order is not None:
        payload["order"] = {"entity": order}
    return json.dumps(
        {
            "entity": "event",
            "account_id": "acc_BFQ7uQEaa7j2z7",
            "event": event_type,
            "contains": list(payload),
            "payload": payload,
            "created_at": int(time.time()),
        }
    ).encode()


def razorpay_sign(body: bytes, secret: str = RZP_WHSEC, event_id: str | None = "EvR01") -> dict:
    headers = {"X-Razorpay-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    if event_id:
        headers["X-Razorpay-Event-Id"] = event_id
    return headers


def test_razorpay_captured_is_a_success_with_the_razorpay_payment_id():
    gateway = razorpay_gateway("http://127.0.0.1:9")
    body = razorpay_event("payment.captured", razorpay_payment())
    event = gateway.parse_webhook(razorpay_sign(body), body)
    assert event is not None
    assert event.succeeded
    assert event.event_id == "EvR01"
    assert event.event_type == "payment.captured"
    assert event.gateway_reference == "order_R0000001"
    assert event.amount == Decimal("1249.50")
    assert event.currency == "INR"
    assert event.payment_id == 42
    assert event.payload["razorpay_payment_id"] == "pay_R0000009"


def test_razorpay_order_paid_is_a_success_and_uses_the_order():
    gateway = razorpay_gateway("http://127.0.0.1:9")
    order = {
        "id": "order_R0000001",
        "entity": "order",
        "amount": 124950,
        "amount_paid": 124950,
        "amount_due": 0,
        "currency": "INR",
        "receipt": "payment-42",
        "status": "paid",
        "attempts": 1,
        "notes": [],
    }
    body = razorpay_event("order.paid", razorpay_payment(notes=[]), order)
    event = gateway.parse_webhook(razorpay_sign(body, event_id=None), body)
    assert event is not None and event.succeeded
    assert event.gateway_reference == "order_R0000001"
    assert event.amount == Decimal("1249.50")
    assert event.payment_id == 42  # from the receipt: both notes were empty
    # No X-Razorpay-Event-Id: a stable hash of the body, the same on redelivery.
    assert event.event_id == "sha256:" + hashlib.sha256(body).hexdigest()
    again = gateway.parse_webhook(razorpay_sign(body, event_id=None), body)
    assert again is not None and again.event_id == event.event_id


def test_razorpay_failed_payment_is_a_failure():
    gateway = razorpay_gateway("http://127.0.0.1:9")
    payment = razorpay_payment(
        status="failed",
        captured=False,
        error_code="BAD_REQUEST_ERROR",
        error_description="Payment was unsuccessful as the PIN was incorrect.",
        error_reason="incorrect_pin",
    )
    body = razorpay_event("payment.failed", payment)
    event = gateway.parse_webhook(razorpay_sign(body), body)
    assert event is not None
    assert not event.succeeded
    assert event.failure_reason == "Payment was unsuccessful as the PIN was incorrect."
    assert event.gateway_reference == "order_R0000001"
    assert event.payment_id == 42


@pytest.mark.parametrize("event_type", ["payment.authorized", "refund.processed", "order.notified"])
def test_razorpay_other_events_are_ignored(event_type: str):
    gateway = razorpay_gateway("http://127.0.0.1:9")
    body = razorpay_event(event_type, razorpay_payment())
    assert gateway.parse_webhook(razorpay_sign(body), body) is None


def test_razorpay_payment_outside_our_orders_is_ignored():
    gateway = razorpay_gateway("http://127.0.0.1:9")
    body = razorpay_event("payment.captured", razorpay_payment(order_id=None))
    assert gateway.parse_webhook(razorpay_sign(body), body) is None


def test_razorpay_bad_signatures_are_rejected():
    gateway = razorpay_gateway("http://127.0.0.1:9")
    body = razorpay_event("payment.captured", razorpay_payment())
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(razorpay_sign(body), body.replace(b"124950", b"100"))
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(razorpay_sign(body, secret="someone-else"), body)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(razorpay_sign(body, secret=RZP_KEY_SECRET), body)  # wrong secret
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook({}, body)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook({"X-Razorpay-Signature": "é"}, body)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(razorpay_sign(b"\xff\xfe"), b"\xff\xfe")
    lower = {k.lower(): v for k, v in razorpay_sign(body).items()}
    assert gateway.parse_webhook(lower, body) is not None  # header names are case-insensitive


# -- Razorpay: refunds -------------------------------------------------------------------


async def test_razorpay_refund_finds_the_captured_payment_of_the_order(fake: FakeAPI):
    gateway = razorpay_gateway(fake.url)
    fake.order_payments["order_R0000001"] = [
        razorpay_payment(id="pay_Rfailed01", status="failed", captured=False),
        razorpay_payment(id="pay_R0000009"),
    ]
    payment = make_payment(gateway_reference="order_R0000001")

    refund_id = await gateway.refund(
        payment, Decimal("600.00"), idempotency_key="refund-rfd_7", reason="cancellation 7"
    )

    assert refund_id.startswith("rfnd_")
    assert fake.of("GET", "/v1/orders/order_R0000001/payments")
    [req] = fake.of("POST", "/v1/payments/pay_R0000009/refund")
    assert req.json["amount"] == 60000
    assert req.json["notes"] == {"payment_id": "42", "reason": "cancellation 7"}
    assert req.headers["x-refund-idempotency"] == "refund-rfd_7"

    same = await gateway.refund(
        payment, Decimal("600.00"), idempotency_key="refund-rfd_7", reason="retried"
    )
    assert same == refund_id
    other = await gateway.refund(
        payment, Decimal("600.00"), idempotency_key="refund-rfd_8", reason="cancellation 7"
    )
    assert other != refund_id
    keys = [r.headers["x-refund-idempotency"] for r in fake.of("POST", r"/v1/payments/.*/refund")]
    assert keys == ["refund-rfd_7", "refund-rfd_7", "refund-rfd_8"]


async def test_razorpay_refund_with_a_payment_reference_skips_the_lookup(fake: FakeAPI):
    gateway = razorpay_gateway(fake.url)
    await gateway.refund(
        make_payment(gateway_reference="pay_R0000009"),
        Decimal("1249.50"),
        idempotency_key="refund-c1",
        reason="c1",
    )
    assert not fake.of("GET", r"/v1/orders/.*")
    [req] = fake.of("POST", "/v1/payments/pay_R0000009/refund")
    assert req.json["amount"] == 124950


async def test_razorpay_refund_failures_are_gateway_errors(fake: FakeAPI, dead_url: str):
    gateway = razorpay_gateway(fake.url)
    payment = make_payment(gateway_reference="pay_R0000009")
    fake.fail(
        400,
        {
            "error": {
                "code": "BAD_REQUEST_ERROR",
                "description": "The refund amount provided is greater than amount captured",
            }
        },
    )
    with pytest.raises(GatewayError, match="tried again"):
        await gateway.refund(payment, Decimal("5000"), idempotency_key="refund-c1", reason="c1")
    fake.fail(500, "<html>oops</html>")
    with pytest.raises(GatewayError):
        await gateway.refund(payment, Decimal("1"), idempotency_key="refund-c1", reason="c1")
    with pytest.raises(GatewayError):  # the order has no captured payment
        await gateway.refund(
            make_payment(gateway_reference="order_Rempty"),
            Decimal("1"),
            idempotency_key="refund-c",
            reason="c",
        )
    with pytest.raises(GatewayError):  # never reached Razorpay
        await gateway.refund(make_payment(), Decimal("1"), idempotency_key="refund-c", reason="c")
    with pytest.raises(GatewayError):
        await razorpay_gateway(dead_url).refund(
            payment, Decimal("1"), idempotency_key="refund-c", reason="c"
        )
