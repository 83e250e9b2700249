"""Holding seats through the pages: the form, the guest detour, the hold page, cancel."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
from tortoise.expressions import F

from domain.models import ActivityLog, Reservation, ScheduleSeat, SeatAllocation, User
from tests import factories


@pytest.fixture
async def trip(settings):
    departure = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=6, minute=0)
    return await factories.make_trip(departure, rows=2)


def hold_form(trip, seats, from_stop=0, to_stop=2, **extra):
    form = {"schedule_id": str(trip.id), "from_stop": str(from_stop), "to_stop": str(to_stop)}
    return [*form.items(), *[("seat_ids", str(s.id)) for s in seats], *extra.items()]


async def post_hold(auth, trip, seats, **kwargs):
    token = await auth.csrf(f"/schedules/{trip.id}")
    # Repeated seat_ids fields, encoded as a browser does (the test client's `form=` keeps
    # only one value per name).
    body = urlencode([*hold_form(trip, seats, **kwargs), ("csrf_token", token)])
    return await auth.client.post(
        "/reservations",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_guest_is_sent_to_log_in_and_back_to_the_same_selection(auth, trip):
    seats = await factories.schedule_seats(trip)
    point = await factories.StopPoint.filter(stop__route_id=trip.route_id, stop__seq=0).first()
    response = await post_hold(auth, trip, seats[:2], boarding_point_id=str(point.id))
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/users/login?next=")
    back = unquote(parse_qs(urlsplit(location).query)["next"][0])
    assert back.startswith(f"/schedules/{trip.id}?from=0&to=2")
    assert await Reservation.all().count() == 0

    await factories.make_user("priya@example.com", "secret-pass-1")
    token = await auth.csrf(location)
    login = await auth.client.post(
        "/users/login",
        form={
            "email": "priya@example.com",
            "password": "secret-pass-1",
            "csrf_token": token,
            "next": back,
        },
    )
    assert login.headers["Location"] == back
    page = await (await auth.client.get(back)).get_data(as_text=True)
    for seat in seats[:2]:
        assert re.search(rf'value="{seat.id}"\s+checked', page)
    assert f'<option value="{point.id}" selected' in page


async def test_hold_then_see_the_countdown_list_and_cancel(auth, trip):
    seats = await factories.schedule_seats(trip)
    await auth.register()
    response = await post_hold(auth, trip, seats[:2])
    assert response.status_code == 303
    reservation = await Reservation.get()
    assert response.headers["Location"] == f"/reservations/{reservation.public_id}"

    page = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    assert "data-countdown" in page
    assert f'data-expires-at="{reservation.expires_at.isoformat()}"' in page
    assert "₹1,333" in page  # 683 + 650
    listing = await (await auth.client.get("/reservations")).get_data(as_text=True)
    assert f"/reservations/{reservation.public_id}" in listing

    trip_page = await (await auth.client.get(f"/schedules/{trip.id}")).get_data(as_text=True)
    assert re.search(rf'id="seat-{seats[0].id}"[^>]*data-status="mine"', trip_page)

    token = await auth.csrf(f"/reservations/{reservation.public_id}")
    cancel = await auth.client.post(
        f"/reservations/{reservation.public_id}/cancel", form={"csrf_token": token}
    )
    assert cancel.status_code == 303
    await reservation.refresh_from_db()
    assert reservation.status == "cancelled"
    done = await (await auth.client.get(cancel.headers["Location"])).get_data(as_text=True)
    assert "You cancelled this hold" in done and "data-countdown" not in done


async def test_reloading_keeps_the_servers_expiry_time(auth, trip):
    seats = await factories.schedule_seats(trip)
    await auth.register()
    await post_hold(auth, trip, seats[:1])
    again = await post_hold(auth, trip, seats[:1])  # the same form sent twice
    assert again.status_code == 303
    assert await Reservation.all().count() == 1
    reservation = await Reservation.get()
    first = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    second = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    expires = f'data-expires-at="{reservation.expires_at.isoformat()}"'
    assert expires in first and expires in second


async def test_someone_elses_hold_is_a_404(app, auth, trip):
    seats = await factories.schedule_seats(trip)
    await auth.register()
    await post_hold(auth, trip, seats[:1])
    reservation = await Reservation.get()
    stranger = type(auth)(app.test_client())
    await stranger.register(email="stranger@example.com")
    assert (await stranger.client.get(f"/reservations/{reservation.public_id}")).status_code == 404
    token = await stranger.csrf("/")
    cancel = await stranger.client.post(
        f"/reservations/{reservation.public_id}/cancel", form={"csrf_token": token}
    )
    assert cancel.status_code == 404
    assert (await Reservation.get()).status == "active"
    assert (await stranger.client.get("/reservations/999999")).status_code == 404


async def test_taken_seats_are_a_409_that_names_them(app, auth, trip):
    seats = await factories.schedule_seats(trip)
    first = type(auth)(app.test_client())
    await first.register(email="first@example.com")
    await post_hold(first, trip, seats[:2])
    await auth.register()
    response = await post_hold(auth, trip, seats[1:3])
    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    assert "Seat 2 is no longer free" in html
    assert 'id="seat-map"' in html  # back on the seat map to pick again
    assert await Reservation.all().count() == 1
    # The hold checks the login itself; the page it answers with still knows who asks.
    user = await User.get(email="priya@example.com")
    assert f'href="/users/{user.id}/profile">Priya</a>' in html


async def test_a_refused_hold_keeps_the_seats_that_are_still_free_ticked(app, auth, trip):
    seats = await factories.schedule_seats(trip)
    first = type(auth)(app.test_client())
    await first.register(email="first@example.com")
    await post_hold(first, trip, seats[:2])
    await auth.register()
    response = await post_hold(auth, trip, seats[1:4])  # seat 2 was taken a moment ago
    assert response.status_code == 409
    html = await response.get_data(as_text=True)
    for seat in seats[2:4]:
        assert re.search(rf'value="{seat.id}"\s+checked', html), seat.seat.number
    taken = re.search(rf'name="seat_ids" value="{seats[1].id}"[^>]*>', html)
    assert taken and "disabled" in taken.group(0) and "checked" not in taken.group(0)


async def test_a_revoked_login_cannot_hold_and_is_sent_to_log_in(app, auth, trip):
    """The hold's first statement is the request's only check of the login cookie: a
    session revoked elsewhere (password changed, logged out everywhere) holds nothing."""
    seats = await factories.schedule_seats(trip)
    await auth.register()
    token = await auth.csrf(f"/schedules/{trip.id}")
    await User.filter(email="priya@example.com").update(session_version=F("session_version") + 1)
    body = urlencode([*hold_form(trip, seats[:2]), ("csrf_token", token)])
    response = await auth.client.post(
        "/reservations", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/users/login?next=")
    back = unquote(parse_qs(urlsplit(location).query)["next"][0])
    assert back.startswith(f"/schedules/{trip.id}?from=0&to=2")
    assert await Reservation.all().count() == 0
    assert await SeatAllocation.all().count() == 0
    assert not await ActivityLog.filter(action="reservation.created").exists()


@pytest.mark.parametrize(
    ("pick", "extra", "status", "message"),
    [
        (0, {}, 422, "Pick at least one seat"),
        (7, {}, 422, "at most 6 seats"),
        (1, {"from_stop": "2", "to_stop": "1"}, 422, "must come after"),
        (1, {"from_stop": "0", "to_stop": "9"}, 422, "not on this route"),
        (1, {"seat_ids": "abc"}, 422, "Pick seats from the seat map"),
        (1, {"boarding_point_id": "999999"}, 422, "Pick a boarding point"),
    ],
)
async def test_bad_hold_requests_are_refused_and_change_nothing(
    auth, trip, pick, extra, status, message
):
    seats = await factories.schedule_seats(trip)
    await auth.register()
    kwargs = {k: v for k, v in extra.items() if k in ("from_stop", "to_stop")}
    rest = {k: v for k, v in extra.items() if k not in kwargs}
    response = await post_hold(auth, trip, seats[:pick], **kwargs, **rest)
    assert response.status_code == status
    assert message in await response.get_data(as_text=True)
    assert await Reservation.all().count() == 0
    assert await SeatAllocation.all().count() == 0
    assert await ActivityLog.filter(action__startswith="reservation.").count() == 0


async def test_seat_of_another_bus_blocked_seat_and_unknown_trip(auth, trip, settings):
    seats = await factories.schedule_seats(trip)
    other = await factories.make_trip(trip.departure_at + timedelta(hours=2), rows=1)
    foreign = (await factories.schedule_seats(other))[0]
    await ScheduleSeat.filter(id=seats[3].id).update(is_blocked=True)
    await auth.register()
    mixed = await post_hold(auth, trip, [seats[0], foreign])
    assert mixed.status_code == 422
    assert "not on this bus" in await mixed.get_data(as_text=True)
    blocked = await post_hold(auth, trip, [seats[3]])
    assert blocked.status_code == 409
    assert "not for sale" in await blocked.get_data(as_text=True)
    token = await auth.csrf("/")
    unknown = await auth.client.post(
        "/reservations",
        form={
            "csrf_token": token,
            "schedule_id": "999999",
            "from_stop": "0",
            "to_stop": "1",
            "seat_ids": "1",
        },
    )
    assert unknown.status_code == 404
    assert await Reservation.all().count() == 0


async def test_departed_trip_cannot_be_held(auth, settings):
    departed = await factories.make_trip(datetime.now(settings.tz) - timedelta(minutes=5), rows=1)
    seats = await factories.schedule_seats(departed)
    await auth.register()
    response = await post_hold(auth, departed, seats[:1])
    assert response.status_code == 409
    assert "already left" in await response.get_data(as_text=True)


async def test_hoarding_limit_message(auth, trip, settings):
    seats = await factories.schedule_seats(trip)
    await auth.register()
    for i in range(settings.max_holds_per_trip):
        assert (await post_hold(auth, trip, [seats[i]])).status_code == 303
    response = await post_hold(auth, trip, [seats[5]])
    assert response.status_code == 409
    assert "holds on this trip" in await response.get_data(as_text=True)
