"""`python -m harvest replay DIR`: the same parse/classify/override/card path over cached responses."""

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from harvest.cards.card import read_card
from harvest.sources.rawcache import gzip_bytes
from servers import (KETAMINE_PMID, ROOT, article_set, articles_in, cards, harvest_env, real_bytes, run_cli,
                     run_harvest, snapshot, start_emulators)


def replay(raw: Path, content: Path, data: Path | None = None, *extra):
    args = [str(raw), "--content", str(content)]
    if data is not None:
        args += ["--data", str(data)]
    return run_cli("replay", [*args, *extra])


def test_replay_rebuilds_deleted_cards_byte_identical(httpserver, tmp_path):
    eutils, ctgov = start_emulators(httpserver)
    content, data = tmp_path / "content", tmp_path / "data"
    run = run_harvest(eutils, ctgov, content, data, "--topic", "ketamine", "--topic", "tms", "--batch-size", "1")
    assert run.returncode == 0, run.stderr
    harvested = {k: v[0] for k, v in snapshot(content).items()}
    assert len(harvested) == 4
    shutil.rmtree(content / "evidence")

    result = replay(data / "raw", content, data, "--report")
    assert result.returncode == 0, result.stderr
    assert {k: v[0] for k, v in snapshot(content).items()} == harvested
    report = json.loads((data / "report.json").read_text())
    assert report["mode"] == "replay" and report["totals"]["new"] == 4 and report["totals"]["off_topic"] == 3
    ketamine = next(t for t in report["topics"] if t["slug"] == "ketamine")
    assert ketamine["sources"]["pubmed"]["found"] == 1 and ketamine["sources"]["ctgov"]["new"] == 1

    mtimes = snapshot(content)
    again = replay(data / "raw", content)  # offline and quiet: nothing changed, nothing written
    assert again.returncode == 0 and snapshot(content) == mtimes


def test_latest_revision_wins_whatever_the_file_order(tmp_path):
    original = articles_in(f"metapub/tests/fixtures/pmid_xml/{KETAMINE_PMID}.xml")[0]
    revised = re.sub(rb"<DateRevised>.*?</DateRevised>",
                     b"<DateRevised><Year>2025</Year><Month>02</Month><Day>01</Day></DateRevised>", original, flags=re.S)
    revised = revised.replace(b"<ArticleTitle>", b"<ArticleTitle>Revised: ", 1)
    raw = tmp_path / "raw"
    (raw / "a").mkdir(parents=True)
    (raw / "b").mkdir()
    (raw / "a" / "newer.xml.gz").write_bytes(gzip_bytes(article_set([revised])))  # sorts first
    (raw / "b" / "older.xml").write_bytes(article_set([original]))
    result = replay(raw, tmp_path / "content")
    assert result.returncode == 0, result.stderr
    record, _ = read_card(tmp_path / "content" / "evidence" / "pubmed" / f"{KETAMINE_PMID}.md")
    assert record["title"].startswith("Revised: ") and record["updated"] == "2025-02-01"


def test_bad_files_get_one_line_each_and_the_rest_is_processed(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.xml").write_bytes(real_bytes(f"metapub/tests/fixtures/pmid_xml/{KETAMINE_PMID}.xml"))
    pubmed1 = real_bytes("biopython-sdist-1.88/Tests/Entrez/pubmed1.xml")
    (raw / "cut.xml").write_bytes(pubmed1[: len(pubmed1) // 2])
    (raw / "broken.json.gz").write_bytes(gzip.compress(b'{"studies": [')[:-6])
    (raw / "search.xml").write_bytes(real_bytes("biopython-sdist-1.88/Tests/Entrez/esearch2.xml"))  # skipped
    result = replay(raw, tmp_path / "content")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("harvest: ERROR: ")]
    assert len(errors) == 2
    assert errors[0].startswith("harvest: ERROR: broken.json.gz: cannot read: ")
    assert errors[1].startswith("harvest: ERROR: cut.xml: not well-formed PubMed XML: ")
    assert cards(tmp_path / "content") == [f"evidence/pubmed/{KETAMINE_PMID}.md"]


def test_shipped_content_is_reproduced_from_the_committed_raw_cache(tmp_path):
    shipped = ROOT / "content" / "evidence"
    if not any(shipped.glob("*/*.md")):
        pytest.skip("no shipped cards yet")
    (tmp_path / "content").mkdir()
    if (ROOT / "content" / "overrides.toml").exists():
        shutil.copy(ROOT / "content" / "overrides.toml", tmp_path / "content" / "overrides.toml")
    result = replay(ROOT / "data" / "raw", tmp_path / "content")
    assert result.returncode == 0, result.stderr
    rebuilt = {p.relative_to(tmp_path / "content" / "evidence"): p.read_bytes()
               for p in (tmp_path / "content" / "evidence").glob("*/*.md")}
    committed = {p.relative_to(shipped): p.read_bytes() for p in shipped.glob("*/*.md")}
    assert rebuilt == committed
