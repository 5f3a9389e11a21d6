"""Atom feeds of new evidence and "what changed" pages, one per harvest run.

Writes
    feeds/all.atom.xml            the newest evidence on the whole site
    feeds/<topic-slug>.atom.xml   the same, per topic
    changes/index.html            every harvest run, newest first
    changes/<run_id>/index.html   one run: new and updated cards, new retractions, trial status changes,
                                  registry events and records that left scope
    feeds/changes/<topic-slug>.atom.xml   per topic, events on its cards: status changed, results posted,
                                  became overdue, publication linked, retracted, registry values changed

Reads what plugins/evidence puts into the context: ``evidence`` (visible card articles, newest first,
each with ``.record``), ``evidence_by_id``, ``topics`` and ``runs`` (run reports, newest first).

Setting (all keys optional)::

    EVIDENCE_FEEDS = {
        "max_items": 50,                                   # entries per feed
        "tag_authority": "mood-evidence-atlas.github.io,2026",  # entry ids: tag:<authority>:<record id>
    }

Feed bytes depend only on the cards and run reports: entry dates come from the records and the runs,
never from the clock, so an unchanged site rebuilds to identical feeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import os
import re

from feedgenerator import Atom1Feed

from pelican import signals
from pelican.generators import Generator

from harvest.cards.overrides import last_corrected
from harvest.fileio import claim, write_if_changed
from harvest.records.dates import period_start
from harvest.records.record import DESIGN_LABELS
from harvest.records.sanitize import one_line

logger = logging.getLogger(__name__)

DEFAULTS = {
    "max_items": 50,
    "tag_authority": "mood-evidence-atlas.github.io,2026",
}

# Run ids become directory names: allow only what the harvester writes (2026-11-22T031500Z).
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SUMMARY_CHARS = 600
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def settings_of(settings: dict) -> dict:
    return {**DEFAULTS, **(settings.get("EVIDENCE_FEEDS") or {})}


def parse_when(value: object) -> dt.datetime | None:
    """ISO date or timestamp ('2024', '2024-03', '2024-03-05', '2026-11-22T03:15:00Z') -> aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        day = period_start(text, whole=True)
        if day:
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def first_seen(runs: list[dict]) -> dict[str, dt.datetime]:
    """Record id -> finish time of the earliest run that reported it as new."""
    seen: dict[str, dt.datetime] = {}
    for run in runs or []:
        when = parse_when(run.get("finished")) or parse_when(run.get("started"))
        if when is None:
            continue
        for rid in (run.get("changes") or {}).get("new") or []:
            if isinstance(rid, str) and (rid not in seen or when < seen[rid]):
                seen[rid] = when
    return seen


def site_link(siteurl: str, url: str) -> str:
    """Absolute when SITEURL is set, else root-relative (feeds live one level below the root)."""
    return f"{siteurl.rstrip('/')}/{url.lstrip('/')}"


