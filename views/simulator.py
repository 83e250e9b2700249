"""The simulator gateway's hosted checkout page, where the payer approves or declines.

It stands in for a real gateway's own website (Stripe's Checkout page), so unlike every
other view it knows which gateway it belongs to: it is the one module under views/ that
names one (tests/views/test_gateway_names.py).
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import bookings, checkout, payment_outcomes
from domain.enums import PaymentMethod, PaymentStatus
from domain.errors import PaymentNotFound
from domain.payments.simulator import SimulatorGateway
from views import auth
from views.checkout import METHOD_LABELS
from views.rendering import render
from views.services import services

log = logging.getLogger(__name__)
blueprint = Blueprint("simulator", __name__)
NAME = "simulator"


def simulator() -> SimulatorGateway:
    gateway = services().gateways.get(NAME)
    assert isinstance(gateway, SimulatorGateway)
    return gateway


@blueprint.route("/payments/simulator/<payment_id>", methods=["GET", "POST"])
@auth.login_required
async def simulator_checkout(payment_id: str) -> ResponseReturnValue:
    """The simulator's page: shows the payment, and on approve or decline does what a real
    gateway does (a signed webhook, and the browser sent back with a signed return)."""
    user = auth.require_user()
    payment = await bookings.get_payment(user, payment_id)
    if payment.gateway != NAME:
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
            NAME,
            headers,
            body,
            gateways=services().gateways,
            config=services().checkout,
            now=services().now(),
        )
    except Exception:
        log.exception("simulator: webhook delivery failed for payment %s", payment_id)
    values: dict[str, Any] = gateway.return_values(payment_id, succeeded=succeeded)
    return redirect(url_for("checkout.payment_return", payment_id=payment_id, **values), 303)
