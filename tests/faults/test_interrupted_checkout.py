"""A checkout whose start was cut off between recording the payment and storing the
gateway's checkout page (the worker was killed, or the database went away for that one
write): the same form sent again finishes it, and the money still ends as one booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import checkout, payment_outcomes
from domain.checkout import CheckoutConfig
from domain.enums import PaymentStatus
from domain.errors import HoldExpired
from domain.models import Booking, Payment
from domain.payments.registry import Gateways
from domain.payments.simulator import SimulatorGateway
from tests import factories
from tests.integrity import assert_integrity

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime.now(UTC).replace(microsecond=0)
CONFIG = CheckoutConfig(secret="s" * 40, public_base_url="http://testserver")


async def _interrupted_start():
    """A started checkout as a kill between its two writes leaves it: the payment row and
    its audit are committed, the gateway's reference and page are not."""
    simulator = SimulatorGateway(CONFIG.secret)
    gateways = Gateways([simulator])
    paying = await factories.start_paying(gateways, CONFIG, now=NOW)
    payment = paying.payment
    await Payment.filter(id=payment.id).update(gateway_reference=None, checkout_url=None)
    return simulator, gateways, paying.user, paying.reservation, paying.form, payment


async def test_the_same_form_again_finishes_an_interrupted_start(db):
    simulator, gateways, user, reservation, form, payment = await _interrupted_start()

    again = await checkout.start_checkout(
        user, reservation.public_id, form, gateways=gateways, config=CONFIG, now=NOW
    )

    assert again.id == payment.id  # the same payment, not a second one
    assert again.status == PaymentStatus.PENDING
    assert again.checkout_url.split("?")[0] == f"/payments/simulator/{payment.public_id}"
    assert again.gateway_reference
    assert await Payment.filter(reservation_id=reservation.id).count() == 1
    # The payer pays on that page; the gateway's notification finds the payment.
    headers, body = simulator.webhook(checkout.payment_info(again), succeeded=True)
    paid = await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=gateways, config=CONFIG, now=NOW
    )
    assert paid is not None and paid.status == PaymentStatus.SUCCEEDED
    assert await Booking.filter(reservation_id=reservation.id).count() == 1
    await assert_integrity()


async def test_an_interrupted_start_is_refused_once_the_hold_ran_out(db):
    _simulator, gateways, user, reservation, form, payment = await _interrupted_start()
    later = NOW + timedelta(hours=1)

    with pytest.raises(HoldExpired):
        await checkout.start_checkout(
            user, reservation.public_id, form, gateways=gateways, config=CONFIG, now=later
        )

    await payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and payment.checkout_url is None
    await assert_integrity()
