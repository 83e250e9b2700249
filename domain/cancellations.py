"""Cancelling bookings for a refund computed from a policy.

The quote a passenger sees and the figure that is refunded come from the same function of
(booking, seats, now). Seats are released at once (live on every seat map), the ticket is
re-issued for the remaining passengers or cancelled, and the refund (a `Refund` row made in
the same transaction, domain/refunds.py) goes back through the original gateway: sent at
once, and retried until the gateway agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from domain import audit, events, locking, notifications, public_ids, refunds
from domain.bookings import get_booking
from domain.checkout import CheckoutConfig
from domain.enums import (
    BookingStatus,
    PassengerStatus,
    PaymentStatus,
    RefundStatus,
    ScheduleStatus,
    TicketStatus,
)
from domain.errors import BookingDeparted, Conflict, NotFound, SeatsBoarded, ValidationFailed
from domain.inventory import StopView, Trip, load_trip
from domain.models import (
    Booking,
    Cancellation,
    Passenger,
    Payment,
    Refund,
    ScheduleSeat,
    Seat,
    SeatAllocation,
    Ticket,
    User,
)
from domain.payments.registry import Gateways
from domain.tickets import issue_ticket

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Tier:
    min_hours: float  # applies when at least this many hours remain before departure
    refund_percent: int

    @property
    def label(self) -> str:
        return f"{self.refund_percent}% refund ({self.min_hours:g} h or more before departure)"


DEFAULT_TIERS = (Tier(48, 90), Tier(24, 75), Tier(12, 50), Tier(4, 25), Tier(0, 0))


def _hours(hours: float) -> str:
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def _share(percent: int) -> str:
    return {0: "no refund", 100: "full refund"}.get(percent, f"{percent}% refund")


def tier_phrase(tier: Tier, tiers: Sequence[Tier]) -> str:
    """A tier as people read a policy: "24 to 48 hours before departure: 75% refund",
    "Less than 4 hours before departure: no refund" (at most 64 characters, the column)."""
    ordered = sorted(tiers, key=lambda t: -t.min_hours)
    if tier not in ordered:
        return _share(tier.refund_percent).capitalize()
    index = ordered.index(tier)
    upper = ordered[index - 1].min_hours if index else None
    if upper is None:
        when = (
            f"{_hours(tier.min_hours)} or more before departure"
            if tier.min_hours
            else "Any time before departure"
        )
    elif not tier.min_hours:
        when = f"Less than {_hours(upper)} before departure"
    else:
        when = f"{tier.min_hours:g} to {_hours(upper)} before departure"
    return f"{when}: {_share(tier.refund_percent)}"


def policy_lines(tiers: Sequence[Tier]) -> list[str]:
    """The whole policy, most generous first, one sentence per tier."""
    return [tier_phrase(t, tiers) for t in sorted(tiers, key=lambda t: -t.min_hours)]


def parse_tiers(raw: str) -> tuple[Tier, ...]:
    """ "48:90,24:75,12:50,4:25,0:0" -> tiers, highest first (CANCELLATION_TIERS)."""
    tiers = []
    for part in raw.split(","):
        hours, _, percent = part.strip().partition(":")
        tier = Tier(float(hours), int(percent))
        if not 0 <= tier.refund_percent <= 100 or tier.min_hours < 0:
            raise ValueError(f"bad cancellation tier {part!r}")
        tiers.append(tier)
    ordered = tuple(sorted(tiers, key=lambda t: -t.min_hours))
    if not ordered or ordered[-1].min_hours != 0:
        raise ValueError("cancellation tiers must include one starting at 0 hours")
    return ordered


@dataclass(frozen=True)
class QuoteLine:
    passenger: Passenger
    fare: Decimal
    fee: Decimal
    refund: Decimal


@dataclass(frozen=True)
class RefundQuote:
    tier: Tier
    hours_before: float
    lines: list[QuoteLine]
    operator_cancelled: bool = False  # the operator cancelled the trip: everything back
    policy: str = ""  # the tier in words (tier_phrase), what the cancellation records

    @property
    def fee(self) -> Decimal:
        return sum((line.fee for line in self.lines), Decimal(0))

    @property
    def refund(self) -> Decimal:
        return sum((line.refund for line in self.lines), Decimal(0))


def tier_for(hours_before: float, tiers: Sequence[Tier]) -> Tier:
    for tier in tiers:
        if hours_before >= tier.min_hours:
            return tier
    return tiers[-1]


async def quote_refund(
    booking: Booking,
    passenger_ids: Sequence[int] | None,
    *,
    now: datetime,
    tiers: Sequence[Tier] = DEFAULT_TIERS,
) -> RefundQuote:
    """What cancelling these passengers' seats now gives back. The confirmed cancellation
    uses exactly this function, so the quote is the figure. `None` quotes every seat still
    booked (what `cancel_booking` with None cancels)."""
    passengers = {p.id: p for p in await Passenger.filter(booking_id=booking.id)}
    if passenger_ids is None:
        passenger_ids = [p.id for p in passengers.values() if p.status == PassengerStatus.ACTIVE]
        if not passenger_ids:
            raise NothingToCancel()
    if not passenger_ids:
        raise ValidationFailed({"passenger_ids": "Choose at least one passenger to cancel."})
    chosen = []
    for pid in passenger_ids:
        passenger = passengers.get(pid)
        if passenger is None:
            raise ValidationFailed({"passenger_ids": "Those passengers are not on this booking."})
        if passenger.status != PassengerStatus.ACTIVE:
            raise Conflict(f"{passenger.name}'s seat is already cancelled.")
        chosen.append(passenger)
    trip = await load_trip(booking.schedule_id)
    departs = trip.stop(booking.from_seq).arrives_at
    # A seat on a trip the operator cancelled is refunded in full, whoever cancels it and
    # whenever: the customer never chose to give it up.
    operator_cancelled = trip.schedule.status == ScheduleStatus.CANCELLED
    if not operator_cancelled:
        tickets = await Ticket.filter(booking_id=booking.id)
        rule = cancel_rule(booking, list(passengers.values()), trip, tickets, now=now)
        if rule.departed:
            raise BookingDeparted()
        boarded = [p for p in chosen if p.id in rule.boarded]
        if boarded:
            seats = await Seat.filter(id__in=[p.seat_id for p in boarded]).order_by("id")
            raise SeatsBoarded([s.number for s in seats])
    hours = max((departs - now).total_seconds() / 3600, 0)
    tier = FULL_REFUND if operator_cancelled else tier_for(hours, tiers)
    lines = []
    for passenger in sorted(chosen, key=lambda p: p.id):
        refund = (passenger.fare * tier.refund_percent / 100).quantize(CENT, ROUND_HALF_UP)
        lines.append(QuoteLine(passenger, passenger.fare, passenger.fare - refund, refund))
    policy = OPERATOR_CANCELLED_POLICY if operator_cancelled else tier_phrase(tier, tiers)
    return RefundQuote(tier, hours, lines, operator_cancelled, policy)


FULL_REFUND = Tier(0, 100)
OPERATOR_CANCELLED_POLICY = "Cancelled by the operator: full refund"


@dataclass(frozen=True)
class CancelRule:
    """Whether the customer may cancel seats of a booking now and, if not, why: the words
    the booking page shows (the same rule refuses the cancellation itself)."""

    allowed: bool  # some seat may be cancelled now
    why_not: str  # for people, "" when allowed
    departed: bool  # the bus has left the booking's boarding stop
    boarded: frozenset[int]  # passengers (ids) whose ticket was checked at the door


def cancel_rule(
    booking: Booking,
    passengers: Sequence[Passenger],
    trip: Trip,
    tickets: Sequence[Ticket],
    *,
    now: datetime,
) -> CancelRule:
    """The customer's cancellation rule. A ticket covers every seat still booked, so once
    it is boarded they all are; the bus has left once it left the booking's stop. A trip
    the operator cancelled is refunded in full by the operator (nothing is refused)."""
    active = [p for p in passengers if p.status == PassengerStatus.ACTIVE]
    if trip.schedule.status == ScheduleStatus.CANCELLED:
        return CancelRule(False, "The operator cancelled this trip.", False, frozenset())
    if booking.status not in (BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED):
        return CancelRule(
            False, "Every seat of this booking is already cancelled.", False, frozenset()
        )
    boarded = (
        frozenset(p.id for p in active)
        if any(t.status == TicketStatus.BOARDED for t in tickets)
        else frozenset()
    )
    if trip.stop(booking.from_seq).arrives_at <= now:
        return CancelRule(
            False,
            "The bus has already left, so this booking can no longer be cancelled. If "
            "something went wrong on the trip, ask the operator for a refund.",
            True,
            boarded,
        )
    if boarded:
        return CancelRule(
            False,
            "Your ticket was checked at the bus door, so the boarded seats can't be "
            "cancelled. If something went wrong on the trip, ask the operator for a refund.",
            False,
            boarded,
        )
    return CancelRule(True, "", False, boarded)


class NothingToCancel(Conflict):
    code = "nothing_to_cancel"
    message = "Every seat of this booking is already cancelled."


async def cancel_booking(
    actor: User | None,
    booking: Booking,
    passenger_ids: Sequence[int] | None,
    *,
    now: datetime,
    gateways: Gateways,
    config: CheckoutConfig,
    tiers: Sequence[Tier] = DEFAULT_TIERS,
    reason: str = "",
    full_refund: bool = False,
) -> Cancellation:
    """Cancel some or all passengers of a booking and refund per policy (in full when the
    operator cancels the trip: `full_refund`, or when the trip is cancelled already).
    `passenger_ids=None` cancels every seat still active, read under the booking's lock."""
    async with locking.transaction() as conn:
        locked = await Booking.filter(id=booking.id).select_for_update().using_db(conn).first()
        if locked is None:
            raise NotFound("We could not find that booking.")
        # A conductor boarding the ticket meanwhile waits for this (or this for them), so
        # a seat is never cancelled as it boards.
        await Ticket.filter(booking_id=locked.id).select_for_update().using_db(conn)
        if passenger_ids is None:
            passenger_ids = [
                p.id
                for p in await Passenger.filter(
                    booking_id=locked.id, status=PassengerStatus.ACTIVE
                ).using_db(conn)
            ]
            if not passenger_ids:
                raise NothingToCancel()
        quote = await quote_refund(locked, passenger_ids, now=now, tiers=tiers)
        full_refund = full_refund or quote.operator_cancelled
        lines = (
            [QuoteLine(line.passenger, line.fare, Decimal(0), line.fare) for line in quote.lines]
            if full_refund
            else quote.lines
        )
        refund = sum((line.refund for line in lines), Decimal(0))
        fee = sum((line.fee for line in lines), Decimal(0))
        payment = (
            await Payment.filter(booking_id=locked.id, status=PaymentStatus.SUCCEEDED)
            .using_db(conn)
            .first()
        )
        cancelled_ids = [line.passenger.id for line in lines]
        # A passenger names the bus seat (its number on the ticket), an allocation the
        # trip's inventory row of it.
        bus_seat_ids = [line.passenger.seat_id for line in lines]
        inventory_ids = [
            s.id
            for s in await ScheduleSeat.filter(
                schedule_id=locked.schedule_id, seat_id__in=bus_seat_ids
            ).using_db(conn)
        ]
        await (
            Passenger.filter(id__in=cancelled_ids)
            .using_db(conn)
            .update(status=PassengerStatus.CANCELLED)
        )
        await (
            SeatAllocation.filter(
                booking_id=locked.id, schedule_seat_id__in=inventory_ids, active=True
            )
            .using_db(conn)
            .update(active=False, released_at=now)
        )
        remaining = (
            await Passenger.filter(booking_id=locked.id, status=PassengerStatus.ACTIVE)
            .using_db(conn)
            .count()
        )
        locked.status = BookingStatus.PARTIALLY_CANCELLED if remaining else BookingStatus.CANCELLED
        await locked.save(update_fields=["status"], using_db=conn)
        cancellation = await Cancellation.create(
            booking=locked,
            actor=actor,
            payment=payment,
            passenger_ids=cancelled_ids,
            policy_tier=OPERATOR_CANCELLED_POLICY if full_refund else quote.policy,
            fee=fee,
            refund_amount=refund,
            refund_status=RefundStatus.PENDING if refund > 0 and payment else RefundStatus.NONE,
            reason=reason[:255],
            created_at=now,
            using_db=conn,
        )
        refund_row = None
        if cancellation.refund_status == RefundStatus.PENDING:
            assert payment is not None
            refund_row = await refunds.request_refund(
                conn,
                payment,
                amount=refund,
                currency=payment.currency,
                code=refunds.TRIP_CANCELLED if full_refund else refunds.CANCELLATION,
                reason=reason or cancellation.policy_tier,
                now=now,
                cancellation=cancellation,
                actor=actor,
            )
        # The old ticket stops being valid; remaining passengers get a fresh one.
        old = await Ticket.filter(booking_id=locked.id, status=TicketStatus.VALID).using_db(conn)
        await (
            Ticket.filter(id__in=[t.id for t in old])
            .using_db(conn)
            .update(status=TicketStatus.CANCELLED)
        )
        new_ticket = None
        if remaining:
            new_ticket = await issue_ticket(conn, locked, config=config, now=now)
        await audit.record(
            "booking.cancelled" if not remaining else "booking.partially_cancelled",
            now=now,
            actor=actor,
            subject=locked,
            using_db=conn,
            data={
                "cancellation_id": cancellation.id,
                "passengers": cancelled_ids,
                "tier": cancellation.policy_tier,
                "fee": str(fee),
                "refund": str(refund),
                "reason": reason,
                "new_ticket": new_ticket.number if new_ticket else None,
            },
        )
        await events.announce(conn, locked.schedule_id, inventory_ids, "cancelled")
        await notifications.queue_cancellation_confirmation(
            conn,
            locked,
            cancellation,
            seats=len(cancelled_ids),
            fee=fee,
            refund=refund,
            new_ticket=new_ticket,
            config=config,
            now=now,
        )
    if refund_row is not None:
        await refunds.send_refund(refund_row.id, gateways=gateways, now=now)
        await cancellation.refresh_from_db()
    return cancellation


