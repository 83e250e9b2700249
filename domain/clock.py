"""The one place that reads the wall clock. Everything else takes `now` as an argument."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
