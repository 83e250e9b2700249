"""Seat holds: hold seats on a trip, read one, list the active ones, give one back.

The same domain calls as the HTML hold pages (views/holds.py, views/checkout.py):
`holds.hold_seats` (with the hold limits per account and per address), `checkout.hold_view`,
`holds.active_holds` and `holds.cancel_hold`. Someone else's hold is a 404, like one that
does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field
from quart import Response

from domain import checkout, holds
from domain.checkout import Quote
from domain.errors import InvalidToken, SignedOut, ValidationFailed
from domain.holds import HoldRequest
from domain.models import Reservation
from views.api.auth import (
    REVOKED,
    api_session_claim,
    checks_session_itself,
    needs,
    require_api_user,
)
from views.api.blueprints import PREFIX, api_blueprint
from views.api.idempotency import idempotent
from views.api.io import json_body, query, reply, responds, tags
from views.api.pagination import PageQuery, decode_cursor, encode_cursor, next_link, split_page
from views.api.problems import ApiProblem
from views.api.schedules import STOP_MAX, PointOut, api_fields
from views.api.schemas import Money, Out, Strict, example
from views.auth import client_ip
from views.services import services

blueprint = api_blueprint("reservations", __name__)
ID_MAX = 2**31 - 1  # the id columns are PostgreSQL integers
SEAT_IDS_MAX = 100  # a request bound; the hold limit itself (HOLD_MAX_SEATS) is the domain's

Id = Annotated[int, Field(ge=1, le=ID_MAX)]


class CreateReservation(Strict):
    model_config = Strict.model_config | example(
        schedule_id=12, seat_ids=[481, 482], from_stop=0, to_stop=2
    )

    schedule_id: Id
    seat_ids: list[Id] = Field(
        max_length=SEAT_IDS_MAX,
        description="Seats of this trip (the `id`s of schedules/{id}/seats), each once.",
    )
    from_stop: int | None = Field(
        None, ge=0, le=STOP_MAX, description="Stop number to get on; default the first stop."
    )
    to_stop: int | None = Field(
        None, ge=0, le=STOP_MAX, description="Stop number to get off; default the last stop."
    )
    boarding_point_id: Id | None = Field(None, description="A boarding point at from_stop.")
    dropping_point_id: Id | None = Field(None, description="A dropping point at to_stop.")


class ReservedSeat(Out):
    seat_id: int = Field(description="The seat on this trip (schedules/{id}/seats `id`).")
    seat_number: str = Field(examples=["L3"])
    seat_type: str = Field(description="seater or sleeper.")
    deck: str
    price: Money = Field(description="This seat's share of total_amount.")


class ReservationOut(Out):
    model_config = example(
        id="rsv_5mJ0kq3Xb2fVtN8c",
        schedule_id=12,
        status="active",
        reservation_datetime="2026-12-02T10:00:00+05:30",
        expiry_datetime="2026-12-02T10:15:00+05:30",
        total_amount="1300.00",
        currency="INR",
        from_stop=0,
        to_stop=2,
        boarding_point_id=7,
        dropping_point_id=9,
        boarding_point={
            "id": 7,
            "name": "Dadar TT Circle",
            "landmark": "Near the flyover",
            "time": "2026-12-02T23:10:00+05:30",
        },
        dropping_point={
            "id": 9,
            "name": "Swargate",
            "landmark": "",
            "time": "2026-12-03T03:25:00+05:30",
        },
        seats=[
            {
                "seat_id": 481,
                "seat_number": "1",
                "seat_type": "seater",
                "deck": "lower",
                "price": "650.00",
            }
        ],
    )

    id: str = Field(description="The hold's public id (payments/initiate `reservation_id`).")
    schedule_id: int
    status: str = Field(
        description="active until expiry_datetime; then expired (also before the sweeper "
        "has run), or cancelled, released (by the operator), converted (booked)."
    )
    reservation_datetime: datetime
    expiry_datetime: datetime = Field(description="The seats are free for others from then.")
    total_amount: Money
    currency: str
    from_stop: int
    to_stop: int
    boarding_point_id: int | None
    dropping_point_id: int | None
    boarding_point: PointOut | None = Field(
        description="The boarding point chosen at from_stop, with its own time; null if none."
    )
    dropping_point: PointOut | None = Field(
        description="The dropping point chosen at to_stop, with its own time; null if none."
    )
    seats: list[ReservedSeat]

    @classmethod
    def of(cls, reservation: Reservation, quote: Quote, now: datetime) -> ReservationOut:
        tz = services().tz
        return cls(
            id=reservation.public_id,
            schedule_id=reservation.schedule_id,
            status=holds.current_status(reservation, now).value,
            reservation_datetime=reservation.created_at.astimezone(tz),
            expiry_datetime=reservation.expires_at.astimezone(tz),
            total_amount=quote.total,
            currency=quote.currency,
            from_stop=reservation.from_seq,
            to_stop=reservation.to_seq,
            boarding_point_id=reservation.boarding_point_id,
            dropping_point_id=reservation.dropping_point_id,
            boarding_point=PointOut.of(quote.boarding) if quote.boarding else None,
            dropping_point=PointOut.of(quote.dropping) if quote.dropping else None,
            seats=[
                ReservedSeat(
                    seat_id=held.schedule_seat.id,
                    seat_number=held.number,
                    seat_type=held.schedule_seat.seat.seat_type.value,
                    deck=held.schedule_seat.seat.deck.value,
                    price=held.fare,
                )
                for held in quote.seats
            ],
        )


def _location(reservation: Reservation) -> str:
    return f"{PREFIX}/reservations/{reservation.public_id}/details"


@blueprint.post("/reservations/create")
@needs("user")
@checks_session_itself
@idempotent
@tags("reservations")
@responds(ReservationOut, 201)
@json_body(CreateReservation)
async def create_reservation(data: CreateReservation) -> Response:
    """Hold seats on a trip

    Holds `seat_ids` for the segment `from_stop` to `to_stop` (default the whole route) for
    HOLD_MINUTES; pay for it with payments/initiate before `expiry_datetime`. Seats somebody
    else holds or booked on any part of the segment are a 409 `seats_unavailable` naming
    them in `seats`; too many holds (per account or per network) a 409 `hold_limit_reached`;
    too many made within the hour a 429 `too_many_attempts` with `Retry-After`.
    Sending the same hold again while it is active answers that hold, not a second one.
    """
    claim = await api_session_claim()  # the hold's first statement checks it
    svc = services()
    now = svc.now()
    try:
        hold = await holds.take_hold(
            claim,
            HoldRequest(
                schedule_id=data.schedule_id,
                from_seq=data.from_stop,
                to_seq=data.to_stop,
                schedule_seat_ids=tuple(data.seat_ids),
                boarding_point_id=data.boarding_point_id,
                dropping_point_id=data.dropping_point_id,
            ),
            now=now,
            policy=svc.hold_policy,
            ip=client_ip(),
        )
    except ValidationFailed as exc:
        raise api_fields(exc) from exc
    except SignedOut as exc:
        raise InvalidToken(REVOKED) from exc
    # The seats and fares come with the hold (from the rows it locked): no second read.
    reservation = hold.reservation
    return reply(
        ReservationOut.of(reservation, checkout.hold_quote(hold), now),
        201,
        {"Location": _location(reservation)},
    )


@blueprint.get("/reservations/<public_id:reservation_id>/details")
@needs("user")
@tags("reservations")
@responds(ReservationOut)
async def reservation_details(reservation_id: str) -> Response:
    """One of your holds

    Its seats, total and expiry. Someone else's hold is a 404 `reservation_not_found`, as is
    one that does not exist.
    """
    user = await require_api_user()
    svc = services()
    now = svc.now()
    view = await checkout.hold_view(user, reservation_id, gateways=svc.gateways, now=now)
    quote = Quote(view.seats, view.total, view.currency, view.boarding, view.dropping)
    return reply(ReservationOut.of(view.reservation, quote, now))


class ActiveReservations(Out):
    reservations: list[ReservationOut]
    next_cursor: str | None = Field(description="Send as `cursor` for the next page.")
    next: str | None = Field(description="The next page's URL; null on the last page.")


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    position = decode_cursor(cursor)
    if position is None:
        return None
    try:
        return datetime.fromisoformat(position["expires_at"]), str(position["id"])
    except (KeyError, TypeError, ValueError) as exc:  # signed by us, but for another list
        raise ApiProblem(
            422,
            "invalid_cursor",
            "This cursor belongs to another list. Use the `next_cursor` of this list's "
            "previous page, or leave it out to start from the first page.",
            errors=[{"field": "cursor", "message": "Not a cursor of this list."}],
        ) from exc


@blueprint.get("/reservations/active")
@needs("user")
@tags("reservations")
@responds(ActiveReservations)
@query(PageQuery)
async def active_reservations(query: PageQuery) -> Response:
    """Your active holds

    Those not yet paid, cancelled or run out, the soonest to expire first; `limit` per page
    and `next` for the page after.
    """
    user = await require_api_user()
    now = services().now()
    rows = await holds.active_holds(user, now, after=_after(query.cursor), limit=query.limit + 1)
    page, more = split_page(rows, query.limit)
    quotes = await checkout.quotes(page)
    cursor = (
        encode_cursor({"expires_at": page[-1].expires_at.isoformat(), "id": page[-1].public_id})
        if more
        else None
    )
    return reply(
        ActiveReservations(
            reservations=[ReservationOut.of(r, quotes[r.id], now) for r in page],
            next_cursor=cursor,
            next=next_link(cursor),
        )
    )


@blueprint.delete("/reservations/<public_id:reservation_id>")
@needs("user")
@tags("reservations")
@responds(ReservationOut)
async def cancel_reservation(reservation_id: str) -> Response:
    """Give a hold's seats back

    The seats are free for others at once. Answers the hold (`status` cancelled). A hold that
    has already ended (expired, cancelled, paid) is answered as it is, unchanged, so a
    repeated DELETE is harmless.
    """
    user = await require_api_user()
    now = services().now()
    reservation = await holds.cancel_hold(user, reservation_id, now=now, ip=client_ip())
    quote = await checkout.quote(reservation)
    return reply(ReservationOut.of(reservation, quote, now))
