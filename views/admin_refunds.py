"""The console's refund by hand: an operator refunds an amount of a booking, with a reason,
whatever the cancellation policy says (a boarded seat, a bus that left) (admin only)."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import operator_refunds
from domain.errors import Conflict, ValidationFailed
from views import auth
from views.admin import admin_required
from views.rendering import render
from views.services import services

blueprint = Blueprint("admin_refunds", __name__, url_prefix="/admin/bookings")


async def _page(
    reference: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    amount: str = "",
    reason: str = "",
) -> ResponseReturnValue:
    form = await operator_refunds.refund_form(auth.require_user(), reference)
    return await render(
        "pages/admin/refund.html",
        status=status,
        form=form,
        booking=form.booking,
        errors=errors or {},
        amount=amount,
        reason=reason,
        done=request.args.get("done", ""),
    )


@blueprint.get("/<reference>/refund")
@admin_required
async def refund_booking(reference: str) -> ResponseReturnValue:
    return await _page(reference)


@blueprint.post("/<reference>/refund")
@admin_required
async def send_booking_refund(reference: str) -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    raw_amount = (form.get("amount") or "")[:32]
    reason = (form.get("reason") or "")[:1000]
    svc = services()
    try:
        amount = operator_refunds.parse_amount(raw_amount)
        await operator_refunds.refund_by_operator(
            admin,
            reference,
            amount,
            reason,
            gateways=svc.gateways,
            config=svc.checkout,
            now=svc.now(),
        )
    except ValidationFailed as exc:
        return await _page(
            reference, status=exc.status, errors=exc.errors, amount=raw_amount, reason=reason
        )
    except Conflict as exc:
        return await _page(
            reference, status=exc.status, errors={"": exc.message}, amount=raw_amount, reason=reason
        )
    return redirect(url_for("admin_refunds.refund_booking", reference=reference, done=1), 303)
