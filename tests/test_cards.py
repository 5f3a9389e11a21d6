"""Cards (harvest/cards/card.py): round trip, determinism, hostile values, atomic and quiet writes."""

from __future__ import annotations

import copy
import json
import os
import re

import pytest
from conftest import REAL, real_data
from pelican.readers import MarkdownReader
from pelican.settings import DEFAULT_CONFIG

from harvest import fileio
from harvest.cards.card import card_relpath, parse_card, read_card, render_card, write_card
from harvest.classification.classify import classify
from harvest.classification.topics import load_topics
from harvest.errors import CardError, ParseError
from harvest.normalize import parse_bytes
from harvest.records.record import FIELDS
from harvest.sources.ctgov.parse import parse_ctgov
from harvest.sources.pubmed.parse import parse_pubmed

KETAMINE = "metapub/tests/fixtures/pmid_xml/38011560.xml"
STUDY = "ctgov-aact-fixtures/spec/support/json_data/NCT00973089.json"
KNOWN_KEYS = {"Card-Format", "Title", "Date", "Modified", "Slug", "Ev_editor"} | {f"Ev_{f}" for f in FIELDS}
EDITOR = {
    "hidden": False,
    "pinned": True,
    "changes": [{"field": "title", "from": "A", "to": "B", "reason": "typo", "date": "2026-11-22"}],
}


def all_real_records() -> list[dict]:
    topics = load_topics()
    out = []
    for path in sorted(REAL.rglob("*")):
        if path.is_file() and path.name.endswith((".xml", ".xml.gz", ".json")):
            try:
                records, _e, _b = parse_bytes(path.read_bytes(), str(path))
            except ParseError:
                continue
            for r in records:
                r["topics"] = classify(r, topics)
            out.extend(records)
    return out


ALL = all_real_records()


def ketamine() -> dict:
    return parse_pubmed(real_data(KETAMINE), KETAMINE).records[0]


def hostile(old: bytes, new: bytes) -> dict:
    data = real_data(KETAMINE)
    assert old in data
    return parse_pubmed(data.replace(old, new, 1), "hostile").records[0]


def header_keys(text: str) -> list[str]:
    head = text.partition("\n\n")[0]
    return [line.partition(": ")[0] for line in head.removesuffix("\n").split("\n")]


def pelican_read(tmp_path, text: str) -> dict:
    path = tmp_path / "card.md"
    path.write_text(text, encoding="utf-8")
    _content, meta = MarkdownReader(copy.deepcopy(DEFAULT_CONFIG)).read(str(path))
    return meta


def check_safe(text: str, record: dict) -> None:
    assert parse_card(text) == (record, None)
    assert set(header_keys(text)) <= KNOWN_KEYS
    assert "<script" not in (record["title_html"] or "").lower()
    assert all("<script" not in a["html"].lower() for a in record["abstract"])


# --- round trip ----------------------------------------------------------------------------------


def test_every_real_record_round_trips():
    assert len(ALL) > 1000
    for record in ALL:
        text = render_card(record)
        assert parse_card(text, record["id"]) == (record, None), record["id"]
        assert set(header_keys(text)) <= KNOWN_KEYS


def test_editor_info_round_trips():
    record = ketamine()
    assert parse_card(render_card(record, EDITOR)) == (record, EDITOR)


def test_card_layout_for_the_ketamine_review():
    record = ketamine()
    record["topics"] = ["ketamine"]
    text = render_card(record)
    lines = text.split("\n")
    assert lines[:5] == [
        "Card-Format: 2",
        "Title: Ketamine and the neurobiology of depression: Toward next-generation rapid-acting "
        "antidepressant treatments.",
        "Date: 2023-12-05",
        "Modified: 2023-12-11",
        "Slug: pubmed-38011560",
    ]
    assert 'Ev_topics: ["ketamine"]' in lines
    assert card_relpath(record).as_posix() == "evidence/pubmed/38011560.md"
    # The metadata block is the whole card: the abstract is in Ev_abstract only, not again as a body.
    assert text.endswith('"2023-12-11"\n') and "\n\n" not in text