async def get_cancellation(viewer: User, public_id: str) -> Cancellation:
    """The viewer's own cancellation (admins see any), by its public id."""
    if not public_ids.looks_like(public_id, public_ids.CANCELLATION):
        raise NotFound("We could not find that cancellation.")
    cancellation = await Cancellation.get_or_none(public_id=public_id).prefetch_related("booking")
    if cancellation is None or (cancellation.booking.user_id != viewer.id and not viewer.is_admin):
        raise NotFound("We could not find that cancellation.")
    return cancellation


@dataclass(frozen=True)
class CancellationView:
    """A cancellation's page: the seats it gave up and where its refund is."""

    cancellation: Cancellation
    booking: Booking  # with its passengers and their seats
    passengers: list[Passenger]  # the cancelled ones, in seat order of the booking
    refund: Refund | None  # None when nothing was refundable


async def cancellation_view(viewer: User, public_id: str) -> CancellationView:
    """The viewer's own cancellation (admins see any), with its seats and refund."""
    cancellation = await get_cancellation(viewer, public_id)
    booking = await get_booking(viewer, cancellation.booking.reference)
    chosen = set(cancellation.passenger_ids)
    return CancellationView(
        cancellation=cancellation,
        booking=booking,
        passengers=[p for p in booking.passengers if p.id in chosen],
        refund=await Refund.get_or_none(cancellation_id=cancellation.id),
    )


