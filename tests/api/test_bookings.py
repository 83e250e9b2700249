"""Bookings under /api/v1: details with the ticket, history pages, the cancellation quote
and the cancellation (partial, then the rest), and the counter booking an admin records."""

from __future__ import annotations

from decimal import Decimal

from quart import Quart
from quart.testing import QuartClient

from domain.enums import PaymentStatus, RefundState
from domain.models import ActivityLog, Booking, Payment, Refund, Reservation
from tests.api.conftest import problem_of
from tests.api.holding import book_through_api, held, passengers_for

ACCESS = [
    ("POST", "/api/v1/bookings/create", "admin"),
    ("GET", "/api/v1/bookings/{id}/details", "user"),
    ("GET", "/api/v1/bookings/history", "user"),
    ("GET", "/api/v1/bookings/{id}/cancellation-quote", "user"),
    ("POST", "/api/v1/bookings/{id}/cancel", "user"),
]


async def test_someone_elses_booking_is_not_found(app: Quart, client: QuartClient, caller_for):
    owner, other = await caller_for(), await caller_for()
    reference = await book_through_api(app, client, owner, seats=1)
    for path in (
        f"/api/v1/bookings/{reference}/details",
        f"/api/v1/bookings/{reference}/cancellation-quote",
    ):
        response = await client.get(path, headers=other.headers)
        assert response.status_code == 404, path
        assert (await problem_of(response))["code"] == "booking_not_found"
    cancel = await client.post(f"/api/v1/bookings/{reference}/cancel", headers=other.headers)
    assert cancel.status_code == 404
    assert (await Booking.get(reference=reference)).status == "confirmed"
    admin = await caller_for(admin=True)
    seen = await client.get(f"/api/v1/bookings/{reference}/details", headers=admin.headers)
    assert seen.status_code == 200
    missing = await client.get("/api/v1/bookings/NOPE/details", headers=owner.headers)
    assert missing.status_code == 404


async def test_quote_then_cancel_one_passenger_then_the_rest(app: Quart, client, caller_for):
    caller = await caller_for()
    reference = await book_through_api(app, client, caller, seats=2)
    booking = await (
        await client.get(f"/api/v1/bookings/{reference}/details", headers=caller.headers)
    ).get_json()
    first, second = (s["passenger_id"] for s in booking["seats"])
    old_ticket = booking["ticket"]["ticket_number"]

    whole = await client.get(
        f"/api/v1/bookings/{reference}/cancellation-quote", headers=caller.headers
    )
    assert whole.status_code == 200, await whole.get_data(as_text=True)
    everything = await whole.get_json()
    assert {s["passenger_id"] for s in everything["seats"]} == {first, second}
    assert everything["refund_percent"] == 90  # three days ahead: the top tier

    one = await (
        await client.get(
            f"/api/v1/bookings/{reference}/cancellation-quote?passenger_ids={first}",
            headers=caller.headers,
        )
    ).get_json()
    [line] = one["seats"]
    assert Decimal(line["refund"]) + Decimal(line["fee"]) == Decimal(line["fare"])

    partial = await client.post(
        f"/api/v1/bookings/{reference}/cancel",
        json={"passenger_ids": [first]},
        headers={**caller.headers, "Idempotency-Key": "cancel-first-1"},
    )
    assert partial.status_code == 201, await partial.get_data(as_text=True)
    cancellation = await partial.get_json()
    assert cancellation["id"].startswith("cnl_")
    assert cancellation["refund_amount"] == line["refund"]  # the quote is the figure
    assert [s["passenger_id"] for s in cancellation["seats"]] == [first]
    assert cancellation["refund"]["id"].startswith("rfd_")
    assert cancellation["refund"]["status"] == "succeeded"  # the simulator took it
    assert cancellation["refund_status"] == "processed"
    assert partial.headers["Location"] == f"/api/v1/cancellations/{cancellation['id']}/details"
    replay = await client.post(
        f"/api/v1/bookings/{reference}/cancel",
        json={"passenger_ids": [first]},
        headers={**caller.headers, "Idempotency-Key": "cancel-first-1"},
    )
    assert (await replay.get_json())["id"] == cancellation["id"]

    after = await (
        await client.get(f"/api/v1/bookings/{reference}/details", headers=caller.headers)
    ).get_json()
    assert after["status"] == "partially_cancelled"
    assert after["ticket"]["ticket_number"] != old_ticket  # re-issued for the one left
    again = await client.post(
        f"/api/v1/bookings/{reference}/cancel",
        json={"passenger_ids": [first]},
        headers=caller.headers,
    )
    assert again.status_code == 409

    rest = await client.post(f"/api/v1/bookings/{reference}/cancel", headers=caller.headers)
    assert rest.status_code == 201, await rest.get_data(as_text=True)
    assert [s["passenger_id"] for s in (await rest.get_json())["seats"]] == [second]
    done = await (
        await client.get(f"/api/v1/bookings/{reference}/details", headers=caller.headers)
    ).get_json()
    assert done["status"] == "cancelled" and done["can_cancel"] is False
    nothing = await client.post(
        f"/api/v1/bookings/{reference}/cancel", json={}, headers=caller.headers
    )
    assert nothing.status_code == 409
    assert (await problem_of(nothing))["code"] == "nothing_to_cancel"
    assert await Refund.filter(status=RefundState.SUCCEEDED).count() == 2


