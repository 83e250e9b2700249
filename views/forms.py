"""Request values -> typed values: the one place that reads what a browser sent.

Every query-string, form and path value a view uses goes through these functions. They
accept only what the database columns and the domain can hold: ASCII digits (not "²" or
Arabic-Indic "1", which `str.isdigit()` accepts and `int()` then refuses or reads), ints within the
PostgreSQL `integer` range, text without NUL or control characters and no longer than its
column, money with at most two decimals inside `DECIMAL(12, 2)` (no Infinity, NaN or
1e20), dates within a sane window. Anything else is refused with `ValidationFailed`, one
readable sentence per field (a 422 with the form shown again, or the error page): never a
500 from the database or the standard library.

Two flavours: the `*_field` functions raise; `Parser` collects every field's error of a
form and raises them together (`parser.check()`), like the domain's own validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeAlias, TypeVar

from quart import request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter, IntegerConverter, Map, ValidationError

from domain.errors import ValidationFailed
from domain.routes import MAX_STOPS, StopLine

INT32_MAX = 2**31 - 1  # PostgreSQL `integer`: every id and count column
MONEY_MAX = Decimal("9999999999.99")  # DECIMAL(12, 2)
EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 5  # no date a person types is further ahead than this
MAX_LIST = 100  # repeated values of one field (seat ids, passenger ids, weekdays)

_DIGITS = re.compile(r"[0-9]+")
_SIGNED_DIGITS = re.compile(r"-?[0-9]+")
_MONEY = re.compile(r"([0-9]+)(?:\.([0-9]*))?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}")
# C0 controls and DEL (NUL among them); tab, CR and LF only where text may span lines.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")
_WHOLE = re.compile(r"[0-9]{1,6}")  # minutes or km of a stop line (the domain bounds them)
_STOP_PATH = re.compile(r"stops\[([0-9]+)\]\.[a-z]+")

NUL_MESSAGE = "That request contains a character we cannot read (a NUL byte). Nothing was changed."

T = TypeVar("T")
E = TypeVar("E", bound=Enum)
# Parser's methods `int`, `date` and `time` shadow these names inside the class.
_Int: TypeAlias = int
_Date: TypeAlias = date
_Time: TypeAlias = time


def _fail(name: str, message: str) -> ValidationFailed:
    return ValidationFailed({name: message})


def latest_date(today: date) -> date:
    return today + timedelta(days=366 * YEARS_AHEAD)


# ------------------------------------------------------------------------------ scalars


def text_field(
    value: str | None,
    *,
    name: str,
    max_len: int,
    required: bool = False,
    multiline: bool = False,
    label: str = "This field",
    message: str | None = None,
) -> str:
    """Stripped text, at most `max_len` characters, no NUL or other control characters
    (tabs and line breaks only when `multiline`). Empty is "" unless `required`."""
    text = (value or "").strip()
    if not text:
        if required:
            raise _fail(name, message or f"{label} is required.")
        return ""
    controls = _CONTROL if multiline else _CONTROL_ONE_LINE
    if controls.search(text):
        raise _fail(name, f"{label} contains characters we cannot accept; please retype it.")
    if len(text) > max_len:
        raise _fail(name, f"{label} can be at most {max_len} characters.")
    return text


def secret_field(value: str | None, *, name: str, max_len: int, label: str = "This field") -> str:
    """A password as typed (never stripped or rewritten): only its length is bounded."""
    text = value or ""
    if len(text) > max_len:
        raise _fail(name, f"{label} can be at most {max_len} characters.")
    return text


def int_field(
    value: str | int | None,
    *,
    name: str,
    lo: int = 0,
    hi: int = INT32_MAX,
    message: str | None = None,
) -> int:
    """A whole number written in ASCII digits, lo <= n <= hi (within int32 by default)."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    text = text.strip()
    pattern = _SIGNED_DIGITS if lo < 0 else _DIGITS
    limit = len(str(max(abs(lo), abs(hi)))) + 1
    if len(text) <= limit and pattern.fullmatch(text):
        number = int(text)
        if lo <= number <= hi:
            return number
    raise _fail(name, message or f"Enter a whole number from {lo} to {hi}.")


