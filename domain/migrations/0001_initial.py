import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

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
    RefundStatus,
    ReservationStatus,
    ScheduleStatus,
    SeatPosition,
    SeatType,
    TicketStatus,
    UserRole,
)


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="City",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(unique=True, max_length=80)),
                ("state", fields.CharField(default="", max_length=80)),
            ],
            options={"table": "cities", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="EmailOutbox",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("to_address", fields.CharField(max_length=254)),
                ("subject", fields.CharField(max_length=200)),
                ("body_text", fields.TextField(unique=False)),
                ("body_html", fields.TextField(default="", unique=False)),
                (
                    "status",
                    fields.CharEnumField(
                        default=EmailStatus.PENDING,
                        description="PENDING: pending\nSENT: sent\nFAILED: failed",
                        enum_type=EmailStatus,
                        max_length=16,
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                ("next_attempt_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("last_error", fields.TextField(default="", unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "email_outbox",
                "app": "busbook",
                "indexes": [Index(fields=["status", "next_attempt_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Operator",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(unique=True, max_length=120)),
                ("support_phone", fields.CharField(default="", max_length=20)),
            ],
            options={"table": "operators", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Bus",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("registration", fields.CharField(unique=True, max_length=20)),
                ("name", fields.CharField(max_length=120)),
                (
                    "operator",
                    fields.ForeignKeyField(
                        "busbook.Operator",
                        source_field="operator_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="buses",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "kind",
                    fields.CharEnumField(
                        description="SEATER: seater\nSLEEPER: sleeper",
                        enum_type=BusKind,
                        max_length=16,
                    ),
                ),
                ("is_ac", fields.BooleanField(default=True)),
                ("decks", fields.IntField(default=1)),
                ("rows", fields.IntField()),
                ("columns", fields.IntField()),
                ("aisle_after", fields.IntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "buses", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Route",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("code", fields.CharField(unique=True, max_length=20)),
                ("name", fields.CharField(max_length=160)),
                (
                    "operator",
                    fields.ForeignKeyField(
                        "busbook.Operator",
                        source_field="operator_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="routes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "routes", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RouteStop",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "route",
                    fields.ForeignKeyField(
                        "busbook.Route",
                        source_field="route_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="stops",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("seq", fields.IntField()),
                (
                    "city",
                    fields.ForeignKeyField(
                        "busbook.City",
                        source_field="city_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="stops",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("minutes_from_origin", fields.IntField()),
                ("km_from_origin", fields.IntField()),
            ],
            options={
                "table": "route_stops",
                "app": "busbook",
                "unique_together": (("route", "seq"),),
                "pk_attr": "id",
                "table_description": "One stop of a route. `seq` orders the stops from 0; a segment is [from_seq, to_seq).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Schedule",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "route",
                    fields.ForeignKeyField(
                        "busbook.Route",
                        source_field="route_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="schedules",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "bus",
                    fields.ForeignKeyField(
                        "busbook.Bus",
                        source_field="bus_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="schedules",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("departure_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("arrival_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("base_fare", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(default="INR", max_length=3)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ScheduleStatus.SCHEDULED,
                        description="SCHEDULED: scheduled\nCANCELLED: cancelled",
                        enum_type=ScheduleStatus,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "schedules",
                "app": "busbook",
                "indexes": [Index(fields=["departure_at"])],
                "pk_attr": "id",
                "table_description": "One trip: a bus on a route leaving at a time. `base_fare` covers the whole route.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Seat",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "bus",
                    fields.ForeignKeyField(
                        "busbook.Bus",
                        source_field="bus_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="seats",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("number", fields.CharField(max_length=8)),
                (
                    "deck",
                    fields.CharEnumField(
                        default=Deck.LOWER,
                        description="LOWER: lower\nUPPER: upper",
                        enum_type=Deck,
                        max_length=8,
                    ),
                ),
                ("row", fields.IntField()),
                ("column", fields.IntField()),
                (
                    "seat_type",
                    fields.CharEnumField(
                        description="SEATER: seater\nSLEEPER: sleeper",
                        enum_type=SeatType,
                        max_length=16,
                    ),
                ),
                (
                    "position",
                    fields.CharEnumField(
                        description="WINDOW: window\nAISLE: aisle\nMIDDLE: middle",
                        enum_type=SeatPosition,
                        max_length=16,
                    ),
                ),
                ("price_factor", fields.DecimalField(default=1, max_digits=4, decimal_places=2)),
            ],
            options={
                "table": "seats",
                "app": "busbook",
                "unique_together": (("bus", "number"), ("bus", "deck", "row", "column")),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ScheduleSeat",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "schedule",
                    fields.ForeignKeyField(
                        "busbook.Schedule",
                        source_field="schedule_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="schedule_seats",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "seat",
                    fields.ForeignKeyField(
                        "busbook.Seat",
                        source_field="seat_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="schedule_seats",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("is_blocked", fields.BooleanField(default=False)),
                ("blocked_reason", fields.CharField(default="", max_length=200)),
            ],
            options={
                "table": "schedule_seats",
                "app": "busbook",
                "unique_together": (("schedule", "seat"),),
                "pk_attr": "id",
                "table_description": "The per-trip inventory row of a seat: the row a hold locks with SELECT ... FOR UPDATE.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="StopPoint",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "stop",
                    fields.ForeignKeyField(
                        "busbook.RouteStop",
                        source_field="stop_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="points",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=120)),
                ("landmark", fields.CharField(default="", max_length=200)),
                ("minutes_offset", fields.IntField(default=0)),
                ("is_boarding", fields.BooleanField(default=True)),
                ("is_dropping", fields.BooleanField(default=True)),
            ],
            options={
                "table": "stop_points",
                "app": "busbook",
                "pk_attr": "id",
                "table_description": "A boarding and/or dropping point at a stop (a bus stand, a flyover, an office).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("email", fields.CharField(unique=True, max_length=254)),
                ("password_hash", fields.CharField(max_length=255)),
                ("first_name", fields.CharField(max_length=80)),
                ("last_name", fields.CharField(max_length=80)),
                ("phone_number", fields.CharField(max_length=20)),
                (
                    "role",
                    fields.CharEnumField(
                        default=UserRole.CUSTOMER,
                        description="CUSTOMER: customer\nADMIN: admin",
                        enum_type=UserRole,
                        max_length=16,
                    ),
                ),
                ("session_version", fields.IntField(default=1)),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "users", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ActivityLog",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "actor",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="actor_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("action", fields.CharField(max_length=64)),
                ("subject_type", fields.CharField(default="", max_length=32)),
                ("subject_id", fields.CharField(default="", max_length=64)),
                (
                    "data",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("ip", fields.CharField(null=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "activity_logs",
                "app": "busbook",
                "indexes": [
                    Index(fields=["action", "created_at"]),
                    Index(fields=["subject_type", "subject_id"]),
                ],
                "pk_attr": "id",
                "table_description": "The audit trail: one row per state change, written in the change's transaction.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Reservation",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="reservations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "schedule",
                    fields.ForeignKeyField(
                        "busbook.Schedule",
                        source_field="schedule_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="reservations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("from_seq", fields.IntField()),
                ("to_seq", fields.IntField()),
                (
                    "boarding_point",
                    fields.ForeignKeyField(
                        "busbook.StopPoint",
                        source_field="boarding_point_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "dropping_point",
                    fields.ForeignKeyField(
                        "busbook.StopPoint",
                        source_field="dropping_point_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=ReservationStatus.ACTIVE,
                        description="ACTIVE: active\nCONVERTED: converted\nEXPIRED: expired\nCANCELLED: cancelled\nRELEASED: released",
                        enum_type=ReservationStatus,
                        max_length=16,
                    ),
                ),
                ("total_amount", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(default="INR", max_length=3)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("grace_applied", fields.BooleanField(default=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("ended_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "reservations",
                "app": "busbook",
                "indexes": [Index(fields=["status", "expires_at"])],
                "pk_attr": "id",
                "table_description": "A hold on seats for one segment, alive until `expires_at`.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Booking",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("reference", fields.CharField(unique=True, max_length=12)),
                (
                    "user",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="bookings",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "schedule",
                    fields.ForeignKeyField(
                        "busbook.Schedule",
                        source_field="schedule_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="bookings",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "reservation",
                    fields.OneToOneField(
                        "busbook.Reservation",
                        source_field="reservation_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="booking",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("from_seq", fields.IntField()),
                ("to_seq", fields.IntField()),
                (
                    "boarding_point",
                    fields.ForeignKeyField(
                        "busbook.StopPoint",
                        source_field="boarding_point_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "dropping_point",
                    fields.ForeignKeyField(
                        "busbook.StopPoint",
                        source_field="dropping_point_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=BookingStatus.CONFIRMED,
                        description="CONFIRMED: confirmed\nPARTIALLY_CANCELLED: partially_cancelled\nCANCELLED: cancelled\nCOMPLETED: completed",
                        enum_type=BookingStatus,
                        max_length=24,
                    ),
                ),
                ("total_amount", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(default="INR", max_length=3)),
                ("contact_email", fields.CharField(max_length=254)),
                ("contact_phone", fields.CharField(max_length=20)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "bookings", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Cancellation",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "booking",
                    fields.ForeignKeyField(
                        "busbook.Booking",
                        source_field="booking_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="cancellations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "actor",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="actor_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "passenger_ids",
                    fields.JSONField(
                        encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("policy_tier", fields.CharField(max_length=64)),
                ("fee", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("refund_amount", fields.DecimalField(max_digits=12, decimal_places=2)),
                (
                    "refund_status",
                    fields.CharEnumField(
                        default=RefundStatus.NONE,
                        description="NONE: none\nPENDING: pending\nPROCESSED: processed\nFAILED: failed",
                        enum_type=RefundStatus,
                        max_length=16,
                    ),
                ),
                ("refund_reference", fields.CharField(null=True, max_length=128)),
                ("refund_attempts", fields.IntField(default=0)),
                ("reason", fields.CharField(default="", max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "processed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={"table": "cancellations", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Passenger",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "booking",
                    fields.ForeignKeyField(
                        "busbook.Booking",
                        source_field="booking_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="passengers",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "seat",
                    fields.ForeignKeyField(
                        "busbook.Seat",
                        source_field="seat_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=120)),
                ("age", fields.IntField()),
                (
                    "gender",
                    fields.CharEnumField(
                        description="FEMALE: female\nMALE: male\nOTHER: other",
                        enum_type=Gender,
                        max_length=8,
                    ),
                ),
                ("fare", fields.DecimalField(max_digits=12, decimal_places=2)),
                (
                    "status",
                    fields.CharEnumField(
                        default=PassengerStatus.ACTIVE,
                        description="ACTIVE: active\nCANCELLED: cancelled",
                        enum_type=PassengerStatus,
                        max_length=16,
                    ),
                ),
            ],
            options={"table": "passengers", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Payment",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="payments",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "reservation",
                    fields.ForeignKeyField(
                        "busbook.Reservation",
                        source_field="reservation_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="payments",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "booking",
                    fields.ForeignKeyField(
                        "busbook.Booking",
                        source_field="booking_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="payments",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("gateway", fields.CharField(max_length=32)),
                (
                    "method",
                    fields.CharEnumField(
                        description="CARD: card\nUPI: upi\nNET_BANKING: net_banking\nWALLET: wallet",
                        enum_type=PaymentMethod,
                        max_length=16,
                    ),
                ),
                ("amount", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(default="INR", max_length=3)),
                (
                    "status",
                    fields.CharEnumField(
                        default=PaymentStatus.CREATED,
                        description="CREATED: created\nPENDING: pending\nSUCCEEDED: succeeded\nFAILED: failed\nFLAGGED: flagged\nREFUNDED: refunded",
                        enum_type=PaymentStatus,
                        max_length=16,
                    ),
                ),
                ("idempotency_key", fields.CharField(unique=True, max_length=64)),
                ("gateway_reference", fields.CharField(null=True, max_length=128)),
                (
                    "refunded_amount",
                    fields.DecimalField(default=0, max_digits=12, decimal_places=2),
                ),
                ("failure_reason", fields.CharField(default="", max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "payments", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PaymentEvent",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("gateway", fields.CharField(max_length=32)),
                ("event_id", fields.CharField(max_length=128)),
                ("event_type", fields.CharField(max_length=64)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "busbook.Payment",
                        source_field="payment_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "payload",
                    fields.JSONField(
                        encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("received_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "processed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "payment_events",
                "app": "busbook",
                "unique_together": (("gateway", "event_id"),),
                "pk_attr": "id",
                "table_description": "The webhook inbox: one row per (gateway, event id), so a replay changes nothing.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SeatAllocation",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "schedule",
                    fields.ForeignKeyField(
                        "busbook.Schedule",
                        source_field="schedule_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "seat",
                    fields.ForeignKeyField(
                        "busbook.Seat",
                        source_field="seat_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("from_seq", fields.IntField()),
                ("to_seq", fields.IntField()),
                (
                    "kind",
                    fields.CharEnumField(
                        description="HOLD: hold\nBOOKING: booking",
                        enum_type=AllocationKind,
                        max_length=16,
                    ),
                ),
                (
                    "reservation",
                    fields.ForeignKeyField(
                        "busbook.Reservation",
                        source_field="reservation_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "booking",
                    fields.ForeignKeyField(
                        "busbook.Booking",
                        source_field="booking_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "released_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "seat_allocations",
                "app": "busbook",
                "pk_attr": "id",
                "table_description": "Who occupies a seat on which part of a trip.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Ticket",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("number", fields.CharField(unique=True, max_length=20)),
                (
                    "booking",
                    fields.ForeignKeyField(
                        "busbook.Booking",
                        source_field="booking_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="tickets",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("qr_token", fields.CharField(max_length=512)),
                (
                    "status",
                    fields.CharEnumField(
                        default=TicketStatus.VALID,
                        description="VALID: valid\nBOARDED: boarded\nCANCELLED: cancelled",
                        enum_type=TicketStatus,
                        max_length=16,
                    ),
                ),
                ("issued_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("boarded_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "tickets", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
