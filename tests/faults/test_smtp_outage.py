"""The mail server down while a booking is confirmed, then back: the ticket mail waits in
the outbox (the booking does not), is retried by the running outbox worker, and arrives
exactly once when the server is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain import checkout, mail, payment_outcomes
from domain.checkout import CheckoutConfig
from domain.enums import BookingStatus, EmailStatus, PaymentStatus
from domain.mail import SmtpSender
from domain.models import Booking, EmailOutbox
from domain.payments.registry import Gateways
from domain.payments.simulator import SimulatorGateway
from tests import factories
from tests.integration.test_mail import Sink, free_port
from tests.integrity import assert_integrity

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("db")]
NOW = datetime.now(UTC).replace(microsecond=0)
CONFIG = CheckoutConfig(secret="m" * 40, public_base_url="http://testserver")
FROM = "Busbook <tickets@busbook.local>"


async def _book() -> Booking:
    simulator = SimulatorGateway(CONFIG.secret)
    gateways = Gateways([simulator])
    payment = (await factories.start_paying(gateways, CONFIG, now=NOW)).payment
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    paid = await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=gateways, config=CONFIG, now=NOW
    )
    assert paid is not None and paid.status == PaymentStatus.SUCCEEDED
    return await Booking.get(id=paid.booking_id)


async def _until(condition, what: str) -> None:
    for _ in range(200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_smtp_down_then_up_the_ticket_mail_arrives_once(db):
    smtp = Sink(free_port())  # nothing listens on its port yet: the mail server is down
    clock = {"now": NOW}
    stop = asyncio.Event()
    worker = asyncio.create_task(
        mail.run_outbox_worker(
            SmtpSender(smtp.url, timeout=2),
            mail_from=FROM,
            clock=lambda: clock["now"],
            interval=0.05,
            stop=stop,
        )
    )
    try:
        booking = await _book()
        assert booking.status == BookingStatus.CONFIRMED  # the mail server is not in the way
        row = await EmailOutbox.get(to_address="asha@example.com")

        async def tried_and_waiting() -> bool:
            await row.refresh_from_db()
            return row.attempts >= 1 and row.status == EmailStatus.PENDING and bool(row.last_error)

        await _until(tried_and_waiting, "the first failed attempt")
        assert str(smtp.port) in row.last_error
        await asyncio.sleep(0.3)  # not due again yet: the worker leaves it alone
        await row.refresh_from_db()
        assert row.attempts == 1 and not smtp.messages

        smtp.start()  # the mail server is back
        clock["now"] = NOW + timedelta(hours=1)  # past the back-off

        async def arrived() -> bool:
            return bool(smtp.messages)

        await _until(arrived, "the mail to arrive")
        for minutes in range(1, 6):  # the worker keeps running: nothing is sent again
            clock["now"] = NOW + timedelta(hours=1, minutes=minutes)
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
        smtp.stop()

    await row.refresh_from_db()
    assert row.status == EmailStatus.SENT and row.attempts == 2
    assert smtp.by_message_id() == {mail.message_id(row, FROM): 1}
    assert booking.reference in str(smtp.messages[0]["Subject"])
    await assert_integrity()
