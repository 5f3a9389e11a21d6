"""Partial ISO dates, as records carry them: '2023', '2023-05' or '2023-05-17'.

Sources give a date only as precisely as they know it (a registry's month-only completion date, a
journal issue's year), so a record keeps the date as given and each reader of it says which end of
the period it means.  Every place that reads a record's date reads it here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_PARTIAL_RE = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def parts(value: object, *, whole: bool = False) -> tuple[int, int | None, int | None] | None:
    """(year, month or None, day or None) of a partial ISO date, or None when it is not one.

    By default the date may be followed by more (a timestamp's time); `whole` wants nothing after it.
    """
    if not isinstance(value, str) or not value:
        return None
    m = (_PARTIAL_RE.fullmatch if whole else _PARTIAL_RE.match)(value)
    if not m:
        return None
    year, month, day = m.groups()
    return int(year), int(month) if month else None, int(day) if day else None


def period_start(value: object, *, whole: bool = False) -> dt.date | None:
    """First day covered by a partial date ('2023' → 1 Jan, '2023-05' → 1 May)."""
    p = parts(value, whole=whole)
    if p is None:
        return None
    year, month, day = p
    return dt.date(year, month or 1, day or 1)


def period_end(value: object) -> dt.date | None:
    """Last day covered by a partial date ('2023' → 31 Dec, '2023-05' → 31 May)."""
    p = parts(value)
    if p is None:
        return None
    year, month, day = p
    if day:
        return dt.date(year, month, day)
    if month:
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, 12, 31)
