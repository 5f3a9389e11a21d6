"""What edition of the atlas a reader is looking at: a live nightly harvest or a recorded snapshot.

The site must never let a snapshot pass for a live search, nor an empty section pass for "there is
no such research".  Everything here is derived from the harvest state (data/state.json, read by
plugins/evidence/freshness.py), the run report and the cards themselves: while no live harvest has
ever succeeded (the cards come from `harvest replay` of recorded replies) the edition is a snapshot;
after that, each topic and source reports the finish of its last successful live harvest.
"""

from __future__ import annotations

from .freshness import SOURCE_NAMES, stamp_day


def edition(report: dict | None, state: dict, records: list[dict]) -> dict:
    """Site-wide facts for the "what you are looking at" notices.

    `state` is freshness.load_state(): {slug: {source: {"success": ..., "attempt": ..., "error": ...}}}.
    """
    live = {(slug, source): entry["success"] for slug, sources in state.items()
            for source, entry in sources.items() if entry.get("success")}
    revised = [d for d in ((r.get("updated") or r.get("date") or "") for r in records) if d]
    newest_live = max(live.values(), default=None)
    return {
        "kind": "live" if live else "snapshot",
        # the day the cards were last written from replies (live run or replay)
        "made": stamp_day((report or {}).get("finished")),
        "last_harvest": stamp_day(newest_live),
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
            "harvested": stamp_day(info["sources"].get((slug, source))),
        }
    return out
