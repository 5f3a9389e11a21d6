"""Bulk downloads as gzip members of a few records each, so a rebuild compresses only what changed.

A nightly harvest revises records spread over every topic, so every bulk file changes and, written
as one gzip stream, has to be made again from all of its records' text.  A gzip file may be several
gzip members one after another, which every gzip reader (gzip, zcat, Python, R, pandas) reads as
one text.  So each file is written as members of a few records each: the records of a member are
chosen by the content, not by position (a member ends after a record whose id hashes to 0 modulo
``PER_MEMBER``), so adding or changing one record changes its own member only, and a member whose
records (their cards' keys, plugins/speedups/manifest.py) and format are the same as in the last
build is copied from the file that build wrote, its text never made.

``<CACHE_PATH>/exports-chunks.json`` keeps, per file of the last build into this output, its size
and mtime and each member's key, offset, length and CRC-32.  A file whose size or mtime changed
since is not copied from, and a member whose bytes read back are not the ones recorded (a file
replaced by another of the same size and mtime: restored from a backup or a CI cache, copied with
``cp -p`` or ``rsync -a``) is made again: size and mtime only suggest the file is the one the
index describes, the CRC checks each member copied.  The bytes of a member depend only on its text
(zlib, no name, time 0), so a rebuild gives the bytes a full build of the same records gives.  Not
ISA-L, though it is several times faster: its output for the same text and level was seen to differ
between two runs on one machine (a card page's packed citations, plugins/evidence/reader.py), which
breaks byte-identical rebuilds; zlib's is fixed for its version.
"""

from __future__ import annotations

import filecmp
import gzip
import hashlib
import json
import os
import tempfile
import zlib

from harvest.fileio import atomic_write

FILE = "exports-chunks.json"
VERSION = 3  # members as [offset, length, CRC-32 of their bytes], made by zlib
PER_MEMBER = 16  # records per member on average: ~16 × a few KB of text, above deflate's 32 KB window


def compress(data: bytes, level: int) -> bytes:
    """One gzip member of ``data``: no file name, time 0, so its bytes depend on ``data`` alone."""
    return gzip.compress(data, level, mtime=0)


