"""Small helpers for aware datetimes; the database keeps UTC instants."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current instant, aware, in UTC."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive value is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso_utc(moment: datetime | None) -> str | None:
    """Render an instant as ISO 8601 UTC with a Z, second precision or finer."""
    if moment is None:
        return None
    return as_utc(moment).isoformat().replace("+00:00", "Z")
