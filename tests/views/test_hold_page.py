"""The hold page keeps what the customer typed, and shows the way back from a hold that
ran out or that the operator released (issue 12, items 3 and 4), with JavaScript off."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from domain import checkout, holds
from domain.errors import ReservationNotFound
from domain.models import ActivityLog, Reservation
from domain.payments.base import GatewayError
from tests import factories
from tests.views.test_checkout import FORM, checkout_pairs, hold, post
from views.services import services_of


@pytest.fixture
async def trip(settings):
    departure = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=6, minute=0)
    return await factories.make_trip(departure, rows=2)


def typed(seats, **overrides):
    """What Priya types: names, ages and genders that differ per seat, and the card."""
    values = {"contact_email": "priya.s@example.com", "contact_phone": "+919812345678"}
    values["method"] = "card"
    for i, seat in enumerate(seats):
        values |= {
            f"passenger-{seat.id}-name": f"Meera Iyer {i}",
            f"passenger-{seat.id}-age": str(29 + i),
            f"passenger-{seat.id}-gender": "male" if i else "female",
        }
    return values | overrides


async def hold_page(auth, reservation) -> str:
    response = await auth.client.get(f"/reservations/{reservation.public_id}")
    assert response.status_code == 200
    return str(await response.get_data(as_text=True))


def value_of(page: str, name: str) -> str | None:
    match = re.search(rf'name="{re.escape(name)}" type="[a-z]+" value="([^"]*)"', page)
    return html_lib.unescape(match.group(1)) if match else None


def selected(page: str, name: str) -> str | None:
    select = re.search(rf'<select[^>]*name="{re.escape(name)}".*?</select>', page, re.S)
    assert select, f"no select {name}"
    match = re.search(r'<option value="([^"]*)" selected', select.group(0))
    return match.group(1) if match else None


def checked_method(page: str) -> str | None:
    match = re.search(r'name="method" value="([a-z_]+)" checked', page)
    return match.group(1) if match else None


def assert_form_as_typed(page: str, seats, values) -> None:
    for seat in seats:
        for part in ("name", "age"):
            name = f"passenger-{seat.id}-{part}"
            assert value_of(page, name) == values[name], name
        gender = f"passenger-{seat.id}-gender"
        assert selected(page, gender) == values[gender], gender
    assert value_of(page, "contact_email") == values["contact_email"]
    assert value_of(page, "contact_phone") == values["contact_phone"]
    assert checked_method(page) == values["method"]


async def pay(auth, reservation, seats, values, page=None):
    page = page or await hold_page(auth, reservation)
    base = dict(checkout_pairs(page, seats))
    path = f"/reservations/{reservation.public_id}"
    return await post(auth, f"{path}/checkout", list((base | values).items()), page=path)


async def test_try_again_after_a_declined_payment_keeps_everything_typed(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    values = typed(seats)
    to_gateway = await pay(auth, reservation, seats, values)
    assert to_gateway.status_code == 303
    simulator = to_gateway.headers["Location"]
    back = await post(auth, simulator, [("outcome", "decline")], page=simulator)
    status = await auth.client.get(back.headers["Location"])
    while status.status_code in (302, 303):
        status = await auth.client.get(status.headers["Location"])
    status_html = await status.get_data(as_text=True)
    try_again = re.search(r'<a class="button" href="([^"]+)">Try again', status_html).group(1)
    page = await (await auth.client.get(try_again)).get_data(as_text=True)
    assert_form_as_typed(page, seats, values)
    # and paying again from that page works: a fresh key, the same passengers
    again = await pay(auth, reservation, seats, {}, page=page)
    assert again.status_code == 303 and again.headers["Location"] != simulator


@pytest.mark.parametrize("refusal", ["validation", "price_changed", "gateway_error"])
async def test_any_refusal_keeps_the_form_also_after_a_reload(
    auth, trip, app, monkeypatch, refusal
):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    values = typed(seats)
    if refusal == "validation":  # a typo stays as typed, next to its message
        values[f"passenger-{seats[1].id}-age"] = "2g"
    elif refusal == "price_changed":
        values["quoted_total"] = "1.00"
    else:

        async def refuse(*args, **kwargs):
            raise GatewayError("The payment provider did not answer.")

        simulator = services_of(app.app).gateways.get("simulator")
        monkeypatch.setattr(simulator, "start_checkout", refuse)
    response = await pay(auth, reservation, seats, values)
    assert response.status_code in {409, 422, 502, 503}, response.status_code
    values.pop("quoted_total", None)
    assert_form_as_typed(await response.get_data(as_text=True), seats, values)
    # The same form again on a plain reload of the hold page: the draft is on the hold.
    assert_form_as_typed(await hold_page(auth, reservation), seats, values)


async def expire(reservation) -> None:
    """The hold's time is up (the sweeper need not have run: invariant 2)."""
    past = datetime.now().astimezone() - timedelta(seconds=1)
    await Reservation.filter(id=reservation.id).update(expires_at=past)