def optional_int(
    value: str | None,
    *,
    name: str,
    lo: int = 0,
    hi: int = INT32_MAX,
    message: str | None = None,
) -> int | None:
    """Like `int_field`, but an empty value is None."""
    if value is None or not value.strip():
        return None
    return int_field(value, name=name, lo=lo, hi=hi, message=message)


def int_or_none(value: str | None, *, lo: int = 0, hi: int = INT32_MAX) -> int | None:
    """Lenient: the number, or None for anything that is not one (for values that only
    pre-fill a page, where refusing would be unkind and ignoring is safe)."""
    try:
        return optional_int(value, name="", lo=lo, hi=hi)
    except ValidationFailed:
        return None


def int_list(
    values: Iterable[str],
    *,
    name: str,
    lo: int = 1,
    hi: int = INT32_MAX,
    max_items: int = MAX_LIST,
    message: str | None = None,
) -> list[int]:
    """Repeated values of one field, in the order sent, every one a valid int."""
    raw = list(values)
    text = message or "Choose from the list shown."
    if len(raw) > max_items:
        raise _fail(name, message or f"Choose at most {max_items}.")
    return [int_field(v, name=name, lo=lo, hi=hi, message=text) for v in raw]


def decimal_money(
    value: str | None,
    *,
    name: str,
    lo: Decimal = Decimal(0),
    hi: Decimal = MONEY_MAX,
    message: str | None = None,
) -> Decimal:
    """An amount like 650 or 499.50: ASCII digits, at most two decimals, within
    DECIMAL(12, 2). Refuses Infinity, NaN, sNaN, exponents (1e20), signs and separators."""
    text = (value or "").strip()
    match = _MONEY.fullmatch(text) if len(text) <= 20 else None
    if match and (match.group(2) is None or len(match.group(2)) <= 2):
        amount = Decimal(text.rstrip(".") or "0")
        if lo <= amount <= hi:
            return amount
    raise _fail(name, message or f"Enter an amount from {lo} to {hi}, e.g. 650 or 499.50.")


def date_field(
    value: str | None,
    *,
    name: str,
    today: date,
    earliest: date = EARLIEST_DATE,
    latest: date | None = None,
    message: str | None = None,
) -> date:
    """A YYYY-MM-DD date between `earliest` and `latest` (by default a few years after
    `today`): 0001-01-01 and 9999-12-31 overflow date arithmetic and mean nothing here."""
    text = (value or "").strip()
    last = latest or latest_date(today)
    parsed: date | None = None
    if _DATE.fullmatch(text):
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise _fail(name, message or "Enter the date as YYYY-MM-DD.")
    if not earliest <= parsed <= last:
        raise _fail(name, f"Enter a date from {earliest.isoformat()} to {last.isoformat()}.")
    return parsed


def optional_date(
    value: str | None, *, name: str, today: date, message: str | None = None
) -> date | None:
    if value is None or not value.strip():
        return None
    return date_field(value, name=name, today=today, message=message)


def time_field(value: str | None, *, name: str, message: str | None = None) -> time:
    """HH:MM, 00:00 to 23:59."""
    text = (value or "").strip()
    if _TIME.fullmatch(text):
        try:
            return time.fromisoformat(text)
        except ValueError:
            pass
    raise _fail(name, message or "Enter the time as HH:MM.")


def choice_field(value: str | None, enum: type[E], *, name: str, message: str | None = None) -> E:
    """One of an enum's values (case and surrounding spaces ignored)."""
    text = (value or "").strip().lower()
    for member in enum:
        if text == str(member.value).lower():
            return member
    raise _fail(name, message or "Choose one of the options shown.")


