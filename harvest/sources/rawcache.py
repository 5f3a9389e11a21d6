"""The raw cache: every response the harvester accepted, gzip, under data/raw/ (committed).

Layout::

    data/raw/<source>/<run_id>/<topic>/<seq>-<kind>-<sha12>.<ext>.gz
        source  pubmed | ctgov | metapsy
        run_id  the run's id (2026-11-22T031500Z), so paths sort chronologically
        topic   the topic's slug; for metapsy the database's repository name
        seq     0001, 0002, ... order of the requests within the topic
        kind    esearch | efetch | studies | metapsy-data | metapsy-search
        sha12   first 12 hex digits of the SHA-256 of the uncompressed body
        ext     xml | json | csv | txt
    data/raw/recorded/<path>.gz   real recordings shipped with the repo (see README)
    data/raw/recorded/metapsy/<name>/{data.csv,last_search.txt}.gz   the shipped Metapsy snapshot

A body already in the cache (same sha12 anywhere under data/raw) is not stored again, so a run whose
answers did not change adds no files.  gzip output is deterministic (mtime 0, no file name), so the
same body always gives the same bytes.  Files are staged per topic under data/raw/.staging/ and moved
into place only when the topic's harvest succeeded: a failed topic leaves the cache as it was.
`harvest replay DIR` reads the files back in path order.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
from pathlib import Path

from harvest.fileio import atomic_write

STAGING = ".staging"
_SHA_RE = re.compile(r"-([0-9a-f]{12})\.(?:xml|json|csv|txt)\.gz$")
_EXT = {"esearch": "xml", "efetch": "xml", "studies": "json", "metapsy-data": "csv", "metapsy-search": "txt"}


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no timestamp, no file name."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def read_raw(path: Path) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def known_hashes(raw_dir: Path) -> set[str]:
    out = set()
    for _root, dirs, files in os.walk(raw_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            match = _SHA_RE.search(name)
            if match:
                out.add(match.group(1))
    return out


class RawCache:
    """Stages one run's responses per topic and commits them when the topic succeeds."""

    def __init__(self, raw_dir: Path, run_id: str):
        self.raw_dir = Path(raw_dir)
        self.run_id = run_id
        self.hashes = known_hashes(self.raw_dir)
        self.written = 0

    def topic(self, source: str, slug: str) -> "TopicCache":
        return TopicCache(self, source, slug)


class TopicCache:
    def __init__(self, cache: RawCache, source: str, slug: str):
        self.cache = cache
        self.rel = Path(source, cache.run_id, slug)
        self.stage = cache.raw_dir / STAGING / cache.run_id / source / slug
        self.seq = 0
        self.staged: list[tuple[Path, str]] = []

    def add(self, kind: str, body: bytes) -> None:
        self.seq += 1
        sha = hashlib.sha256(body).hexdigest()[:12]
        if sha in self.cache.hashes or any(s == sha for _p, s in self.staged):
            return
        name = f"{self.seq:04d}-{kind}-{sha}.{_EXT.get(kind, 'bin')}.gz"
        path = self.stage / name
        atomic_write(path, gzip_bytes(body))
        self.staged.append((path, sha))

    def commit(self) -> int:
        target = self.cache.raw_dir / self.rel
        written = 0
        for path, sha in self.staged:
            if sha in self.cache.hashes:  # another topic of this run stored the same body first
                continue
            target.mkdir(parents=True, exist_ok=True)
            os.replace(path, target / path.name)
            self.cache.hashes.add(sha)
            written += 1
        self.cache.written += written
        self.staged = []
        self._cleanup()
        return written

    def discard(self) -> None:
        self.staged = []
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)
        # Remove empty staging parents (…/.staging/<run>/<source>, …/.staging/<run>, …/.staging).
        for parent in (self.stage.parent, self.stage.parent.parent, self.stage.parent.parent.parent):
            try:
                parent.rmdir()
            except OSError:
                break


def iter_cached(raw_dir: Path):
    """Every cached response file under raw_dir, in sorted path order (staging excluded)."""
    raw_dir = Path(raw_dir)
    found = []
    for root, dirs, files in os.walk(raw_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            if name.endswith((".xml", ".json", ".xml.gz", ".json.gz", ".gz")):
                path = Path(root, name)
                found.append((path.relative_to(raw_dir).as_posix(), path))
    return [p for _rel, p in sorted(found)]
