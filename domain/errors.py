"""Domain errors. Each carries a message a person can read, the HTTP status it maps to, a
stable machine `code` (snake_case; a JSON client branches on it, so it never changes once
published) and `data`: the structured facts behind the message (which seats, which fields,
the new price), so a client can act without parsing words.

Every class that is raised defines its own `code`; tests/unit/test_error_codes.py checks that
the codes are unique and well formed."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 400
    code = "bad_request"
    message = "Something about this request is not right."

    def __init__(self, message: str | None = None, **data: object) -> None:
        self.message = message or self.message
        self.data: dict[str, object] = data
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "We could not find that."


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    message = "You are not allowed to do that."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = "That clashes with something that just changed. Please try again."


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429
    message = "Too many attempts. Please wait a few minutes and try again."


class ServiceUnavailable(DomainError):
    """The database cannot be reached (stopped, restarting, out of connections): nothing was
    changed, and the same request will work again once it is back."""

    code = "service_unavailable"
    status = 503
    retry_after = 5  # seconds; a restart or fail-over usually takes about that long
    message = (
        "Busbook is briefly unavailable while we reconnect to our database. Nothing was "
        "changed: please try again in a few seconds."
    )

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, retry_after=self.retry_after)


class ValidationFailed(DomainError):
    """Bad input: one message per form field (key "" for the form as a whole)."""

    code = "validation_failed"
    status = 422

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(
            " ".join(errors.values()) or "Please correct the highlighted fields.", errors=errors
        )


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 422
    message = "That email and password do not match an account."


class SignedOut(DomainError):
    """The login cookie no longer holds (logged out elsewhere, password changed, account
    closed): the browser has to sign in again."""

    code = "signed_out"
    status = 401
    message = "Your session has ended. Please log in again."


class ScheduleNotFound(NotFound):
    code = "schedule_not_found"
    message = "We could not find that trip. It may have been removed; please search again."


class UserNotFound(NotFound):
    code = "user_not_found"
    message = "We could not find that account."


class ReservationNotFound(NotFound):
    code = "reservation_not_found"
    # Also for someone else's reservation: 404, not 403, so ids cannot be probed.
    message = "We could not find that hold. It may have ended; your seats are on the trip page."


class SeatsUnavailable(Conflict):
    """Some requested seats were taken (or blocked) a moment before."""

    code = "seats_unavailable"

    def __init__(self, numbers: list[str], *, blocked: bool = False) -> None:
        self.numbers = numbers
        listed = _join(numbers)
        noun = "Seat" if len(numbers) == 1 else "Seats"
        verb = "is" if len(numbers) == 1 else "are"
        if blocked:
            text = f"{noun} {listed} {verb} not for sale on this trip. Please pick other seats."
        else:
            text = (
                f"{noun} {listed} {verb} no longer free: someone took "
                f"{'it' if len(numbers) == 1 else 'them'} a moment ago. Please pick other seats."
            )
        super().__init__(text, seats=numbers, blocked=blocked)


class Busy(Conflict):
    code = "seats_busy"

    def __init__(self, numbers: list[str]) -> None:
        self.numbers = numbers
        super().__init__(
            f"Seat{'s' if len(numbers) != 1 else ''} {_join(numbers)} "
            f"{'are' if len(numbers) != 1 else 'is'} being booked by someone else right now. "
            "Please try again in a moment.",
            seats=numbers,
        )


class RecordBusy(Conflict):
    """A row lock was not granted within the bounded wait (domain/locking.py)."""

    code = "busy"
    message = (
        "Someone else is changing this right now. Nothing was changed: please try again in "
        "a moment."
    )

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, retry_after=1)


class HoldLimitReached(Conflict):
    """data: `limit` (which one: holds_per_trip, active_holds, per_address) and `max`."""

    code = "hold_limit_reached"


class TripDeparted(Conflict):
    code = "trip_departed"
    message = "This bus has already left that stop. Please search for a later trip."


class SeatsBoarded(Conflict):
    """The ticket of these seats was checked at the bus door: a customer cannot cancel
    them any more (an operator can refund by hand). data: `seats` (seat numbers)."""

    code = "seats_boarded"

    def __init__(self, seats: list[str]) -> None:
        super().__init__(
            f"{'Seat' if len(seats) == 1 else 'Seats'} {_join(seats)} boarded the bus, so "
            f"{'it' if len(seats) == 1 else 'they'} can't be cancelled. If something went "
            "wrong on the trip, ask the operator for a refund.",
            seats=seats,
        )


class BookingDeparted(Conflict):
    """The bus has left the booking's boarding stop: its seats can no longer be cancelled."""

    code = "booking_departed"
    message = (
        "This bus has already left, so the booking can no longer be cancelled. If something "
        "went wrong on the trip, ask the operator for a refund."
    )


class TicketNoLongerValid(DomainError):
    """A ticket that was cancelled (its trip cancelled by the operator, its booking
    cancelled, or replaced by a new ticket after a partial cancellation): no PDF of it.
    data: `replaced_by` (the ticket number now valid, if any)."""

    code = "ticket_no_longer_valid"
    status = 410
    message = "This ticket was cancelled and is no longer valid."


class HoldExpired(Conflict):
    code = "hold_expired"
    message = "This hold has expired and its seats were released. Please pick your seats again."


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class PriceChanged(Conflict):
    code = "price_changed"
    pass


