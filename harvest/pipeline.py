"""`python -m harvest run`: fetch → raw cache → parse → classify → cards → report.

    python -m harvest run [--full] [--topic SLUG ...] [--batch-size N] [--content DIR] [--data DIR]

Per topic, both sources are fetched completely and their records staged in memory (their raw replies
staged under data/raw/.staging/).  Only when the whole topic succeeded are its replies committed to the
raw cache and its cards written, so a topic that fails half-way (timeout after retries, NCBI error,
truncated reply) changes no card and no cache file; the other topics still run, and the exit status is
1 when any topic failed.  Records are classified against *all* topics, so a record gets the same topics
whichever query returned it; a record returned by several topic queries is written once; a record that
matches no topic gets no card.  `harvest replay` runs the same parse/classify/override/card code.

A topic naming a Metapsy database (`metapsy` in topics.toml) fetches it as a third source after the
other two, under the same rule: its replies are cached, parsed and pooled with the topic, and
data/meta/<slug>.json is written only when the whole topic succeeded, so a failed fetch or a
malformed row (one line naming the row) keeps the previous meta-analysis.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from harvest.cards.card import read_card_all, write_card, card_relpath
from harvest.classification.topics import load_topics
from harvest.errors import CardError, HarvestError
from harvest.progress import Progress, summary_table
from harvest.records import drift
from harvest.report import RunReport, new_run_id, source_entry, utc_now
from harvest.sources.ctgov.fetch import fetch_ctgov
from harvest.sources.http import Client, Settings, install_redaction, redact
from harvest.sources.metapsy.fetch import fetch_metapsy
from harvest.sources.metapsy.pool import cache_dir_name, import_snapshot, write_meta
from harvest.sources.pubmed.fetch import DEFAULT_BATCH, fetch_pubmed
from harvest.sources.rawcache import RawCache
from harvest.state import DEFAULT_OVERLAP_DAYS, State

LOG = logging.getLogger("harvest")
SOURCES = ("pubmed", "ctgov", "metapsy")
RECORD_KINDS = {"efetch": "pubmed", "studies": "ctgov"}


# --- shared with replay ------------------------------------------------------------------------------

def setup_logging(interactive: bool) -> logging.Handler:
    """stderr logging for the CLI; redaction on every logger the HTTP stack uses and on the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("harvest: %(levelname)s: %(message)s"))
    logger = logging.getLogger("harvest")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if interactive else logging.INFO)
    logger.propagate = False
    install_redaction(handler)
    return handler


def start_offline(folder: str) -> list | None:
    """The start of an offline command (replay, seed): logging, its input folder checked, the topics
    loaded; None, logged, when it cannot start."""
    setup_logging(False)
    folder = Path(folder)
    if not folder.is_dir():
        LOG.error("%s: not a directory", folder)
        return None
    try:
        return load_topics()
    except HarvestError as exc:
        LOG.error("%s", exc)
        return None


def parse_response(source: str, body: bytes, name: str):
    """(records, books_skipped, errors) of one record-bearing reply; ParseError if it is unreadable."""
    if source == "pubmed":
        from harvest.sources.pubmed.parse import parse_pubmed

        batch = parse_pubmed(body, name)
        return batch.records, batch.books_skipped, batch.errors
    from harvest.sources.ctgov.parse import parse_ctgov

    page = parse_ctgov(body, name)
    return page.records, 0, page.errors


def newer(candidate: dict, current: dict | None) -> bool:
    """Latest revision wins: a later (or equal, arriving later) `updated` date replaces the record."""
    if current is None:
        return True
    return (candidate.get("updated") or "") >= (current.get("updated") or "")


