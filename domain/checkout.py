"""Checkout: from a hold to a payment at the gateway, never charging a price nobody saw.

One price: a hold's price is the total stored when its seats were held
(`Reservation.total_amount`); the hold page shows it, and checkout charges exactly it, even
when the operator changes the route or its fares in between. A hold is never re-quoted: a
new price only comes with a new hold, whose page shows it before anyone pays.

`start_checkout` checks the form's quoted total against the hold's, records a pending
Payment under the form's idempotency key (a double click starts one payment), extends the
hold once by a grace period and asks the gateway for its checkout page. A start
interrupted before the gateway's answer was stored is finished by the same form sent
again. What the gateway then reports is applied by `domain.payment_outcomes`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain import attempts, audit, holds, locking
from domain.accounts import EMAIL_RE, PHONE_RE, normalise_email, normalise_phone
from domain.enums import (
    Gender,
    PaymentMethod,
    PaymentStatus,
    ReservationStatus,
    ScheduleStatus,
    SeatStatus,
)
from domain.errors import (
    HoldExpired,
    PriceChanged,
    RecordBusy,
    ReservationNotFound,
    TripDeparted,
    ValidationFailed,
)
from domain.formatting import Formatter
from domain.inventory import Segment, StopView, Trip, load_trip, seat_states
from domain.models import ActivityLog, Payment, Reservation, User
from domain.payments.base import Gateway, GatewayError, PaymentInfo
from domain.payments.registry import Gateways
from domain.pricing import seat_fare
from domain.trip_views import PointChoice, chosen_point


@dataclass(frozen=True)
class CheckoutConfig:
    secret: str
    public_base_url: str
    grace: timedelta = timedelta(minutes=10)
    link_valid_after_arrival: timedelta = timedelta(days=30)
    # How the customer's mails write times and money: as the pages do (TIMEZONE, CURRENCY).
    formatter: Formatter = field(default_factory=Formatter.default)
    # Payments one account and one address may start an hour (PAYMENTS_PER_ACCOUNT_PER_HOUR,
    # PAYMENTS_PER_IP_PER_HOUR): each opens a checkout at the gateway.
    payment_limits: attempts.RateLimits = field(
        default_factory=lambda: attempts.RateLimits(per_account=20, per_ip=60)
    )


@dataclass(frozen=True)
class PassengerInput:
    """One passenger of a held seat. `age` and `gender` are None when not given (the domain
    refuses that with its own message, so a form can show every field's problem at once)."""

    schedule_seat_id: int
    name: str
    age: int | None
    gender: Gender | None


@dataclass(frozen=True)
class CheckoutInput:
    """The checkout of a hold. Errors name these fields: `passengers[<index>].name|age|
    gender` (the index in `passengers`), `contact_email`, `contact_phone`, `method`, and ""
    for the form as a whole (the quoted total, the idempotency key, seats not in the hold)."""

    passengers: list[PassengerInput]
    contact_email: str
    contact_phone: str
    method: PaymentMethod | None
    quoted_total: Decimal  # the total the hold page showed
    idempotency_key: str
    # No passengers given (the API's `passengers` left out): the account holder travels on
    # every seat, under their name, age and gender not stated (HOLDER_AGE, Gender.OTHER).
    holder_travels: bool = False


HOLDER_AGE = 0  # "not stated": the forms ask 1-120, so 0 is never a typed age; pages show a dash

DRAFT_TEXT_MAX = 200  # a draft keeps what was typed, however wrong, but not without bound


def _draft_text(value: object) -> str:
    """Kept as typed, within bounds; NUL is dropped (PostgreSQL's jsonb cannot hold it)."""
    if not isinstance(value, str | int):
        return ""
    return str(value).replace("\x00", "")[:DRAFT_TEXT_MAX]


@dataclass(frozen=True)
class PassengerDraft:
    """One passenger as typed (text, unchecked: an age of "abc" comes back as "abc")."""

    schedule_seat_id: int
    name: str = ""
    age: str = ""
    gender: str = ""

    @property
    def empty(self) -> bool:
        return not (self.name.strip() or self.age.strip() or self.gender.strip())


@dataclass(frozen=True)
class CheckoutDraft:
    """What the customer typed on a hold's checkout form, kept on the hold
    (`Reservation.checkout_draft`) so that the form comes back filled in after a declined
    payment, any refused checkout, and on a new hold of the same seats after this one
    expired or was released. It is the customer's typing, not a business state: saving it
    writes no audit row, and it never decides anything (checkout checks what is sent)."""

    passengers: tuple[PassengerDraft, ...] = ()
    contact_email: str = ""
    contact_phone: str = ""
    method: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "passengers": [
                {"seat": p.schedule_seat_id, "name": p.name, "age": p.age, "gender": p.gender}
                for p in self.passengers
                if not p.empty
            ],
            "contact_email": self.contact_email,
            "contact_phone": self.contact_phone,
            "method": self.method,
        }

    @classmethod
    def from_json(cls, data: object) -> CheckoutDraft | None:
        """A stored draft (lenient: a value of the wrong shape reads as not typed)."""
        if not isinstance(data, dict):
            return None
        passengers = []
        for p in data.get("passengers") or ():
            if isinstance(p, dict) and isinstance(p.get("seat"), int):
                passengers.append(
                    PassengerDraft(
                        p["seat"],
                        _draft_text(p.get("name", "")),
                        _draft_text(p.get("age", "")),
                        _draft_text(p.get("gender", "")),
                    )
                )
        return cls(
            passengers=tuple(passengers),
            contact_email=_draft_text(data.get("contact_email", "")),
            contact_phone=_draft_text(data.get("contact_phone", "")),
            method=_draft_text(data.get("method", "")),
        )

    def clipped(self) -> CheckoutDraft:
        """Each value within DRAFT_TEXT_MAX, blank passengers left out."""
        return CheckoutDraft.from_json(self.to_json()) or CheckoutDraft()

    def for_seats(self, schedule_seat_ids: Sequence[int]) -> dict[int, PassengerDraft]:
        """The typed passengers on these seats: each on the seat it was typed for while that
        seat is among them, the others in the order typed on the seats left over (a new
        hold with one seat swapped keeps both passengers)."""
        wanted = list(schedule_seat_ids)
        placed = {p.schedule_seat_id: p for p in self.passengers if p.schedule_seat_id in wanted}
        leftover = [p for p in self.passengers if p.schedule_seat_id not in placed]
        for seat_id in wanted:
            if seat_id not in placed and leftover:
                placed[seat_id] = replace(leftover.pop(0), schedule_seat_id=seat_id)
        return placed