def test_pelican_reads_every_field_under_its_prefix(tmp_path):
    study = parse_ctgov(real_data(STUDY), STUDY).records[0]
    meta = pelican_read(tmp_path, render_card(study))
    assert "status" not in meta  # overallStatus never becomes Pelican's status
    assert json.loads(meta["ev_status"]) == "WITHDRAWN"
    assert meta["slug"] == "ctgov-NCT00973089"


# --- determinism and quiet, atomic writes ---------------------------------------------------------


def test_rendering_is_deterministic():
    a, b = ketamine(), ketamine()
    assert render_card(a).encode() == render_card(b).encode()
    shuffled = dict(reversed(list(a.items())))
    assert render_card(shuffled) == render_card(a)


def test_write_new_unchanged_updated(tmp_path):
    record = ketamine()
    assert write_card(tmp_path, record) == "new"
    path = tmp_path / "evidence" / "pubmed" / "38011560.md"
    os.utime(path, (1_000_000_000, 1_000_000_000))
    assert write_card(tmp_path, copy.deepcopy(record)) == "unchanged"
    assert path.stat().st_mtime == 1_000_000_000  # not rewritten
    assert read_card(path) == (record, None)
    record["status"] = None
    record["topics"] = ["ketamine"]
    assert write_card(tmp_path, record) == "updated"
    assert read_card(path)[0]["topics"] == ["ketamine"]
    assert [p.name for p in path.parent.iterdir()] == ["38011560.md"]  # no temp files left


def test_failed_write_leaves_the_old_card_byte_identical(tmp_path, monkeypatch):
    record = ketamine()
    write_card(tmp_path, record)
    path = tmp_path / "evidence" / "pubmed" / "38011560.md"
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", boom)
    record["title"] = "Changed"
    with pytest.raises(OSError):
        write_card(tmp_path, record)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["38011560.md"]


@pytest.mark.parametrize(
    "change",
    [
        {"pmid": "../../etc/passwd", "id": "pubmed:../../etc/passwd"},
        {"pmid": "0123"},
        {"id": "pubmed:1"},
        {"source": "arxiv"},
    ],
)
def test_invalid_ids_never_reach_a_path(tmp_path, change):
    record = ketamine()
    record.update(change)
    with pytest.raises(CardError):
        write_card(tmp_path, record)
    assert not any(tmp_path.rglob("*.md"))


def test_bad_card_text_is_a_card_error():
    text = render_card(ketamine())
    with pytest.raises(CardError, match="missing fields"):
        parse_card(text.replace("Ev_doi:", "Xv_doi:"))
    with pytest.raises(CardError, match="bad JSON for title"):
        parse_card(text.replace('Ev_title: "', "Ev_title: ", 1))
    with pytest.raises(CardError, match="not a 'Key: value' line"):
        parse_card("")


# --- hostile values, built from the real record ----------------------------------------------------


def test_script_element_in_a_title(tmp_path):
    record = hostile(b"<ArticleTitle>Ketamine", b"<ArticleTitle><script>alert(1)</script>Ketamine")
    assert record["title"].startswith("Ketamine and the neurobiology")  # script dropped with its content
    text = render_card(record)
    check_safe(text, record)
    assert "<script" not in text


def test_escaped_script_text_in_a_title(tmp_path):
    record = hostile(b"<ArticleTitle>Ketamine", b"<ArticleTitle>&lt;script&gt;alert(1)&lt;/script&gt; Ketamine")
    assert record["title"].startswith("<script>alert(1)</script> Ketamine")  # plain text, as written
    assert record["title_html"].startswith("&lt;script&gt;alert(1)&lt;/script&gt; Ketamine")
    check_safe(render_card(record), record)


def test_script_in_an_abstract_and_event_handler_markup():
    record = hostile(
        b"<AbstractText>Ketamine has",
        b'<AbstractText><i onmouseover="alert(1)">x</i><img src="x" onerror="alert(2)"/>'
        b"<script>alert(3)</script>Ketamine has",
    )
    html = record["abstract"][0]["html"]
    assert html.startswith("<i>x</i>Ketamine has")
    assert "onmouseover" not in html and "<img" not in html
    check_safe(render_card(record), record)


