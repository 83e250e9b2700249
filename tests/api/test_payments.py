"""payments/initiate, a payment's status and the gateways' webhook under /api/v1: the same
domain calls as the website's checkout, a checkout URL that needs no browser session."""

from __future__ import annotations

from decimal import Decimal

from quart import Quart
from quart.testing import QuartClient

from domain import checkout
from domain.enums import PaymentStatus
from domain.models import ActivityLog, Booking, Passenger, Payment
from tests.api.conftest import problem_of
from tests.api.holding import approve, held, initiate, passengers_for
from views.services import services_of

ACCESS = [
    ("POST", "/api/v1/payments/initiate", "user"),
    ("GET", "/api/v1/payments/{id}", "user"),
    ("POST", "/api/v1/payments/webhook/{gateway}", "guest"),
]


async def test_the_workflow_from_a_hold_to_a_ticket(app: Quart, client: QuartClient, caller_for):
    """payments/initiate -> the checkout URL approved by a client with no cookies ->
    bookings/{id}/details shows a confirmed booking, its ticket and a PNG data: URI."""
    caller = await caller_for()
    reservation, seats = await held(caller.user, seats=2)
    started = await initiate(client, caller, reservation, passengers=passengers_for(seats))
    assert started.status_code == 201, await started.get_data(as_text=True)
    payment = await started.get_json()
    assert payment["id"].startswith("pay_") and payment["status"] == "pending"
    assert payment["amount"] == f"{reservation.total_amount:.2f}"
    assert payment["gateway"] == "simulator" and payment["reservation_id"] == reservation.public_id
    assert payment["checkout_url"].startswith("http")  # absolute, for any client
    assert started.headers["Location"] == f"/api/v1/payments/{payment['id']}"

    approved = await approve(app, payment["checkout_url"])
    assert approved.status_code == 303  # back to the (tokened) page, showing the outcome

    status = await client.get(f"/api/v1/payments/{payment['id']}", headers=caller.headers)
    assert status.status_code == 200
    paid = await status.get_json()
    assert paid["status"] == "succeeded" and paid["checkout_url"] is None
    reference = paid["booking_reference"]

    details = await client.get(f"/api/v1/bookings/{reference}/details", headers=caller.headers)
    assert details.status_code == 200, await details.get_data(as_text=True)
    booking = await details.get_json()
    assert booking["id"] == booking["booking_reference"] == reference
    assert booking["status"] == "confirmed"
    assert booking["total_amount"] == payment["amount"]
    assert sorted(s["name"] for s in booking["seats"]) == ["Traveller 0", "Traveller 1"]
    assert booking["ticket"]["validity_status"] == "valid"
    assert booking["ticket"]["qr_code"].startswith("data:image/png;base64,iVBOR")
    assert booking["schedule"]["id"] == reservation.schedule_id
    assert booking["payments"][0]["id"] == payment["id"]


