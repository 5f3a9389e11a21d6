"""Bulk downloads are streamed (plugins/exports: GzipStream, write_sets): a file's bytes depend on its
text only, however the text was written, and streaming in pieces changes no byte of the text."""

from __future__ import annotations

import gzip
import os
import sys

from isal import igzip

from harvest.cards.card import read_card_all
from sitebuild import ROOT

sys.path.insert(0, str(ROOT / "plugins"))
import exports  # noqa: E402  (the plugin itself)

LEVEL = exports.DEFAULTS["compresslevel"]


def committed_entries():
    """(record, url, None) of every committed card (real records, from the recordings), export order."""
    entries = []
    for path in sorted((ROOT / "content" / "evidence").glob("*/*.md")):
        record = read_card_all(path)[0]
        entries.append((record, f"/evidence/{path.parent.name}/{path.stem}.html", None))
    return exports.export_order(entries)


def sets_of(entries):
    topics = sorted({t for record, _u, _c in entries for t in record["topics"]})
    return [("all", list(range(len(entries))))] + [
        (t, [i for i, (record, _u, _c) in enumerate(entries) if t in record["topics"]]) for t in topics]


def write_all(folder, entries):
    return {fmt: exports.write_sets(str(folder), sets_of(entries), entries, fmt, LEVEL) for fmt in exports.SUFFIX}


def test_streamed_in_pieces_the_text_is_the_same_and_a_one_piece_file_is_one_gzip_call(tmp_path, monkeypatch):
    entries = committed_entries()
    assert len(entries) > 10
    whole = tmp_path / "whole"
    write_all(whole, entries)  # every file of these few cards fits in one piece
    monkeypatch.setattr(exports, "CHUNK", 97)  # now every file spans many pieces
    pieces = tmp_path / "pieces"
    sizes = write_all(pieces, entries)
    names = sorted(os.listdir(whole))
    assert names == sorted(os.listdir(pieces)) and len(names) == len(sets_of(entries)) * 4
    for name in names:
        one, many = (whole / name).read_bytes(), (pieces / name).read_bytes()
        text = gzip.decompress(one)
        assert gzip.decompress(many) == text, name
        assert one == igzip.compress(text, LEVEL, mtime=0), name  # as a whole file was compressed
    assert sizes["jsonl"]["all"] == (pieces / "all.jsonl.gz").stat().st_size
    assert gzip.decompress((pieces / "all.jsonl.gz").read_bytes()).count(b"\n") == len(entries)
    assert not [n for n in os.listdir(pieces) if n.endswith(".tmp")]


def test_equal_text_gives_equal_bytes_however_it_was_written(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 1000)
    # A real record's JSON line, repeated past several pieces.
    text = "".join(exports.json_line(record) + "\n" for record, _u, _c in committed_entries()) * 3
    assert len(text.encode("utf-8")) > 5 * exports.CHUNK
    out = {}
    for step in (len(text), 7, 4099):
        stream = exports.GzipStream(str(tmp_path / f"{step}.jsonl.gz"), LEVEL)
        for at in range(0, len(text), step):
            stream.write(text[at:at + step])
        stream.close()
        out[step] = (tmp_path / f"{step}.jsonl.gz").read_bytes()
    assert gzip.decompress(out[7]).decode("utf-8") == text
    assert out[7] == out[4099] == out[len(text)]


def test_an_unchanged_download_keeps_its_file(tmp_path):
    entries = committed_entries()
    write_all(tmp_path, entries)
    target = tmp_path / "all.csv.gz"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    write_all(tmp_path, entries)
    assert target.stat().st_mtime_ns == 1_000_000_000
    entries[0][0]["title"] += " (revised)"  # one record changed: its files are written again
    write_all(tmp_path, entries)
    assert target.stat().st_mtime_ns != 1_000_000_000
    assert b"(revised)" in gzip.decompress(target.read_bytes())