class _Feed(Atom1Feed):
    """Atom feed whose <updated> never falls back to "now" (feedgenerator's default when empty)."""

    def __init__(self, *args, fallback_updated: dt.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._fallback_updated = fallback_updated

    def latest_post_date(self):
        dates = [d for item in self.items for d in (item["updateddate"], item["pubdate"]) if d]
        return max(dates) if dates else self._fallback_updated


def entry_summary(record: dict, card: dict | None = None) -> str:
    """What the entry says: design, source, year and the bottom line (or start of the abstract).

    With the card's derived values (``article.ev``) the first facts are the ones its page shows: its
    evidence level in words and, for a trial, its results-reporting fact ("Results overdue under
    FDAAA 801", "No results posted 3 years after completion", ...).

    Atom's summary is type="html" here, so the plain text is HTML-escaped: a harvested
    "<script>" arrives in a reader as text, never as markup.
    """
    facts = [DESIGN_LABELS.get(record.get("design") or "other", "Other")]
    for value in (record.get("journal"), record.get("year"), record.get("status")):
        if value:
            facts.append(str(value))
    if card and "level_label" in card:
        facts.insert(0, card["level_label"])
        if card.get("reporting_text"):
            facts.append(card["reporting_text"])
    if record.get("retracted"):
        facts.insert(0, "RETRACTED")
    sections = [s for s in record.get("abstract") or [] if (s.get("text") or "").strip()]
    chosen = None
    for section in sections:
        if re.match(r"^\s*conclusions?\b", section.get("label") or "", re.IGNORECASE):
            chosen = section
    if chosen is None and sections:
        chosen = sections[0]
    text = one_line((chosen or {}).get("text", ""))
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"
    out = "<p>" + html.escape(" · ".join(facts)) + "</p>"
    if text:
        out += "<p>" + html.escape(text) + "</p>"
    return out


class FeedsGenerator(Generator):
    def generate_output(self, writer):
        self.options = settings_of(self.settings)
        evidence = list(self.context.get("evidence") or [])
        runs = list(self.context.get("runs") or [])
        seen = first_seen(runs)
        latest_run = max((parse_when(r.get("finished")) for r in runs if parse_when(r.get("finished"))),
                         default=None)
        self.fallback_updated = latest_run or _EPOCH
        ordered = self.order(evidence, seen)
        self.write_feed("feeds/all.atom.xml", "New evidence", "", ordered, seen)
        for topic in self.context.get("topics") or []:
            items = [a for a in ordered if topic.slug in (a.record.get("topics") or [])]
            self.write_feed(f"feeds/{topic.slug}.atom.xml", f"New evidence: {topic.name}",
                            f"topics/{topic.slug}/", items, seen)
            self.write_events_feed(topic, items)
        self.write_changes(writer, runs)

    @staticmethod
    def order(evidence: list, seen: dict) -> list:
        """Newest arrivals first: when a harvest first reported the card, else its own date."""
        def key(article):
            rid = article.record.get("id")
            when = seen.get(rid) or parse_when(article.record.get("date")) or _EPOCH
            return when
        # sorted() is stable: ties keep the evidence plugin's newest-first order.
        return sorted(evidence, key=key, reverse=True)

    def write_feed(self, path: str, title: str, page_url: str, articles: list, seen: dict) -> None:
        siteurl = self.settings.get("SITEURL", "") or ""
        authority = self.options["tag_authority"]
        feed = _Feed(
            title=f"{self.settings.get('SITENAME', '')} — {title}",
            link=site_link(siteurl, page_url),
            feed_url=site_link(siteurl, path),
            description=self.settings.get("SITESUBTITLE", ""),
            language=self.settings.get("DEFAULT_LANG"),
            feed_guid=f"tag:{authority}:{path}",
            fallback_updated=self.fallback_updated,
        )
        for article in articles[: self.options["max_items"]]:
            record = article.record
            published = seen.get(record["id"]) or parse_when(record.get("date"))
            # The latest of the source's dates and the editors' last correction (Methods, "Update cadence").
            revised = [d for d in (published, parse_when(record.get("updated")),
                                   parse_when(last_corrected(getattr(article, "editor", None)))) if d]
            feed.add_item(
                title=one_line(record.get("title") or article.title or record["id"]),
                link=site_link(siteurl, article.url),
                description=entry_summary(record, getattr(article, "ev", None)),
                unique_id=f"tag:{authority}:{record['id']}",
                pubdate=published,
                updateddate=max(revised) if revised else None,
                categories=sorted(record.get("topics") or []) + [record.get("design") or "other"],
                author_name=", ".join(record.get("authors") or []) or None,
            )
        _write_if_changed(os.path.join(self.output_path, path), feed.writeString("utf-8").encode("utf-8"))

    def write_events_feed(self, topic, articles: list) -> None:
        """Events on the topic's cards, newest first: from each card's history (harvest/records/drift.py), which
        survives replays, plus "became overdue" on the day a trial's results fell due."""
        siteurl = self.settings.get("SITEURL", "") or ""
        authority = self.options["tag_authority"]
        path = f"feeds/changes/{topic.slug}.atom.xml"
        feed = _Feed(
            title=f"{self.settings.get('SITENAME', '')} — Changes: {topic.name}",
            link=site_link(siteurl, "changes/"),
            feed_url=site_link(siteurl, path),
            description=self.settings.get("SITESUBTITLE", ""),
            language=self.settings.get("DEFAULT_LANG"),
            feed_guid=f"tag:{authority}:{path}",
            fallback_updated=self.fallback_updated,
        )
        items = []
        for article in articles:
            record = article.record
            entries = list(getattr(article, "history", None) or [])
            due = overdue_since(article)
            if due:
                entries.append({"date": due, "event": "became_overdue"})
            for entry in entries:
                when = parse_when(entry.get("date"))
                if when is not None:
                    items.append((when, record["id"], entry, article))
        items.sort(key=lambda i: (i[0], i[1], json_key(i[2])), reverse=True)
        for when, rid, entry, article in items[: self.options["max_items"]]:
            title = one_line(article.record.get("title") or article.title or rid)
            what = event_text(entry)
            feed.add_item(
                title=f"{what[0].upper()}{what[1:]}: {title}",
                link=site_link(siteurl, article.url) + ("#registry-changes" if entry["event"] != "became_overdue" else ""),
                description="<p>" + html.escape(f"{entry.get('date')}: {what}.") + "</p>",
                unique_id=f"tag:{authority}:{rid}:{entry['event']}:{entry.get('date')}:{json_key(entry)}",
                pubdate=when,
                updateddate=when,
                categories=[topic.slug, entry["event"]],
            )
        _write_if_changed(os.path.join(self.output_path, path), feed.writeString("utf-8").encode("utf-8"))

    def write_changes(self, writer, runs: list[dict]) -> None:
        by_id = self.context.get("evidence_by_id") or {}
        relative = self.settings.get("RELATIVE_URLS", False)
        listed = []
        page = self.get_template("changes")
        due = sorted((d, a) for a in self.context.get("evidence") or [] if (d := overdue_since(a)))
        gone = missing_notes(self.context.get("hidden_articles") or [])
        for index, run in enumerate(runs):
            run_id = str(run.get("run_id") or "")
            if not RUN_ID_RE.match(run_id):
                logger.warning("changes: skipping run report with unusable run_id %r", run_id)
                continue
            entry = {"run": run, "run_id": run_id, "url": f"changes/{run_id}/",
                     "groups": change_groups(run, by_id, gone),
                     "finished": parse_when(run.get("finished"))}
            # A trial whose results fell due after the previous run finished and by this one became
            # overdue "in" this run: the date follows from its registry entry, not from the clock.
            previous = next((r.get("finished") for r in runs[index + 1:] if r.get("finished")), None)
            if previous and run.get("finished"):
                events = next(g for g in entry["groups"] if g["key"] == "events")
                for day, article in due:
                    if previous[:10] < day <= run["finished"][:10]:
                        item = _item(article.record["id"], by_id)
                        item["event"] = event_text({"event": "became_overdue"})
                        events["items"].append(item)
            listed.append(entry)
            writer.write_file(
                f"changes/{run_id}/index.html", page, self.context, relative_urls=relative,
                url=entry["url"], change=entry, page_name=f"changes/{run_id}/index",
                template_name="changes",
            )
        writer.write_file(
            "changes/index.html", self.get_template("changes_index"), self.context,
            relative_urls=relative, url="changes/", changes=listed, page_name="changes/index",
            template_name="changes_index",
        )


def json_key(entry: dict) -> str:
    """A short stable key of a history entry, so two events of one card on one day get distinct ids."""
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:8]


