"""Checkout: passengers and payment for a hold, the gateways' pages, returns and webhooks."""

from __future__ import annotations

import logging
import secrets

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import bookings, checkout, holds, inventory, payment_outcomes
from domain.enums import Gender, PaymentMethod, PaymentStatus
from domain.errors import Conflict, PaymentNotFound, ReservationNotFound, ValidationFailed
from domain.payments.base import GatewayError, InvalidSignature
from domain.payments.simulator import SimulatorGateway
from views import auth, forms
from views.csrf import CSRF_FIELD, csrf_exempt
from views.rendering import render
from views.security import allow_in_csp
from views.services import services

log = logging.getLogger(__name__)
blueprint = Blueprint("checkout", __name__)
RAZORPAY_CHECKOUT = "https://checkout.razorpay.com"

METHOD_LABELS = {
    PaymentMethod.UPI: "UPI",
    PaymentMethod.CARD: "Credit or debit card",
    PaymentMethod.NET_BANKING: "Net banking",
    PaymentMethod.WALLET: "Wallet",
}


async def render_hold(
    reservation_id: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
    cancelled: bool = False,
) -> ResponseReturnValue:
    """The hold page: countdown, seats, and the checkout form (kept as typed on errors)."""
    user = auth.require_user()
    reservation = await holds.get_reservation(user, reservation_id)
    trip = await inventory.load_trip(reservation.schedule_id)
    current = await checkout.quote(reservation)
    now = services().now()
    form = form or {
        "contact_email": user.email,
        "contact_phone": user.phone_number,
        "method": PaymentMethod.UPI.value,
    }
    if not form.get("idempotency_key"):
        form["idempotency_key"] = secrets.token_urlsafe(24)
    return await render(
        "pages/reservations/detail.html",
        status=status,
        reservation=reservation,
        trip=trip,
        segment=inventory.Segment(reservation.from_seq, reservation.to_seq),
        seats=current.seats,
        total=current.total,
        server_now=now,
        live=reservation.status == "active" and reservation.expires_at > now,
        cancelled=cancelled,
        form=form,
        errors=errors or {},
        error=error,
        methods=[(m, METHOD_LABELS[m]) for m in services().gateways.methods],
        owner=reservation.user_id == user.id,
    )


@blueprint.post("/reservations/<reservation_id>/checkout")
@auth.login_required
async def start_checkout(reservation_id: str) -> ResponseReturnValue:
    user = auth.require_user()
    posted = await request.form
    current = await holds.get_reservation(user, reservation_id)
    if current.user_id != user.id:  # as start_checkout: only the holder pays (an admin: 404)
        raise ReservationNotFound()
    seat_ids = [h.schedule_seat.id for h in await holds.reservation_seats(current)]
    form = {key: value for key, value in posted.items() if key != CSRF_FIELD}
    p = forms.Parser(posted)
    try:
        payment = await checkout.start_checkout(
            user,
            reservation_id,
            _checkout_input(p, seat_ids),
            gateways=services().gateways,
            config=services().checkout,
            now=services().now(),
            ip=auth.client_ip(),
        )
    except ValidationFailed as exc:
        errors = p.merged(forms.input_errors(exc.errors, _input_names(seat_ids)))
        return await render_hold(
            reservation_id, form=form, errors=errors, error=errors.get("", ""), status=exc.status
        )
    except (Conflict, GatewayError) as exc:
        form.pop("idempotency_key", None)  # a fresh attempt gets a fresh key
        return await render_hold(reservation_id, form=form, error=exc.message, status=exc.status)
    if payment.status in {PaymentStatus.PENDING, PaymentStatus.CREATED} and payment.checkout_url:
        return redirect(payment.checkout_url, 303)
    return redirect(url_for("checkout.show_payment", payment_id=payment.public_id), 303)


def _input_names(seat_ids: list[int]) -> dict[str, str]:
    """The domain's field paths -> this form's inputs (passengers are sent in seat order)."""
    names = {"passengers": ""}
    for index, seat_id in enumerate(seat_ids):
        for part in ("name", "age", "gender"):
            names[f"passengers[{index}].{part}"] = f"passenger-{seat_id}-{part}"
    return names


def _checkout_input(p: forms.Parser, seat_ids: list[int]) -> checkout.CheckoutInput:
    """The checkout form as typed values, each within its column. A passenger or contact
    value that does not parse reaches the domain as not given (None, or blank text), which
    the domain refuses too: the page shows every field's message at once, this parser's
    where it has one. The hidden fields (total, key) are the page's own: when one does not
    parse the form is stale, and ValidationFailed says so above the form."""
    passengers = []
    for seat_id in seat_ids:
        prefix = f"passenger-{seat_id}"
        passengers.append(
            checkout.PassengerInput(
                schedule_seat_id=seat_id,
                name=p.text(f"{prefix}-name", max_len=120, label="The name"),
                age=p.optional_int(f"{prefix}-age", message="Enter an age between 1 and 120."),
                gender=p.optional_choice(
                    f"{prefix}-gender", Gender, message="Choose female, male or other."
                ),
            )
        )
    stale = "This form is out of date. Please reload the page and try again."
    total = p.money("quoted_total", message=stale)
    key = p.text("idempotency_key", max_len=64, label="The form key")
    email = p.text("contact_email", max_len=254, label="The email address")
    phone = p.text("contact_phone", max_len=32, label="The phone number")
    method = p.optional_choice("method", PaymentMethod, message="Choose how you want to pay.")
    if total is None or "idempotency_key" in p.errors:
        p.errors[""] = stale  # hidden fields: say it above the form
        raise ValidationFailed(dict(p.errors))
    return checkout.CheckoutInput(
        passengers=passengers,
        contact_email=email,
        contact_phone=phone,
        method=method,
        quoted_total=total,
        idempotency_key=key,
    )


