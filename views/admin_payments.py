"""The console's payments needing attention: see each one's history, refund it or record
how it was settled, with a reason (admin only)."""

from __future__ import annotations

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import payment_review
from domain.errors import Conflict, ValidationFailed
from views import auth
from views.admin import admin_required
from views.rendering import render
from views.services import services

blueprint = Blueprint("admin_payments", __name__, url_prefix="/admin/payments")


async def _page(
    *, status: int = 200, errors: dict[str, str] | None = None, message: str = ""
) -> ResponseReturnValue:
    cases = await payment_review.payments_needing_attention(services().now())
    return await render(
        "pages/admin/payments.html",
        status=status,
        cases=cases,
        errors=errors or {},
        message=message or request.args.get("message", ""),
    )


@blueprint.get("")
@admin_required
async def list_payments() -> ResponseReturnValue:
    return await _page()


@blueprint.post("/<payment_id>/refund")
@admin_required
async def refund_payment(payment_id: str) -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    try:
        payment = await payment_review.refund_by_operator(
            admin,
            payment_id,
            form.get("reason", ""),
            gateways=services().gateways,
            now=services().now(),
        )
    except (ValidationFailed, Conflict) as exc:
        return await _page(status=exc.status, errors={payment_id: exc.message})
    done = payment.status.value == "refunded"
    message = (
        f"Payment #{payment.id} refunded in full."
        if done
        else f"Payment #{payment.id}: the gateway did not take the refund yet; it is retried."
    )
    return redirect(url_for("admin_payments.list_payments", message=message), 303)


@blueprint.post("/<payment_id>/resolve")
@admin_required
async def resolve_payment(payment_id: str) -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    try:
        payment = await payment_review.resolve_payment(
            admin, payment_id, form.get("reason", ""), now=services().now()
        )
    except (ValidationFailed, Conflict) as exc:
        return await _page(status=exc.status, errors={payment_id: exc.message})
    message = f"Payment #{payment.id} resolved: {payment.failure_reason}"
    return redirect(url_for("admin_payments.list_payments", message=message), 303)
