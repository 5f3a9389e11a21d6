"""The run report: data/runs/<run_id>.json for every run and data/report.json for the latest run
in which every topic succeeded.

JSON, keys sorted, indent 2 (the site reads it; the keys are described below).  Counting rules:

- per topic and source: `found` = records the topic's query returned (unique ids); of those, the ones the
  classifier put into this topic are counted as `new`/`updated`/`unchanged` by what happened to their
  card, the rest as `off_topic` (returned by the query but not about this topic), so
  found = new + updated + unchanged + off_topic.  `requests` counts HTTP requests the harvester made
  (urllib3's internal retries are not counted), `error` is the one-line reason the source failed.
- `totals` count unique records across the whole run: `records` seen, cards `new`/`updated`/`unchanged`,
  `off_topic` = records that match no topic at all (no card), `books_skipped` (PubmedBookArticle),
  `errors` = record-level parse errors plus failed topic sources.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from harvest.fileio import atomic_write

COUNTS = ("found", "new", "updated", "unchanged", "off_topic")


def utc_now() -> dt.datetime:
    """Now, to the second; `HARVEST_NOW` (ISO 8601 with a zone) pins it, for tests that play nights."""
    pinned = os.environ.get("HARVEST_NOW")
    if pinned:
        when = dt.datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        if when.tzinfo is None:
            raise ValueError(f"HARVEST_NOW={pinned!r} has no time zone")
        return when.astimezone(dt.timezone.utc).replace(microsecond=0)
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(started: dt.datetime, runs_dir: Path) -> tuple[str, dt.datetime]:
    """A run id from the start time; bumped by a second while a report with that id exists."""
    while True:
        run_id = started.strftime("%Y-%m-%dT%H%M%SZ")
        if not (Path(runs_dir) / f"{run_id}.json").exists():
            return run_id, started
        started += dt.timedelta(seconds=1)


def source_entry(query, since: dt.date | None) -> dict:
    entry = {"query": query, "since": since.isoformat() if since else None}
    entry.update({k: 0 for k in COUNTS})
    entry.update(requests=0, seconds=0.0, error=None, error_kind=None)
    return entry


class RunReport:
    def __init__(self, run_id: str, mode: str, started: dt.datetime):
        self.run_id = run_id
        self.mode = mode
        self.started = started
        self.topics: list[dict] = []
        self.totals = {"records": 0, "new": 0, "updated": 0, "unchanged": 0, "off_topic": 0,
                       "books_skipped": 0, "errors": 0}
        self.changes = {"new": [], "updated": [], "new_retractions": [], "status_changes": [], "events": [],
                        "out_of_scope": []}
        self.failures = 0  # failures outside a topic source (replay: unreadable files)

    def topic(self, slug: str, name: str) -> dict:
        entry = {"slug": slug, "name": name, "sources": {}}
        self.topics.append(entry)
        return entry

    @property
    def ok(self) -> bool:
        return not self.failures and not any(src.get("error") for t in self.topics for src in t["sources"].values())

    def to_dict(self, finished: dt.datetime) -> dict:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "started": iso(self.started),
            "finished": iso(finished),
            "ok": self.ok,
            "topics": self.topics,
            "totals": self.totals,
            "changes": {
                "new": sorted(set(self.changes["new"])),
                "updated": sorted(set(self.changes["updated"]) - set(self.changes["new"]) - set(self.changes["out_of_scope"])),
                "new_retractions": sorted(set(self.changes["new_retractions"])),
                "status_changes": sorted(self.changes["status_changes"], key=lambda c: c["id"]),
                # registry changes and retractions, as kept in each card's history (harvest/records/drift.py)
                "events": sorted(self.changes["events"], key=lambda e: (e["id"], e["date"], e["event"])),
                "out_of_scope": sorted(set(self.changes["out_of_scope"])),
            },
        }

    def write(self, data_dir: Path, finished: dt.datetime | None = None) -> dict:
        doc = self.to_dict(finished or utc_now())
        data = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        data_dir = Path(data_dir)
        atomic_write(data_dir / "runs" / f"{self.run_id}.json", data)
        # data/report.json is the report the site describes as "the last harvest": a run with a failed
        # topic keeps its full report in data/runs/ only, so a failed night cannot replace it.
        if doc["ok"]:
            atomic_write(data_dir / "report.json", data)
        return doc
