"""Finding and opening trips: city suggestions, search results, the trip page and seat map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Blueprint, request
from quart.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from domain import catalogue, public_ids, trip_views
from domain.catalogue import SearchFilters, SortKey, TimeWindow
from domain.enums import BusKind
from domain.errors import ValidationFailed
from views import auth, forms
from views.rendering import render
from views.services import services

blueprint = Blueprint("trips", __name__)

WINDOW_LABELS = {
    TimeWindow.EARLY: "Before 6 am",
    TimeWindow.MORNING: "6 am to noon",
    TimeWindow.AFTERNOON: "Noon to 6 pm",
    TimeWindow.NIGHT: "After 6 pm",
}
CITY_MAX = 80  # City.name
SORT_LABELS = {
    SortKey.DEPARTURE: "Departure time",
    SortKey.FARE: "Lowest fare",
    SortKey.SEATS: "Most seats free",
}


def _parse_filters(args: MultiDict[str, str]) -> SearchFilters:
    """Unknown filter values are ignored rather than refused: they only narrow a list."""
    ac = frozenset(v == "ac" for v in args.getlist("ac") if v in {"ac", "non_ac"})
    kinds = frozenset(BusKind(v) for v in args.getlist("kind") if v in set(BusKind))
    windows = frozenset(TimeWindow(v) for v in args.getlist("window") if v in set(TimeWindow))
    sort_raw = args.get("sort", SortKey.DEPARTURE.value)
    sort = SortKey(sort_raw) if sort_raw in set(SortKey) else SortKey.DEPARTURE
    return SearchFilters(ac=ac, kinds=kinds, windows=windows, sort=sort)


def _filter_args(filters: SearchFilters) -> dict[str, list[str]]:
    """The filters as the query string writes them: links to other days keep them."""
    return {
        "ac": sorted("ac" if ac else "non_ac" for ac in filters.ac),
        "kind": sorted(k.value for k in filters.kinds),
        "window": sorted(w.value for w in filters.windows),
        "sort": [] if filters.sort is SortKey.DEPARTURE else [filters.sort.value],
    }


@blueprint.get("/cities")
async def suggest_cities() -> ResponseReturnValue:
    args = request.args
    prefix = args.get("q") or args.get("origin_city") or args.get("destination_city") or ""
    # Suggestions only help typing: a prefix longer than any city name suggests nothing.
    prefix = forms.text_field(prefix, name="q", max_len=200, label="The city")
    cities = await catalogue.suggest_cities(prefix[:CITY_MAX])
    return await render("partials/_city_options.html", cities=cities)


@blueprint.get("/schedules/search")
async def search_schedules() -> ResponseReturnValue:
    args = request.args
    form = {
        "origin_city": args.get("origin_city", ""),
        "destination_city": args.get("destination_city", ""),
        "date": args.get("date", ""),
    }
    parser = forms.Parser(args)
    today = services().today()
    origin = parser.text("origin_city", max_len=CITY_MAX, label="The city you leave from")
    destination = parser.text("destination_city", max_len=CITY_MAX, label="The city you go to")
    day = parser.date(
        "date",
        today=today,
        latest=forms.latest_date(today),
        message="Enter the travel date as YYYY-MM-DD.",
    )
    filters = _parse_filters(args)
    svc = services()
    fmt = svc.formatter
    context: dict[str, Any] = {
        "form": form,
        "filters": filters,
        "window_labels": WINDOW_LABELS,
        "sort_labels": SORT_LABELS,
        "today": fmt.local(svc.now()).date().isoformat(),
        "all_cities": await catalogue.all_cities(),
    }
    errors: dict[str, str] = {}
    try:
        query = await catalogue.search_query(origin, destination, day, now=svc.now(), tz=svc.tz)
    except ValidationFailed as exc:
        errors = exc.errors
    errors |= parser.errors  # the reader's message wins over "not a date" from the domain
    if errors:
        return await render("pages/home.html", status=422, errors=errors, **context)
    found = await catalogue.search(query, filters, now=svc.now(), tz=svc.tz)
    return await render(
        "pages/schedules/search.html",
        "partials/_search_results.html",
        query=query,
        found=found,
        results=found.trips,
        filter_args=_filter_args(filters),
        days_ahead=(found.sold_until - svc.today()).days if found.sold_until else None,
        errors={},
        **context,
    )


@dataclass(frozen=True)
class Selection:
    """What the passenger picked on the trip page, kept across errors and the login detour."""

    seat_ids: frozenset[int] = frozenset()
    boarding_point_id: int | None = None
    dropping_point_id: int | None = None
    # An earlier hold of the customer's (its public id) whose typed passengers the new
    # hold starts from: the way back from an expired or released hold.
    draft_from: str | None = None

    @classmethod
    def parse(cls, values: MultiDict[str, str]) -> Selection:
        """Lenient: a selection only pre-ticks seats, so values that are no seat are
        dropped (the hold itself refuses them)."""
        seat_ids = (
            forms.int_or_none(v, lo=1) for v in values.getlist("seat_ids")[: forms.MAX_LIST]
        )
        return cls(
            seat_ids=frozenset(i for i in seat_ids if i is not None),
            boarding_point_id=forms.int_or_none(values.get("boarding_point_id"), lo=1),
            dropping_point_id=forms.int_or_none(values.get("dropping_point_id"), lo=1),
            draft_from=draft_ref(values.get("draft_from")),
        )


def draft_ref(raw: str | None) -> str | None:
    """A hold's public id as a form or link carries it, or None (it only fills a form)."""
    if raw and public_ids.looks_like(raw, public_ids.RESERVATION):
        return raw
    return None