@dataclass(frozen=True)
class CancelPage:
    """The customer's cancel page: the booking, the rule (why not), the quote of the seats
    chosen (or why it was refused) and the policy in words."""

    booking: Booking  # with its passengers and their seats
    trip: Trip
    rule: CancelRule
    quote: RefundQuote | None
    error: str  # why the quote was refused, "" when it was not
    status: int  # the HTTP status the refusal maps to (200 without one)
    policy: list[str]
    seats: dict[int, str]  # passenger id -> seat number

    @property
    def origin(self) -> StopView:
        return self.trip.stop(self.booking.from_seq)


async def cancel_page(
    viewer: User | None,
    reference: str,
    chosen: Sequence[int],
    *,
    now: datetime,
    tiers: Sequence[Tier] = DEFAULT_TIERS,
) -> CancelPage:
    booking = await get_booking(viewer, reference)
    trip = await load_trip(booking.schedule_id)
    rule = cancel_rule(booking, list(booking.passengers), trip, list(booking.tickets), now=now)
    quote, error, status = None, "", 200
    if chosen:
        try:
            quote = await quote_refund(booking, chosen, now=now, tiers=tiers)
        except (ValidationFailed, Conflict) as exc:
            error, status = exc.message, exc.status
    return CancelPage(
        booking=booking,
        trip=trip,
        rule=rule,
        quote=quote,
        error=error,
        status=status,
        policy=policy_lines(tiers),
        seats={p.id: p.seat.number for p in booking.passengers},
    )