async def test_the_checkout_page_needs_its_signed_address(app: Quart, client, caller_for):
    """Without the URL's token the page is the payer's own (login); a wrong token is not a
    way in, and a post without the token from a cookie-less client changes nothing."""
    caller = await caller_for()
    reservation, _seats = await held(caller.user, seats=1)
    payment = await (await initiate(client, caller, reservation)).get_json()
    path = payment["checkout_url"].split("://", 1)[1].split("/", 1)[1]
    bare = "/" + path.split("?", 1)[0]
    stranger = app.test_client()
    assert (await stranger.get(bare)).status_code == 302  # to the login page
    assert (await stranger.get(bare + "?token=" + "0" * 64)).status_code == 302
    forged = await stranger.post(
        bare + "?token=" + "0" * 64,
        form={"outcome": "approve"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert forged.status_code in (302, 403)
    # a foreign site's post with the right token is refused by its Origin
    cross = await stranger.post(
        "/" + path,
        form={"outcome": "approve"},
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://evil.example",
        },
    )
    assert cross.status_code == 403
    assert (await Payment.get(public_id=payment["id"])).status == PaymentStatus.PENDING


async def test_without_passengers_the_account_holder_travels(app: Quart, client, caller_for):
    caller = await caller_for()
    reservation, _seats = await held(caller.user, seats=2)
    payment = await (await initiate(client, caller, reservation)).get_json()
    await approve(app, payment["checkout_url"])
    booking = await Booking.get(user_id=caller.user.id)
    names = await Passenger.filter(booking_id=booking.id).values_list("name", "age", "gender")
    assert names == [(caller.user.full_name, 0, "other")] * 2
    details = await client.get(
        f"/api/v1/bookings/{booking.reference}/details", headers=caller.headers
    )
    seats = (await details.get_json())["seats"]
    assert [s["age"] for s in seats] == [None, None]  # not stated, never "0 years"


async def test_an_amount_that_is_not_the_total_is_refused(client, caller_for):
    caller = await caller_for()
    reservation, _seats = await held(caller.user, seats=1)
    response = await initiate(client, caller, reservation, amount="1.00")
    assert response.status_code == 409
    body = await problem_of(response)
    assert body["code"] == "price_changed"
    assert body["total"] == f"{reservation.total_amount}"
    assert not await Payment.exists()


async def test_passenger_mistakes_name_the_request_fields(client, caller_for):
    caller = await caller_for()
    reservation, seats = await held(caller.user, seats=2)
    given = passengers_for(seats)
    given[1]["age"] = 300
    response = await initiate(client, caller, reservation, passengers=given)
    assert response.status_code == 422
    body = await problem_of(response)
    assert body["code"] == "validation_failed"
    assert [e["field"] for e in body["errors"]] == ["passengers[1].age"]
    cash = await initiate(client, caller, reservation, payment_method="cash")
    assert [e["field"] for e in (await problem_of(cash))["errors"]] == ["payment_method"]


async def test_someone_elses_hold_and_payment_are_not_found(client, caller_for):
    owner, other = await caller_for(), await caller_for()
    reservation, _seats = await held(owner.user, seats=1)
    refused = await initiate(client, other, reservation)
    assert refused.status_code == 404
    assert (await problem_of(refused))["code"] == "reservation_not_found"
    payment = await (await initiate(client, owner, reservation)).get_json()
    looked = await client.get(f"/api/v1/payments/{payment['id']}", headers=other.headers)
    assert looked.status_code == 404
    assert (await problem_of(looked))["code"] == "payment_not_found"
    guest = await client.get(f"/api/v1/payments/{payment['id']}")
    assert guest.status_code == 401


async def test_an_idempotent_replay_returns_the_same_payment(client, caller_for):
    caller = await caller_for()
    reservation, _seats = await held(caller.user, seats=1)
    headers = {**caller.headers, "Idempotency-Key": "pay-once-123"}
    body = {
        "reservation_id": reservation.public_id,
        "payment_method": "card",
        "amount": str(reservation.total_amount),
    }
    first = await client.post("/api/v1/payments/initiate", json=body, headers=headers)
    again = await client.post("/api/v1/payments/initiate", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert (await first.get_json())["id"] == (await again.get_json())["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await Payment.filter(reservation_id=reservation.id).count() == 1


async def test_the_webhook_is_the_websites_handler(app: Quart, client, caller_for):
    """A gateway's signed notification books the hold; a forged one is a 400 problem and a
    replay changes nothing."""
    caller = await caller_for()
    reservation, _seats = await held(caller.user, seats=1)
    started = await (await initiate(client, caller, reservation)).get_json()
    payment = await Payment.get(public_id=started["id"])
    simulator = services_of(app.app).gateways.get("simulator")  # type: ignore[attr-defined]
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    forged = await client.post(
        "/api/v1/payments/webhook/simulator",
        data=body.replace(b'"payment.succeeded"', b'"payment.failed"'),
        headers=headers,
    )
    assert forged.status_code == 400
    assert (await problem_of(forged))["code"] == "invalid_signature"
    for _ in range(2):
        ok = await client.post("/api/v1/payments/webhook/simulator", data=body, headers=headers)
        assert ok.status_code == 200 and (await ok.get_json()) == {"received": True}
    await payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.booking_id
    assert await Booking.filter(reservation_id=reservation.id).count() == 1
    unknown = await client.post("/api/v1/payments/webhook/nope", data=body, headers=headers)
    assert unknown.status_code == 404
    assert await ActivityLog.filter(action="payment.succeeded").count() == 1
    assert payment.amount == Decimal(reservation.total_amount)
