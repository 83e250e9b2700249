"""Every enumeration of the domain, in one place."""

from enum import StrEnum


class UserRole(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


class SeatType(StrEnum):
    SEATER = "seater"
    SLEEPER = "sleeper"


class SeatPosition(StrEnum):
    WINDOW = "window"
    AISLE = "aisle"
    MIDDLE = "middle"


class Deck(StrEnum):
    LOWER = "lower"
    UPPER = "upper"


class BusKind(StrEnum):
    SEATER = "seater"
    SLEEPER = "sleeper"


class ScheduleStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class AllocationKind(StrEnum):
    HOLD = "hold"
    BOOKING = "booking"


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    RELEASED = "released"


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    PARTIALLY_CANCELLED = "partially_cancelled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class PassengerStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class PaymentMethod(StrEnum):
    CARD = "card"
    UPI = "upi"
    NET_BANKING = "net_banking"
    WALLET = "wallet"
    # Money taken at the operator's counter (an admin's `bookings/create`), never through a
    # gateway: no gateway offers it online (ONLINE_METHODS).
    CASH = "cash"


ONLINE_METHODS: frozenset[PaymentMethod] = frozenset(PaymentMethod) - {PaymentMethod.CASH}


class PaymentStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    FLAGGED = "flagged"  # amount or currency did not match: no booking, needs a person
    REFUND_PENDING = "refund_pending"  # money came for seats we could not keep
    REFUNDED = "refunded"


class TicketStatus(StrEnum):
    VALID = "valid"
    BOARDED = "boarded"
    CANCELLED = "cancelled"


class RefundStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class RefundState(StrEnum):
    """A refund record's state (domain/refunds.py). There is no automatic giving up: money
    we cannot keep goes back, so a refused refund stays pending and is retried."""

    PENDING = "pending"  # to send, or refused and waiting for its next attempt
    SUCCEEDED = "succeeded"  # the gateway took it
    CLOSED = "closed"  # an operator recorded that it was paid back outside Busbook


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class SeatStatus(StrEnum):
    """How one seat looks to one viewer on one segment (the seat map's data-status)."""

    AVAILABLE = "available"
    HELD = "held"
    MINE = "mine"
    BOOKED = "booked"
    BLOCKED = "blocked"
