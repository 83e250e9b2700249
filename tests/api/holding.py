"""Holds and bookings for the API's payment, booking and ticket tests, made through the
domain (the reservations endpoint is tested on its own), and the API's pay-and-approve walk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from quart import Quart

from domain import holds
from domain.holds import HoldPolicy, HoldRequest
from domain.models import Reservation, User
from tests.factories import make_trip, schedule_seats


async def held(user: User, *, seats: int = 2, departs_in: timedelta = timedelta(days=3)) -> Any:
    """A live hold of `seats` seats (whole route) on a fresh trip, and its seats."""
    now = datetime.now().astimezone()
    trip = await make_trip(now + departs_in, rows=2)
    chosen = (await schedule_seats(trip))[:seats]
    reservation = await holds.hold_seats(
        user, HoldRequest(trip.id, 0, 2, tuple(s.id for s in chosen)), now=now, policy=HoldPolicy()
    )
    return reservation, chosen


def passengers_for(seats: Any) -> list[dict[str, Any]]:
    return [
        {"seat_id": s.id, "name": f"Traveller {i}", "age": 30 + i, "gender": "female"}
        for i, s in enumerate(seats)
    ]


async def initiate(client: Any, caller: Any, reservation: Reservation, **body: Any) -> Any:
    payload = {
        "reservation_id": reservation.public_id,
        "payment_method": "upi",
        "amount": str(reservation.total_amount),
        **body,
    }
    return await client.post("/api/v1/payments/initiate", json=payload, headers=caller.headers)


async def approve(app: Quart, checkout_url: str) -> Any:
    """What a script does with the checkout URL: a fresh client (no cookies at all) opens
    the page and posts "approve" to it."""
    stranger = app.test_client()
    parts = urlsplit(checkout_url)
    path = f"{parts.path}?{parts.query}"
    page = await stranger.get(path)
    assert page.status_code == 200, await page.get_data(as_text=True)
    assert "Approve payment" in await page.get_data(as_text=True)
    return await stranger.post(
        path,
        form={"outcome": "approve"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def book_through_api(app: Quart, client: Any, caller: Any, *, seats: int = 2) -> str:
    """Hold, pay and approve through the API: the booking reference."""
    reservation, chosen = await held(caller.user, seats=seats)
    started = await initiate(client, caller, reservation, passengers=passengers_for(chosen))
    assert started.status_code == 201, await started.get_data(as_text=True)
    payment = await started.get_json()
    await approve(app, payment["checkout_url"])
    status = await client.get(f"/api/v1/payments/{payment['id']}", headers=caller.headers)
    reference = (await status.get_json())["booking_reference"]
    assert reference
    return str(reference)
