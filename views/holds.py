"""Seat holds: hold the picked seats, see the countdown, list and cancel holds."""

from __future__ import annotations

from urllib.parse import urlencode

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import holds
from domain.errors import Conflict, SignedOut, TooManyAttempts, ValidationFailed
from domain.holds import HoldRequest
from views import auth, forms
from views.rendering import render, with_retry_after
from views.services import services
from views.trips import Selection, render_trip

blueprint = Blueprint("holds", __name__)


def _back_after_login(
    schedule_id: int, from_raw: str | None, to_raw: str | None, selection: Selection
) -> ResponseReturnValue:
    """Send the guest to log in, then back to this trip with the same seats picked."""
    query = {"from": from_raw or "", "to": to_raw or ""}
    back = f"/schedules/{schedule_id}?{urlencode(query)}&" + urlencode(
        [("seat_ids", i) for i in sorted(selection.seat_ids)]
        + [
            (name, value)
            for name, value in (
                ("boarding_point_id", selection.boarding_point_id),
                ("dropping_point_id", selection.dropping_point_id),
                ("draft_from", selection.draft_from),
            )
            if value is not None
        ]
    )
    return redirect(url_for("accounts.login", next=back), 303)


@blueprint.post("/reservations")
@auth.checks_session_itself
async def create_hold() -> ResponseReturnValue:
    form = await request.form
    schedule_id = forms.int_or_none(form.get("schedule_id"), lo=1)
    from_seq = forms.int_or_none(form.get("from_stop"))
    to_seq = forms.int_or_none(form.get("to_stop"))
    if schedule_id is None:
        raise ValidationFailed({"schedule_id": "Choose a trip first."})
    selection = Selection.parse(form)
    from_raw, to_raw = form.get("from_stop"), form.get("to_stop")
    claim = auth.session_claim()
    if claim is None:
        return _back_after_login(schedule_id, from_raw, to_raw, selection)
    if from_seq is None or to_seq is None:
        return await render_trip(
            schedule_id,
            from_raw,
            to_raw,
            selection=selection,
            status=422,
            error="Choose where you get on and off.",
        )
    unreadable = [
        kind
        for name, kind in (("boarding_point_id", "boarding"), ("dropping_point_id", "dropping"))
        if form.get(name) and forms.int_or_none(form.get(name), lo=1) is None
    ]
    if unreadable:  # a tampered form: refused, not taken for "no point chosen"
        return await render_trip(
            schedule_id,
            from_raw,
            to_raw,
            selection=selection,
            status=422,
            error=f"Pick the {' and '.join(unreadable)} point from the list.",
        )
    try:
        reservation = await holds.hold_seats(
            claim,
            HoldRequest(
                schedule_id=schedule_id,
                from_seq=from_seq,
                to_seq=to_seq,
                schedule_seat_ids=tuple(
                    forms.int_list(
                        form.getlist("seat_ids"),
                        name="seat_ids",
                        message="Pick seats from the seat map.",
                    )
                ),
                boarding_point_id=selection.boarding_point_id,
                dropping_point_id=selection.dropping_point_id,
                draft_from=selection.draft_from,
            ),
            now=services().now(),
            policy=services().hold_policy,
            ip=auth.client_ip(),
        )
    except SignedOut:
        return _back_after_login(schedule_id, from_raw, to_raw, selection)
    except ValidationFailed as exc:
        return await render_trip(
            schedule_id,
            from_raw,
            to_raw,
            selection=selection,
            status=exc.status,
            errors=exc.errors,
            error=exc.message,
        )
    except TooManyAttempts as exc:
        page = await render_trip(
            schedule_id, from_raw, to_raw, status=exc.status, error=exc.message, selection=selection
        )
        return await with_retry_after(page, exc)
    except Conflict as exc:
        # The whole selection goes back: the seat map ticks only the seats still free, so
        # the ones that were the problem show as taken and the others stay picked.
        return await render_trip(
            schedule_id, from_raw, to_raw, status=exc.status, error=exc.message, selection=selection
        )
    return redirect(url_for("holds.show_hold", reservation_id=reservation.public_id), 303)


@blueprint.get("/reservations")
@auth.login_required
async def list_holds() -> ResponseReturnValue:
    user = auth.require_user()
    reservations = await holds.active_holds(user, services().now())
    return await render(
        "pages/reservations/index.html", reservations=reservations, server_now=services().now()
    )


@blueprint.get("/reservations/<reservation_id>")
@auth.login_required
async def show_hold(reservation_id: str) -> ResponseReturnValue:
    from views.checkout import render_hold

    return await render_hold(reservation_id, cancelled=request.args.get("cancelled") == "1")


@blueprint.post("/reservations/<reservation_id>/cancel")
@auth.login_required
async def cancel_hold(reservation_id: str) -> ResponseReturnValue:
    user = auth.require_user()
    reservation = await holds.cancel_hold(
        user, reservation_id, now=services().now(), ip=auth.client_ip()
    )
    return redirect(
        url_for("holds.show_hold", reservation_id=reservation.public_id, cancelled=1), 303
    )
