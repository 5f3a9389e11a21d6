"""`python -m harvest normalize PATH...`: raw response files → normalized records as JSON lines.

Reads PubMed XML (efetch ``PubmedArticleSet`` or baseline ``MedlineCitationSet``) and
ClinicalTrials.gov v2 JSON (a /studies page, one study, or an array of studies), gzipped or not,
and prints one JSON object per article or study.  A file that cannot be read gets one line on stderr
naming it and the problem; the other files are still processed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zlib
from pathlib import Path

from harvest.classification.classify import classify_with_reasons
from harvest.classification.topics import load_topics
from harvest.errors import ConfigError, ParseError
from harvest.pipeline import parse_response
from harvest.records.record import ordered
from harvest.sources.sniff import sniff

GZIP_MAGIC = b"\x1f\x8b"


def decompress(data: bytes, name: str) -> bytes:
    """Undo gzip (detected by its magic bytes, not the file name)."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ParseError(f"{name}: broken gzip data: {exc}") from None


def parse_bytes(data: bytes, name: str):
    """(records without topics, errors, books skipped) for one raw file's bytes."""
    data = decompress(data, name)
    kind = sniff(data)
    if kind in ("pubmed", "listing", "ctgov"):  # a listing has no records: the PubMed parser says so
        records, books, errors = parse_response("ctgov" if kind == "ctgov" else "pubmed", data, name)
        return records, errors, books
    if not data.strip():
        raise ParseError(f"{name}: empty file")
    raise ParseError(f"{name}: neither PubMed XML nor ClinicalTrials.gov JSON")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harvest normalize",
        description="Print one normalized record (JSON) per line for raw PubMed / ClinicalTrials.gov files.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="raw response file (.xml, .json, gzipped or not)")
    parser.add_argument("--topics", metavar="TOML", help="topics file (default: harvest/classification/topics.toml)")
    args = parser.parse_args(argv)
    try:
        topics = load_topics(args.topics)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = False
    out = sys.stdout
    for path in args.paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            print(f"error: {path}: cannot read: {exc.strerror}", file=sys.stderr)
            failed = True
            continue
        try:
            records, errors, _books = parse_bytes(data, path)
        except ParseError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
            continue
        for line in errors:
            print(f"error: {line}", file=sys.stderr)
            failed = True
        for record in records:
            record["topics"], record["topic_reasons"] = classify_with_reasons(record, topics)
            out.write(json.dumps(ordered(record), ensure_ascii=False) + "\n")
    out.flush()
    return 1 if failed else 0
