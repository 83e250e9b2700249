"""Cancelling a booking: a quote first (tier, fee, refund per seat), then the confirmation."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import bookings, cancellations
from domain.errors import Conflict, ValidationFailed
from views import auth, forms
from views.rendering import render
from views.services import services

blueprint = Blueprint("cancellations", __name__)


REASON_MAX = 255  # Cancellation.reason


def _ids(raw: list[str]) -> list[int]:
    return forms.int_list(
        raw, name="passenger_ids", message="Choose passengers of this booking from the list."
    )


async def _page(
    reference: str, chosen: list[int], *, error: str = "", status: int = 200, confirm: bool = False
) -> ResponseReturnValue:
    page = await cancellations.cancel_page(
        auth.viewer(),
        reference,
        [] if error else chosen,
        now=services().now(),
        tiers=services().cancellation_tiers,
    )
    if page.error:
        error, status = page.error, page.status
    return await render(
        "pages/bookings/cancel.html",
        status=status,
        booking=page.booking,
        trip=page.trip,
        origin=page.origin,
        rule=page.rule,
        quote=page.quote,
        seats=page.seats,
        chosen=set(chosen),
        error=error,
        confirm=confirm and page.quote is not None,
        policy=page.policy,
    )


@blueprint.get("/bookings/<reference>/cancel")
@auth.login_required
async def quote_cancellation(reference: str) -> ResponseReturnValue:
    try:
        chosen = _ids(request.args.getlist("passenger_ids"))
    except ValidationFailed as exc:
        return await _page(reference, [], error=exc.message, status=exc.status)
    return await _page(reference, chosen, confirm=bool(chosen))


@blueprint.post("/bookings/<reference>/cancel")
@auth.login_required
async def cancel_booking(reference: str) -> ResponseReturnValue:
    user = auth.require_user()
    form = await request.form
    booking = await bookings.get_booking(user, reference)
    chosen: list[int] = []
    try:
        chosen = _ids(form.getlist("passenger_ids"))
        reason = forms.text_field(
            form.get("reason"),
            name="reason",
            max_len=REASON_MAX,
            multiline=True,
            label="The reason",
        )
        cancellation = await cancellations.cancel_booking(
            user,
            booking,
            chosen,
            now=services().now(),
            gateways=services().gateways,
            config=services().checkout,
            tiers=services().cancellation_tiers,
            reason=reason,
        )
    except (ValidationFailed, Conflict) as exc:
        return await _page(reference, chosen, error=exc.message, status=exc.status)
    return redirect(
        url_for("cancellations.show_cancellation", cancellation_id=cancellation.public_id), 303
    )


@blueprint.get("/cancellations/<cancellation_id>")
@auth.login_required
async def show_cancellation(cancellation_id: str) -> ResponseReturnValue:
    user = auth.require_user()
    cancellation = await cancellations.get_cancellation(user, cancellation_id)
    booking = await bookings.get_booking(user, cancellation.booking.reference)
    cancelled = [p for p in booking.passengers if p.id in set(cancellation.passenger_ids)]
    return await render(
        "pages/bookings/cancellation.html",
        cancellation=cancellation,
        booking=booking,
        passengers=cancelled,
    )
