"""Harvest state (data/state.json, committed): per topic and source, when the last *successful*
harvest finished and what happened on the latest attempt.

    {"topics": {"tms": {"pubmed": {"attempt": "2026-11-23T03:19:02Z", "error": "network",
                                   "error_source": "pubmed", "success": "2026-11-22T03:20:11Z"}}},
     "version": 2}

`success` is the finish time of the last harvest of that topic and source whose cards were written;
a failed attempt records only `attempt`, `error` (the short public error class, harvest/errors.py) and
`error_source` (which API failed: a topic's two sources are written together or not at all, so a
ClinicalTrials.gov failure also leaves the topic's PubMed cards as they were).  The site's freshness
claims (harvest/freshness.py) come from this file.

The next incremental run asks for records entered or revised on or after (success - overlap): PubMed
stamps its dates in US Eastern time and a nightly run at 03:17 UTC is the previous evening there, so
without an overlap a record revised late that evening could be missed for good.  Records that come
back unchanged write nothing, so the overlap costs requests, not churn.  Version 1 files (one UTC day
per source) are read as a success at the start of that day.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from harvest.errors import ConfigError
from harvest.fileio import atomic_write

VERSION = 2
DEFAULT_OVERLAP_DAYS = 3


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return when.astimezone(dt.timezone.utc)


def _entry(value, where: str) -> dict:
    if isinstance(value, str):  # version 1: the UTC day the successful run started
        day = dt.date.fromisoformat(value)
        stamp = f"{day.isoformat()}T00:00:00Z"
        return {"attempt": stamp, "error": None, "error_source": None, "success": stamp}
    if not isinstance(value, dict):
        raise TypeError(f"{where} is not an object")
    out = {"attempt": value.get("attempt"), "error": value.get("error"),
           "error_source": value.get("error_source"), "success": value.get("success")}
    for key in ("attempt", "success"):
        if out[key] is not None:
            parse_iso(out[key])
    return out


class State:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.topics: dict[str, dict[str, dict]] = {}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                topics = doc["topics"]
                if not isinstance(topics, dict):
                    raise TypeError("topics is not an object")
                self.topics = {slug: {source: _entry(value, f"{slug}.{source}") for source, value in sources.items()}
                               for slug, sources in topics.items()}
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{self.path}: unreadable harvest state ({exc}); fix or delete it") from None

    def entry(self, slug: str, source: str) -> dict | None:
        return self.topics.get(slug, {}).get(source)

    def since(self, slug: str, source: str, overlap_days: int = DEFAULT_OVERLAP_DAYS) -> dt.date | None:
        """First day the incremental query asks for: the last success's finish minus the overlap."""
        entry = self.entry(slug, source)
        if not entry or not entry.get("success"):
            return None
        return (parse_iso(entry["success"]) - dt.timedelta(days=overlap_days)).date()

    def succeeded(self, slug: str, source: str, finished: dt.datetime) -> None:
        self.topics.setdefault(slug, {})[source] = {"attempt": iso(finished), "error": None,
                                                    "error_source": None, "success": iso(finished)}

    def failed(self, slug: str, source: str, attempted: dt.datetime, kind: str, failed_source: str) -> None:
        old = self.entry(slug, source) or {}
        self.topics.setdefault(slug, {})[source] = {"attempt": iso(attempted), "error": kind,
                                                    "error_source": failed_source, "success": old.get("success")}

    def dumps(self) -> str:
        return json.dumps({"topics": self.topics, "version": VERSION}, indent=1, sort_keys=True) + "\n"

    def save(self) -> bool:
        """Write the file if its content changed.  Returns True when written."""
        data = self.dumps().encode("utf-8")
        if self.path.exists() and self.path.read_bytes() == data:
            return False
        atomic_write(self.path, data)
        return True