async def save_draft(user: User, reservation_ref: str, draft: CheckoutDraft) -> None:
    """Keep what the holder typed on the hold (any status but booked: an expired hold's
    draft is what a new hold of its seats starts from). Someone else's hold: not found."""
    reservation = await holds.get_reservation(user, reservation_ref)
    if reservation.user_id != user.id:
        raise ReservationNotFound()
    await _keep_draft(reservation, draft)


async def _keep_draft(reservation: Reservation, draft: CheckoutDraft) -> None:
    """Write the draft, waiting briefly for the hold's row (a payment being applied may
    hold it): a draft only helps, so a busy row skips it rather than fail the request."""
    try:
        async with locking.transaction(wait=timedelta(milliseconds=500)) as conn:
            await (
                Reservation.filter(id=reservation.id)
                .exclude(status=ReservationStatus.CONVERTED)
                .using_db(conn)
                .update(checkout_draft=draft.clipped().to_json())
            )
    except RecordBusy:
        pass


@dataclass(frozen=True)
class Quote:
    seats: list[holds.HeldSeat]
    total: Decimal
    currency: str
    boarding: PointChoice | None = None  # the points the hold chose, with their times
    dropping: PointChoice | None = None


CENT = Decimal("0.01")


async def quote(reservation: Reservation) -> Quote:
    """What a hold costs: the total stored when its seats were held, split over its seats.
    The hold page shows it and checkout charges exactly it."""
    return (await quotes([reservation]))[reservation.id]


