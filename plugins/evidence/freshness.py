"""What the site says about how fresh its data are, from data/state.json (see harvest/state.py).

Per topic and source the site shows the finish time of the last *successful* harvest; where the latest
attempt failed it says so in plain words, naming only the short error class the harvester recorded
(never exception text, which stays in the run report).  The home page says how old the data are when
the newest successful harvest is more than STALE_DAYS days before the build day.

A topic and source without an entry in data/state.json (a snapshot edition built from recordings,
plugins/evidence/edition.py) has no freshness claim here at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

from .edition_file import EditionFileError, check_stamp

logger = logging.getLogger(__name__)

STALE_DAYS = 3
SOURCE_NAMES = {"pubmed": "PubMed", "ctgov": "ClinicalTrials.gov"}
# The words after "The latest update attempt on <date>" for each error class (harvest/errors.py).
ERROR_WORDS = {
    "network": "could not reach {source}",
    "rate limit": "was turned away by {source}’s rate limit",
    "server error": "met a server error at {source}",
    "bad reply": "got a reply from {source} that could not be read",
    "query rejected": "had its search rejected by {source}",
}


def load_state(data_path: str) -> dict:
    path = os.path.join(data_path, "state.json")
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        topics = doc.get("topics") or {}
    except (OSError, ValueError, AttributeError) as exc:
        logger.error("harvest state %s: %s", path, exc)
        return {}
    out = {}
    for slug, sources in topics.items():
        for source, value in (sources or {}).items():
            if isinstance(value, str):  # version 1: a UTC day
                value = {"success": f"{value}T00:00:00Z", "attempt": f"{value}T00:00:00Z", "error": None}
            if isinstance(value, dict):
                # Its stamps are compared, sorted and shown as days: one of another shape stops the
                # build with one line naming the file, not a traceback later.
                try:
                    for key in ("success", "attempt"):
                        check_stamp(value.get(key), path, f"{slug} {source} {key}")
                except EditionFileError as exc:
                    logger.error("harvest state %s", exc)
                    return {}
                out.setdefault(slug, {})[source] = value
    return out


def error_words(kind: str | None, source: str | None) -> str:
    name = SOURCE_NAMES.get(source or "", "the source")
    return ERROR_WORDS.get(kind or "", "failed at {source}").format(source=name)


def stamp_day(stamp: str | None) -> str | None:
    return stamp[:10] if stamp else None


def topic_freshness(state: dict, report: dict | None, slug: str, sources=("pubmed", "ctgov")) -> dict:
    """{"sources": [{source, name, success, attempt, error, error_source}], "failure": sentence or None}."""
    rows = []
    for source in sources:
        entry = (state.get(slug) or {}).get(source)
        if entry is None:
            continue
        rows.append({"source": source, "name": SOURCE_NAMES.get(source, source), "success": entry.get("success"),
                     "attempt": entry.get("attempt"), "error": entry.get("error"),
                     "error_source": entry.get("error_source") or source})
    failed = [r for r in rows if r["error"]]
    failure = None
    if failed:
        first = failed[0]
        shown = sorted({stamp_day(r["success"]) for r in failed if r["success"]})
        sentence = f"The latest update attempt on {stamp_day(first['attempt'])} {error_words(first['error'], first['error_source'])}; "
        if shown:
            sentence += f"the cards shown are from the harvest of {' and '.join(shown)}."
        else:
            sentence += "no harvest of this topic has succeeded yet, so the cards shown come from earlier content."
        failure = sentence
    return {"sources": rows, "failure": failure}


def site_freshness(state: dict, report: dict | None, slugs: list[str], today: dt.date) -> dict:
    """Newest successful harvest over every topic and source, and how many days before `today` it was."""
    stamps = [e.get("success") for slug in slugs for e in (state.get(slug) or {}).values() if e.get("success")]
    newest = max(stamps) if stamps else None
    age = (today - dt.date.fromisoformat(newest[:10])).days if newest else None
    failed = sorted(slug for slug in slugs for e in (state.get(slug) or {}).values() if e.get("error"))
    return {"newest": newest, "age_days": age, "stale": age is not None and age > STALE_DAYS,
            "failed_topics": sorted(set(failed))}


def build_day(settings: dict) -> dt.date:
    """The day the site is built: pinned by EVIDENCE_TODAY (tests), else today in UTC."""
    pinned = settings.get("EVIDENCE_TODAY")
    if pinned:
        return dt.date.fromisoformat(str(pinned)[:10])
    return dt.datetime.now(dt.timezone.utc).date()


def freshness(state: dict, settings: dict, report: dict | None, topics) -> dict:
    """`state` is load_state()'s reading, shared with plugins/evidence/edition.py."""
    slugs = [t.slug for t in topics]
    return {"topics": {t.slug: topic_freshness(state, report, t.slug) for t in topics},
            "site": site_freshness(state, report, slugs, build_day(settings))}
