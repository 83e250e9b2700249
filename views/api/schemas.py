"""The API's shared pydantic pieces: the strict request base, the problem document, and
the money and time types every schema uses."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


class Strict(BaseModel):
    """Request bodies: pydantic's strict mode (no `false` for an int, no "3" for a number)
    and unknown fields refused, so a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    """Query strings: all text, so values are converted (`?limit=20`); unknown parameters
    are ignored."""

    model_config = ConfigDict(extra="ignore")


class Out(BaseModel):
    """Response bodies."""

    model_config = ConfigDict(from_attributes=True)


# Money travels as a decimal string ("1250.00"): a float would round it. Requests may send a
# JSON number or a string.
Money = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
    Field(examples=["1250.00"]),
]


class FieldError(BaseModel):
    field: str = Field(examples=["passengers[0].age"])
    message: str = Field(examples=["Enter an age from 0 to 120."])


class Problem(BaseModel):
    """A failure (RFC 9457 problem details, `application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:busbook:problem:seats_unavailable"])
    title: str = Field(examples=["That just changed"])
    status: int = Field(examples=[409])
    code: str = Field(
        description="Stable machine code (domain/errors.py); branch on this, not on words.",
        examples=["seats_unavailable"],
    )
    detail: str = Field(examples=["Seat 4 was just taken by someone else."])
    errors: list[FieldError] = Field(default_factory=list)


def example(**values: Any) -> ConfigDict:
    """A model_config with one OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [values]})