async def quotes(reservations: Sequence[Reservation]) -> dict[int, Quote]:
    """`quote` for several holds at once (by reservation id), e.g. a page of a list."""
    seats = await holds.seats_of_holds(reservations)
    trips = {i: await load_trip(i) for i in sorted({r.schedule_id for r in reservations})}
    return {
        r.id: Quote(
            price_seats(seats[r.id], r.total_amount),
            r.total_amount,
            r.currency,
            *_points(r, trips[r.schedule_id]),
        )
        for r in reservations
    }


def _points(reservation: Reservation, trip: Trip) -> tuple[PointChoice | None, PointChoice | None]:
    return (
        chosen_point(trip.stop(reservation.from_seq), reservation.boarding_point_id),
        chosen_point(trip.stop(reservation.to_seq), reservation.dropping_point_id),
    )


def hold_quote(hold: holds.Hold) -> Quote:
    """`quote` of a hold just taken (holds.take_hold), from the seats it locked."""
    reservation = hold.reservation
    return Quote(
        price_seats(hold.seats, reservation.total_amount),
        reservation.total_amount,
        reservation.currency,
        *(_points(reservation, hold.trip) if hold.trip else ()),
    )


def price_seats(seats: list[holds.HeldSeat], total: Decimal) -> list[holds.HeldSeat]:
    """The hold's seats with fares that add up to its stored `total`. `seats` carry the
    fares of the route as it is now; while those still add up to the total (nothing changed
    since the hold) they are the fares. Otherwise the fares the hold was priced with are
    found again: one segment fare, in whole units, times each seat's price factor, that adds
    up to the total. Only if none does (the pricing rule itself changed) is the total shared
    in proportion to the price factors, to the cent. Either way each passenger's fare, and
    so each refund, comes from the price that was charged."""
    current = sum((s.fare for s in seats), Decimal(0))
    if current == total or not seats:
        return seats
    factors = [s.schedule_seat.seat.price_factor for s in seats]
    weight = sum(factors, Decimal(0))
    guess = int(total / weight) if weight > 0 else 0
    window = len(seats) + 1  # each seat's rounding moves the sum by at most half a unit
    for segment in sorted(
        range(max(guess - window, 0), guess + window + 1), key=lambda f: abs(f - guess)
    ):
        fares = [seat_fare(Decimal(segment), f) for f in factors]
        if sum(fares, Decimal(0)) == total:
            return [holds.HeldSeat(s.schedule_seat, f) for s, f in zip(seats, fares, strict=True)]
    weights = factors if weight > 0 else [Decimal(1)] * len(seats)
    whole = sum(weights, Decimal(0))
    shares = [(total * w / whole).quantize(CENT, ROUND_HALF_UP) for w in weights[:-1]]
    shares.append(total - sum(shares, Decimal(0)))
    return [holds.HeldSeat(s.schedule_seat, f) for s, f in zip(seats, shares, strict=True)]


def holder_passengers(holder: User, seats: list[holds.HeldSeat]) -> list[dict[str, Any]]:
    """The account holder on every seat of the hold (CheckoutInput.holder_travels)."""
    name = " ".join(holder.full_name.split())[:120] or holder.email[:120]
    return [
        {
            "schedule_seat_id": held.schedule_seat.id,
            "bus_seat_id": held.schedule_seat.seat_id,
            "seat": held.number,
            "name": name,
            "age": HOLDER_AGE,
            "gender": Gender.OTHER.value,
            "fare": str(held.fare),
        }
        for held in seats
    ]


