"""Harvest state (data/state.json, committed): per topic and source, the date of the last successful
harvest.  The next incremental run asks only for records entered or revised since that date.

    {"topics": {"tms": {"ctgov": "2026-11-22", "pubmed": "2026-11-22"}}, "version": 1}

The date stored is the UTC day the successful run *started*, and requests ask for records dated on or
after it, so a record revised while a run was in flight is picked up next time (the overlap costs a few
unchanged records, which write nothing).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .errors import ConfigError
from .fileio import atomic_write

VERSION = 1


class State:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.topics: dict[str, dict[str, str]] = {}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                topics = doc["topics"]
                if not isinstance(topics, dict):
                    raise TypeError("topics is not an object")
                for slug, sources in topics.items():
                    for source, day in sources.items():
                        dt.date.fromisoformat(day)
                self.topics = {s: dict(v) for s, v in topics.items()}
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConfigError(f"{self.path}: unreadable harvest state ({exc}); fix or delete it") from None

    def since(self, slug: str, source: str) -> dt.date | None:
        day = self.topics.get(slug, {}).get(source)
        return dt.date.fromisoformat(day) if day else None

    def mark(self, slug: str, source: str, day: dt.date) -> None:
        self.topics.setdefault(slug, {})[source] = day.isoformat()

    def dumps(self) -> str:
        return json.dumps({"topics": self.topics, "version": VERSION}, indent=2, sort_keys=True) + "\n"

    def save(self) -> bool:
        """Write the file if its content changed.  Returns True when written."""
        data = self.dumps().encode("utf-8")
        if self.path.exists() and self.path.read_bytes() == data:
            return False
        atomic_write(self.path, data)
        return True