# ------------------------------------------------------------------------- the simulator


def simulator() -> SimulatorGateway:
    gateway = services().gateways.get("simulator")
    assert isinstance(gateway, SimulatorGateway)
    return gateway


@blueprint.route("/payments/simulator/<payment_id>", methods=["GET", "POST"])
@auth.login_required
async def simulator_checkout(payment_id: str) -> ResponseReturnValue:
    """The simulator's hosted checkout page, where the payer approves or declines."""
    user = auth.require_user()
    payment = await bookings.get_payment(user, payment_id)
    if payment.gateway != "simulator":
        raise PaymentNotFound()
    if request.method == "GET" or payment.status != PaymentStatus.PENDING:
        return await render(
            "pages/payments/simulator.html",
            payment=payment,
            method=METHOD_LABELS[PaymentMethod(payment.method)],
        )
    posted = await request.form
    succeeded = posted.get("outcome") == "approve"
    gateway = simulator()
    headers, body = gateway.webhook(checkout.payment_info(payment), succeeded=succeeded)
    # Like a real gateway: the signed notification goes to the webhook endpoint, and the
    # browser is sent back with its own signed return. Whichever lands first applies it.
    try:
        await payment_outcomes.receive_webhook(
            "simulator",
            headers,
            body,
            gateways=services().gateways,
            config=services().checkout,
            now=services().now(),
        )
    except Exception:
        log.exception("simulator: webhook delivery failed for payment %s", payment_id)
    token = gateway.return_token(payment_id, succeeded=succeeded)
    return redirect(url_for("checkout.payment_return", payment_id=payment_id, sig=token), 303)


@blueprint.get("/payments/<payment_id>/return")
@auth.login_required
async def payment_return(payment_id: str) -> ResponseReturnValue:
    user = auth.require_user()
    payment = await bookings.get_payment(user, payment_id)
    token = request.args.get("sig", "")
    order_id = request.args.get("order_id", "")
    if payment.gateway == "razorpay" and order_id and payment.status == PaymentStatus.PENDING:
        if order_id != payment.gateway_reference:
            raise PaymentNotFound()
        gateway = services().gateways.get("razorpay")
        options = gateway.checkout_options(  # type: ignore[attr-defined]
            checkout.payment_info(payment),
            order_id,
            callback_url=url_for(
                "checkout.razorpay_callback", payment_id=payment_id, _external=True
            ),
            cancel_url=url_for(
                "holds.show_hold",
                reservation_id=payment.reservation.public_id if payment.reservation else "",
                _external=True,
            ),
        )
        # Razorpay Checkout: their script from their CDN, their payment frame and the
        # calls and styles it makes, on this page only (views/security.py).
        allow_in_csp(
            script_src=(RAZORPAY_CHECKOUT,),
            frame_src=("https://api.razorpay.com", RAZORPAY_CHECKOUT),
            connect_src=("https://api.razorpay.com", "https://lumberjack.razorpay.com"),
            img_src=("https://cdn.razorpay.com",),
            style_src=("'unsafe-inline'",),
        )
        return await render("pages/payments/razorpay.html", payment=payment, options=options)
    if payment.gateway == "simulator" and token:
        outcome = simulator().read_return_token(payment_id, token)
        if outcome is not None:
            payment = await payment_outcomes.apply_return(
                payment_id,
                succeeded=outcome,
                gateways=services().gateways,
                config=services().checkout,
                now=services().now(),
            )
    booking = await bookings.booking_of(payment)
    if payment.status == PaymentStatus.SUCCEEDED and booking is not None:
        return redirect(url_for("bookings.show_booking", reference=booking.reference), 303)
    return redirect(url_for("checkout.show_payment", payment_id=payment_id), 303)


@blueprint.post("/payments/<payment_id>/razorpay")
@csrf_exempt  # posted by Razorpay's checkout page; the payment signature is the proof
async def razorpay_callback(payment_id: str) -> ResponseReturnValue:
    posted = await request.form
    payment = await bookings.payment_by_ref(payment_id)
    gateway = services().gateways.get("razorpay")
    signature_ok = payment.gateway == "razorpay" and gateway.verify_payment_signature(  # type: ignore[attr-defined]
        payment.gateway_reference or "",
        posted.get("razorpay_payment_id", ""),
        posted.get("razorpay_signature", ""),
    )
    if signature_ok:
        await payment_outcomes.apply_return(
            payment_id,
            succeeded=True,
            gateways=services().gateways,
            config=services().checkout,
            now=services().now(),
        )
    return redirect(url_for("checkout.show_payment", payment_id=payment_id), 303)


@blueprint.get("/payments/<payment_id>")
@auth.login_required
async def show_payment(payment_id: str) -> ResponseReturnValue:
    user = auth.require_user()
    payment = await bookings.get_payment(user, payment_id)
    booking = await bookings.booking_of(payment)
    return await render(
        "pages/payments/status.html",
        "partials/_payment_status.html",
        payment=payment,
        booking=booking,
    )


@blueprint.post("/payments/webhook/<gateway>")
@csrf_exempt
async def receive_webhook(gateway: str) -> ResponseReturnValue:
    body = await request.get_data(as_text=False)
    assert isinstance(body, bytes)
    try:
        await payment_outcomes.receive_webhook(
            gateway,
            dict(request.headers),
            body,
            gateways=services().gateways,
            config=services().checkout,
            now=services().now(),
        )
    except InvalidSignature as exc:
        log.warning("webhook %s: rejected (%s) from %s", gateway, exc.message, auth.client_ip())
        return {"error": exc.message}, 400
    return {"received": True}, 200