def optional_choice(
    value: str | None, enum: type[E], *, name: str, message: str | None = None
) -> E | None:
    """Like `choice_field`, but an empty value is None (not chosen)."""
    if value is None or not value.strip():
        return None
    return choice_field(value, enum, name=name, message=message)


# ------------------------------------------------------------------------------ a form


@dataclass
class Parser:
    """Reads the fields of one form (or query string), collecting every field's error:

        p = Parser(await request.form)
        rows = p.int("rows", lo=1, hi=20)
        name = p.text("name", max_len=120, required=True)
        p.check()  # raises ValidationFailed with all the errors at once

    A field that failed reads as None (text: ""). Where the domain validates the same form
    and refuses blanks, skip `check()`, call the domain and show `p.merged(exc.errors)`:
    the person then sees every field's problem at once."""

    values: Mapping[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    def raw(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def getlist(self, name: str) -> list[str]:
        if isinstance(self.values, MultiDict):
            return [str(v) for v in self.values.getlist(name)]
        value = self.values.get(name)
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    def parse(self, name: str, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return parse(*args, name=name, **kwargs)
        except ValidationFailed as exc:
            self.errors.setdefault(name, exc.errors.get(name, exc.message))
            return None

    def text(self, name: str, **kwargs: Any) -> str:
        return self.parse(name, text_field, self.raw(name), **kwargs) or ""

    def int(self, name: str, **kwargs: Any) -> _Int | None:
        return self.parse(name, int_field, self.raw(name), **kwargs)

    def optional_int(self, name: str, **kwargs: Any) -> _Int | None:
        return self.parse(name, optional_int, self.raw(name), **kwargs)

    def int_list(self, name: str, **kwargs: Any) -> list[_Int]:
        return self.parse(name, int_list, self.getlist(name), **kwargs) or []

    def money(self, name: str, **kwargs: Any) -> Decimal | None:
        return self.parse(name, decimal_money, self.raw(name), **kwargs)

    def date(self, name: str, **kwargs: Any) -> _Date | None:
        return self.parse(name, date_field, self.raw(name), **kwargs)

    def optional_date(self, name: str, **kwargs: Any) -> _Date | None:
        return self.parse(name, optional_date, self.raw(name), **kwargs)

    def time(self, name: str, **kwargs: Any) -> _Time | None:
        return self.parse(name, time_field, self.raw(name), **kwargs)

    def choice(self, name: str, enum: type[E], **kwargs: Any) -> E | None:
        return self.parse(name, choice_field, self.raw(name), enum, **kwargs)

    def optional_choice(self, name: str, enum: type[E], **kwargs: Any) -> E | None:
        return self.parse(name, optional_choice, self.raw(name), enum, **kwargs)

    def check(self) -> None:
        if self.errors:
            raise ValidationFailed(dict(self.errors))

    def merged(self, domain_errors: dict[str, str]) -> dict[str, str]:
        """For forms whose domain call validates too: a field this parser refused is
        handed on blank (which the domain refuses, more vaguely), so the page shows the
        domain's errors for every field with this parser's sentence where it has one."""
        return domain_errors | self.errors


def input_errors(domain_errors: Mapping[str, str], names: Mapping[str, str]) -> dict[str, str]:
    """The domain's field paths (`passengers[2].age`) renamed to a form's inputs
    (`passenger-41-age`) by `names`; a path the form has no input for stays as it is (most
    are the input's name: `contact_email`, `rows`). Two paths on one input: the first wins."""
    errors: dict[str, str] = {}
    for path, message in domain_errors.items():
        errors.setdefault(names.get(path, path), message)
    return errors


def segment_stops(from_raw: str | None, to_raw: str | None) -> tuple[int | None, int | None]:
    """A segment's `from` and `to` stop numbers from a query string (absent: None, the
    whole route); the domain checks that they are stops of the trip, in order."""
    p = Parser({"from": from_raw, "to": to_raw})
    message = "Choose a stop of this route."
    from_seq = p.optional_int("from", message=message)
    to_seq = p.optional_int("to", message=message)
    p.check()
    return from_seq, to_seq


# ------------------------------------------------------------------ the route textarea


def stop_lines(text: str, *, name: str = "stops") -> list[StopLine]:
    """The route editor's textarea, one stop per line:
    `City | minutes from origin | km from origin | point; point`. Only the shape is
    checked here (the domain checks order, bounds and names: `routes.check_stops`)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_STOPS:
        raise _fail(name, f"A route can have at most {MAX_STOPS} stops.")
    stops: list[StopLine] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, 1):
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) < 3 or not parts[0]:
            problems.append(f"line {number}: write City | minutes | km | points")
            continue
        if not (_WHOLE.fullmatch(parts[1]) and _WHOLE.fullmatch(parts[2])):
            problems.append(f"line {number}: minutes and km must be whole numbers")
            continue
        points = [p.strip() for p in (parts[3] if len(parts) > 3 else "").split(";")]
        stops.append(StopLine(parts[0], int(parts[1]), int(parts[2]), [p for p in points if p]))
    if problems:
        raise _fail(name, _sentence(problems))
    return stops


def stop_errors(domain_errors: Mapping[str, str], *, name: str = "stops") -> dict[str, str]:
    """The domain's errors on a route's stops (`stops[3].minutes`, `stops`) as one message
    on the textarea, each by its line (the textarea's lines are the stops, blank lines
    aside); the other fields' errors as they are."""
    errors: dict[str, str] = {}
    problems: list[str] = []
    for path, message in domain_errors.items():
        match = _STOP_PATH.fullmatch(path)
        if match:
            problems.append(f"line {int(match.group(1)) + 1}: {_lower_first(message)}")
        elif path == name:
            problems.append(_lower_first(message))
        else:
            errors[path] = message
    if problems:
        errors[name] = _sentence(problems)
    return errors


def _lower_first(message: str) -> str:
    message = message.rstrip(".")
    return message[:1].lower() + message[1:]


def _sentence(problems: list[str]) -> str:
    text = "; ".join(p.rstrip(".") for p in problems)
    return text[:1].upper() + text[1:] + "."


# ----------------------------------------------------------------- URL and request guard


class Int32Converter(IntegerConverter):
    """`<int:…>` in every route: ASCII digits within PostgreSQL's `integer`. Anything else
    (2147483648, a 5,000-digit number, Arabic-Indic digits) matches no route: a 404, not
    a 500 from asyncpg ("value out of int32 range") or from `int()`."""

    # Digits up to INT32_MAX only, so a larger number matches no rule for any method: a
    # converter that refused it later made werkzeug answer a PUT with a 405 naming GET.
    regex = (
        r"[0-9]{1,9}|[01][0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
        r"|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
        r"|21474836[0-3][0-9]|214748364[0-7]"
    )

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > 10:
            raise ValidationError()
        return super().to_python(value)


class BoundedString(BaseConverter):
    """`<name>` path segments: at most 64 characters (references, ticket numbers and
    gateway names are far shorter); a longer one matches no route, a 404."""

    regex = "[^/]{1,64}"


def install_converters(url_map: Map) -> None:
    """Call before any blueprint is registered: rules bind their converter when added."""
    url_map.converters["int"] = Int32Converter
    url_map.converters["default"] = BoundedString
    url_map.converters["string"] = BoundedString


def _has_nul(values: Iterable[tuple[str, Any]]) -> bool:
    return any("\x00" in key or "\x00" in str(value) for key, value in values)


async def refuse_unreadable() -> None:
    """A NUL byte anywhere in the query string, the path or a form is refused before any
    view sees it: PostgreSQL text cannot hold one, so it could only ever end as a 500."""
    if "\x00" in request.path or _has_nul(request.args.items(multi=True)):
        raise BadRequest(NUL_MESSAGE)
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.form
        if _has_nul(form.items(multi=True)):
            raise BadRequest(NUL_MESSAGE)
