"""Domain errors. Each carries a message a person can read and the HTTP status it maps to."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 400
    message = "Something about this request is not right."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.message
        super().__init__(self.message)


class NotFound(DomainError):
    status = 404
    message = "We could not find that."


class Forbidden(DomainError):
    status = 403
    message = "You are not allowed to do that."


class Conflict(DomainError):
    status = 409
    message = "That clashes with something that just changed. Please try again."


class TooManyAttempts(DomainError):
    status = 429
    message = "Too many attempts. Please wait a few minutes and try again."


class ValidationFailed(DomainError):
    """Bad input: one message per form field (key "" for the form as a whole)."""

    status = 422

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(" ".join(errors.values()) or "Please correct the highlighted fields.")


class InvalidCredentials(DomainError):
    status = 422
    message = "That email and password do not match an account."


class ScheduleNotFound(NotFound):
    message = "We could not find that trip. It may have been removed; please search again."


class UserNotFound(NotFound):
    message = "We could not find that account."
