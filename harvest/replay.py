"""`python -m harvest replay DIR`: rebuild cards from cached raw responses, offline.

    python -m harvest replay DIR [--content DIR] [--data DIR] [--report]

Reads every response file under DIR (gzip or plain; PubMed XML, ClinicalTrials.gov JSON) in sorted
path order - for data/raw that is chronological, because run ids sort by time - and runs the same
parse → classify → card code as `harvest run`.  When a record appears in several files
the latest revision wins (greatest `updated`; on a tie the later file), and the changes between its
earlier revisions become the card's registry history (harvest/records/drift.py), so a cache that holds several
nights rebuilds the history even into an empty content folder.  E-utilities listings that
carry no records (esearch, epost, einfo replies) are skipped.  A file that cannot be read gets one
line on stderr naming it; the others are still processed and the exit status is 1.  A topic with a
Metapsy database gets its meta-analysis (data/meta/<slug>.json) from the newest cached snapshot; an
unreadable snapshot gets one line and leaves the previous JSON as it was.  `--report` also writes the
run report (mode "replay") to data/runs/ and data/report.json.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from harvest.errors import ParseError
from harvest.pipeline import CardWriter, parse_response, start_offline
from harvest.progress import summary_table
from harvest.records import drift
from harvest.report import RunReport, new_run_id, source_entry, utc_now
from harvest.sources.metapsy.pool import import_snapshot, latest_snapshot, snapshot_kind, write_meta
from harvest.sources.rawcache import iter_cached, read_raw
from harvest.sources.sniff import sniff

LOG = logging.getLogger("harvest")

def replay_meta(topics, snapshots: list[tuple[str, Path]], data_dir: Path) -> int:
    """Write each Metapsy topic's meta-analysis from its newest cached snapshot; returns failures."""
    failed = 0
    for topic in topics:
        if not topic.metapsy:
            continue
        data_path, search_path = latest_snapshot(snapshots, topic.metapsy)
        if data_path is None or search_path is None:  # e.g. a cache of other topics' runs: nothing to redo
            LOG.info("%s: no cached snapshot of %s; its meta-analysis was left as it was", topic.slug, topic.metapsy)
            continue
        try:
            doc = import_snapshot(read_raw(data_path), read_raw(search_path), topic.metapsy, topic.slug,
                                  f"{topic.slug} {topic.metapsy}")
        except (OSError, EOFError) as exc:
            LOG.error("%s: cannot read %s: %s", topic.slug, data_path, exc)
            failed += 1
            continue
        except ParseError as exc:
            LOG.error("%s; its meta-analysis was left as it was", exc)
            failed += 1
            continue
        write_meta(data_dir, topic.slug, doc)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harvest replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", metavar="DIR", help="raw cache directory (e.g. data/raw)")
    parser.add_argument("--content", default="content", metavar="DIR", help="content directory (default content)")
    parser.add_argument("--data", default="data", metavar="DIR",
                        help="data directory for meta-analyses and --report (default data)")
    parser.add_argument("--report", action="store_true", help="also write the run report")
    args = parser.parse_args(argv)
    topics = start_offline(args.dir)
    if topics is None:
        return 2
    raw_dir = Path(args.dir)
    clock = time.monotonic()
    started = utc_now()
    run_id, started = new_run_id(started, Path(args.data) / "runs")
    report = RunReport(run_id, "replay", started)
    # Every revision of each record in the cache, one per `updated` value (on a tie the later file, as
    # `newer` decides), so the registry history between them can be rebuilt (harvest/records/drift.py).
    revisions: dict[str, dict[str, dict]] = {}
    failed = 0
    files = iter_cached(raw_dir)
    snapshots = []
    for path in files:
        name = path.relative_to(raw_dir).as_posix()
        if snapshot_kind(name):
            snapshots.append((name, path))
            continue
        try:
            data = read_raw(path)
        except (OSError, EOFError, ValueError) as exc:  # gzip errors are OSError/EOFError
            LOG.error("%s: cannot read: %s", name, exc)
            failed += 1
            continue
        kind = sniff(data)
        if kind == "listing":
            continue
        if kind is None:
            LOG.error("%s: neither PubMed XML nor ClinicalTrials.gov JSON", name)
            failed += 1
            continue
        try:
            records, books, errors = parse_response(kind, data, name)
        except ParseError as exc:
            LOG.error("%s", exc)
            failed += 1
            continue
        report.totals["books_skipped"] += books
        report.totals["errors"] += len(errors)
        for line in errors:
            LOG.warning("%s", line)
        for record in records:
            revisions.setdefault(record["id"], {})[record.get("updated") or ""] = record
    failed += replay_meta(topics, snapshots, Path(args.data))
    report.totals["errors"] += failed
    report.failures = failed
    writer = CardWriter(Path(args.content), topics, report)
    entries = {}
    for topic in topics:
        entry = report.topic(topic.slug, topic.name)
        entries[topic.slug] = entry
        entry["sources"]["pubmed"] = source_entry(topic.pubmed_query, None)
        entry["sources"]["ctgov"] = source_entry(dict(sorted((topic.ctgov or {}).items())), None)
    day = started.date().isoformat()
    for rid in sorted(revisions):
        chain = [revisions[rid][key] for key in sorted(revisions[rid])]
        record = chain[-1]  # the latest revision, which the card shows
        earlier = [e for old, new in zip(chain, chain[1:]) for e in drift.events(old, new, day)]
        outcome, record_topics = writer.write(record, earlier)
        for slug in record_topics:
            if slug in entries and outcome in ("new", "updated", "unchanged"):
                src = entries[slug]["sources"][record["source"]]
                src["found"] += 1
                src[outcome] += 1
    seconds = round(time.monotonic() - clock, 2)
    for entry in entries.values():
        for src in entry["sources"].values():
            src["seconds"] = seconds
    t = report.totals
    LOG.info("replayed %d files: %d records, %d new, %d updated, %d unchanged cards, %d off-topic, %d errors",
             len(files), t["records"], t["new"], t["updated"], t["unchanged"], t["off_topic"], t["errors"])
    if args.report:
        doc = report.write(Path(args.data))
        print(summary_table(doc), file=sys.stderr)
    return 1 if failed else 0
