"""Payments: start paying for a hold at a gateway, follow a payment, and the gateways'
webhooks. The website's checkout (views/checkout.py) makes the same domain calls:
`checkout.start_checkout`, `bookings.get_payment`, `payment_outcomes.receive_webhook`."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from pydantic import Field
from quart import Response, request

from domain import bookings, checkout, payment_outcomes
from domain.enums import PaymentMethod, PaymentStatus
from domain.models import Booking, Payment, User
from views.api.auth import needs, require_api_user
from views.api.blueprints import PREFIX, api_blueprint
from views.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from views.api.idempotency import idempotent
from views.api.io import json_body, reply, responds, tags
from views.api.passengers import (
    EMAIL_MAX,
    PHONE_MAX,
    PassengerIn,
    checkout_fields,
    passenger_inputs,
)
from views.api.schemas import Money, Out, Strict, example
from views.auth import client_ip
from views.services import services

blueprint = api_blueprint("payments", __name__)
PUBLIC_ID_MAX = 36


class InitiatePayment(Strict):
    reservation_id: str = Field(
        max_length=PUBLIC_ID_MAX, description="The hold (`rsv_...`).", examples=["rsv_0f3c..."]
    )
    payment_method: PaymentMethod = Field(
        description="card, upi, net_banking or wallet (cash is only taken at the counter)."
    )
    amount: Money = Field(
        description="What is due: the hold's `total_amount`. Anything else is a 409 "
        "`price_changed` naming the total, and nothing is charged."
    )
    passengers: list[PassengerIn] | None = Field(
        None,
        max_length=50,
        description="One per held seat. Left out: the account holder travels on every seat, "
        "under the account's name, age and gender not stated.",
    )
    contact_email: str | None = Field(
        None, max_length=EMAIL_MAX, description="For the ticket; default the account's."
    )
    contact_phone: str | None = Field(
        None, max_length=PHONE_MAX, description="Default the account's phone number."
    )


class PaymentOut(Out):
    model_config = example(
        id="pay_5b0e6c1d9a8f4e2b8c7d6e5f4a3b2c1d",
        status="pending",
        amount="1250.00",
        currency="INR",
        gateway="example-gateway",
        payment_method="upi",
        reservation_id="rsv_0f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8",
        checkout_url="https://pay.example/checkout/cs_5b0e...",
        booking_reference=None,
        failure_reason="",
        created_at="2026-12-02T10:15:00+05:30",
        updated_at="2026-12-02T10:15:00+05:30",
    )

    id: str
    status: PaymentStatus = Field(
        description="pending until the gateway answers; succeeded once booked; failed, or "
        "refund_pending/refunded when the money could not become a booking."
    )
    amount: Money
    currency: str
    gateway: str
    payment_method: PaymentMethod
    reservation_id: str | None
    checkout_url: str | None = Field(
        description="Where the payer pays (open it in a browser or a web view; it needs no "
        "Busbook session). Null once the payment is settled."
    )
    booking_reference: str | None = Field(
        description="The booking it paid for, once confirmed (bookings/{id}/details)."
    )
    failure_reason: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payment: Payment, booking: Booking | None) -> PaymentOut:
        svc = services()
        pending = payment.status in {PaymentStatus.PENDING, PaymentStatus.CREATED}
        reservation = payment.reservation if payment.reservation_id else None
        return cls(
            id=payment.public_id,
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
            gateway=payment.gateway,
            payment_method=PaymentMethod(payment.method),
            reservation_id=reservation.public_id if reservation is not None else None,
            checkout_url=checkout.checkout_link(payment, svc.checkout) if pending else None,
            booking_reference=booking.reference if booking is not None else None,
            failure_reason=payment.failure_reason,
            created_at=payment.created_at.astimezone(svc.tz),
            updated_at=payment.updated_at.astimezone(svc.tz),
        )


def _checkout_key(user: User) -> str:
    """The domain's idempotency key of this start (Payment.idempotency_key): from the
    request's Idempotency-Key when sent (so a retry after a lost answer that the replay
    store could not answer still finds the same payment), else a fresh one."""
    sent = request.headers.get(IDEMPOTENCY_HEADER)
    if not sent:
        return secrets.token_urlsafe(24)
    digest = hashlib.sha256(f"{user.id}:{sent}".encode()).hexdigest()[:40]
    return f"api-{digest}"


@blueprint.post("/payments/initiate")
@needs("user")
@idempotent
@tags("payments")
@responds(PaymentOut, 201)
@json_body(InitiatePayment)
async def initiate_payment(data: InitiatePayment) -> Response:
    """Start paying for a hold

    Records a pending payment for the hold's total at the gateway that takes
    `payment_method`, extends the hold once so the payer has time, and answers with the
    gateway's `checkout_url`. Open that URL (it needs no Busbook login; the development
    gateway's page takes an approve or decline as a plain form post), then follow the payment with
    `GET /payments/{id}` until it is `succeeded` and names its `booking_reference`.
    Only the hold's owner can pay it. With an `Idempotency-Key`, a repeat gets the same
    payment back.
    """
    user = await require_api_user()
    svc = services()
    with checkout_fields():
        payment = await checkout.start_checkout(
            user,
            data.reservation_id,
            checkout.CheckoutInput(
                passengers=passenger_inputs(data.passengers),
                contact_email=data.contact_email or user.email,
                contact_phone=data.contact_phone or user.phone_number,
                method=data.payment_method,
                quoted_total=data.amount,
                idempotency_key=_checkout_key(user),
                holder_travels=data.passengers is None,
            ),
            gateways=svc.gateways,
            config=svc.checkout,
            now=svc.now(),
            ip=client_ip(),
        )
    payment = await bookings.get_payment(user, payment.public_id)
    out = PaymentOut.of(payment, await bookings.booking_of(payment))
    return reply(out, 201, {"Location": f"{PREFIX}/payments/{payment.public_id}"})


@blueprint.get("/payments/<public_id:payment_id>")
@needs("user")
@tags("payments")
@responds(PaymentOut)
async def payment_status(payment_id: str) -> Response:
    """A payment's status

    The caller's own payment (an admin sees any); with the booking it paid for once the
    gateway's answer is in.
    """
    user = await require_api_user()
    payment = await bookings.get_payment(user, payment_id)
    return reply(PaymentOut.of(payment, await bookings.booking_of(payment)))


class WebhookReceived(Out):
    received: bool = True


@blueprint.post("/payments/webhook/<gateway>")
@tags("payments")
@responds(WebhookReceived)
async def receive_payment_webhook(gateway: str) -> Response:
    """A gateway's notification

    For the payment gateways, not for clients: the body is the gateway's own, signed with
    its secret (no access token). A notification that does not verify is a 400
    `invalid_signature` and changes nothing; a repeat of one already received is
    acknowledged and changes nothing. The website's /payments/webhook/{gateway} is the same.
    """
    body = await request.get_data(as_text=False)
    assert isinstance(body, bytes)
    svc = services()
    await payment_outcomes.receive_webhook(
        gateway,
        dict(request.headers),
        body,
        gateways=svc.gateways,
        config=svc.checkout,
        now=svc.now(),
    )
    return reply(WebhookReceived())