def _write_if_changed(out: str, data: bytes) -> None:
    claim(out)
    if write_if_changed(out, data):  # unchanged feeds are left alone (bytes and mtime)
        logger.info('Writing "%s"', out)


FIELD_LABELS = {"enrollment": "enrollment", "primary_outcomes": "primary outcome measures",
                "primary_completion_date": "primary completion date", "sponsor": "lead sponsor"}


def _value(field: str | None, value, kind=None) -> str:
    if value in (None, []):
        return "not given"
    if field == "status":
        return str(value).replace("_", " ").lower()
    if field == "enrollment":
        kind = {"ACTUAL": " (actual)", "ESTIMATED": " (anticipated)"}.get(kind or "", "")
        return f"{value} participants{kind}"
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return str(value)


def event_text(entry: dict) -> str:
    """One plain sentence fragment for a history event (harvest/records/drift.py)."""
    event = entry.get("event")
    if event == "status_changed":
        return f"status changed from {_value('status', entry.get('from'))} to {_value('status', entry.get('to'))}"
    if event == "changed":
        field = entry.get("field")
        return (f"{FIELD_LABELS.get(field, str(field))} changed from "
                f"{_value(field, entry.get('from'), entry.get('from_type'))} to "
                f"{_value(field, entry.get('to'), entry.get('to_type'))}")
    if event == "results_posted":
        return "results posted on ClinicalTrials.gov"
    if event == "publication_linked":
        return f"publication PMID {entry.get('to')} linked"
    if event == "retracted":
        return "retracted"
    if event == "became_overdue":
        return "results became overdue"
    return str(event)


