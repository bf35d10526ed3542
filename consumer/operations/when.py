"""Points in time as operators type them: `2h` ago, or an ISO 8601 date and time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_AGO = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """`90m`, `2h`, `7d` before now, or `2026-12-01T08:00` (UTC unless it says otherwise).

    Raises ValueError with words an operator understands."""
    text = text.strip()
    ago = _AGO.match(text)
    if ago:
        amount, unit = ago.groups()
        try:
            return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
        except OverflowError:
            raise ValueError(f"{text!r} is further back than any record") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give a duration ago (30m, 2h, 7d) or an ISO 8601 "
            "date and time (2026-12-01T08:00, UTC unless an offset is given)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