def _validate(
    data: CheckoutInput, seats: list[holds.HeldSeat], holder: User | None = None
) -> dict[str, Any]:
    if data.holder_travels and not data.passengers and holder is not None:
        validated = _validate(
            replace(data, holder_travels=False, passengers=_placeholders(seats)), seats
        )
        return {**validated, "passengers": holder_passengers(holder, seats)}
    errors: dict[str, str] = {}
    index_of = {p.schedule_seat_id: i for i, p in enumerate(data.passengers)}
    passengers = []
    for held in seats:
        seat_id = held.schedule_seat.id
        index = index_of.get(seat_id)
        if index is None:
            errors["passengers"] = (
                f"Enter the details of the passenger in seat {held.number}. Please reload."
            )
            continue
        given = data.passengers[index]
        path = f"passengers[{index}]"
        name = " ".join(given.name.split())
        if not name:
            errors[f"{path}.name"] = f"Enter the name of the passenger in seat {held.number}."
        elif len(name) > 120:
            errors[f"{path}.name"] = "Names can be at most 120 characters."
        if given.age is None or not 1 <= given.age <= 120:
            errors[f"{path}.age"] = "Enter an age between 1 and 120."
        if given.gender is None:
            errors[f"{path}.gender"] = "Choose female, male or other."
        passengers.append(
            {
                "schedule_seat_id": seat_id,
                "bus_seat_id": held.schedule_seat.seat_id,
                "seat": held.number,
                "name": name,
                "age": given.age,
                "gender": given.gender.value if given.gender else "",
                "fare": str(held.fare),
            }
        )
    if set(index_of) - {h.schedule_seat.id for h in seats} or len(index_of) < len(data.passengers):
        errors[""] = "Passenger details do not match the seats of this hold. Please reload."
    email = normalise_email(data.contact_email)
    if not EMAIL_RE.match(email):
        errors["contact_email"] = "Enter the email address for the ticket."
    phone = normalise_phone(data.contact_phone)
    if not PHONE_RE.match(phone):
        errors["contact_phone"] = "Enter a phone number of 10 to 15 digits."
    if data.method is None:
        errors["method"] = "Choose how you want to pay."
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", data.idempotency_key):
        errors[""] = "This form is out of date. Please reload the page and try again."
    if errors:
        raise ValidationFailed(errors)
    return {"passengers": passengers, "contact_email": email, "contact_phone": phone}


def checkout_details(
    data: CheckoutInput, seats: list[holds.HeldSeat], holder: User
) -> dict[str, Any]:
    """The checked passengers and contact of a hold's checkout (ValidationFailed names the
    fields), as a payment's `checkout_data` keeps them: the rules of `start_checkout`, for
    the other ways a hold is paid (payment_outcomes.settle_at_counter)."""
    return _validate(data, seats, holder)


def checkout_link(payment: Payment, config: CheckoutConfig) -> str | None:
    """Where the payer continues, as an absolute URL (the simulator's page is ours, and
    its address is stored as a path)."""
    url = payment.checkout_url
    if url and url.startswith("/"):
        return config.public_base_url.rstrip("/") + url
    return url


def _placeholders(seats: list[holds.HeldSeat]) -> list[PassengerInput]:
    """Valid stand-ins, so the rest of the input is checked by the same rules."""
    return [PassengerInput(h.schedule_seat.id, "holder", 30, Gender.OTHER) for h in seats]


def seats_text(count: int) -> str:
    """1 seat, 2 seats"""
    return f"{count} seat" if count == 1 else f"{count} seats"


def payment_info(payment: Payment, description: str = "", email: str = "") -> PaymentInfo:
    return PaymentInfo(
        payment_id=payment.id,
        amount=payment.amount,
        currency=payment.currency,
        method=PaymentMethod(payment.method),
        description=description or f"Busbook payment {payment.id}",
        customer_email=email or str(payment.checkout_data.get("contact_email", "")),
        idempotency_key=payment.idempotency_key,
        gateway_reference=payment.gateway_reference,
        public_id=payment.public_id,
    )


