"""The console's payments needing attention: see each one's history, refund it or record
how it was settled, with a reason (admin only)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import payment_review
from domain.enums import PaymentStatus
from domain.errors import Conflict, ValidationFailed
from domain.models import Payment
from views import auth, forms, paging
from views.admin import admin_required
from views.rendering import render
from views.services import services

blueprint = Blueprint("admin_payments", __name__, url_prefix="/admin/payments")


SHOW = {
    payment_review.MONEY_HELD: "Holding money without a booking",
    payment_review.WAITING_PAYER: "Waiting for the payer",
    PaymentStatus.SUCCEEDED.value: "Succeeded",
    PaymentStatus.FAILED.value: "Failed",
    PaymentStatus.REFUNDED.value: "Refunded",
}
PAYMENT_KEY = (paging.moment, paging.whole)  # created_at, id
GATEWAY_MAX = 32  # Payment.gateway


async def _page(
    *, status: int = 200, errors: dict[str, str] | None = None, message: str = ""
) -> ResponseReturnValue:
    svc = services()
    p = forms.Parser(request.args)
    show = p.text("show", max_len=32, label="The list") or payment_review.MONEY_HELD
    if show not in SHOW:
        p.errors["show"] = "Choose one of the lists shown."
    gateway = p.text("gateway", max_len=GATEWAY_MAX, label="The gateway")
    p.check()
    filters = payment_review.PaymentFilter(show=show, gateway=gateway)
    page = await payment_review.payment_page(
        svc.now(), filters, paging.window(f"payments-{show}", PAYMENT_KEY)
    )
    gateways = [g.name for g in svc.gateways]
    if gateway and gateway not in gateways:
        gateways.append(gateway)
    return await render(
        "pages/admin/payments.html",
        "partials/_admin_payments.html",
        status=status,
        cases=page,
        cases_pager=paging.pager(f"payments-{show}", page),
        payment_filters=filters,
        show_choices=SHOW,
        gateways=gateways,
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
        f"{_named(payment)} was refunded in full."
        if done
        else f"{_named(payment)}: the gateway did not take the refund yet; it is retried."
    )
    return redirect(_back(message), 303)


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
    message = f"{_named(payment)} is settled: {payment.failure_reason}"
    return redirect(_back(message), 303)


def _named(payment: Payment) -> str:
    """A payment in words: its amount and who paid, as the list shows it."""
    amount = services().formatter.money(payment.amount, payment.currency)
    email = (payment.checkout_data or {}).get("contact_email")
    return f"The payment of {amount}" + (f" from {email}" if email else "")


def _back(message: str) -> str:
    """The list the form was posted from (its action carries the filters), with a message."""
    kept: dict[str, Any] = {k: v for k in ("show", "gateway") if (v := request.args.get(k, ""))}
    return url_for("admin_payments.list_payments", message=message, **kept)