class CardWriter:
    """Classifies and writes cards; remembers what each id became.

    Cards hold what the source says: editor overrides (content/overrides.toml) are applied by the
    site build (plugins/evidence/editorial.py), so a card never depends on that file.
    """

    def __init__(self, content_dir: Path, topics: list, report: RunReport):
        self.content_dir = Path(content_dir)
        self.topics = topics
        self.report = report
        self.done: dict[str, tuple[str | None, str, list[str]]] = {}  # id -> (updated, outcome, topics)

    def write(self, record: dict, earlier_events: list | None = None) -> tuple[str, list[str]]:
        """Returns (outcome, topics): outcome 'new'|'updated'|'unchanged'|'off_topic'|'error'."""
        from harvest.classification.classify import classify_with_reasons

        rid = record["id"]
        seen = self.done.get(rid)
        if seen is not None and (record.get("updated") or "") <= (seen[0] or ""):
            return seen[1], seen[2]
        topics, reasons = classify_with_reasons(record, self.topics)
        record = dict(record, topics=topics, topic_reasons=reasons)
        totals = self.report.totals
        if seen is None:
            totals["records"] += 1
        old_card = self._old(record) if topics or self._has_card(record) else None
        if not topics and old_card is None:
            outcome = "off_topic"  # never had a card: nothing to keep
        else:
            try:
                final = record
                old, _old_editor, old_extras = old_card or (None, None, {})
                day = self.report.started.date().isoformat()
                new_events = drift.events(old, final, day)
                # `earlier_events`: changes between older revisions of this record (replay of a cache
                # that holds several), kept in order before the change from the card to this revision.
                extras = {"history": drift.merged(drift.merged(old_extras.get("history"), earlier_events or []),
                                                  new_events)}
                if not topics:
                    # It had a card and now matches no topic: keep the card, updated, marked out of scope.
                    extras["scope"] = old_extras.get("scope") or drift.scope(final, day)
                outcome = write_card(self.content_dir, final, None, extras)
            except CardError as exc:
                LOG.error("%s", exc)
                totals["errors"] += 1
                outcome = "error"
            else:
                self._changes(final, old, outcome)
                if outcome != "unchanged":
                    self.report.changes["events"].extend(dict(e, id=rid) for e in new_events)
                if not topics and not old_extras.get("scope") and outcome == "updated":
                    self.report.changes["out_of_scope"].append(rid)
        if seen is not None and seen[1] in totals:
            totals[seen[1]] -= 1
        if outcome in totals:
            totals[outcome] += 1
        self.done[rid] = (record.get("updated"), outcome, topics)
        return outcome, topics

    def _has_card(self, record: dict) -> bool:
        try:
            return (self.content_dir / card_relpath(record)).exists()
        except CardError:
            return False

    def _old(self, record: dict):
        """(record, editor, extras) of the record's current card, or None."""
        try:
            path = self.content_dir / card_relpath(record)
        except CardError:
            return None
        if not path.exists():
            return None
        try:
            return read_card_all(path)
        except (CardError, ValueError, UnicodeDecodeError):
            return None

    def _changes(self, record: dict, old: dict | None, outcome: str) -> None:
        changes = self.report.changes
        rid = record["id"]
        if outcome == "new":
            changes["new"].append(rid)
        elif outcome == "updated":
            changes["updated"].append(rid)
        if outcome in ("new", "updated") and record.get("retracted") and not (old or {}).get("retracted"):
            changes["new_retractions"].append(rid)
        if old is not None and record.get("source") == "ctgov" and old.get("status") != record.get("status"):
            changes["status_changes"].append({"id": rid, "from": old.get("status"), "to": record.get("status")})




# --- run ---------------------------------------------------------------------------------------------