async def start_checkout(
    user: User,
    reservation_ref: str,
    data: CheckoutInput,
    *,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
    ip: str | None = None,
    draft: CheckoutDraft | None = None,
) -> Payment:
    """Record the payment and get the gateway's checkout page (`payment.checkout_url`).
    `draft` (the form as typed) is kept on the hold first, whatever the outcome: a refusal
    here or a decline at the gateway brings the form back as it was."""
    reservation = await holds.get_reservation(user, reservation_ref)
    if reservation.user_id != user.id:
        raise ReservationNotFound()
    if draft is not None:
        await _keep_draft(reservation, draft)
    existing = await Payment.get_or_none(idempotency_key=data.idempotency_key)
    if existing is not None:
        if existing.user_id != user.id:
            raise ValidationFailed({"": "This form is out of date. Please reload the page."})
        if _never_reached_gateway(existing):
            return await _resume_checkout(user, existing, reservation, gateways, config, now)
        return existing  # the same form sent twice: one payment
    current = await quote(reservation)
    details = _validate(data, current.seats, user)
    assert data.method is not None  # _validate refuses a missing one
    gateway = gateways.for_method(data.method)
    trip = await load_trip(reservation.schedule_id)
    if trip.schedule.status != ScheduleStatus.SCHEDULED:
        raise TripDeparted("This trip was cancelled by the operator. Please pick another bus.")
    if trip.stop(reservation.from_seq).arrives_at <= now:
        raise TripDeparted()
    description = f"{trip.schedule.route.name}, {seats_text(len(current.seats))}"
    # A new payment is counted before it is recorded (a replay of the same form above is
    # not); one refused below is given back: its transaction recorded nothing.
    limits = config.payment_limits.limits("payment", user.id, ip)
    await attempts.reserve(
        limits, now=now, message="You have started a lot of payments in a short time."
    )
    try:
        async with locking.transaction() as conn:
            locked = (
                await Reservation.filter(id=reservation.id)
                .select_for_update()
                .using_db(conn)
                .first()
            )
            assert locked is not None
            if locked.status != ReservationStatus.ACTIVE or locked.expires_at <= now:
                raise HoldExpired()
            if data.quoted_total != current.total:
                # The form did not come from this hold's page (or was edited): say so, with
                # the hold's price, and charge nothing.
                money = config.formatter.money
                raise PriceChanged(
                    f"The total of these seats is {money(current.total, current.currency)}, "
                    f"not {money(data.quoted_total, current.currency)}. Please check the "
                    "total and pay again.",
                    quoted=str(data.quoted_total),
                    total=str(current.total),
                    currency=current.currency,
                )
            payment = await Payment.create(
                user=user,
                reservation=locked,
                gateway=gateway.name,
                method=data.method,
                amount=current.total,
                currency=current.currency,
                status=PaymentStatus.PENDING,
                idempotency_key=data.idempotency_key,
                checkout_data={
                    **details,
                    "boarding_point_id": locked.boarding_point_id,
                    "dropping_point_id": locked.dropping_point_id,
                },
                created_at=now,
                updated_at=now,
                using_db=conn,
            )
            if not locked.grace_applied:
                # Paying takes a while: the hold is extended once, so a payer at the
                # gateway does not lose the seats halfway.
                locked.expires_at = max(locked.expires_at, now) + config.grace
                locked.grace_applied = True
                await locked.save(update_fields=["expires_at", "grace_applied"], using_db=conn)
                await audit.record(
                    "reservation.extended",
                    now=now,
                    actor=user,
                    subject=locked,
                    data={"expires_at": locked.expires_at.isoformat()},
                    using_db=conn,
                )
            await audit.record(
                "payment.started",
                now=now,
                actor=user,
                subject=payment,
                ip=ip,
                data={
                    "gateway": gateway.name,
                    "method": data.method.value,
                    "amount": str(current.total),
                    "reservation_id": locked.id,
                },
                using_db=conn,
            )
    except IntegrityError:
        # The same idempotency key raced in from a second click: use the first payment.
        await attempts.release(limits)
        existing = await Payment.get_or_none(idempotency_key=data.idempotency_key, user=user)
        if existing is None:
            raise
        return existing
    except BaseException:
        await attempts.release(limits)
        raise
    return await _open_at_gateway(
        user,
        payment,
        reservation.public_id,
        gateway,
        description,
        details["contact_email"],
        config,
        now,
    )


