"""`python -m harvest seed SRC [--raw DIR]`: take recorded API responses into the raw cache.

The shipped content/ is built from real responses recorded by NCBI and ClinicalTrials.gov servers
(../shared/real-api), not from a live harvest.  This command copies every recording that holds at
least one record the classifier puts into a topic to DIR/recorded/<path under SRC>.gz (deterministic
gzip, bytes otherwise unchanged); `make cards` (= `python -m harvest replay data/raw`) then writes
the cards.  Recordings with no on-topic record are left out so the committed cache stays small.

A topic with a Metapsy database (`metapsy` in topics.toml) gets the snapshot kept beside the
recordings (DIR given by --metapsy, by default the `metapsy` folder next to SRC, one folder per
repository name): its data.csv and metadata/last_search.txt go to
DIR/recorded/metapsy/<name>/{data.csv,last_search.txt}.gz, bytes unchanged.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from harvest.classification.classify import classify
from harvest.errors import ParseError
from harvest.fileio import atomic_write
from harvest.normalize import decompress
from harvest.pipeline import parse_response, start_offline
from harvest.sources.metapsy.pool import cache_dir_name
from harvest.sources.rawcache import gzip_bytes
from harvest.sources.sniff import sniff

LOG = logging.getLogger("harvest")


def on_topic_recordings(src: Path, topics) -> list[tuple[str, bytes]]:
    """(relative path, raw bytes as found) of every recording under src with an on-topic record."""
    chosen = []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src).as_posix()
        raw = path.read_bytes()
        try:
            data = decompress(raw, rel)
            kind = sniff(data)
            if kind not in ("pubmed", "ctgov"):
                continue  # listings, cassettes, specs, notes
            records = parse_response(kind, data, rel)[0]
        except ParseError:
            continue  # e.g. the deliberately truncated einfo4.xml
        hits = {r["id"]: classify(r, topics) for r in records}
        if any(hits.values()):
            LOG.info("%s: %s", rel, ", ".join(f"{rid} → {'/'.join(t)}" for rid, t in hits.items() if t))
            chosen.append((rel, raw))
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harvest seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("src", metavar="SRC", help="folder of recorded responses (e.g. ../shared/real-api)")
    parser.add_argument("--raw", default="data/raw", metavar="DIR", help="raw cache (default data/raw)")
    parser.add_argument("--metapsy", metavar="DIR",
                        help="folder of Metapsy database copies (default: the metapsy folder beside SRC)")
    args = parser.parse_args(argv)
    topics = start_offline(args.src)
    if topics is None:
        return 2
    src = Path(args.src)
    chosen = on_topic_recordings(src, topics)
    dest = Path(args.raw) / "recorded"
    for rel, raw in chosen:
        target = dest / (rel if rel.endswith(".gz") else rel + ".gz")
        body = raw if rel.endswith(".gz") else gzip_bytes(raw)
        if not (target.exists() and target.read_bytes() == body):
            atomic_write(target, body)
    print(f"{len(chosen)} recording(s) with on-topic records in {dest}", file=sys.stderr)
    metapsy = Path(args.metapsy) if args.metapsy else src.resolve().parent / "metapsy"
    if args.metapsy and not metapsy.is_dir():
        LOG.error("%s: not a directory", metapsy)
        return 2
    status = 0
    for topic in topics:
        if not topic.metapsy or not metapsy.is_dir():
            continue
        name = cache_dir_name(topic.metapsy)
        for rel, target in (("data.csv", "data.csv"), ("metadata/last_search.txt", "last_search.txt")):
            path = metapsy / name / rel
            if not path.is_file():
                LOG.error("%s: %s has no %s", topic.slug, metapsy / name, rel)
                status = 1
                continue
            body = gzip_bytes(path.read_bytes())
            out = dest / "metapsy" / name / f"{target}.gz"
            if not (out.exists() and out.read_bytes() == body):
                atomic_write(out, body)
        print(f"{topic.slug}: Metapsy snapshot {name} in {dest / 'metapsy' / name}", file=sys.stderr)
    return status
