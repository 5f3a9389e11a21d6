"""`python -m harvest run` end to end against local emulators serving real recorded bodies."""

import gzip
import io
import json
import math

import pytest

from harvest.cards.card import read_card
from harvest.progress import Progress
from harvest.sources.rawcache import gzip_bytes
from servers import (EMAIL, FAKE_KEY, KETAMINE_NCT, KETAMINE_PMID, OFF_TOPIC_NCT, TMS_NCT, TMS_PMID, TMS_TITLE,
                     cards, run_harvest, snapshot, start_emulators)

TOPICS = ("--topic", "ketamine", "--topic", "tms")


@pytest.fixture
def apis(httpserver):
    return start_emulators(httpserver)


def test_harvest_writes_cards_report_state_and_cache(apis, tmp_path):
    eutils, ctgov = apis
    content, data = tmp_path / "content", tmp_path / "data"
    run = run_harvest(eutils, ctgov, content, data, *TOPICS, "--batch-size", "2")
    assert run.returncode == 0, run.stderr
    assert cards(content) == [f"evidence/ctgov/{KETAMINE_NCT}.md", f"evidence/ctgov/{TMS_NCT}.md",
                              f"evidence/pubmed/{KETAMINE_PMID}.md", f"evidence/pubmed/{TMS_PMID}.md"]

    ketamine, editor = read_card(content / "evidence" / "pubmed" / f"{KETAMINE_PMID}.md")
    assert editor is None
    assert ketamine["id"] == "pubmed:38011560" and ketamine["topics"] == ["ketamine"]
    assert ketamine["year"] == 2023 and ketamine["design"] == "review"
    tms, _ = read_card(content / "evidence" / "pubmed" / f"{TMS_PMID}.md")
    assert tms["title"] == TMS_TITLE and tms["topics"] == ["tms"]
    trial, _ = read_card(content / "evidence" / "ctgov" / f"{KETAMINE_NCT}.md")
    assert trial["status"] == "COMPLETED" and trial["topics"] == ["ketamine"] and trial["source"] == "ctgov"
    assert "Esketamine" in trial["interventions"]
    assert not (content / "evidence" / "ctgov" / f"{OFF_TOPIC_NCT}.md").exists()  # matches no topic

    report = json.loads((data / "report.json").read_text())
    assert (data / "runs" / f"{report['run_id']}.json").read_text() == (data / "report.json").read_text()
    assert (data / "report.json").read_text() == json.dumps(report, indent=2, sort_keys=True) + "\n"
    assert report["mode"] == "incremental" and report["ok"] is True
    by_slug = {t["slug"]: t for t in report["topics"]}
    assert list(by_slug) == ["ketamine", "tms"]
    kp = by_slug["ketamine"]["sources"]["pubmed"]
    assert (kp["found"], kp["new"], kp["off_topic"], kp["since"], kp["error"]) == (3, 1, 2, None, None)
    assert kp["requests"] == 1 + math.ceil(3 / 2)  # esearch + efetch batches: within the floor
    assert kp["query"].startswith('("Ketamine"[mh]')
    kc = by_slug["ketamine"]["sources"]["ctgov"]
    assert (kc["found"], kc["new"], kc["off_topic"], kc["requests"]) == (2, 1, 1, 1)
    assert set(kc["query"]) == {"query.cond", "query.intr"}
    # The ketamine article is also returned by the tms query: written once, counted off-topic for tms.
    tp = by_slug["tms"]["sources"]["pubmed"]
    assert (tp["found"], tp["new"], tp["off_topic"]) == (2, 1, 1)
    assert report["totals"] == {"records": 7, "new": 4, "updated": 0, "unchanged": 0, "off_topic": 3,
                                "books_skipped": 0, "errors": 0}
    assert report["changes"]["new"] == ["ctgov:NCT90000001", "ctgov:NCT90000002", "pubmed:38011560",
                                        "pubmed:90000001"]

    state = json.loads((data / "state.json").read_text())
    assert state["version"] == 2 and set(state["topics"]) == {"ketamine", "tms"}
    for sources in state["topics"].values():
        assert set(sources) == {"pubmed", "ctgov"}
        for entry in sources.values():
            assert entry["error"] is None and entry["success"] == entry["attempt"]
            assert report["started"] <= entry["success"] <= report["finished"]

    raw = sorted(p.relative_to(data / "raw").as_posix() for p in (data / "raw").rglob("*.gz"))
    assert any(p.startswith(f"pubmed/{report['run_id']}/ketamine/0001-esearch-") for p in raw)
    assert sum("/ketamine/" in p and "-efetch-" in p for p in raw) == 2
    for p in (data / "raw").rglob("*.gz"):
        blob = p.read_bytes()
        assert blob == gzip_bytes(gzip.decompress(blob))  # deterministic gzip (mtime 0)
    assert not (data / "raw" / ".staging").exists()

    sent = eutils.requests_to("esearch.fcgi")[0]["params"]
    assert sent["api_key"] == FAKE_KEY and sent["email"] == EMAIL and sent["tool"] == "mood-evidence-atlas"