def _never_reached_gateway(payment: Payment) -> bool:
    """A pending payment without a checkout page: it was recorded, but the process stopped
    (database outage, worker killed) before the gateway's answer was stored. No payer has
    seen a checkout page for it, so no money can have moved."""
    return payment.status == PaymentStatus.PENDING and not payment.checkout_url


async def _resume_checkout(
    user: User,
    payment: Payment,
    reservation: Reservation,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> Payment:
    """The same form sent again after an interrupted start: finish that start (the payment
    keeps its idempotency key, so a real gateway hands back the same checkout session)."""
    if reservation.status != ReservationStatus.ACTIVE or reservation.expires_at <= now:
        raise HoldExpired()
    gateway = gateways.get(payment.gateway)
    trip = await load_trip(reservation.schedule_id)
    seats = len(payment.checkout_data.get("passengers", ()))
    description = f"{trip.schedule.route.name}, {seats_text(seats)}"
    email = str(payment.checkout_data.get("contact_email", ""))
    return await _open_at_gateway(
        user, payment, reservation.public_id, gateway, description, email, config, now
    )


async def _open_at_gateway(
    user: User,
    payment: Payment,
    reservation_ref: str,
    gateway: Gateway,
    description: str,
    email: str,
    config: CheckoutConfig,
    now: datetime,
) -> Payment:
    """Ask the gateway for its checkout page and store where it is. If this process stops
    between the two, the payment stays pending without a page, and the same form sent
    again comes back here (`_resume_checkout`)."""
    base = config.public_base_url
    try:
        start = await gateway.start_checkout(
            payment_info(payment, description, email),
            return_url=f"{base}/payments/{payment.public_id}/return",
            cancel_url=f"{base}/reservations/{reservation_ref}",
        )
    except GatewayError as exc:
        async with in_transaction() as conn:
            await (
                Payment.filter(id=payment.id)
                .using_db(conn)
                .update(
                    status=PaymentStatus.FAILED, failure_reason=exc.message[:255], updated_at=now
                )
            )
            await audit.record(
                "payment.failed",
                now=now,
                actor=user,
                subject=payment,
                data={"reason": exc.message},
                using_db=conn,
            )
        raise
    payment.gateway_reference = start.gateway_reference
    payment.checkout_url = start.redirect_url
    payment.updated_at = now
    await payment.save(update_fields=["gateway_reference", "checkout_url", "updated_at"])
    return payment


# ------------------------------------------------------------------------- the hold screen


@dataclass(frozen=True)
class HoldEnded:
    """A hold that ran out or that the operator released, and whether its seats can be
    held again: `free` are still free on its segment, `taken` (seat numbers) are not."""

    status: ReservationStatus  # EXPIRED or RELEASED
    reason: str  # the operator's reason for a release ("" when none was recorded)
    on_sale: bool  # the trip still sells seats (not cancelled, not departed)
    free: list[holds.HeldSeat]
    taken: list[str]

    @property
    def released(self) -> bool:
        return self.status == ReservationStatus.RELEASED

    @property
    def all_free(self) -> bool:
        return self.on_sale and bool(self.free) and not self.taken


async def _hold_ended(
    reservation: Reservation, trip: Trip, seats: list[holds.HeldSeat], now: datetime
) -> HoldEnded | None:
    status = holds.current_status(reservation, now)
    if status not in {ReservationStatus.EXPIRED, ReservationStatus.RELEASED}:
        return None
    reason = ""
    if status == ReservationStatus.RELEASED:
        row = (
            await ActivityLog.filter(
                action="reservation.released",
                subject_type="Reservation",
                subject_id=str(reservation.id),
            )
            .order_by("-id")
            .first()
        )
        if row is not None and isinstance(row.data, dict):
            reason = str(row.data.get("reason", "")).strip()
    on_sale = (
        trip.schedule.status == ScheduleStatus.SCHEDULED
        and trip.stop(reservation.from_seq).arrives_at > now
    )
    states = await seat_states(reservation.schedule_id, [h.schedule_seat.id for h in seats])
    segment = Segment(reservation.from_seq, reservation.to_seq)
    free, taken = [], []
    for held in seats:
        state = states.get(held.schedule_seat.id)
        # Only a seat free for everyone can be held again: one in another of the
        # customer's own live holds is taken for this purpose too.
        if state is not None and state.status_for(segment, None, now) is SeatStatus.AVAILABLE:
            free.append(held)
        else:
            taken.append(held.number)
    return HoldEnded(status, reason, on_sale, free, taken)


@dataclass(frozen=True)
class HoldView:
    """The hold page's data: the hold, its trip and seats, what it costs, how long it lasts
    and how it can be paid."""

    reservation: Reservation
    trip: Trip
    segment: Segment
    origin: StopView
    destination: StopView
    boarding: PointChoice | None  # the point chosen at `origin`, with its time
    dropping: PointChoice | None  # the point chosen at `destination`
    seats: list[holds.HeldSeat]
    total: Decimal
    currency: str
    now: datetime  # the server's clock for the countdown
    live: bool  # still held: `expires_at > now` (invariant 2)
    owner: bool  # the viewer holds it (an admin may look, only the holder pays)
    methods: tuple[PaymentMethod, ...]  # offered by the enabled gateways, in order
    draft: CheckoutDraft | None = None  # what was typed on this hold's form, if anything
    ended: HoldEnded | None = None  # an expired or released hold: why, and the way back

    @property
    def passengers(self) -> dict[int, PassengerDraft]:
        """The typed passenger of each seat (by schedule seat id)."""
        if self.draft is None:
            return {}
        return self.draft.for_seats([h.schedule_seat.id for h in self.seats])

    @property
    def expires_at(self) -> datetime:
        return self.reservation.expires_at

    @property
    def can_pay(self) -> bool:
        return self.live and self.owner


async def hold_view(
    viewer: User, reservation_ref: str, *, gateways: Gateways, now: datetime
) -> HoldView:
    """One hold as `viewer` sees it (its holder, or an admin); anyone else gets
    ReservationNotFound."""
    reservation = await holds.get_reservation(viewer, reservation_ref)
    trip, current = await load_trip(reservation.schedule_id), await quote(reservation)
    origin, destination = trip.stop(reservation.from_seq), trip.stop(reservation.to_seq)
    owner = reservation.user_id == viewer.id
    return HoldView(
        reservation=reservation,
        trip=trip,
        segment=Segment(reservation.from_seq, reservation.to_seq),
        origin=origin,
        destination=destination,
        boarding=chosen_point(origin, reservation.boarding_point_id),
        dropping=chosen_point(destination, reservation.dropping_point_id),
        seats=current.seats,
        total=current.total,
        currency=current.currency,
        now=now,
        live=reservation.status == ReservationStatus.ACTIVE and reservation.expires_at > now,
        owner=owner,
        methods=tuple(gateways.methods),
        draft=CheckoutDraft.from_json(reservation.checkout_draft) if owner else None,
        ended=await _hold_ended(reservation, trip, current.seats, now),
    )
