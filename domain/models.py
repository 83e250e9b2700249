"""Tortoise models: the whole domain model of DESIGN.md. Behaviour lives in the services."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from domain import public_ids
from domain.enums import (
    AllocationKind,
    BookingStatus,
    BusKind,
    Deck,
    EmailStatus,
    Gender,
    PassengerStatus,
    PaymentMethod,
    PaymentStatus,
    RefundState,
    RefundStatus,
    ReservationStatus,
    ScheduleStatus,
    SeatPosition,
    SeatType,
    TicketStatus,
    UserRole,
)


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)  # stored lower-cased
    password_hash = fields.CharField(max_length=255)
    first_name = fields.CharField(max_length=80)
    last_name = fields.CharField(max_length=80)
    phone_number = fields.CharField(max_length=20)
    role = fields.CharEnumField(UserRole, max_length=16, default=UserRole.CUSTOMER)
    # Part of the login cookie: bumping it (logout everywhere, password change) revokes
    # every cookie issued before.
    session_version = fields.IntField(default=1)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN


class City(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=80, unique=True)
    state = fields.CharField(max_length=80, default="")

    class Meta:
        table = "cities"
        ordering = ["name"]


class Operator(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=120, unique=True)
    support_phone = fields.CharField(max_length=20, default="")

    class Meta:
        table = "operators"


class Route(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=20, unique=True)
    name = fields.CharField(max_length=160)
    operator: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "busbook.Operator", related_name="routes", on_delete=fields.RESTRICT
    )
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    stops: fields.ReverseRelation[RouteStop]

    class Meta:
        table = "routes"


class RouteStop(Model):
    """One stop of a route. `seq` orders the stops from 0; a segment is [from_seq, to_seq)."""

    id = fields.IntField(primary_key=True)
    route: fields.ForeignKeyRelation[Route] = fields.ForeignKeyField(
        "busbook.Route", related_name="stops", on_delete=fields.CASCADE
    )
    seq = fields.IntField()
    city: fields.ForeignKeyRelation[City] = fields.ForeignKeyField(
        "busbook.City", related_name="stops", on_delete=fields.RESTRICT
    )
    minutes_from_origin = fields.IntField()
    km_from_origin = fields.IntField()

    points: fields.ReverseRelation[StopPoint]

    class Meta:
        table = "route_stops"
        unique_together = (("route", "seq"),)
        ordering = ["seq"]


class StopPoint(Model):
    """A boarding and/or dropping point at a stop (a bus stand, a flyover, an office)."""

    id = fields.IntField(primary_key=True)
    stop: fields.ForeignKeyRelation[RouteStop] = fields.ForeignKeyField(
        "busbook.RouteStop", related_name="points", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=120)
    landmark = fields.CharField(max_length=200, default="")
    minutes_offset = fields.IntField(default=0)  # relative to the stop's time
    is_boarding = fields.BooleanField(default=True)
    is_dropping = fields.BooleanField(default=True)

    class Meta:
        table = "stop_points"
        ordering = ["minutes_offset", "id"]


class Bus(Model):
    id = fields.IntField(primary_key=True)
    registration = fields.CharField(max_length=20, unique=True)
    name = fields.CharField(max_length=120)
    operator: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "busbook.Operator", related_name="buses", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(BusKind, max_length=16)
    is_ac = fields.BooleanField(default=True)
    decks = fields.IntField(default=1)
    rows = fields.IntField()
    columns = fields.IntField()
    aisle_after = fields.IntField()  # the aisle runs after this column (1-based)
    created_at = fields.DatetimeField(auto_now_add=True)
    operator_id: int

    seats: fields.ReverseRelation[Seat]

    class Meta:
        table = "buses"

    @property
    def type_label(self) -> str:
        return f"{'AC' if self.is_ac else 'Non-AC'} {self.kind.value.title()}"


class Seat(Model):
    id = fields.IntField(primary_key=True)
    bus: fields.ForeignKeyRelation[Bus] = fields.ForeignKeyField(
        "busbook.Bus", related_name="seats", on_delete=fields.CASCADE
    )
    number = fields.CharField(max_length=8)  # L3, U3, 12
    deck = fields.CharEnumField(Deck, max_length=8, default=Deck.LOWER)
    row = fields.IntField()
    column = fields.IntField()
    seat_type = fields.CharEnumField(SeatType, max_length=16)
    position = fields.CharEnumField(SeatPosition, max_length=16)
    price_factor = fields.DecimalField(max_digits=4, decimal_places=2, default=1)

    class Meta:
        table = "seats"
        unique_together = (("bus", "number"), ("bus", "deck", "row", "column"))


class Schedule(Model):
    """One trip: a bus on a route leaving at a time. `base_fare` covers the whole route."""

    id = fields.IntField(primary_key=True)
    route: fields.ForeignKeyRelation[Route] = fields.ForeignKeyField(
        "busbook.Route", related_name="schedules", on_delete=fields.RESTRICT
    )
    bus: fields.ForeignKeyRelation[Bus] = fields.ForeignKeyField(
        "busbook.Bus", related_name="schedules", on_delete=fields.RESTRICT
    )
    departure_at = fields.DatetimeField()
    arrival_at = fields.DatetimeField()
    base_fare = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3, default="INR")
    status = fields.CharEnumField(ScheduleStatus, max_length=16, default=ScheduleStatus.SCHEDULED)
    created_at = fields.DatetimeField(auto_now_add=True)
    route_id: int
    bus_id: int

    class Meta:
        table = "schedules"
        indexes = (Index(fields=("departure_at",)),)


class ScheduleSeat(Model):
    """The per-trip inventory row of a seat: the row a hold locks with SELECT ... FOR UPDATE."""

    id = fields.IntField(primary_key=True)
    schedule: fields.ForeignKeyRelation[Schedule] = fields.ForeignKeyField(
        "busbook.Schedule", related_name="schedule_seats", on_delete=fields.CASCADE
    )
    seat: fields.ForeignKeyRelation[Seat] = fields.ForeignKeyField(
        "busbook.Seat", related_name="schedule_seats", on_delete=fields.RESTRICT
    )
    is_blocked = fields.BooleanField(default=False)
    schedule_id: int
    seat_id: int
    blocked_reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "schedule_seats"
        unique_together = (("schedule", "seat"),)


class Reservation(Model):
    """A hold on seats for one segment, alive until `expires_at`."""

    id = fields.IntField(primary_key=True)
    # What URLs and emails show (domain.public_ids); the integer id stays internal.
    public_id = fields.CharField(
        max_length=public_ids.LENGTH, unique=True, default=public_ids.maker(public_ids.RESERVATION)
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name="reservations", on_delete=fields.RESTRICT
    )
    schedule: fields.ForeignKeyRelation[Schedule] = fields.ForeignKeyField(
        "busbook.Schedule", related_name="reservations", on_delete=fields.RESTRICT
    )
    from_seq = fields.IntField()
    to_seq = fields.IntField()
    boarding_point: fields.ForeignKeyNullableRelation[StopPoint] = fields.ForeignKeyField(
        "busbook.StopPoint", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    dropping_point: fields.ForeignKeyNullableRelation[StopPoint] = fields.ForeignKeyField(
        "busbook.StopPoint", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    status = fields.CharEnumField(
        ReservationStatus, max_length=16, default=ReservationStatus.ACTIVE
    )
    total_amount = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3, default="INR")
    expires_at = fields.DatetimeField()
    grace_applied = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    # Where the hold came from, as the per-address limits count it (an IPv4 address or an
    # IPv6 /64: domain/attempts.address_group), for MAX_ACTIVE_HOLDS_PER_IP and seats per trip.
    ip = fields.CharField(max_length=64, null=True)
    seat_count = fields.SmallIntField(default=0)
    # What the customer typed on the checkout form, as typed (domain.checkout.CheckoutDraft):
    # kept across a declined payment, a refused checkout and an expired hold held again.
    checkout_draft: fields.JSONField[Any] = fields.JSONField(null=True)
    user_id: int
    schedule_id: int
    boarding_point_id: int | None
    dropping_point_id: int | None

    class Meta:
        table = "reservations"
        indexes = (Index(fields=("status", "expires_at")),)


class Booking(Model):
    id = fields.IntField(primary_key=True)
    reference = fields.CharField(max_length=12, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name="bookings", on_delete=fields.RESTRICT
    )
    schedule: fields.ForeignKeyRelation[Schedule] = fields.ForeignKeyField(
        "busbook.Schedule", related_name="bookings", on_delete=fields.RESTRICT
    )
    reservation: fields.ForeignKeyNullableRelation[Reservation] = fields.OneToOneField(
        "busbook.Reservation", related_name="booking", null=True, on_delete=fields.SET_NULL
    )
    from_seq = fields.IntField()
    to_seq = fields.IntField()
    boarding_point: fields.ForeignKeyNullableRelation[StopPoint] = fields.ForeignKeyField(
        "busbook.StopPoint", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    dropping_point: fields.ForeignKeyNullableRelation[StopPoint] = fields.ForeignKeyField(
        "busbook.StopPoint", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    status = fields.CharEnumField(BookingStatus, max_length=24, default=BookingStatus.CONFIRMED)
    total_amount = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3, default="INR")
    contact_email = fields.CharField(max_length=254)
    contact_phone = fields.CharField(max_length=20)
    created_at = fields.DatetimeField()
    user_id: int
    schedule_id: int
    reservation_id: int | None
    boarding_point_id: int | None
    dropping_point_id: int | None

    passengers: fields.ReverseRelation[Passenger]
    tickets: fields.ReverseRelation[Ticket]
    payments: fields.ReverseRelation[Payment]
    cancellations: fields.ReverseRelation[Cancellation]

    class Meta:
        table = "bookings"


class Passenger(Model):
    id = fields.IntField(primary_key=True)
    booking: fields.ForeignKeyRelation[Booking] = fields.ForeignKeyField(
        "busbook.Booking", related_name="passengers", on_delete=fields.CASCADE
    )
    seat: fields.ForeignKeyRelation[Seat] = fields.ForeignKeyField(
        "busbook.Seat", related_name=False, on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=120)
    age = fields.IntField()
    gender = fields.CharEnumField(Gender, max_length=8)
    fare = fields.DecimalField(max_digits=12, decimal_places=2)
    status = fields.CharEnumField(PassengerStatus, max_length=16, default=PassengerStatus.ACTIVE)
    booking_id: int
    seat_id: int

    class Meta:
        table = "passengers"


class SeatAllocation(Model):
    """Who occupies a seat (the trip's inventory row) on which part of a trip.

    The migrations add `stops int4range GENERATED FROM (from_seq, to_seq)` and the exclusion
    constraint `EXCLUDE USING gist (schedule_id WITH =, schedule_seat_id WITH =, stops WITH
    &&) WHERE (active)`: PostgreSQL itself refuses a second active allocation of a seat on
    overlapping stops (invariant 1). A foreign key on (schedule_seat_id, schedule_id) keeps
    the inventory row on the allocation's own trip.
    """

    id = fields.BigIntField(primary_key=True)
    schedule: fields.ForeignKeyRelation[Schedule] = fields.ForeignKeyField(
        "busbook.Schedule", related_name="allocations", on_delete=fields.CASCADE
    )
    schedule_seat: fields.ForeignKeyRelation[ScheduleSeat] = fields.ForeignKeyField(
        "busbook.ScheduleSeat", related_name="allocations", on_delete=fields.NO_ACTION
    )
    from_seq = fields.IntField()
    to_seq = fields.IntField()
    kind = fields.CharEnumField(AllocationKind, max_length=16)
    reservation: fields.ForeignKeyNullableRelation[Reservation] = fields.ForeignKeyField(
        "busbook.Reservation", related_name="allocations", null=True, on_delete=fields.CASCADE
    )
    booking: fields.ForeignKeyNullableRelation[Booking] = fields.ForeignKeyField(
        "busbook.Booking", related_name="allocations", null=True, on_delete=fields.CASCADE
    )
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    released_at = fields.DatetimeField(null=True)
    schedule_id: int
    schedule_seat_id: int
    reservation_id: int | None
    booking_id: int | None

    class Meta:
        table = "seat_allocations"


class Payment(Model):
    id = fields.IntField(primary_key=True)
    # What URLs and emails show (domain.public_ids); the integer id stays internal.
    public_id = fields.CharField(
        max_length=public_ids.LENGTH, unique=True, default=public_ids.maker(public_ids.PAYMENT)
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name="payments", on_delete=fields.RESTRICT
    )
    reservation: fields.ForeignKeyNullableRelation[Reservation] = fields.ForeignKeyField(
        "busbook.Reservation", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    booking: fields.ForeignKeyNullableRelation[Booking] = fields.ForeignKeyField(
        "busbook.Booking", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    gateway = fields.CharField(max_length=32)
    method = fields.CharEnumField(PaymentMethod, max_length=16)
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3, default="INR")
    status = fields.CharEnumField(PaymentStatus, max_length=16, default=PaymentStatus.CREATED)
    idempotency_key = fields.CharField(max_length=64, unique=True)
    gateway_reference = fields.CharField(max_length=128, null=True)
    # The sum of its refunds that are paid back (succeeded or closed: domain.refunds keeps
    # it so in the refund's own transaction); the refunds themselves are Refund rows.
    refunded_amount = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    failure_reason = fields.CharField(max_length=255, default="")
    # Where the payer continues (the gateway's hosted page), and what they typed at
    # checkout (passengers, contact), applied when the payment succeeds.
    checkout_url = fields.CharField(max_length=1000, null=True)
    checkout_data: fields.JSONField[Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    user_id: int
    reservation_id: int | None
    booking_id: int | None

    class Meta:
        table = "payments"
        indexes = (Index(fields=("gateway", "gateway_reference")), Index(fields=("status",)))


class PaymentEvent(Model):
    """The webhook inbox: one row per (gateway, event id), so a replay changes nothing."""

    id = fields.IntField(primary_key=True)
    gateway = fields.CharField(max_length=32)
    event_id = fields.CharField(max_length=128)
    event_type = fields.CharField(max_length=64)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "busbook.Payment", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    payload: fields.JSONField[Any] = fields.JSONField()
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True)
    payment_id: int | None

    class Meta:
        table = "payment_events"
        unique_together = (("gateway", "event_id"),)


class Ticket(Model):
    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=20, unique=True)
    booking: fields.ForeignKeyRelation[Booking] = fields.ForeignKeyField(
        "busbook.Booking", related_name="tickets", on_delete=fields.CASCADE
    )
    qr_token = fields.CharField(max_length=512)
    status = fields.CharEnumField(TicketStatus, max_length=16, default=TicketStatus.VALID)
    issued_at = fields.DatetimeField()
    boarded_at = fields.DatetimeField(null=True)
    booking_id: int

    class Meta:
        table = "tickets"


class Cancellation(Model):
    id = fields.IntField(primary_key=True)
    # What URLs and emails show (domain.public_ids); the integer id stays internal.
    public_id = fields.CharField(
        max_length=public_ids.LENGTH, unique=True, default=public_ids.maker(public_ids.CANCELLATION)
    )
    booking: fields.ForeignKeyRelation[Booking] = fields.ForeignKeyField(
        "busbook.Booking", related_name="cancellations", on_delete=fields.RESTRICT
    )
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "busbook.Payment", related_name="cancellations", null=True, on_delete=fields.RESTRICT
    )
    passenger_ids: fields.JSONField[Any] = fields.JSONField()
    policy_tier = fields.CharField(max_length=64)
    fee = fields.DecimalField(max_digits=12, decimal_places=2)
    refund_amount = fields.DecimalField(max_digits=12, decimal_places=2)
    refund_status = fields.CharEnumField(RefundStatus, max_length=16, default=RefundStatus.NONE)
    refund_reference = fields.CharField(max_length=128, null=True)
    refund_attempts = fields.IntField(default=0)
    reason = fields.CharField(max_length=255, default="")
    last_error = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True)
    booking_id: int
    payment_id: int | None
    # The refund_* columns and last_error mirror the cancellation's Refund row (written in
    # the same transaction by domain.refunds), for the pages that show a cancellation.

    class Meta:
        table = "cancellations"


class Refund(Model):
    """Money going back to a payer through the payment's gateway: the one record of every
    refund (domain/refunds.py), created in the same transaction as its cause (money that
    could not become a booking, a cancelled seat, an operator's refund, a cancelled trip).

    `next_attempt_at` is both the backoff of a refused refund and the lease of one being
    sent; `idempotency_key` (from the public id) is what the gateway dedupes retries on."""

    id = fields.IntField(primary_key=True)
    public_id = fields.CharField(
        max_length=public_ids.LENGTH, unique=True, default=public_ids.maker(public_ids.REFUND)
    )
    payment: fields.ForeignKeyRelation[Payment] = fields.ForeignKeyField(
        "busbook.Payment", related_name="refunds", on_delete=fields.RESTRICT
    )
    cancellation: fields.OneToOneNullableRelation[Cancellation] = fields.OneToOneField(
        "busbook.Cancellation", related_name="refund", null=True, on_delete=fields.RESTRICT
    )
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3)
    reason_code = fields.CharField(max_length=32)  # seats_taken, cancellation, operator ...
    reason = fields.CharField(max_length=255, default="")
    status = fields.CharEnumField(RefundState, max_length=16, default=RefundState.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    idempotency_key = fields.CharField(max_length=64, unique=True)
    gateway_refund_id = fields.CharField(max_length=128, null=True)
    last_error = fields.CharField(max_length=255, default="")
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    settled_at = fields.DatetimeField(null=True)
    payment_id: int
    cancellation_id: int | None
    requested_by_id: int | None

    class Meta:
        table = "refunds"
        indexes = (Index(fields=("status", "next_attempt_at")),)


class TripCancellation(Model):
    """An operator's cancellation of a trip, finished off the request by the app's worker
    (domain/trip_cancellation.py): `next_pass_at` is the next pass (and the lease of one
    running), `passes` and `last_failures` what the passes so far did."""

    id = fields.IntField(primary_key=True)
    schedule: fields.OneToOneRelation[Schedule] = fields.OneToOneField(
        "busbook.Schedule", related_name="cancellation", on_delete=fields.CASCADE
    )
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    reason = fields.CharField(max_length=255)
    requested_at = fields.DatetimeField()
    next_pass_at = fields.DatetimeField(null=True)
    passes = fields.IntField(default=0)
    last_failures = fields.IntField(default=0)
    finished_at = fields.DatetimeField(null=True)
    schedule_id: int
    actor_id: int | None

    class Meta:
        table = "trip_cancellations"


class ActivityLog(Model):
    """The audit trail: one row per state change, written in the change's transaction."""

    id = fields.BigIntField(primary_key=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=64)  # dotted, past tense: reservation.expired
    subject_type = fields.CharField(max_length=32, default="")
    subject_id = fields.CharField(max_length=64, default="")
    data: fields.JSONField[Any] = fields.JSONField(default=dict)
    ip = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "activity_logs"
        indexes = (
            Index(fields=("action", "created_at")),
            Index(fields=("subject_type", "subject_id")),
        )


class EmailOutbox(Model):
    id = fields.IntField(primary_key=True)
    to_address = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=200)
    body_text = fields.TextField()
    body_html = fields.TextField(default="")
    status = fields.CharEnumField(EmailStatus, max_length=16, default=EmailStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(default="")
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "email_outbox"
        indexes = (Index(fields=("status", "next_attempt_at")),)


class AttemptCounter(Model):
    """One brute-force or abuse counter (domain/attempts.py): attempts under `key` since
    `window_started_at`, for `window_seconds`."""

    key = fields.CharField(max_length=80, primary_key=True)
    window_started_at = fields.DatetimeField()
    window_seconds = fields.IntField()
    count = fields.IntField(default=0)

    class Meta:
        table = "attempt_counters"


class IdempotencyKey(Model):
    """The first answer to a creating API request sent with an `Idempotency-Key`
    (domain/idempotency.py): replayed for the same key and request, refused for another."""

    id = fields.BigIntField(primary_key=True)
    scope = fields.CharField(max_length=80)  # who sent it: "user:12", "ip:203.0.113.9"
    key = fields.CharField(max_length=255)
    fingerprint = fields.CharField(max_length=64)  # sha256 of method, path and body
    response_status = fields.SmallIntField(null=True)  # null while the first is in flight
    response_body = fields.TextField(default="")
    response_headers: fields.JSONField[Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_keys"
        unique_together = (("scope", "key"),)
        indexes = (Index(fields=("expires_at",)),)


class RefreshToken(Model):
    """One opaque refresh token of the JSON API (domain/refresh_tokens.py), stored only as
    the SHA-256 of what the client holds. Tokens that follow each other by rotation share a
    `family` (one sign-in on one device); a token is good once: `used_at` is set when it is
    swapped for the next one, and presenting it again revokes the whole family."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    family = fields.CharField(max_length=32)  # uuid4 hex, the same along one rotation chain
    token_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex
    # The user's session version when the family began: a logout or password change bumps
    # it, and every token issued before is then refused.
    session_version = fields.IntField()
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=32, default="")  # reuse, logout, session_ended
    ip = fields.CharField(max_length=64, null=True)
    user_id: int

    class Meta:
        table = "refresh_tokens"  # indexes on family and on open tokens by user: 0012


class ApiKey(Model):
    """An admin's API key (domain/api_keys.py): the client holds `bbk_<prefix>_<secret>`,
    the table only its SHA-256 and the non-secret `prefix` it is looked up by. It acts as
    the admin who made it, for as long as it is not revoked and they are an active admin."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=80)
    prefix = fields.CharField(max_length=16, unique=True)
    secret_hash = fields.CharField(max_length=64)  # sha256 hex of the whole key
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "busbook.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int
    revoked_by_id: int | None

    class Meta:
        table = "api_keys"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
