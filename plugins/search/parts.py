"""The search index in parts: bounded memory per Pagefind run, and unchanged parts left alone.

Pagefind holds a whole index in memory while it writes it, so one index of a very large site would
outgrow a build machine's memory.  So the cards are split into parts of about ``part_size`` cards
(``count``: that many parts as the cards need at ``part_size`` each; a stable hash of the record id
picks the part, so a card stays in its part from one build to the next while the number of parts is
unchanged), each part is a complete Pagefind bundle
built by its own Pagefind run, one after another, and the search page merges them in the browser
(Pagefind's ``mergeIndex``; merged indexes reuse the primary's search engine, so the engine is
downloaded once).  Part 0 is ``pagefind/`` and also holds the editor pages (explainers, glossary,
Methods); part k > 0 is ``pagefind-k/``.

A card's search document is kept from one build to the next (``<CACHE_PATH>/search-docs-<k>.pickle``,
one file per part) under a key made as the build manifest makes a page's (plugins/speedups/manifest.py:
the theme and code, the site-wide context, the card's file and derived values), and is rendered
again only when that key changed.

Each part's documents are hashed; a part whose documents, Pagefind version and part layout are the
same as in the last build into this output (``<CACHE_PATH>/search-parts.json``) and whose files are
still there is not rebuilt, so its files keep their bytes and mtimes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle

from harvest.fileio import atomic_write, holds

MANIFEST = "search-parts.json"


def count(record_ids: list[str], part_size: int) -> int:
    """How many parts: enough for at most ``part_size`` cards each on average, but never so many
    that a part gets no card (Pagefind refuses to index an empty folder).  That happens only when
    parts hold a handful of cards; then fewer parts are used, which depends on the ids alone."""
    n = max(1, math.ceil(len(record_ids) / max(1, part_size)))
    while n > 1 and len({part_of(i, n) for i in record_ids}) < n:
        n -= 1
    return n


def part_of(record_id: str, parts: int) -> int:
    if parts == 1:
        return 0
    return int.from_bytes(hashlib.sha256(record_id.encode("utf-8")).digest()[:8], "big") % parts


def folder(k: int) -> str:
    """Output folder of part k, relative to the output root."""
    return "pagefind" if k == 0 else f"pagefind-{k}"


def bundle_paths(parts: int) -> list[str]:
    """Folders (with a trailing slash) the search page merges into the primary index."""
    return [folder(k) + "/" for k in range(1, parts)]


def digest(docs: dict[str, bytes], salt: str) -> str:
    """The part's key: ``docs`` maps each document's path to the SHA-256 of its bytes."""
    h = hashlib.sha256(salt.encode("utf-8"))
    for rel in sorted(docs):
        h.update(rel.encode("utf-8") + b"\0" + docs[rel])
    return h.hexdigest()


def load(cache_path: str | None, output: str) -> dict:
    if not cache_path:
        return {}
    try:
        with open(os.path.join(cache_path, MANIFEST), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    # Only a manifest of this output folder says what its files hold.
    return data.get("parts", {}) if data.get("output") == os.path.abspath(output) else {}


def save(cache_path: str | None, output: str, parts: dict[str, str]) -> None:
    if not cache_path:
        return
    data = json.dumps({"output": os.path.abspath(output), "parts": parts}, indent=1, sort_keys=True).encode("utf-8")
    path = os.path.join(cache_path, MANIFEST)
    if not holds(path, data):  # a no-change build writes nothing
        atomic_write(path, data)


def intact(output: str, k: int) -> bool:
    """The part's bundle is still in the output (its entry file names every other file)."""
    return os.path.isfile(os.path.join(output, folder(k), "pagefind-entry.json"))


class DocCache:
    """The last build's card search documents of each part, by page path: (key, HTML).

    When the number of parts changed since the last build (``old_parts``), nearly every card moved to
    another part, so a part's documents are looked up in every old part's file, and the new files are
    written aside and put in place only by ``commit``, once no old file is needed any more: each file
    holds one part, so memory stays bounded by a part either way."""

    def __init__(self, cache_path: str | None, output: str, salt: str, parts: int, old_parts: int = 0):
        self.cache_path, self.output, self.salt = cache_path, os.path.abspath(output), salt
        self.parts, self.old_parts = parts, old_parts
        self.moved = bool(old_parts) and old_parts != parts

    def _file(self, k: int) -> str:
        return os.path.join(self.cache_path, f"search-docs-{k}.pickle")

    def _read(self, k: int) -> dict[str, tuple[str, str]]:
        try:
            with open(self._file(k), "rb") as fh:
                data = pickle.load(fh)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):
            return {}
        if not isinstance(data, dict) or data.get("salt") != self.salt or data.get("output") != self.output:
            return {}
        return data.get("docs") or {}

    def load(self, k: int, paths) -> dict[str, tuple[str, str]]:
        """The kept documents of part k's cards (``paths``: their page paths)."""
        if not self.cache_path:
            return {}
        if not self.moved:
            return self._read(k)
        wanted, found = set(paths), {}
        for j in range(self.old_parts):
            found.update((p, doc) for p, doc in self._read(j).items() if p in wanted)
        return found

    def save(self, k: int, docs: dict[str, tuple[str, str]], old: dict) -> None:
        if not self.cache_path or (docs == old and not self.moved):
            return
        atomic_write(self._file(k) + (".next" if self.moved else ""),
                     pickle.dumps({"salt": self.salt, "output": self.output, "docs": docs}, pickle.HIGHEST_PROTOCOL))

    def commit(self) -> None:
        """Put the files written aside in place and drop those of parts this build no longer has."""
        if not self.cache_path:
            return
        if self.moved:
            for k in range(self.parts):
                if os.path.exists(self._file(k) + ".next"):
                    os.replace(self._file(k) + ".next", self._file(k))
        k = self.parts
        while os.path.exists(self._file(k)):
            os.remove(self._file(k))
            k += 1