def member_key(fmt: str, level: int, first: bool, keys: list) -> str:
    """A member's key: its format, level, whether it opens the file, and its records' keys."""
    data = json.dumps([fmt, level, first, keys]).encode("utf-8")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def ends_member(record_id: str) -> bool:
    digest = hashlib.blake2b(str(record_id).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % PER_MEMBER == 0


class Index:
    """The last build's members per file, and this build's as they are written."""

    def __init__(self, cache_path: str | None, output_path: str, salt: str):
        self.path = os.path.join(cache_path, FILE) if cache_path else None
        self.output = os.path.abspath(output_path)
        self.salt = salt
        self.old: dict[str, dict] = {}
        self.new: dict[str, dict] = {}
        self.reused = self.made = 0
        if self.path:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if (data.get("output"), data.get("salt"), data.get("version")) == (self.output, salt, VERSION):
                    self.old = data.get("files") or {}
            except (OSError, ValueError):
                pass

    def members(self, path: str) -> dict[str, list[int]]:
        """key → [offset, length] of the members of the file at `path`, if it is as it was left."""
        entry = self.old.get(os.path.relpath(path, self.output))
        if not entry:
            return {}
        try:
            st = os.stat(path)
        except OSError:
            return {}
        return entry["members"] if [st.st_size, st.st_mtime_ns] == entry["stat"] else {}

    def wrote(self, path: str, members: dict[str, list[int]]) -> None:
        st = os.stat(path)
        self.new[os.path.relpath(path, self.output)] = {"stat": [st.st_size, st.st_mtime_ns], "members": members}

    def save(self) -> None:
        if not self.path or self.new == self.old:
            return
        atomic_write(self.path, json.dumps({"version": VERSION, "output": self.output, "salt": self.salt,
                                            "files": self.new}, separators=(",", ":")).encode("utf-8"))


class MemberFile:
    """One bulk file written member by member into a temp file beside it; on ``close()`` it replaces
    the file only when the bytes differ (an unchanged download keeps its mtime)."""

    def __init__(self, path: str, level: int, index: Index, fmt: str):
        self.path, self.level, self.index, self.fmt = path, level, index, fmt
        self.old = index.members(path)
        self.src = open(path, "rb") if self.old else None
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
        self.fh = os.fdopen(fd, "wb")
        self.offset = 0
        self.members: dict[str, list[int]] = {}

    def _emit(self, key: str, data: bytes) -> None:
        self.fh.write(data)
        self.members[key] = [self.offset, len(data), zlib.crc32(data)]
        self.offset += len(data)

    def _old_bytes(self, key: str) -> bytes | None:
        """The last build's member with this key, if its bytes read back are the ones it wrote."""
        where = self.old.get(key)
        if where is None or len(where) != 3:
            return None
        self.src.seek(where[0])
        data = self.src.read(where[1])
        return data if len(data) == where[1] and zlib.crc32(data) == where[2] else None

    def copy(self, key: str) -> bool:
        """Copy the last build's member with this key; False if it cannot be read back as written."""
        data = None if key in self.members else self._old_bytes(key)
        if data is None:
            return False
        self.index.reused += 1
        self._emit(key, data)
        return True

    def emit_made(self, key: str, text: str) -> None:
        self.index.made += 1
        self._emit(key if key not in self.members else f"{key}:{self.offset}",
                   compress(text.encode("utf-8"), self.level))

    def write_member(self, keys: list[str], make_text) -> None:
        """A member of the records with these keys; ``make_text()`` gives its text when it must be made."""
        key = member_key(self.fmt, self.level, self.offset == 0, keys)
        if key in self.members:  # the same records twice in one file cannot happen; be safe anyway
            key = f"{key}:{self.offset}"
        if self.copy(key):
            return
        self.index.made += 1
        self._emit(key, compress(make_text().encode("utf-8"), self.level))

    def close(self) -> int:
        try:
            if self.offset == 0:  # no records: still a valid, empty gzip file
                self._emit("empty", compress(b"", self.level))
            self.fh.close()
            if self.src:
                self.src.close()
            # Compared block by block: the largest files are tens of MB at tens of thousands of cards.
            same = os.path.isfile(self.path) and os.path.getsize(self.path) == self.offset \
                and filecmp.cmp(self.path, self.tmp, shallow=False)
            if same:
                os.unlink(self.tmp)
            else:
                os.chmod(self.tmp, 0o644)
                os.replace(self.tmp, self.path)
            self.index.wrote(self.path, self.members)
            return self.offset
        finally:
            self.abort()

    def abort(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        if self.src and not self.src.closed:
            self.src.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def write_files(paths: list[str], level: int, index: Index, fmt: str, sets: list[list[int]], ids: list[str],
                keys: list[list[str]], text_of, header: str = "", text_varies: bool = False) -> list[int]:
    """Every set's file of one format; returns their sizes.

    ``sets[k]``: the indexes of the records of file k, in file order; ``ids[i]``: record i's id;
    ``keys[k][n]``: the key of the text of the n-th record of file k; ``text_of(i, k, n)``: that text,
    the same in every file unless ``text_varies`` (BibTeX: keys made unique within each file).
    First each file's members and whether each can be copied are worked out, then the records are
    walked once in order, each record's text made at most once (the files it is in share it) and
    only when a member that holds it must be made.
    """
    outs = [MemberFile(path, level, index, fmt) for path in paths]
    try:
        plans = []  # per file: [(first n, last n + 1, key, copy?)]
        for k, (out, members) in enumerate(zip(outs, sets)):
            plan, start, offset0 = [], 0, not header
            for n, i in enumerate(members):
                if ends_member(ids[i]) or n == len(members) - 1:
                    key = member_key(fmt, level, offset0 and start == 0, keys[k][start:n + 1])
                    copy = key in out.old
                    plan.append((start, n + 1, key, copy))
                    start = n + 1
            plans.append(plan)
        if header:
            for out in outs:
                out.write_member(["header", header], lambda: header)
        where: list[list[tuple[int, int]]] = [[] for _ in ids]  # record → (file, position in it)
        for k, members in enumerate(sets):
            for n, i in enumerate(members):
                where[i].append((k, n))
        current = [0] * len(outs)  # each file's member being filled (plan index)
        buffers: list[list[str]] = [[] for _ in outs]
        for i in range(len(ids)):
            text = None
            for k, n in where[i]:
                start, end, key, copy = plans[k][current[k]]
                if not copy:
                    if text is None or text_varies:
                        text = text_of(i, k, n)
                    buffers[k].append(text)
                if n == end - 1:  # the member is complete
                    if not (copy and outs[k].copy(key)):
                        if copy:  # not read back as it was written: make it after all
                            buffers[k] = [text_of(sets[k][m], k, m) for m in range(start, end)]
                        outs[k].emit_made(key, "".join(buffers[k]))
                    buffers[k] = []
                    current[k] += 1
        return [out.close() for out in outs]
    finally:
        for out in outs:
            out.abort()