class Harvest:
    def __init__(self, args, topics, settings: Settings, progress: Progress):
        self.args = args
        self.all_topics = topics
        self.content_dir = Path(args.content)
        self.data_dir = Path(args.data)
        self.settings = settings
        self.progress = progress
        self.started = utc_now()
        self.run_id, self.started = new_run_id(self.started, self.data_dir / "runs")
        self.today = self.started.date()
        self.report = RunReport(self.run_id, "full" if args.full else "incremental", self.started)
        self.state = State(self.data_dir / "state.json")
        self.cache = RawCache(self.data_dir / "raw", self.run_id)
        self.writer = CardWriter(self.content_dir, topics, self.report)
        self.clients = {source: Client(source, settings) for source in SOURCES}

    def close(self):
        for client in self.clients.values():
            client.close()

    def run(self, selected: list) -> dict:
        for topic in selected:
            self.harvest_topic(topic)
        self.state.save()
        doc = self.report.write(self.data_dir)
        return doc

    def _fetch(self, topic, source: str, since):
        client = self.clients[source]
        if source == "pubmed":
            return fetch_pubmed(client, topic.pubmed_query, topic.slug, since=since,
                                batch=self.args.batch_size, today=self.today)
        if source == "metapsy":
            return fetch_metapsy(client, topic.metapsy, topic.slug)
        return fetch_ctgov(client, topic.ctgov, topic.slug, since=since)

    def harvest_topic(self, topic) -> bool:
        entry = self.report.topic(topic.slug, topic.name)
        staged: dict[str, dict[str, dict]] = {}
        caches = []
        failed = failed_kind = None
        meta_doc = None
        for source in SOURCES:
            if source == "metapsy" and not topic.metapsy:
                continue
            # A Metapsy database is two small files: always fetched whole.
            since = (None if self.args.full or source == "metapsy"
                     else self.state.since(topic.slug, source, self.args.overlap))
            query = (topic.pubmed_query if source == "pubmed" else topic.metapsy if source == "metapsy"
                     else dict(sorted((topic.ctgov or {}).items())))
            src = entry["sources"][source] = source_entry(query, since)
            if failed:
                src["error"] = f"{topic.slug}: {source} not fetched because {failed} failed"
                continue
            if source == "ctgov" and not topic.ctgov or source == "pubmed" and not topic.pubmed_query:
                continue  # topic has no query for this source
            cache = self.cache.topic(source, cache_dir_name(topic.metapsy) if source == "metapsy" else topic.slug)
            caches.append(cache)
            records = staged[source] = {}
            bodies = {}
            client = self.clients[source]
            before, clock = client.requests, time.monotonic()
            task = self.progress.task(topic.slug, source)
            try:
                for raw in self._fetch(topic, source, since):
                    cache.add(raw.kind, raw.body)
                    bodies[raw.kind] = raw.body
                    if raw.kind not in RECORD_KINDS:
                        task.advance(0, raw.total)
                        continue
                    name = f"{topic.slug} {source} {raw.kind} #{cache.seq}"
                    if raw.parsed is not None:  # a ClinicalTrials.gov page, parsed once by the fetcher
                        found, books, errors = raw.parsed.records, 0, raw.parsed.errors
                    else:
                        found, books, errors = parse_response(source, raw.body, name)
                    self.report.totals["books_skipped"] += books
                    for line in errors:
                        LOG.warning("%s", line)
                    self.report.totals["errors"] += len(errors)
                    for record in found:
                        if newer(record, records.get(record["id"])):
                            records[record["id"]] = record
                    task.advance(len(found) + books + len(errors), raw.total)
                if source == "metapsy":
                    meta_doc = import_snapshot(bodies["metapsy-data"], bodies["metapsy-search"], topic.metapsy,
                                               topic.slug, f"{topic.slug} {topic.metapsy}")
            except HarvestError as exc:
                failed = source
                src["error"] = redact(str(exc))
                src["error_kind"] = exc.kind
                failed_kind = exc.kind
                self.report.totals["errors"] += 1
                LOG.error("%s", src["error"])
                task.close("FAILED")
            else:
                task.close(f"{meta_doc['source']['rows_in_database']} comparisons" if source == "metapsy"
                           else f"{len(records)} records")
            finally:
                src["requests"] = client.requests - before
                src["seconds"] = round(time.monotonic() - clock, 2)
                src["found"] = meta_doc["source"]["rows_in_database"] if source == "metapsy" and meta_doc else len(records)
        if failed:
            attempted = utc_now()
            for source in list(entry["sources"]):  # the sources this topic has
                src = entry["sources"][source]
                if source != failed:
                    # Its replies were fetched or not, but none was kept: the run report must not
                    # read as a success of this source.
                    src["error"] = src["error"] or f"{topic.slug}: {source} replies discarded because {failed} failed"
                    src["error_kind"] = failed_kind
                self.state.failed(topic.slug, source, attempted, failed_kind, failed)
            for cache in caches:
                cache.discard()
            LOG.error("%s: topic failed; its cards and raw cache were left unchanged", topic.slug)
            return False
        for cache in caches:
            cache.commit()
        for source, records in staged.items():
            src = entry["sources"][source]
            for rid in sorted(records):
                outcome, topics = self.writer.write(records[rid])
                if outcome == "error":
                    continue
                if topic.slug in topics and outcome != "off_topic":
                    src[outcome] += 1
                else:
                    src["off_topic"] += 1
        finished = utc_now()
        for source in staged:
            self.state.succeeded(topic.slug, source, finished)
        if meta_doc is not None:
            written = write_meta(self.data_dir, topic.slug, meta_doc)
            entry["sources"]["metapsy"]["updated" if written else "unchanged"] += 1
        return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harvest run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="refetch everything (ignore data/state.json)")
    parser.add_argument("--topic", action="append", metavar="SLUG", default=[],
                        help="harvest only this topic (repeatable; default: all)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, metavar="N",
                        help=f"PubMed records per efetch request (default {DEFAULT_BATCH}, max 10000)")
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP_DAYS, metavar="DAYS",
                        help="incremental queries reach back this many days before the last successful "
                             f"harvest of each topic and source (default {DEFAULT_OVERLAP_DAYS})")
    parser.add_argument("--content", default="content", metavar="DIR", help="content directory (default content)")
    parser.add_argument("--data", default="data", metavar="DIR", help="data directory (default data)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = Progress()
    setup_logging(progress.interactive)
    if not 0 <= args.overlap <= 366:
        LOG.error("--overlap must be between 0 and 366 days")
        return 2
    if not 1 <= args.batch_size <= 10_000:
        LOG.error("--batch-size must be between 1 and 10000")
        return 2
    try:
        settings = Settings.from_env()
        topics = load_topics()
    except HarvestError as exc:
        LOG.error("%s", redact(str(exc)))
        return 2
    by_slug = {t.slug: t for t in topics}
    unknown = [s for s in args.topic if s not in by_slug]
    if unknown:
        LOG.error("unknown topic %s (known: %s)", ", ".join(unknown), ", ".join(by_slug))
        return 2
    selected = [by_slug[s] for s in dict.fromkeys(args.topic)] if args.topic else topics
    try:
        harvest = Harvest(args, topics, settings, progress)
    except HarvestError as exc:
        LOG.error("%s", redact(str(exc)))
        return 2
    redirect = nullcontext()
    if progress.interactive:
        from tqdm.contrib.logging import logging_redirect_tqdm

        redirect = logging_redirect_tqdm(loggers=[LOG])
    try:
        with redirect:
            doc = harvest.run(selected)
    finally:
        harvest.close()
    print(summary_table(doc), file=sys.stderr)
    if not doc["ok"]:
        failed = [t["slug"] for t in doc["topics"] if any(s["error"] for s in t["sources"].values())]
        LOG.error("run %s: %d topic(s) failed: %s", doc["run_id"], len(failed), ", ".join(failed))
        return 1
    LOG.info("run %s: ok (%d new, %d updated, %d unchanged cards)", doc["run_id"],
             doc["totals"]["new"], doc["totals"]["updated"], doc["totals"]["unchanged"])
    return 0
