"""Checkout: passengers and payment for a hold, the gateways' pages, returns and webhooks."""

from __future__ import annotations

import logging
import re
import secrets

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from domain import bookings, checkout, holds, payment_outcomes
from domain.enums import Gender, PaymentMethod, PaymentStatus
from domain.errors import Conflict, ReservationNotFound, TooManyAttempts, ValidationFailed
from domain.models import Payment, User
from domain.payments.base import GatewayError, InvalidSignature, ReturnLinks
from views import auth, forms
from views.csrf import CSRF_FIELD, csrf_exempt
from views.rendering import render, with_retry_after
from views.security import allow_in_csp
from views.services import services

log = logging.getLogger(__name__)
blueprint = Blueprint("checkout", __name__)

METHOD_LABELS = {
    PaymentMethod.UPI: "UPI",
    PaymentMethod.CARD: "Credit or debit card",
    PaymentMethod.NET_BANKING: "Net banking",
    PaymentMethod.WALLET: "Wallet",
    PaymentMethod.CASH: "Cash at the counter",
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
    svc = services()
    view = await checkout.hold_view(user, reservation_id, gateways=svc.gateways, now=svc.now())
    form = form or _form_of(view, user)
    if not form.get("idempotency_key"):
        form["idempotency_key"] = secrets.token_urlsafe(24)
    return await render(
        "pages/reservations/detail.html",
        status=status,
        view=view,
        reservation=view.reservation,
        trip=view.trip,
        segment=view.segment,
        seats=view.seats,
        total=view.total,
        server_now=view.now,
        live=view.live,
        cancelled=cancelled,
        form=form,
        errors=errors or {},
        error=error,
        methods=[(m, METHOD_LABELS[m]) for m in view.methods],
        owner=view.owner,
    )


def _form_of(view: checkout.HoldView, user: User) -> dict[str, str]:
    """The checkout form as last typed on this hold (or on the hold it was held again
    from), else the account's contact details."""
    draft = view.draft or checkout.CheckoutDraft()
    form = {
        "contact_email": draft.contact_email or user.email,
        "contact_phone": draft.contact_phone or user.phone_number,
        "method": draft.method or PaymentMethod.UPI.value,
    }
    for seat_id, passenger in view.passengers.items():
        form[f"passenger-{seat_id}-name"] = passenger.name
        form[f"passenger-{seat_id}-age"] = passenger.age
        form[f"passenger-{seat_id}-gender"] = passenger.gender
    return form


PASSENGER_FIELD = re.compile(r"passenger-([1-9][0-9]{0,8})-(name|age|gender)")
DRAFT_PASSENGERS = 12  # a hold has at most HoldPolicy.max_seats; a posted form is bounded


def _draft_of(posted: MultiDict[str, str]) -> checkout.CheckoutDraft:
    """The checkout form as typed, to keep on the hold: every passenger field posted, in
    the form's order (a draft only fills a form in again; checkout checks what it is sent)."""
    passengers: dict[int, dict[str, str]] = {}
    for key, value in posted.items():
        match = PASSENGER_FIELD.fullmatch(key)
        if match and (int(match[1]) in passengers or len(passengers) < DRAFT_PASSENGERS):
            passengers.setdefault(int(match[1]), {})[match[2]] = value
    return checkout.CheckoutDraft(
        passengers=tuple(
            checkout.PassengerDraft(seat_id, **fields) for seat_id, fields in passengers.items()
        ),
        contact_email=posted.get("contact_email", ""),
        contact_phone=posted.get("contact_phone", ""),
        method=posted.get("method", ""),
    )


@blueprint.post("/reservations/<reservation_id>/draft")
@auth.login_required
async def save_draft(reservation_id: str) -> ResponseReturnValue:
    """The hold page's script keeps the form as it is typed (and just before the hold runs
    out), so a reload or an expired hold held again loses nothing. Without the script the
    Pay button keeps it (start_checkout)."""
    await checkout.save_draft(auth.require_user(), reservation_id, _draft_of(await request.form))
    return "", 204


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
            draft=_draft_of(posted),
        )
    except ValidationFailed as exc:
        errors = p.merged(forms.input_errors(exc.errors, _input_names(seat_ids)))
        return await render_hold(
            reservation_id, form=form, errors=errors, error=errors.get("", ""), status=exc.status
        )
    except TooManyAttempts as exc:  # the form stays as it was: the same key, later
        page = await render_hold(reservation_id, form=form, error=exc.message, status=exc.status)
        return await with_retry_after(page, exc)
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


# ------------------------------------------------------------------------- the way back


def _return_links(payment: Payment) -> ReturnLinks:
    return ReturnLinks(
        callback_url=url_for(
            "checkout.payment_callback", payment_id=payment.public_id, _external=True
        ),
        cancel_url=url_for(
            "holds.show_hold",
            reservation_id=payment.reservation.public_id if payment.reservation else "",
            _external=True,
        ),
    )


@blueprint.get("/payments/<payment_id>/return")
@auth.login_required
async def payment_return(payment_id: str) -> ResponseReturnValue:
    """The payer's browser back from the gateway: its adapter reads the query string."""
    svc = services()
    back = await payment_outcomes.payment_return(
        auth.require_user(),
        payment_id,
        request.args,
        links=_return_links,
        gateways=svc.gateways,
        config=svc.checkout,
        now=svc.now(),
    )
    if back.client_step is not None:
        # The gateway's script runs on our page: its sources join this page's CSP only
        # (views/security.py), and the page is the gateway's own template.
        allow_in_csp(**back.client_step.csp)
        return await render(
            f"pages/payments/{back.client_step.gateway}.html",
            payment=back.payment,
            step=back.client_step,
            options=back.client_step.options,
        )
    if back.booked and back.booking is not None:
        return redirect(url_for("bookings.show_booking", reference=back.booking.reference), 303)
    return redirect(url_for("checkout.show_payment", payment_id=payment_id), 303)


@blueprint.post("/payments/<payment_id>/callback")
@csrf_exempt  # posted by the gateway's script on our page; its signature is the proof
async def payment_callback(payment_id: str) -> ResponseReturnValue:
    """A client-side checkout's result, posted by the gateway's script: the same way back
    as a return, with nobody signed in (only a verified outcome is applied)."""
    svc = services()
    await payment_outcomes.payment_return(
        None,
        payment_id,
        await request.form,
        links=_return_links,
        gateways=svc.gateways,
        config=svc.checkout,
        now=svc.now(),
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