def test_newline_status_in_a_title_creates_no_metadata(tmp_path):
    record = hostile(b"<ArticleTitle>Ketamine", b"<ArticleTitle>Ketamine&#10;Status: draft&#10;Template: evil&#10;")
    text = render_card(record)
    check_safe(text, record)
    assert not re.search(r"^(Status|Template):", text, re.M)
    meta = pelican_read(tmp_path, text)
    assert "status" not in meta and "template" not in meta
    # even a record built without the parser (raw newlines kept) stays on one line per field
    record["title"] = "Ketamine\nStatus: draft\r\nSave_as: x.html\u2028Lang: xx\u0085Url: y"
    text = render_card(record)
    assert set(header_keys(text)) <= KNOWN_KEYS
    assert parse_card(text)[0]["title"] == record["title"]
    meta = pelican_read(tmp_path, text)
    assert {"status", "save_as", "lang", "url"}.isdisjoint(meta)


def test_one_megabyte_abstract(tmp_path):
    sentence = b"Ketamine has emerged as a transformative and mechanistically novel pharmacotherapy. "
    big = sentence * (1_048_576 // len(sentence) + 1)
    record = hostile(b"<AbstractText>Ketamine has", b"<AbstractText>" + big + b"Ketamine has")
    assert len(record["abstract"][0]["text"]) > 1_000_000
    text = render_card(record)
    check_safe(text, record)
    assert write_card(tmp_path, record) == "new"
    assert read_card(tmp_path / card_relpath(record)) == (record, None)


def test_format_1_cards_are_still_read(tmp_path):
    # A format 1 card as the harvester wrote it from the real ketamine recording (metadata, a blank
    # line, the abstract again as Markdown): read as the same record, and rewritten in format 2.
    old = (REAL.parent / "cards" / "format1-pubmed-38011560.md").read_text(encoding="utf-8")
    assert "Card-Format" not in old and "\n\nKetamine has emerged" in old
    record, editor = parse_card(old, "format1.md")
    new = render_card(record)
    assert parse_card(new) == (record, editor) and new.startswith("Card-Format: 2\n")
    path = tmp_path / card_relpath(record)
    path.parent.mkdir(parents=True)
    path.write_text(old, encoding="utf-8")
    assert write_card(tmp_path, record) == "updated" and path.read_text(encoding="utf-8") == new


def test_hostile_trial_title():
    study = json.loads(real_data(STUDY))
    study["protocolSection"]["identificationModule"]["briefTitle"] = "<script>x</script>\nStatus: draft"
    record = parse_ctgov(json.dumps(study).encode(), "hostile").records[0]
    assert record["title"] == "<script>x</script> Status: draft"
    assert record["title_html"] == "&lt;script&gt;x&lt;/script&gt; Status: draft"
    check_safe(render_card(record), record)


def test_mirror_tree_makes_the_target_hold_exactly_the_source(tmp_path):
    """How the search index reaches output/pagefind: unchanged files keep their bytes and mtime,
    changed ones are rewritten, and files and folders the new tree lacks are removed."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "fragment").mkdir(parents=True)
    (src / "same.js").write_bytes(b"same")
    (src / "changed.json").write_bytes(b"new")
    (src / "fragment" / "a.pf_fragment").write_bytes(b"a")
    (dst / "fragment").mkdir(parents=True)
    (dst / "old-only").mkdir()
    (dst / "same.js").write_bytes(b"same")
    (dst / "changed.json").write_bytes(b"old")
    (dst / "fragment" / "stale.pf_fragment").write_bytes(b"stale")
    (dst / "old-only" / "x").write_bytes(b"x")
    os.utime(dst / "same.js", (1_000_000, 1_000_000))

    assert fileio.mirror_tree(src, dst) == 2
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*")) == [
        "changed.json", "fragment", "fragment/a.pf_fragment", "same.js"]
    assert (dst / "changed.json").read_bytes() == b"new"
    assert (dst / "same.js").stat().st_mtime == 1_000_000
    assert fileio.mirror_tree(src, tmp_path / "fresh") == 3
