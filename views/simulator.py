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
from domain.models import Payment
from domain.payments.base import ReturnLinks
from domain.payments.simulator import SimulatorGateway
from views import auth
from views.checkout import METHOD_LABELS
from views.csrf import check_origin, csrf_exempt, verify_csrf
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
@csrf_exempt  # checked below: the signed address, or else the login and its CSRF token
async def simulator_checkout(payment_id: str) -> ResponseReturnValue:
    """The simulator's page: shows the payment, and on approve or decline does what a real
    gateway does (a signed webhook, and the browser sent back with a signed return).

    Like a real gateway's hosted page it opens from its checkout URL alone: the URL's
    `token` signs this payment (SimulatorGateway.page_token), so an API client or a script
    needs no Busbook session, and the token is what proves a post came from someone who
    was given the page (nobody else can forge it), so no session CSRF token is needed then.
    Without the token it is the payer's own page: login and the CSRF check as everywhere."""
    gateway = simulator()
    token = request.args.get("token", "")
    signed = gateway.read_page_token(payment_id, token)
    if signed:
        payment = await bookings.payment_by_ref(payment_id)
    else:
        user = auth.viewer()
        if user is None:
            return redirect(auth.login_url())
        payment = await bookings.get_payment(user, payment_id)
    if payment.gateway != NAME:
        raise PaymentNotFound()
    if request.method == "GET" or payment.status != PaymentStatus.PENDING:
        if request.method == "POST" and not signed:
            await verify_csrf()
        return await render(
            "pages/payments/simulator.html",
            payment=payment,
            method=METHOD_LABELS[PaymentMethod(payment.method)],
            signed=signed,
        )
    if signed:
        check_origin()
    else:
        await verify_csrf()
    posted = await request.form
    succeeded = posted.get("outcome") == "approve"
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
    if signed and auth.viewer() is None:
        # Nobody signed in (an API client): the signed return is applied here, as a
        # gateway script's post is (payment_outcomes.payment_return with no viewer), and
        # the page answers with the outcome instead of the payer's login-only return page.
        await payment_outcomes.payment_return(
            None,
            payment_id,
            values,
            links=_no_client_step,
            gateways=services().gateways,
            config=services().checkout,
            now=services().now(),
        )
        return redirect(
            url_for("simulator.simulator_checkout", payment_id=payment_id, token=token), 303
        )
    return redirect(url_for("checkout.payment_return", payment_id=payment_id, **values), 303)


def _no_client_step(payment: Payment) -> ReturnLinks:
    """The simulator never asks for a client-side step; the links are not used."""
    return ReturnLinks(callback_url="", cancel_url="")