async def test_history_pages_with_cursors_and_a_status_filter(app: Quart, client, caller_for):
    caller = await caller_for()
    references = [await book_through_api(app, client, caller, seats=1) for _ in range(3)]
    other = await caller_for()
    await book_through_api(app, client, other, seats=1)
    await client.post(f"/api/v1/bookings/{references[0]}/cancel", headers=caller.headers)

    first = await client.get("/api/v1/bookings/history?limit=2", headers=caller.headers)
    assert first.status_code == 200, await first.get_data(as_text=True)
    page = await first.get_json()
    assert [b["id"] for b in page["bookings"]] == [references[2], references[1]]
    assert page["next_cursor"] and page["next"].startswith("/api/v1/bookings/history?")
    second = await (await client.get(page["next"], headers=caller.headers)).get_json()
    assert [b["id"] for b in second["bookings"]] == [references[0]]
    assert second["next_cursor"] is None and second["next"] is None

    cancelled = await (
        await client.get("/api/v1/bookings/history?status=cancelled", headers=caller.headers)
    ).get_json()
    assert [b["id"] for b in cancelled["bookings"]] == [references[0]]
    forged = await client.get("/api/v1/bookings/history?cursor=abc.def", headers=caller.headers)
    assert forged.status_code == 422
    assert (await problem_of(forged))["code"] == "invalid_cursor"
    assert (await client.get("/api/v1/bookings/history")).status_code == 401


async def test_an_admin_books_a_hold_paid_at_the_counter(app: Quart, client, caller_for):
    customer, admin = await caller_for(), await caller_for(admin=True)
    reservation, seats = await held(customer.user, seats=2)
    body = {
        "reservation_id": reservation.public_id,
        "amount": str(reservation.total_amount),
        "passengers": passengers_for(seats),
        "note": "receipt 0042",
    }
    refused = await client.post("/api/v1/bookings/create", json=body, headers=customer.headers)
    assert refused.status_code == 403
    assert (await problem_of(refused))["code"] == "forbidden"
    short = await client.post(
        "/api/v1/bookings/create", json={**body, "amount": "10.00"}, headers=admin.headers
    )
    assert short.status_code == 409
    assert (await problem_of(short))["code"] == "price_changed"

    made = await client.post("/api/v1/bookings/create", json=body, headers=admin.headers)
    assert made.status_code == 201, await made.get_data(as_text=True)
    booking = await made.get_json()
    assert booking["status"] == "confirmed" and booking["ticket"]["qr_code"].startswith("data:")
    assert booking["total_amount"] == f"{reservation.total_amount:.2f}"
    [payment] = booking["payments"]
    assert payment["gateway"] == "counter" and payment["payment_method"] == "cash"
    assert payment["status"] == "succeeded"
    stored = await Booking.get(reference=booking["id"])
    assert stored.user_id == customer.user.id  # the hold's customer owns it
    await reservation.refresh_from_db()
    assert reservation.status == "converted"
    log = await ActivityLog.get(action="payment.received_at_counter")
    assert log.actor_id == admin.user.id and log.data["note"] == "receipt 0042"
    # the customer sees it as their own
    mine = await client.get(f"/api/v1/bookings/{booking['id']}/details", headers=customer.headers)
    assert mine.status_code == 200

    twice = await client.post("/api/v1/bookings/create", json=body, headers=admin.headers)
    assert twice.status_code == 409
    assert (await problem_of(twice))["code"] == "already_booked"
    assert await Payment.filter(status=PaymentStatus.SUCCEEDED).count() == 1


