"""output/edition.json: the edition and how fresh it is, for the footer of the build manifest's pages.

The date of the last harvest changes every night.  Card, listing, withdrawn and out-of-scope pages
(plugins/speedups/manifest.py) do not carry it, or every one of them would be rendered, rewritten and
uploaded again each night although its card did not change: their footer links the Methods page's
edition section and theme/static/js/edition.js fills in the sentence the other pages' footer shows
(theme/templates/_edition.html: edition_short, and the stale warning of _freshness.html) from this
one small file, which is written only when its bytes change.

Its values come from the run report (``made``) and data/state.json (``last_harvest``, ``newest``);
each is checked for the shape the harvester writes before it reaches a reader's page, and a value of
another shape stops the build with one line naming the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re

from harvest.fileio import claim, write_if_changed

FILE = "edition.json"
KINDS = ("live", "snapshot")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# harvest/state.py and harvest/report.py write UTC stamps: 2025-06-01T03:12:00Z (seconds optional,
# fractions allowed, an explicit offset too).
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})")


class EditionFileError(ValueError):
    pass


def _day(value, where: str, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and DAY.fullmatch(value):
        try:
            dt.date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise EditionFileError(f"{where}: {what} is not a date (YYYY-MM-DD...): {str(value)[:40]!r}")


def check_stamp(value, where: str, what: str) -> str | None:
    """`value` if it is None or a UTC stamp as the harvester writes it; else EditionFileError naming `where`."""
    if value is None:
        return None
    if isinstance(value, str) and STAMP.fullmatch(value):
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return value
        except ValueError:
            pass
    raise EditionFileError(f"{where}: {what} is not an ISO UTC time: {str(value)[:40]!r}")


def payload(edition: dict, site: dict, data_path: str) -> dict:
    """The file's values from the context's edition (plugins/evidence/edition.py) and site freshness
    (plugins/evidence/freshness.py site_freshness).  EditionFileError: a value of the wrong shape."""
    report = os.path.join(data_path, "report.json")
    state = os.path.join(data_path, "state.json")
    kind = edition.get("kind")
    if kind not in KINDS:
        raise EditionFileError(f"{state}: edition kind {kind!r} is neither live nor snapshot")
    age = site.get("age_days")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int)):
        raise EditionFileError(f"{state}: the age of the newest harvest is not a number of days: {age!r}")
    return {
        "kind": kind,
        "made": _day(edition.get("made"), report, "finished"),
        "last_harvest": _day(edition.get("last_harvest"), state, "the last successful harvest"),
        "newest": check_stamp(site.get("newest"), state, "the last successful harvest"),
        "age_days": age,
        "stale": bool(site.get("stale")),
    }


def dumps(values: dict) -> bytes:
    return (json.dumps(values, sort_keys=True, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def write(output_path: str, context: dict, data_path: str) -> bool:
    """Write output/edition.json unless it already holds these bytes (True when written)."""
    edition = context.get("edition") or {}
    site = (context.get("freshness") or {}).get("site") or {}
    data = dumps(payload(edition, site, data_path))
    claim(os.path.join(output_path, FILE))
    return write_if_changed(os.path.join(output_path, FILE), data)