class AlreadyBooked(Conflict):
    code = "already_booked"
    message = "This hold is already paid for and booked."


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    message = "We could not find that payment."


class BookingNotFound(NotFound):
    code = "booking_not_found"
    message = "We could not find that booking. Check the reference in your email."


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    message = "We could not find that ticket."


class TicketLinkInvalid(DomainError):
    code = "ticket_link_invalid"
    status = 403
    message = (
        "This ticket link is not valid: it may have been changed or cut short. Open the link "
        "from your confirmation email again, or log in and download the ticket from your booking."
    )


class TicketLinkExpired(DomainError):
    code = "ticket_link_expired"
    status = 410
    message = (
        "This ticket link has expired. Log in to Busbook and download the ticket from your "
        "booking page, where a fresh link is always available."
    )


class InvalidToken(DomainError):
    """An API access token that is malformed, signed with another key, expired or revoked
    (logout and password change bump the session version it carries)."""

    code = "invalid_token"
    status = 401
    message = "Your access token is not valid or has expired. Log in again or refresh it."


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with a different request."""

    code = "idempotency_key_reused"
    status = 422
    message = (
        "This Idempotency-Key was already used for a different request. Send a new key for a "
        "new request, or repeat the first request exactly to get its answer again."
    )


class IdempotencyInProgress(Conflict):
    """The first request with this key has not finished yet."""

    code = "idempotency_in_progress"
    message = (
        "A request with this Idempotency-Key is still being processed. Wait a moment and send "
        "it again to get its answer."
    )


class AuthenticationRequired(DomainError):
    """An API request that needs a caller sent no credentials."""

    code = "authentication_required"
    status = 401
    message = "This needs an account: send 'Authorization: Bearer <access token>'."


# ------------------------------------------------------------ API credentials (issue 11)


class RefreshTokenInvalid(DomainError):
    """A refresh token we never issued (or mistyped): the client has to sign in again."""

    code = "refresh_token_invalid"
    status = 401
    message = "This refresh token is not valid. Please log in again."


class RefreshTokenExpired(RefreshTokenInvalid):
    code = "refresh_token_expired"
    message = "This refresh token has expired. Please log in again."


class RefreshTokenRevoked(RefreshTokenInvalid):
    """Its sign-in ended: logged out, password changed, account closed, or its family was
    revoked after a reuse."""

    code = "refresh_token_revoked"
    message = "This sign-in has ended. Please log in again."


class RefreshTokenReused(RefreshTokenInvalid):
    """A refresh token that was already swapped for a newer one came back: one of the two
    holders is not the client it was issued to, so the whole sign-in (family) is revoked."""

    code = "refresh_token_reused"
    message = (
        "This refresh token was already used. For your safety this sign-in has been ended "
        "on every device that shared it. Please log in again."
    )


class ApiKeyInvalid(DomainError):
    code = "api_key_invalid"
    status = 401
    message = "This API key is not valid."


class ApiKeyRevoked(ApiKeyInvalid):
    """Revoked in the console, or the admin who made it is no longer an active admin."""

    code = "api_key_revoked"
    message = "This API key has been revoked."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message = "We could not find that API key."


class LiveTicketInvalid(DomainError):
    """A live seat ticket (the WebSocket's `?ticket=`) that is not genuine, was made for
    another trip, or whose login was signed out since."""

    code = "live_ticket_invalid"
    status = 401
    message = (
        "This live seat ticket is not valid for this trip. Ask for a new one "
        "(POST /api/v1/schedules/{id}/ws-ticket) and connect again."
    )


class LiveTicketExpired(DomainError):
    code = "live_ticket_expired"
    status = 401
    message = "This live seat ticket has expired. Ask for a new one and connect again."


# ------------------------------------------------------------ admin API (issue 11)


class BusNotFound(NotFound):
    code = "bus_not_found"
    message = "We could not find that bus."


class BusInService(Conflict):
    """A bus's seat layout is fixed once a trip has been scheduled on it: each trip's seats
    (and every hold, booking and ticket on them) are the bus's seats."""

    code = "bus_in_service"
    message = (
        "Trips have been scheduled on this bus, and their seats are this layout's seats: the "
        "layout can no longer change. You can still change its name, registration and air "
        "conditioning, or add a new bus with the new layout."
    )


class TripInUse(Conflict):
    """A trip with holds or bookings keeps its departure: its passengers hold tickets for it."""

    code = "trip_in_use"
    message = (
        "This trip has holds or bookings, so its departure cannot move: its passengers' "
        "tickets are for that time. You can still change its fare for new holds, or cancel "
        "the trip (everyone is refunded in full)."
    )


class TripClosed(Conflict):
    code = "trip_closed"
    message = "This trip was cancelled or has left; it can no longer be changed."


class RouteNotFound(NotFound):
    code = "route_not_found"
    message = "We could not find that route."


class RouteInUse(Conflict):
    """A route with holds or bookings keeps its stops (their seats are sold by stop)."""

    code = "route_in_use"
    message = (
        "This route has holds or bookings, and their seats are sold by stop: its stops must "
        "stay the same cities in the same order. You can change times, distances and boarding "
        "points, or create a new route."
    )