def segment_stops(
    from_raw: str | None, to_raw: str | None
) -> tuple[int | None, int | None, dict[str, str]]:
    """The stop numbers of `forms.segment_stops`, or None and what was wrong with them: the
    trip page still shows the trip next to those errors."""
    try:
        from_seq, to_seq = forms.segment_stops(from_raw, to_raw)
    except ValidationFailed as exc:
        return None, None, exc.errors
    return from_seq, to_seq, {}


async def render_trip(
    schedule_id: int,
    from_raw: str | None,
    to_raw: str | None,
    *,
    selection: Selection = Selection(),
    error: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The trip page, optionally with the passenger's selection and a message. The user is
    still loading when the domain reads the trip and its seats (`trip_view` waits for it
    alongside them): the page answers a hold refused with 409, where every millisecond is
    someone waiting."""
    svc = services()
    from_seq, to_seq, problems = segment_stops(from_raw, to_raw)
    view = await trip_views.trip_view(
        schedule_id,
        from_seq,
        to_seq,
        viewer=auth.current_viewer(),
        now=svc.now(),
        problems=problems,
    )
    if view.segment is None:
        return await render(
            "pages/schedules/detail.html",
            status=ValidationFailed.status,
            trip=view.trip,
            segment=None,
            seat_map=None,
            errors=view.errors,
            selection=selection,
        )
    return await render(
        "pages/schedules/detail.html",
        status=status,
        view=view,
        trip=view.trip,
        segment=view.segment,
        seat_map=view.seat_map,
        errors=errors or {},
        error=error,
        selection=selection,
        rendered_at=int(view.now.timestamp() * 1000),
        max_seats=svc.hold_policy.max_seats,
    )


@blueprint.get("/schedules/<int:schedule_id>")
async def show_schedule(schedule_id: int) -> ResponseReturnValue:
    return await render_trip(
        schedule_id,
        request.args.get("from"),
        request.args.get("to"),
        selection=Selection.parse(request.args),
    )


@blueprint.get("/schedules/<int:schedule_id>/seats")
async def show_seat_map(schedule_id: int) -> ResponseReturnValue:
    from_seq, to_seq, problems = segment_stops(request.args.get("from"), request.args.get("to"))
    view = await trip_views.trip_view(
        schedule_id,
        from_seq,
        to_seq,
        viewer=auth.viewer(),
        now=services().now(),
        problems=problems,
    )
    if view.segment is None:
        raise ValidationFailed(dict(view.errors))
    return await render(
        "partials/_seat_map.html", trip=view.trip, segment=view.segment, seat_map=view.seat_map
    )