async def save_draft(auth, reservation, values):
    """What the hold page's script sends as Priya types (without it, the Pay button)."""
    path = f"/reservations/{reservation.public_id}"
    return await post(auth, f"{path}/draft", list(values.items()), page=path)


def form_of(page: str, action: str) -> list[tuple[str, str]]:
    form = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S
    )
    assert form, f"no form posting to {action}"
    return [
        (name, html_lib.unescape(value))
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)
        )
    ]


async def test_an_expired_hold_is_held_again_in_one_step_with_the_passengers(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    values = typed(seats)
    assert (await save_draft(auth, reservation, values)).status_code == 204
    await expire(reservation)
    page = await hold_page(auth, reservation)
    numbers = [s.number for s in await holds.reservation_seats(reservation)]
    assert f"Seats {numbers[0]} and {numbers[1]} are still free" in page
    assert "the passengers you typed are kept" in page
    assert f"Hold seats {numbers[0]} and {numbers[1]} again" in page
    again = await auth.client.post(
        "/reservations", data=urlencode(form_of(page, "/reservations")), headers=FORM
    )
    assert again.status_code == 303, await again.get_data(as_text=True)
    new_id = again.headers["Location"].rsplit("/", 1)[1]
    assert new_id != reservation.public_id
    renewed = await Reservation.get(public_id=new_id)
    assert renewed.status == "active"
    assert_form_as_typed(await hold_page(auth, renewed), seats, values)


async def test_an_expired_hold_pay_without_javascript_keeps_the_passengers(auth, trip):
    """No script saved anything: the Pay button sent after the time ran out keeps them."""
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    page = await hold_page(auth, reservation)
    await expire(reservation)
    values = typed(seats)
    refused = await pay(auth, reservation, seats, values, page=page)
    assert refused.status_code == 409
    shown = await refused.get_data(as_text=True)
    assert "Hold seats" in shown and "again" in shown
    again = await auth.client.post(
        "/reservations", data=urlencode(form_of(shown, "/reservations")), headers=FORM
    )
    renewed = await Reservation.get(public_id=again.headers["Location"].rsplit("/", 1)[1])
    assert_form_as_typed(await hold_page(auth, renewed), seats, values)


async def test_a_seat_taken_since_is_named_and_the_trip_opens_with_the_others(app, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    values = typed(seats)
    await save_draft(auth, reservation, values)
    await expire(reservation)
    other = type(auth)(app.test_client())
    await other.register("arjun@example.com")
    await hold(other, trip, seats[1:])  # Arjun takes the second seat meanwhile
    numbers = [s.number for s in await holds.reservation_seats(reservation)]

    page = await hold_page(auth, reservation)
    assert f"seat {numbers[1]} was taken by someone else; seat {numbers[0]} is still free" in page
    assert "again</button>" not in page  # no one-step hold of a seat that is gone
    link = html_lib.unescape(
        re.search(r'<a class="button" href="([^"]+)">Pick seats again', page).group(1)
    )
    query = parse_qs(urlsplit(link).query)
    assert query["seat_ids"] == [str(seats[0].id)]
    assert query["draft_from"] == [reservation.public_id]
    assert (query["from"], query["to"]) == (["0"], ["2"])

    trip_page = await (await auth.client.get(link)).get_data(as_text=True)
    assert re.search(rf'value="{seats[0].id}"[^>]*checked', trip_page)
    assert f'name="draft_from" value="{reservation.public_id}"' in trip_page
    # She picks another seat in place of the lost one: both passengers come along.
    third = (await factories.schedule_seats(trip))[2]
    new = await post(
        auth,
        "/reservations",
        [
            ("schedule_id", trip.id),
            ("from_stop", 0),
            ("to_stop", 2),
            ("seat_ids", seats[0].id),
            ("seat_ids", third.id),
            ("draft_from", reservation.public_id),
        ],
        page=link,
    )
    renewed = await Reservation.get(public_id=new.headers["Location"].rsplit("/", 1)[1])
    shown = await hold_page(auth, renewed)
    assert value_of(shown, f"passenger-{seats[0].id}-name") == "Meera Iyer 0"
    assert value_of(shown, f"passenger-{third.id}-name") == "Meera Iyer 1"
    assert selected(shown, f"passenger-{third.id}-gender") == "male"


async def test_a_hold_released_by_the_operator_says_so_with_the_reason(app, auth, trip):
    seats = (await factories.schedule_seats(trip))[:1]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    await save_draft(auth, reservation, typed(seats))
    admin = await factories.make_user("ops@example.com", admin=True)
    await holds.release_hold(
        admin,
        reservation.public_id,
        "Payment stuck, customer called",
        now=datetime.now().astimezone(),
    )
    page = await hold_page(auth, reservation)
    assert "Our team released this hold" in page
    assert "“Payment stuck, customer called”" in page
    number = (await holds.reservation_seats(reservation))[0].number
    assert f"Hold seat {number} again" in page
    assert "the passengers you typed are kept" in page


async def test_a_draft_is_only_the_holders(app, auth, trip):
    seats = (await factories.schedule_seats(trip))[:1]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    other = type(auth)(app.test_client())
    await other.register("arjun@example.com")
    path = f"/reservations/{reservation.public_id}"
    refused = await post(other, f"{path}/draft", [("passenger-1-name", "x")], page="/")
    assert refused.status_code == 404
    odd = await save_draft(auth, reservation, {f"passenger-{seats[0].id}-name": "a\x00b"})
    assert odd.status_code == 400  # refused by the app's form check, never a 500
    clipped = checkout.CheckoutDraft(passengers=(checkout.PassengerDraft(1, "a\x00b"),))
    assert clipped.clipped().passengers[0].name == "ab"  # and the domain drops it too
    no_token = await auth.client.post(f"{path}/draft", data="contact_email=x", headers=FORM)
    assert no_token.status_code == 403
    with pytest.raises(ReservationNotFound):
        await checkout.save_draft(
            await factories.make_user("third@example.com"),
            reservation.public_id,
            checkout.CheckoutDraft(),
        )
    assert await ActivityLog.filter(action__startswith="reservation.draft").count() == 0


def test_a_draft_moves_passengers_onto_the_seats_of_a_new_hold():
    draft = checkout.CheckoutDraft(
        passengers=(
            checkout.PassengerDraft(1, "A", "30", "female"),
            checkout.PassengerDraft(2, "B", "31", "male"),
            checkout.PassengerDraft(3, "", "", ""),
        )
    )
    assert {k: v.name for k, v in draft.for_seats([2, 9]).items()} == {2: "B", 9: "A"}
    assert draft.for_seats([5]) == {5: checkout.PassengerDraft(5, "A", "30", "female")}
    assert checkout.CheckoutDraft.from_json(draft.to_json()).passengers[2:] == ()
    assert checkout.CheckoutDraft.from_json({"passengers": [{"seat": "x"}, 3]}) == (
        checkout.CheckoutDraft()
    )
    long = checkout.CheckoutDraft(passengers=(checkout.PassengerDraft(1, "x" * 999),))
    assert len(long.clipped().passengers[0].name) == checkout.DRAFT_TEXT_MAX
    assert checkout.seats_text(1) == "1 seat" and checkout.seats_text(2) == "2 seats"


async def test_a_hold_taken_again_from_someone_elses_hold_starts_empty(app, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    mine = await hold(auth, trip, seats[:1])
    await save_draft(auth, mine, typed(seats[:1]))
    other = type(auth)(app.test_client())
    await other.register("arjun@example.com")
    response = await post(
        other,
        "/reservations",
        [
            ("schedule_id", trip.id),
            ("from_stop", 0),
            ("to_stop", 2),
            ("seat_ids", seats[1].id),
            ("draft_from", mine.public_id),
        ],
        page=f"/schedules/{trip.id}",
    )
    theirs = await Reservation.get(public_id=response.headers["Location"].rsplit("/", 1)[1])
    assert theirs.checkout_draft is None
    page = await (await other.client.get(f"/reservations/{theirs.public_id}")).get_data(
        as_text=True
    )
    assert "Meera" not in page
