"""Cancelling a booking: a quote first (tier, fee, refund per seat), then the confirmation."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import bookings, cancellations, inventory
from domain.errors import Conflict, ValidationFailed
from views import forms, web
from views.checkout import gateways

blueprint = Blueprint("cancellations", __name__)


REASON_MAX = 255  # Cancellation.reason


def _ids(raw: list[str]) -> list[int]:
    return forms.int_list(
        raw, name="passenger_ids", message="Choose passengers of this booking from the list."
    )


async def _page(
    reference: str, chosen: list[int], *, error: str = "", status: int = 200, confirm: bool = False
) -> ResponseReturnValue:
    booking = await bookings.get_booking(web.viewer(), reference)
    trip = await inventory.load_trip(booking.schedule_id)
    quote = None
    if chosen and not error:
        try:
            quote = await cancellations.quote_refund(
                booking, chosen, now=web.now(), tiers=web.settings().tiers
            )
        except (ValidationFailed, Conflict) as exc:
            error, status = exc.message, exc.status
    return await web.render(
        "pages/bookings/cancel.html",
        status=status,
        booking=booking,
        trip=trip,
        origin=trip.stop(booking.from_seq),
        quote=quote,
        chosen=set(chosen),
        error=error,
        confirm=confirm and quote is not None,
        tiers=web.settings().tiers,
    )


@blueprint.get("/bookings/<reference>/cancel")
@web.login_required
async def quote_cancellation(reference: str) -> ResponseReturnValue:
    try:
        chosen = _ids(request.args.getlist("passenger_ids"))
    except ValidationFailed as exc:
        return await _page(reference, [], error=exc.message, status=exc.status)
    return await _page(reference, chosen, confirm=bool(chosen))


@blueprint.post("/bookings/<reference>/cancel")
@web.login_required
async def cancel_booking(reference: str) -> ResponseReturnValue:
    user = web.viewer()
    assert user is not None
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
            now=web.now(),
            gateways=gateways(),
            config=web.settings().checkout,
            tiers=web.settings().tiers,
            reason=reason,
        )
    except (ValidationFailed, Conflict) as exc:
        return await _page(reference, chosen, error=exc.message, status=exc.status)
    return redirect(
        url_for("cancellations.show_cancellation", cancellation_id=cancellation.public_id), 303
    )


@blueprint.get("/cancellations/<cancellation_id>")
@web.login_required
async def show_cancellation(cancellation_id: str) -> ResponseReturnValue:
    user = web.viewer()
    assert user is not None
    cancellation = await cancellations.get_cancellation(user, cancellation_id)
    booking = await bookings.get_booking(user, cancellation.booking.reference)
    cancelled = [p for p in booking.passengers if p.id in set(cancellation.passenger_ids)]
    return await web.render(
        "pages/bookings/cancellation.html",
        cancellation=cancellation,
        booking=booking,
        passengers=cancelled,
    )
