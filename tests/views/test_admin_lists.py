"""The console's long lists: keyset pages with Next/Previous links that keep the filters,
a note wherever a list is cut, the filters operators expect, one partial for the page and
the htmx swap, and trips named in words (route and time), never "Trip #3"."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from domain.enums import BookingStatus, PaymentMethod, PaymentStatus, ScheduleStatus
from domain.models import Booking, Payment, Reservation, Schedule
from tests import factories
from tests.views.test_admin import next_page

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def admin(app, auth):
    await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    actions = type(auth)(app.test_client())
    await actions.login("ops@example.com", "ops-password-1")
    return actions


async def html_of(client, path, **kwargs):
    response = await client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    return await response.get_data(as_text=True)


def link(html: str, rel: str) -> str:
    found = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', html)
    assert found, f"no {rel} link"
    return found.group(1).replace("&amp;", "&")


async def many_trips(count: int, first: datetime, *, route=None, every=timedelta(hours=1)):
    """Trips without seats (a list does not need them), `every` apart."""
    route = route or await factories.make_route()
    bus = await factories.make_bus(rows=1)
    return [
        await Schedule.create(
            route=route,
            bus=bus,
            departure_at=first + i * every,
            arrival_at=first + i * every + timedelta(hours=3),
            base_fare=Decimal("650"),
        )
        for i in range(count)
    ]


async def test_the_dashboard_says_when_the_next_days_trips_are_cut(admin, settings):
    await many_trips(15, datetime.now(settings.tz) + timedelta(minutes=30))
    html = await html_of(admin.client, "/admin")
    assert "Showing the next 12 of 15 trips — " in html
    assert re.search(r'<a href="/admin/schedules">see all</a>', html)
    assert "Mumbai - Lonavala - Pune, " in html


async def test_the_trips_page_pages_by_keyset_and_keeps_its_filters(admin, settings):
    start = datetime.now(settings.tz) + timedelta(hours=1)
    trips = await many_trips(60, start, every=timedelta(minutes=10))
    other = await factories.make_route([("Pune", 0, 0), ("Nashik", 240, 210)], code="PUN-NSK")
    await many_trips(3, start, route=other)
    route = trips[0].route_id

    first = await html_of(admin.client, f"/admin/schedules?route={route}")
    assert first.count('data-label="Trip"') == 50
    assert "Showing 50 trips: more on the next page" in first
    assert "Trip #" not in first and "Pune - Nashik" not in first.split("<tbody>")[1]
    assert ">Mumbai - Lonavala - Pune, " in first

    nxt = next_page(first)
    assert f"route={route}" in nxt and "after=" in nxt and "page=" not in nxt
    second = await html_of(admin.client, nxt)
    assert second.count('data-label="Trip"') == 10 and "Next page" not in second
    back = await html_of(admin.client, link(second, "prev"))
    assert back.count('data-label="Trip"') == 50
    first_rows = re.findall(r'/admin/schedules/(\d+)"', first.split('id="trips-list"')[1])
    back_rows = re.findall(r'/admin/schedules/(\d+)"', back.split('id="trips-list"')[1])
    assert back_rows == first_rows

    # A trip leaving while the operator pages (a row inserted before the cursor) neither
    # repeats nor pushes a row off the next page.
    await many_trips(1, start - timedelta(minutes=5), route=trips[0].route)
    again = await html_of(admin.client, nxt)
    assert again.count('data-label="Trip"') == 10


async def test_trips_filter_by_day_and_status_and_htmx_gets_the_list_alone(admin, settings):
    tomorrow = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=6, minute=0)
    trips = await many_trips(3, tomorrow, every=timedelta(days=1))
    trips[0].status = ScheduleStatus.CANCELLED
    await trips[0].save()
    day = tomorrow.date().isoformat()
    html = await html_of(admin.client, f"/admin/schedules?date={day}")
    assert html.count('data-label="Trip"') == 1 and "Pager" not in html
    cancelled = await html_of(admin.client, "/admin/schedules?status=cancelled")
    assert cancelled.count('data-label="Trip"') == 1 and "Cancelled" in cancelled
    part = await html_of(admin.client, "/admin/schedules?status=scheduled", headers=HTMX)
    assert part.lstrip().startswith('<section class="card" id="trips-list"')
    assert "<html" not in part and part.count('data-label="Trip"') == 2
    assert 'hx-get="/admin/schedules"' in part and 'hx-push-url="true"' in part


@pytest.mark.parametrize(
    "query",
    ["after=forged.0000", "before=abc", "status=flying", "route=0", "date=2026-13-01"],
)
async def test_a_broken_page_link_or_filter_is_a_clear_422(admin, query):
    response = await admin.client.get(f"/admin/schedules?{query}")
    assert response.status_code == 422
    text = await response.get_data(as_text=True)
    assert "Traceback" not in text
    assert "page link" in text or "Choose" in text or "Enter" in text


async def test_a_cursor_of_another_list_is_refused(admin, auth, settings):
    await many_trips(55, datetime.now(settings.tz) + timedelta(hours=1))
    cursor = next_page(await html_of(admin.client, "/admin/schedules")).split("after=")[1]
    response = await admin.client.get(f"/admin/activity-logs?after={cursor}")
    assert response.status_code == 422
    assert "This page link is broken" in await response.get_data(as_text=True)


async def test_bookings_filter_by_status_travel_day_and_search(admin, settings):
    customer = await factories.make_user("meera@example.com")
    tomorrow = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=7, minute=0)
    soon, later = await many_trips(2, tomorrow, every=timedelta(days=2))
    now = datetime.now(settings.tz)
    for i in range(55):
        await Booking.create(
            reference=f"BKL{i:05d}",
            user=customer,
            schedule=soon if i % 2 else later,
            from_seq=0,
            to_seq=1,
            total_amount=Decimal("100"),
            contact_email="meera@example.com",
            contact_phone="9876543210",
            status=BookingStatus.CANCELLED if i % 5 == 0 else BookingStatus.CONFIRMED,
            created_at=now - timedelta(minutes=i),
        )
    everything = await html_of(admin.client, "/admin/bookings")
    assert everything.count('data-label="Reference"') == 50 and "Next page →" in everything
    assert f">#{soon.id} " not in everything and "Mumbai - Lonavala - Pune, " in everything
    rest = await html_of(admin.client, next_page(everything))
    assert rest.count('data-label="Reference"') == 5
    cancelled = await html_of(admin.client, "/admin/bookings?status=cancelled")
    assert (
        cancelled.count('data-label="Reference"') == 11
        and "Partly" not in cancelled.split("<tbody>")[1]
    )
    day = tomorrow.date().isoformat()
    on_day = await html_of(admin.client, f"/admin/bookings?date={day}&status=confirmed")
    assert on_day.count('data-label="Reference"') == 22  # odd i, not a multiple of 5
    by_phone = await html_of(admin.client, "/admin/bookings?q=9876543210&status=cancelled")
    assert by_phone.count('data-label="Reference"') == 11
    part = await html_of(admin.client, "/admin/bookings?q=BKL00003", headers=HTMX)
    assert part.lstrip().startswith('<div id="bookings-list">') and "BKL00003" in part


async def test_holds_filter_by_state_and_trip(admin, settings):
    customer = await factories.make_user("kiran@example.com")
    now = datetime.now(settings.tz)
    one = await factories.make_trip(now + timedelta(hours=5), rows=2)
    two = await factories.make_trip(now + timedelta(hours=9), rows=2)
    seats_one = await factories.schedule_seats(one)
    seats_two = await factories.schedule_seats(two)
    await factories.hold(
        one, seats_one[0], 0, 1, user=customer, expires_at=now + timedelta(minutes=9)
    )
    await factories.hold(
        two, seats_two[0], 0, 1, user=customer, expires_at=now + timedelta(minutes=7)
    )
    gone = await factories.hold(
        two, seats_two[1], 0, 1, user=customer, expires_at=now - timedelta(minutes=1)
    )
    active = await html_of(admin.client, "/admin/reservations")
    assert active.count('class="card" id="hold-') == 2 and "Hold #" not in active
    assert f'<option value="{one.id}"' in active  # the trip filter offers trips with holds
    on_one = await html_of(admin.client, f"/admin/reservations?trip={one.id}")
    assert on_one.count('class="card" id="hold-') == 1
    expired = await html_of(admin.client, "/admin/reservations?state=expired")
    assert expired.count('class="card" id="hold-') == 1
    assert f'id="hold-{gone.reservation_id}"' in expired and "Release hold" not in expired
    assert (await Reservation.get(id=gone.reservation_id)).status == "active"  # only read


async def test_payments_filter_by_list_and_gateway(admin, settings):
    paying = await factories.make_user("asha@example.com")
    now = datetime.now(settings.tz)
    trip = await factories.make_trip(now + timedelta(hours=5), rows=1)
    reservation = await Reservation.create(
        user=paying,
        schedule=trip,
        from_seq=0,
        to_seq=1,
        expires_at=now + timedelta(minutes=10),
        total_amount=Decimal("650"),
        seat_count=1,
        created_at=now,
    )
    for i, (status, gateway) in enumerate(
        [
            (PaymentStatus.FLAGGED, "simulator"),
            (PaymentStatus.FAILED, "simulator"),
            (PaymentStatus.FAILED, "stripe"),
            (PaymentStatus.PENDING, "simulator"),
        ]
    ):
        await Payment.create(
            user=paying,
            reservation=reservation,
            gateway=gateway,
            method=PaymentMethod.CARD,
            amount=Decimal("650"),
            status=status,
            idempotency_key=f"list-{i}",
            checkout_data={"contact_email": "asha@example.com"},
            created_at=now - timedelta(minutes=i),
            updated_at=now - timedelta(minutes=i),
        )
    held = await html_of(admin.client, "/admin/payments")
    assert held.count('<article class="card" id="payment-') == 1 and "Refund in full" not in held
    failed = await html_of(admin.client, "/admin/payments?show=failed")
    assert failed.count('<article class="card" id="payment-') == 2
    assert "Record that it was refunded" not in failed and "Close it" not in failed
    stripe = await html_of(admin.client, "/admin/payments?show=failed&gateway=stripe")
    assert stripe.count('<article class="card" id="payment-') == 1 and "via Stripe" in stripe
    waiting = await html_of(admin.client, "/admin/payments?show=waiting", headers=HTMX)
    assert waiting.lstrip().startswith('<div id="payments-list">')
    assert waiting.count('<article class="card" id="payment-') == 1
    refused = await admin.client.get("/admin/payments?show=everything")
    assert refused.status_code == 422
    # (the money "held" here was never taken: settle it for the integrity check)
    await Payment.filter(status=PaymentStatus.FLAGGED).update(status=PaymentStatus.FAILED)


async def test_activity_log_filters_by_what_it_is_about(admin, auth):
    await auth.register()
    html = await html_of(admin.client, "/admin/activity-logs?subject_type=User")
    assert '<option value="User" selected>' in html and "<code>user.registered</code>" in html
    none = await html_of(admin.client, "/admin/activity-logs?subject_type=Booking")
    assert "No entries match." in none
    part = await html_of(admin.client, "/admin/activity-logs?subject_type=User", headers=HTMX)
    assert part.lstrip().startswith('<div id="activity-list">')


async def test_buses_routes_and_api_keys_are_paged(admin):
    for i in range(22):
        await factories.make_route(code=f"RT{i:03d}")
    first = await html_of(admin.client, "/admin/routes")
    assert first.count("<details><summary>Edit</summary>") == 20
    second = await html_of(admin.client, next_page(first))
    assert second.count("<details><summary>Edit</summary>") == 2 and "RT021" in second
    buses = await html_of(admin.client, "/admin/buses")
    assert "Pages of buses" not in buses  # one page: nothing is cut, nothing said
    keys = await html_of(admin.client, "/admin/api-keys")
    assert "Pages of API keys" not in keys


async def test_the_dashboard_charts_words_are_real_text_with_a_table_of_the_figures(admin):
    html = await html_of(admin.client, "/admin")
    charts = re.findall(r"<svg class=\"chart\".*?</svg>", html, flags=re.S)
    assert charts and all("<text" not in c and 'aria-hidden="true"' in c for c in charts)
    assert "The figures, day by day" in html and html.count('<th scope="row">') >= 30
    assert "Occupancy by route" in html and '<table class="lines occupancy">' in html


async def test_the_activity_log_names_its_subjects_in_words(admin, settings):
    from domain.models import ActivityLog

    now = datetime.now(settings.tz)
    (trip,) = await many_trips(1, now.replace(hour=6, minute=0) + timedelta(days=1))
    await ActivityLog.create(
        action="schedule.created",
        subject_type="Schedule",
        subject_id=str(trip.id),
        data={},
        created_at=now,
    )
    html = await html_of(admin.client, "/admin/activity-logs?subject_type=Schedule")
    about = re.search(r'<td data-label="About">([^<]+)</td>', html).group(1)
    assert about.startswith("Trip Mumbai - Lonavala - Pune, ") and "06:00" in about
    assert f"Schedule {trip.id}" not in html


async def test_back_to_a_pushed_list_address_gets_the_whole_page(admin):
    """htmx pushed /admin/schedules?status=… to the address bar; after Back (cache missed)
    it asks again with HX-History-Restore-Request and must get the whole page."""
    html = await html_of(
        admin.client,
        "/admin/schedules?status=scheduled",
        headers={**HTMX, "HX-History-Restore-Request": "true"},
    )
    assert "<html" in html and 'id="trips-list"' in html
