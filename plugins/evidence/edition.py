"""What edition of the atlas a reader is looking at: a live nightly harvest or a recorded snapshot.

The site must never let a snapshot pass for a live search, nor an empty section pass for "there is
no such research".  Everything here is derived from the run reports and the cards themselves, so the
wording follows the data: a build from `harvest replay` alone (no `harvest run` has ever finished) is
a snapshot; once a live run exists, each topic and source reports the finish of its last successful
live harvest.
"""

from __future__ import annotations

SOURCE_NAMES = {"pubmed": "PubMed", "ctgov": "ClinicalTrials.gov"}


def _day(stamp: str | None) -> str | None:
    return stamp[:10] if stamp else None


def _last_success(runs: list[dict]) -> dict:
    """(topic slug, source) → finish time of the newest live run in which that source succeeded."""
    out: dict = {}
    for run in runs:  # newest first
        if run.get("mode") != "run":
            continue
        for topic in run.get("topics") or []:
            for source, entry in (topic.get("sources") or {}).items():
                key = (topic.get("slug"), source)
                if key not in out and not entry.get("error"):
                    out[key] = run.get("finished")
    return out


def edition(report: dict | None, runs: list[dict], records: list[dict]) -> dict:
    """Site-wide facts for the "what you are looking at" notices."""
    live = _last_success(runs)
    revised = [d for d in ((r.get("updated") or r.get("date") or "") for r in records) if d]
    newest_live = max(live.values(), default=None)
    return {
        "kind": "live" if live else "snapshot",
        # the day the cards were last written from replies (live run or replay)
        "made": _day((report or {}).get("finished")),
        "last_harvest": _day(newest_live),
        "newest_record": max(revised)[:10] if revised else None,
        "records": len(records),
        "sources": live,
    }


def topic_sources(info: dict, slug: str, records: list[dict]) -> dict:
    """Per source, for one topic: cards it holds and when the source was last harvested for it."""
    out = {}
    for source, name in SOURCE_NAMES.items():
        out[source] = {
            "name": name,
            "cards": sum(1 for r in records if r.get("source") == source),
            "harvested": _day(info["sources"].get((slug, source))),
        }
    return out