def test_incremental_run_asks_only_since_last_harvest_and_full_does_not(apis, tmp_path):
    eutils, ctgov = apis
    content, data = tmp_path / "content", tmp_path / "data"
    assert run_harvest(eutils, ctgov, content, data, *TOPICS, HARVEST_NOW="2026-11-22T03:17:00Z").returncode == 0
    assert json.loads((data / "state.json").read_text())["topics"]["ketamine"]["pubmed"]["success"] == \
        "2026-11-22T03:17:00Z"
    day = "2026-11-19"  # the last success minus the default overlap of 3 days
    before = snapshot(content)
    eutils.log.clear(), ctgov.log.clear()

    second = run_harvest(eutils, ctgov, content, data, *TOPICS, HARVEST_NOW="2026-11-23T03:17:00Z")
    assert second.returncode == 0, second.stderr
    for request in eutils.requests_to("esearch.fcgi"):
        assert request["params"]["datetype"] == "mdat"
        assert request["params"]["mindate"] == day.replace("-", "/")
    for request in ctgov.log:
        assert request["params"]["filter.advanced"] == f"AREA[LastUpdatePostDate]RANGE[{day},MAX]"
    report = json.loads((data / "report.json").read_text())
    assert report["topics"][0]["sources"]["pubmed"]["since"] == day
    assert report["totals"]["new"] == report["totals"]["updated"] == 0
    assert snapshot(content) == before  # a no-change run writes no card (bytes and mtimes)

    eutils.log.clear(), ctgov.log.clear()
    full = run_harvest(eutils, ctgov, content, data, "--full", *TOPICS)
    assert full.returncode == 0
    assert all("mindate" not in r["params"] for r in eutils.requests_to("esearch.fcgi"))
    assert all("filter.advanced" not in r["params"] for r in ctgov.log)
    report = json.loads((data / "report.json").read_text())
    assert report["mode"] == "full" and report["totals"]["unchanged"] == 4 and report["totals"]["new"] == 0
    assert snapshot(content) == before  # same responses: nothing rewritten
    assert len(list((data / "runs").glob("*.json"))) == 3


def test_same_responses_give_byte_identical_cards(apis, tmp_path):
    eutils, ctgov = apis
    outputs = []
    for n in (1, 2):
        content = tmp_path / f"content{n}"
        assert run_harvest(eutils, ctgov, content, tmp_path / f"data{n}", *TOPICS, "--batch-size", str(n)).returncode == 0
        outputs.append({k.split(f"content{n}/", 1)[1]: v[0] for k, v in snapshot(content).items()})
    assert outputs[0] == outputs[1] and len(outputs[0]) == 4


def test_non_tty_progress_is_plain_log_lines_with_summary_table(apis, tmp_path):
    eutils, ctgov = apis
    run = run_harvest(eutils, ctgov, tmp_path / "c", tmp_path / "d", "--topic", "tms")
    lines = run.stderr.splitlines()
    assert "harvest: INFO: tms pubmed: started" in lines
    assert "harvest: INFO: tms pubmed: 2/2 records" in lines
    assert "\r" not in run.stderr  # no progress bar redraws
    header = next(i for i, line in enumerate(lines) if line.startswith("topic "))
    assert lines[header].split() == ["topic", "source", "found", "new", "updated", "unchanged", "off-topic",
                                     "requests", "seconds", "status"]
    assert lines[header + 2].split()[:4] == ["tms", "pubmed", "2", "1"]


def test_tty_progress_draws_a_bar_per_topic():
    stream = io.StringIO()
    progress = Progress(stream, interactive=True)
    task = progress.task("psilocybin", "pubmed")
    task.advance(0, 40)
    task.advance(25, 40)
    task.close("25 records")
    assert "psilocybin pubmed" in stream.getvalue() and "25/40" in stream.getvalue()


def test_unknown_topic_is_refused(apis, tmp_path):
    eutils, ctgov = apis
    run = run_harvest(eutils, ctgov, tmp_path / "c", tmp_path / "d", "--topic", "homeopathy")
    assert run.returncode == 2 and "unknown topic homeopathy" in run.stderr
    assert eutils.log == [] and not (tmp_path / "c").exists()


def test_cards_hold_the_source_whatever_the_editor_overrides_say(apis, tmp_path):
    """Overrides are applied by the site build (plugins/evidence/editorial.py), never baked into
    cards: the cards are the same with an override, without one, and with a broken overrides file."""
    eutils, ctgov = apis
    plain = tmp_path / "plain"
    run = run_harvest(eutils, ctgov, plain, tmp_path / "d1", "--topic", "tms")
    assert run.returncode == 0, run.stderr
    for name, text in (
        ("hidden", f'[["pubmed:{TMS_PMID}"]]\naction = "hide"\nreason = "Duplicate of a later report"\n'
                   'date = "2025-01-10"\n'),
        ("broken", f'[["pubmed:{TMS_PMID}"]\n'),
    ):
        content = tmp_path / name
        content.mkdir()
        (content / "overrides.toml").write_text(text)
        run = run_harvest(eutils, ctgov, content, tmp_path / f"d-{name}", "--topic", "tms")
        assert run.returncode == 0, run.stderr
        _record, editor = read_card(content / "evidence" / "pubmed" / f"{TMS_PMID}.md")
        assert editor is None
        for card in (plain / "evidence").rglob("*.md"):
            assert (content / card.relative_to(plain)).read_bytes() == card.read_bytes()
