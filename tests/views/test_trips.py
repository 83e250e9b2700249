"""Search and trip pages over HTTP: full page vs htmx fragment, bad input, seat map hooks."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from domain.enums import BusKind, ScheduleStatus
from domain.models import Schedule, ScheduleSeat
from tests import factories

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def trip(settings):
    tomorrow = (datetime.now(settings.tz) + timedelta(days=1)).replace(
        hour=6, minute=0, second=0, microsecond=0
    )
    return await factories.make_trip(tomorrow)


def search_url(trip, origin="Mumbai", destination="Pune", **extra):
    day = trip.departure_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata")).date()
    params = {"origin_city": origin, "destination_city": destination, "date": day.isoformat()}
    params.update(extra)
    return "/schedules/search?" + "&".join(f"{k}={v}" for k, v in params.items())


async def test_home_page_has_an_accessible_search_form(client, trip):
    response = await client.get("/")
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    for field in ("origin_city", "destination_city", "date"):
        assert f'<label for="f-{field}">' in html
    assert '<option value="Lonavala">' in html  # suggestions work without JavaScript too
    assert "htmx-2.0.11.min.js" in html


async def test_city_suggestions_fragment(client, trip):
    response = await client.get("/cities?origin_city=lo", headers=HTMX)
    html = await response.get_data(as_text=True)
    assert '<option value="Lonavala">' in html
    assert "<html" not in html


async def test_search_page_then_fragment_for_htmx(client, trip):
    page = await client.get(search_url(trip, "Lonavala", "Pune"))
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<html" in html and 'id="results"' in html
    assert "1 bus found" in html
    assert f"/schedules/{trip.id}?from=1&amp;to=2" in html
    assert "08:00" in html and "09:30" in html and "₹285" in html and "40 seats left" in html

    fragment = await client.get(search_url(trip, "Lonavala", "Pune", kind="sleeper"), headers=HTMX)
    part = await fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "<html" not in part
    assert part.lstrip().startswith('<section id="results"')
    assert "No buses match" in part


async def test_filters_work_without_javascript(client, trip):
    response = await client.get(search_url(trip, ac="non_ac", sort="fare"))
    html = await response.get_data(as_text=True)
    assert "<html" in html and "No buses match" in html
    assert 'value="non_ac" checked' in html


@pytest.mark.parametrize(
    ("origin", "destination", "day", "message"),
    [
        ("Atlantis", "Pune", None, "We don&#39;t serve “Atlantis” yet"),
        ("Pune", "Pune", None, "Pick a destination different"),
        ("Mumbai", "Pune", "2020-01-01", "That date is in the past"),
        ("Mumbai", "Pune", "31/12/2026", "YYYY-MM-DD"),
    ],
)
async def test_bad_search_is_422_with_the_message_next_to_the_field(
    client, trip, origin, destination, day, message
):
    url = search_url(trip, origin, destination)
    if day:
        url = re.sub(r"date=[^&]*", f"date={day}", url)
    response = await client.get(url)
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'class="field__error"' in html and 'aria-invalid="true"' in html


async def test_trip_page_draws_the_seat_map_for_the_segment(client, trip, settings):
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    await factories.book(trip, seats[0], 0, 1, user=user, now=datetime.now(settings.tz))
    await ScheduleSeat.filter(id=seats[1].id).update(is_blocked=True)

    response = await client.get(f"/schedules/{trip.id}?from=0&to=2")
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('class="seat seat--seater') == 40
    assert f'id="seat-{seats[0].id}"' in html
    assert re.search(
        rf'id="seat-{seats[0].id}"[^>]*data-seat-number="1" data-status="booked"', html
    )
    assert re.search(rf'id="seat-{seats[1].id}"[^>]*data-status="blocked"', html)
    assert "Boarding point in Mumbai" in html and "Dropping point in Pune" in html
    # Seat 1 is only booked as far as Lonavala.
    later = await client.get(f"/schedules/{trip.id}?from=1&to=2")
    assert re.search(
        rf'id="seat-{seats[0].id}"[^>]*data-status="available"', await later.get_data(as_text=True)
    )


async def test_seat_map_partial_is_the_same_fragment(client, trip):
    response = await client.get(f"/schedules/{trip.id}/seats?from=0&to=1", headers=HTMX)
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="seat-map"')
    assert "<html" not in html


async def test_unknown_trip_is_a_404_page(client):
    response = await client.get("/schedules/999999")
    assert response.status_code == 404
    html = await response.get_data(as_text=True)
    assert "We could not find that trip" in html and "<html" in html
    assert (await client.get("/no/such/page")).status_code == 404


async def test_stops_in_the_wrong_order_are_422(client, trip):
    response = await client.get(f"/schedules/{trip.id}?from=2&to=1")
    assert response.status_code == 422
    assert "must come after the boarding stop" in await response.get_data(as_text=True)
    partial = await client.get(f"/schedules/{trip.id}/seats?from=0&to=7", headers=HTMX)
    assert partial.status_code == 422
    assert "not on this route" in await partial.get_data(as_text=True)


async def test_health_check(client, trip):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert (await response.get_json()) == {"status": "ok"}


async def test_the_site_has_an_icon(client, db):
    """/favicon.ico was a 404 on every first visit; pages link an SVG icon too."""
    response = await client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    assert (await response.get_data())[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age=86400" in response.headers["Cache-Control"]
    page = await client.get("/")
    assert 'rel="icon"' in await page.get_data(as_text=True)
    icon = await client.get("/static/favicon.svg")
    assert icon.status_code == 200


async def test_a_one_deck_bus_never_talks_about_decks(client, trip, settings):
    html = await (await client.get(f"/schedules/{trip.id}?from=0&to=2")).get_data(as_text=True)
    assert 'aria-label="Seat 1, window, ₹' in html
    assert "Lower" not in html and "lower deck" not in html.lower()
    tomorrow = datetime.now(settings.tz) + timedelta(days=1)
    sleeper = await factories.make_trip(tomorrow, kind=BusKind.SLEEPER, rows=6)
    html = await (await client.get(f"/schedules/{sleeper.id}?from=0&to=2")).get_data(as_text=True)
    assert 'aria-label="Lower berth L1, window, ₹' in html and "Upper deck" in html


async def test_a_cancelled_trip_says_so_and_holds_nothing(client, trip):
    await Schedule.filter(id=trip.id).update(status=ScheduleStatus.CANCELLED)
    html = await (await client.get(f"/schedules/{trip.id}?from=0&to=2")).get_data(as_text=True)
    assert "The operator cancelled this trip" in html
    assert re.search(r'<button type="submit" class="button"\s+disabled>Hold selected seats', html)


async def test_a_search_past_the_last_trip_on_sale_says_so_and_links_the_nearest_days(
    client, trip, settings
):
    later = await factories.make_trip(trip.departure_at + timedelta(days=2, hours=16))  # 22:00
    day = trip.departure_at.astimezone(settings.tz).date()
    last = later.departure_at.astimezone(settings.tz).date()
    far = day + timedelta(days=19)
    response = await client.get(search_url(trip, date=far.isoformat()))
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"No buses on sale for {far:%a %-d %b} yet" in html
    assert f"are on sale up to\n      <strong>{last:%a %-d %b %Y}</strong> (3 days ahead)" in html
    assert "Nearest dates with buses:" in html
    for shown in (day, last):
        assert f'date={shown.isoformat()}">{shown:%a %-d %b}</a>' in html

    # The links keep the filters, and the days offered match them.
    night = await client.get(
        search_url(trip, date=day.isoformat(), window="night", sort="fare"), headers=HTMX
    )
    part = await night.get_data(as_text=True)
    assert "Nearest dates with buses for these filters:" in part
    assert f"date={last.isoformat()}&amp;window=night&amp;sort=fare" in part
    assert f"date={day.isoformat()}&amp;" not in part


async def test_search_results_name_the_duration_without_aria_label_on_a_div(client, trip):
    html = await (await client.get(search_url(trip))).get_data(as_text=True)
    assert 'aria-label="Duration"' not in html
    assert '<span class="visually-hidden">Duration </span>3h 30m' in html
