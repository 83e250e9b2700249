"""The passengers of a hold's seats as payments/initiate and bookings/create take them, and
the domain's checkout field paths renamed to these requests' own."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pydantic import Field

from domain.checkout import PassengerInput
from domain.enums import Gender
from domain.errors import ValidationFailed
from views.api.schemas import Strict

NAME_MAX = 120
EMAIL_MAX = 254
PHONE_MAX = 32


class PassengerIn(Strict):
    seat_id: int = Field(description="The held seat (a schedule seat id, as in the seat map).")
    name: str = Field(max_length=NAME_MAX, examples=["Asha Rao"])
    age: int = Field(examples=[34], description="1 to 120.")
    gender: Gender


def passenger_inputs(passengers: list[PassengerIn] | None) -> list[PassengerInput]:
    return [
        PassengerInput(schedule_seat_id=p.seat_id, name=p.name, age=p.age, gender=p.gender)
        for p in passengers or ()
    ]


# The domain's checkout paths (domain/checkout.CheckoutInput) -> this API's fields; a
# passenger keeps its index (the domain's index is the request's).
FIELD_NAMES = {"method": "payment_method", "": "passengers", "passengers": "passengers"}


def api_fields(errors: Mapping[str, str]) -> dict[str, str]:
    renamed: dict[str, str] = {}
    for path, message in errors.items():
        field = FIELD_NAMES.get(path, path)
        renamed[field] = f"{renamed[field]} {message}" if field in renamed else message
    return renamed


@contextmanager
def checkout_fields() -> Iterator[None]:
    """ValidationFailed from a checkout, with the request's own field names."""
    try:
        yield
    except ValidationFailed as exc:
        raise ValidationFailed(api_fields(exc.errors)) from exc
