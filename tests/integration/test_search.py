"""Search over route segments: matching, times at intermediate stops, fares, free seats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain import catalogue, inventory
from domain.catalogue import SearchFilters, SortKey, TimeWindow
from domain.enums import BusKind, SeatStatus
from domain.errors import ValidationFailed
from domain.models import ScheduleSeat
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 05:30 in Mumbai
DAY = date(2026, 12, 2)


def ist(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST)


async def search(origin: str, destination: str, day: date = DAY, **filters):
    query = await catalogue.search_query(origin, destination, day, now=NOW, tz=IST)
    return await catalogue.search_trips(query, SearchFilters(**filters), now=NOW, tz=IST)


async def test_intermediate_pair_finds_the_trip_with_times_at_those_stops():
    trip = await factories.make_trip(ist(6, 0))
    results = await search("Lonavala", "Pune")
    assert [r.schedule_id for r in results] == [trip.id]
    found = results[0]
    assert (found.from_seq, found.to_seq) == (1, 2)
    assert found.departs_at == ist(8, 0)  # 120 minutes after Mumbai
    assert found.arrives_at == ist(9, 30)
    assert found.duration == timedelta(minutes=90)


async def test_whole_route_and_first_leg_match_and_reverse_does_not():
    trip = await factories.make_trip(ist(6, 0))
    assert [r.schedule_id for r in await search("Mumbai", "Pune")] == [trip.id]
    assert [(r.from_seq, r.to_seq) for r in await search("mumbai", " LONAVALA ")] == [(0, 1)]
    assert await search("Pune", "Mumbai") == []
    assert await search("Pune", "Lonavala") == []


async def test_segment_fare_is_the_distance_share_times_seat_factor():
    await factories.make_trip(ist(6, 0), base_fare=Decimal("650"))
    (whole,) = await search("Mumbai", "Pune")
    (leg,) = await search("Lonavala", "Pune")
    assert whole.fare == Decimal("650")  # aisle seats, factor 1
    assert whole.fare_max == Decimal("683")  # window seats, factor 1.05
    assert leg.fare == Decimal("285")  # 650 * 65/148 = 285.47
    assert leg.currency == "INR"


async def test_date_is_the_local_day_of_departure_from_the_searched_stop():
    # Leaves Mumbai 23:00 on the 1st; reaches Lonavala 01:00 on the 2nd (local time).
    trip = await factories.make_trip(ist(23, 0, date(2026, 12, 1)))
    assert [r.schedule_id for r in await search("Mumbai", "Pune", date(2026, 12, 1))] == [trip.id]
    assert await search("Mumbai", "Pune", DAY) == []
    assert [r.schedule_id for r in await search("Lonavala", "Pune", DAY)] == [trip.id]


async def test_departed_and_cancelled_trips_are_not_offered():
    today = date(2026, 12, 1)
    await factories.make_trip(ist(5, 0, today))  # left Mumbai at 05:00, it is 05:30
    later = await factories.make_trip(ist(9, 0, today))
    cancelled = await factories.make_trip(ist(10, 0, today))
    cancelled.status = "cancelled"
    await cancelled.save()
    assert [r.schedule_id for r in await search("Mumbai", "Pune", today)] == [later.id]


async def test_free_seats_count_bookings_live_holds_and_blocks_on_overlapping_stops():
    trip = await factories.make_trip(ist(6, 0), rows=2)  # 8 seats
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user(now=NOW)
    await factories.book(trip, seats[0], 0, 1, user=user, now=NOW)  # Mumbai-Lonavala only
    await factories.book(trip, seats[1], 0, 2, user=user, now=NOW)  # whole trip
    await factories.hold(trip, seats[2], 1, 2, user=user, expires_at=NOW + timedelta(minutes=5))
    await factories.hold(trip, seats[3], 0, 2, user=user, expires_at=NOW)  # expired: free
    await ScheduleSeat.filter(id=seats[4].id).update(is_blocked=True)

    counts = {
        (r.from_seq, r.to_seq): r.seats_free
        for pair in (("Mumbai", "Lonavala"), ("Lonavala", "Pune"), ("Mumbai", "Pune"))
        for r in await search(*pair)
    }
    assert counts == {(0, 1): 8 - 3, (1, 2): 8 - 3, (0, 2): 8 - 4}
    assert (await search("Mumbai", "Pune"))[0].seats_total == 8


async def test_filters_and_sorting():
    ac_seater = await factories.make_trip(ist(7, 0), base_fare=Decimal("650"))
    sleeper = await factories.make_trip(
        ist(22, 0), kind=BusKind.SLEEPER, rows=2, base_fare=Decimal("900")
    )
    non_ac = await factories.make_trip(ist(13, 0), is_ac=False, base_fare=Decimal("450"))

    def ids(results):
        return [r.schedule_id for r in results]

    assert ids(await search("Mumbai", "Pune")) == [ac_seater.id, non_ac.id, sleeper.id]
    assert ids(await search("Mumbai", "Pune", sort=SortKey.FARE)) == [
        non_ac.id,
        ac_seater.id,
        sleeper.id,
    ]
    assert ids(await search("Mumbai", "Pune", sort=SortKey.SEATS))[0] == ac_seater.id
    assert ids(await search("Mumbai", "Pune", ac=frozenset({False}))) == [non_ac.id]
    assert ids(await search("Mumbai", "Pune", ac=frozenset({True}))) == [ac_seater.id, sleeper.id]
    assert ids(await search("Mumbai", "Pune", kinds=frozenset({BusKind.SLEEPER}))) == [sleeper.id]
    assert ids(await search("Mumbai", "Pune", windows=frozenset({TimeWindow.NIGHT}))) == [
        sleeper.id
    ]
    assert ids(
        await search(
            "Mumbai", "Pune", windows=frozenset({TimeWindow.MORNING, TimeWindow.AFTERNOON})
        )
    ) == [ac_seater.id, non_ac.id]


@pytest.mark.parametrize(
    ("origin", "destination", "day", "field"),
    [
        ("Atlantis", "Pune", DAY, "origin_city"),
        ("Mumbai", "", DAY, "destination_city"),
        ("Pune", "pune", DAY, "destination_city"),
        ("Mumbai", "Pune", date(2026, 11, 30), "date"),
        ("Mumbai", "Pune", None, "date"),
    ],
)
async def test_bad_queries_name_the_field(origin, destination, day, field):
    await factories.make_route()
    with pytest.raises(ValidationFailed) as caught:
        await catalogue.search_query(origin, destination, day, now=NOW, tz=IST)
    assert field in caught.value.errors


async def test_city_suggestions_match_prefixes_case_insensitively():
    await factories.make_route()
    assert [c.name for c in await catalogue.suggest_cities("pu")] == ["Pune"]
    assert [c.name for c in await catalogue.suggest_cities("")] == []
    assert {c.name for c in await catalogue.suggest_cities("m")} == {"Mumbai"}


async def test_seat_map_statuses_for_a_viewer_and_segment():
    trip = await factories.make_trip(ist(6, 0), rows=2)
    seats = await factories.schedule_seats(trip)
    me = await factories.make_user(now=NOW)
    other = await factories.make_user(now=NOW)
    await factories.book(trip, seats[0], 0, 1, user=other, now=NOW)
    await factories.hold(trip, seats[1], 0, 2, user=me, expires_at=NOW + timedelta(minutes=1))
    await factories.hold(trip, seats[2], 0, 2, user=other, expires_at=NOW + timedelta(minutes=1))
    await ScheduleSeat.filter(id=seats[3].id).update(is_blocked=True)

    loaded = await inventory.load_trip(trip.id)
    whole = await inventory.seat_map(loaded, inventory.Segment(0, 2), viewer_id=me.id, now=NOW)
    status = {s.number: s.status for d in whole.decks for row in d.rows for s in row if s}
    assert status["1"] is SeatStatus.BOOKED
    assert status["2"] is SeatStatus.MINE
    assert status["3"] is SeatStatus.HELD
    assert status["4"] is SeatStatus.BLOCKED
    assert status["5"] is SeatStatus.AVAILABLE
    # After Lonavala seat 1 is free again; once the holds expire their seats are free too.
    later = NOW + timedelta(minutes=1)
    second_leg = await inventory.seat_map(
        loaded, inventory.Segment(1, 2), viewer_id=me.id, now=later
    )
    status = {s.number: s.status for d in second_leg.decks for row in d.rows for s in row if s}
    assert status["1"] is status["2"] is status["3"] is SeatStatus.AVAILABLE
    assert second_leg.available == 7


async def test_sleeper_map_has_two_decks_with_an_aisle_position():
    trip = await factories.make_trip(ist(22, 0), kind=BusKind.SLEEPER, rows=6)
    loaded = await inventory.load_trip(trip.id)
    seat_map = await inventory.seat_map(loaded, inventory.Segment(0, 2), viewer_id=None, now=NOW)
    assert [d.deck.value for d in seat_map.decks] == ["lower", "upper"]
    assert seat_map.aisle_after == 1
    lower = seat_map.decks[0].rows
    assert [s.number for s in lower[0] if s] == ["L1", "L2", "L3"]
    assert lower[0][0].fare > seat_map.decks[1].rows[0][0].fare  # lower berths cost more


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "field"),
    [(2, 1, "to"), (1, 1, "to"), (3, 2, "from"), (0, 9, "to"), (-1, 2, "from")],
)
async def test_segment_must_be_stops_of_the_route_in_order(raw_from, raw_to, field):
    trip = await inventory.load_trip((await factories.make_trip(ist(6, 0))).id)
    with pytest.raises(ValidationFailed) as caught:
        inventory.check_segment(trip, raw_from, raw_to)
    assert field in caught.value.errors
    assert inventory.check_segment(trip, None, None) == inventory.Segment(0, 2)
    assert inventory.check_segment(trip, 1, None) == inventory.Segment(1, 2)


async def run_search(origin: str, destination: str, day: date, **filters):
    query = await catalogue.search_query(origin, destination, day, now=NOW, tz=IST)
    return await catalogue.search(query, SearchFilters(**filters), now=NOW, tz=IST)


async def test_an_empty_search_says_how_far_ahead_trips_are_sold_and_the_nearest_days():
    route = await factories.make_route()
    for day in (date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 9), date(2026, 12, 16)):
        await factories.make_trip(ist(7, 0, day), route=route)
    await factories.make_trip(ist(22, 0, date(2026, 12, 8)), route=route, kind=BusKind.SLEEPER)
    cancelled = await factories.make_trip(ist(7, 0, date(2026, 12, 20)), route=route)
    cancelled.status = "cancelled"
    await cancelled.save()

    far = await run_search("Mumbai", "Pune", date(2026, 12, 22))
    assert far.trips == [] and far.beyond_sales
    assert far.sold_until == date(2026, 12, 16)  # the cancelled trip on the 20th is not sold
    assert far.nearest_dates == (date(2026, 12, 8), date(2026, 12, 9), date(2026, 12, 16))

    # An intermediate pair, by the day the bus leaves Lonavala (the 22:00 sleeper from
    # Mumbai is there at midnight, on the 9th); ties in distance go to the earlier day.
    gap = await run_search("Lonavala", "Pune", date(2026, 12, 6))
    assert not gap.beyond_sales
    assert gap.nearest_dates == (date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 9))

    # The days offered keep the filters: only the sleeper's day has a night bus.
    night = await run_search(
        "Mumbai", "Pune", date(2026, 12, 3), windows=frozenset({TimeWindow.NIGHT})
    )
    assert night.trips == [] and night.nearest_dates == (date(2026, 12, 8),)
    assert night.sold_until == date(2026, 12, 16)

    found = await run_search("Mumbai", "Pune", date(2026, 12, 3))
    assert len(found.trips) == 1 and found.sold_until is None and found.nearest_dates == ()
    nothing = await run_search("Pune", "Mumbai", date(2026, 12, 3))
    assert nothing.sold_until is None and nothing.nearest_dates == ()