async def test_a_counter_booking_needs_a_live_hold(app: Quart, client, caller_for):
    customer, admin = await caller_for(), await caller_for(admin=True)
    reservation, _seats = await held(customer.user, seats=1)
    await Reservation.filter(id=reservation.id).update(status="expired")
    body = {"reservation_id": reservation.public_id, "amount": str(reservation.total_amount)}
    response = await client.post("/api/v1/bookings/create", json=body, headers=admin.headers)
    assert response.status_code == 409
    assert (await problem_of(response))["code"] == "hold_expired"
    assert not await Payment.exists()


async def test_cancelling_a_counter_booking_owes_the_refund_at_the_counter(
    app: Quart, client, caller_for
):
    """The counter cannot send money: the refund stays pending (money owed, invariant 4)
    until an operator pays it back there and closes it."""
    customer, admin = await caller_for(), await caller_for(admin=True)
    reservation, _seats = await held(customer.user, seats=1)
    body = {"reservation_id": reservation.public_id, "amount": str(reservation.total_amount)}
    booking = await (
        await client.post("/api/v1/bookings/create", json=body, headers=admin.headers)
    ).get_json()
    [seat] = booking["seats"]
    assert seat["name"] == customer.user.full_name  # no passengers: the account holder
    cancelled = await client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", headers=customer.headers
    )
    assert cancelled.status_code == 201, await cancelled.get_data(as_text=True)
    out = await cancelled.get_json()
    assert out["refund"]["status"] == "pending" and out["refund_status"] == "failed"
    assert Decimal(out["refund_amount"]) > 0


async def test_an_admin_api_key_books_at_the_counter(app: Quart, client, caller_for):
    """A partner's or till's script with the admin's API key, not a login."""
    from domain import api_keys, clock

    customer, admin = await caller_for(), await caller_for(admin=True)
    _key, secret = await api_keys.create_api_key(admin.user, "Counter till", now=clock.now())
    reservation, _seats = await held(customer.user, seats=1)
    body = {
        "reservation_id": reservation.public_id,
        "amount": str(reservation.total_amount),
        "payment_method": "card",
    }
    made = await client.post("/api/v1/bookings/create", json=body, headers={"X-API-Key": secret})
    assert made.status_code == 201, await made.get_data(as_text=True)
    assert (await made.get_json())["payments"][0]["payment_method"] == "card"


async def test_a_boarded_booking_is_not_cancelled_and_says_why(app: Quart, client, caller_for):
    """Issue 12: a seat whose ticket had boarded was cancelled and refunded (50 %)."""
    from datetime import UTC, datetime

    from domain.models import Cancellation, Ticket

    caller = await caller_for()
    reference = await book_through_api(app, client, caller, seats=2)
    booking = await Booking.get(reference=reference)
    await Ticket.filter(booking=booking).update(status="boarded", boarded_at=datetime.now(UTC))

    details = await (
        await client.get(f"/api/v1/bookings/{reference}/details", headers=caller.headers)
    ).get_json()
    assert details["can_cancel"] is False
    assert "checked at the bus door" in details["cannot_cancel_reason"]
    for response in (
        await client.get(
            f"/api/v1/bookings/{reference}/cancellation-quote", headers=caller.headers
        ),
        await client.post(f"/api/v1/bookings/{reference}/cancel", headers=caller.headers),
    ):
        assert response.status_code == 409
        problem = await problem_of(response)
        assert problem["type"] == "urn:busbook:problem:seats_boarded"
        assert problem["code"] == "seats_boarded"
        assert sorted(problem["seats"]) == sorted(s["seat_number"] for s in details["seats"])
        assert "boarded the bus" in problem["detail"]
    assert await Cancellation.all().count() == 0 and await Refund.all().count() == 0