def overdue_since(article) -> str | None:
    """The day an overdue trial's results fell due under the rule that applies (plugins/evidence/model.py)."""
    ev = getattr(article, "ev", None) or {}
    return (ev.get("reporting") or {}).get("due") if ev.get("overdue") else None


SCOPE_NOTE = "card no longer in the atlas’s scope"


def missing_notes(hidden: list) -> dict[str, tuple[str, str | None]]:
    """Record id -> (why a card a run wrote is on no list of the site now, the address of the short
    page its address keeps, which says why and since when)."""
    notes = {}
    for article in hidden:
        record = getattr(article, "record", None)
        if not isinstance(record, dict):
            continue
        if (getattr(article, "editor", None) or {}).get("hidden"):
            notes[record["id"]] = ("card withdrawn by the editors", getattr(article, "url", None))
        elif getattr(article, "scope", None):
            notes[record["id"]] = (SCOPE_NOTE, getattr(article, "url", None))
    return notes


def _item(rid: object, by_id: dict, gone: dict | None = None) -> dict:
    article = by_id.get(rid) if isinstance(rid, str) else None
    title = None
    missing = gone_url = None
    title_corrected = None
    if article is not None:
        title = article.record.get("title") or article.title
        # The title is the card's as it is now: where that is the editors' and not the source's, the
        # page says so, since the run itself wrote the source's title.
        title_corrected = last_corrected(getattr(article, "editor", None), "title")
    else:
        # The id is shown once, by the template; the note says why there is nothing to link to.
        missing, gone_url = (gone or {}).get(rid) or ("no card on this site now", None)
    return {"id": str(rid), "article": article, "title": title, "title_corrected": title_corrected,
            "missing": missing, "gone_url": gone_url}


def change_groups(run: dict, by_id: dict, gone: dict | None = None) -> list[dict]:
    """The run's changes, resolved to card articles where a card is on the site (``gone``: missing_notes)."""
    changes = run.get("changes") or {}
    groups = []
    for key, label in (("new", "New cards"), ("updated", "Updated cards"),
                       ("new_retractions", "New retractions")):
        items = [_item(rid, by_id, gone) for rid in changes.get(key) or []]
        groups.append({"key": key, "label": label, "items": items})
    status_items = []
    for change in changes.get("status_changes") or []:
        if not isinstance(change, dict):
            continue
        item = _item(change.get("id"), by_id, gone)
        item["from"] = change.get("from")
        item["to"] = change.get("to")
        status_items.append(item)
    groups.append({"key": "status_changes", "label": "Trial status changes", "items": status_items})
    events = []
    for change in changes.get("events") or []:
        if isinstance(change, dict):
            item = _item(change.get("id"), by_id, gone)
            item["event"] = event_text(change)
            events.append(item)
    groups.append({"key": "events", "label": "Registry changes and retractions", "items": events})
    left = [_item(rid, by_id, gone) for rid in changes.get("out_of_scope") or []]
    for item in left:
        if item["missing"] == SCOPE_NOTE:  # the group's heading says it already
            item["missing"] = None
    groups.append({"key": "out_of_scope", "label": "No longer in the atlas’s scope", "items": left})
    return groups


def get_generators(pelican):
    return FeedsGenerator


def register():
    signals.get_generators.connect(get_generators)
