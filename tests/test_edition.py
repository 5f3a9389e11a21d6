"""The shipped atlas says what it is: a snapshot made from recorded replies, not a live search.

Built from the committed content/ and data/ exactly as `make build` does.  Then the same pages from
a live run report, where a source that failed is never described as harvested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import CONF, ROOT, build_site, make_report, real_records

pytestmark = pytest.mark.slow


def text_of(path: Path) -> str:
    return " ".join(BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").get_text(" ").split())


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shipped") / "output"
    cache = out.parent / "cache"
    cmd = [sys.executable, "-m", "pelican", str(ROOT / "content"), "-o", str(out), "-s", str(CONF),
           "--fatal", "errors", "-e", f"CACHE_PATH={json.dumps(str(cache))}", 'SEARCH_INDEX={"enabled": false}']
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_shipped_report_is_a_replay(shipped):
    # The premise of the wording below: the committed cards come from `harvest replay`, not a live run.
    report = json.loads((ROOT / "data" / "report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "replay"


def test_home_shows_every_topic_and_says_it_is_a_snapshot(shipped):
    topics = load_topics()
    page = BeautifulSoup((shipped / "index.html").read_text(encoding="utf-8"), "html.parser")
    tiles = [t.h3.get_text(" ", strip=True) for t in page.select(".topic-tile")]
    assert tiles == [t.name for t in topics] and len(tiles) == 7
    said = " ".join(page.get_text(" ").split())
    assert "The seven treatments" in said
    cards = len(list((ROOT / "content" / "evidence").rglob("*.md")))
    assert f"This edition is a snapshot, not a live search. Its {cards} evidence cards were made on" in said
    assert "PubMed and ClinicalTrials.gov were not searched for this edition" in said
    assert "last harvested" not in said.lower()


def test_every_page_footer_says_snapshot_never_last_harvest(shipped):
    pages = list(shipped.rglob("*.html"))
    assert len(pages) > 30
    for path in pages:
        page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        footer = page.select_one("footer.site-footer")
        if footer is None:
            continue
        said = " ".join(footer.get_text(" ").split())
        assert "Snapshot edition made" in said and "not a live harvest" in said, path
        assert "Last harvest" not in said and "Last successful harvest" not in said, path


def test_a_snapshot_card_says_it_was_made_from_a_recorded_reply_not_harvested(shipped):
    said = text_of(shipped / "evidence/ctgov/NCT04770285.html")
    assert "from a recorded reply (a snapshot, not a live harvest)" in said
    assert "Harvested on" not in said


def test_empty_topic_says_this_edition_has_none_yet_not_that_none_exist(shipped):
    page = BeautifulSoup((shipped / "topics/ect/index.html").read_text(encoding="utf-8"), "html.parser")
    # the generated sections only: the explainer above them is editor prose about published trials
    said = " ".join(" ".join(page.select_one(f"#{i}").get_text(" ").split())
                    for i in ("evidence-summary", "charts", "all-evidence"))
    assert "This edition has no recruiting trials on this treatment yet" in said
    assert ("none of the recorded ClinicalTrials.gov replies it was made from is about this treatment. "
            "That does not mean that there are none.") in said
    # nothing empty is offered for download
    assert "Download this topic's records" not in said
    assert "This edition has no evidence cards on this treatment yet" in said
    for claim in ("No recruiting trials on this treatment", "found no", "to chart yet", "last harvested"):
        assert claim not in said, claim


def test_at_a_glance_counts_are_labelled_as_a_snapshots_not_a_harvests(shipped):
    page = BeautifulSoup((shipped / "topics/psilocybin/index.html").read_text(encoding="utf-8"), "html.parser")
    said = " ".join(page.select_one("#at-a-glance").get_text(" ").split())
    assert "Counted from the evidence cards of this snapshot edition" in said
    assert "the date of the last harvest" not in said


def test_digital_therapeutics_page_shows_real_trials_with_status_phase_and_chart(shipped):
    page = BeautifulSoup((shipped / "topics/digital-therapeutics/index.html").read_text(encoding="utf-8"),
                         "html.parser")
    items = page.select("#all-evidence .ev-item")
    assert len(items) >= 15
    assert all("Trial NCT" in i.get_text(" ") for i in items)
    assert page.select("#recruiting .ev-item") or page.select_one("#recruiting ~ .ev-list")
    assert [f["id"] for f in page.select("figure.chart")] == ["chart-trials-by-phase-status"]
    assert (shipped / "topics/digital-therapeutics/trials-by-phase-status.svg").exists()
    statuses = {t.get_text(strip=True) for t in page.select("#all-evidence .tag.status")}
    assert {"Completed", "Recruiting"} <= statuses


def test_methods_run_table_and_edition_section_cover_every_topic(shipped):
    page = BeautifulSoup((shipped / "methods/index.html").read_text(encoding="utf-8"), "html.parser")
    rows = {r.th.get_text(strip=True) for r in page.select("table.run-table tbody tr")}
    assert rows == {t.name for t in load_topics()}
    said = " ".join(page.select_one("#edition-section").get_text(" ").split())
    assert "This edition is a snapshot" in said and "python -m harvest replay" in said


def test_the_downloads_page_of_a_snapshot_claims_no_harvest_or_retrieval_day(shipped):
    said = text_of(shipped / "downloads/index.html")
    # A replay wrote the committed cards: its report's day is when they were made, not retrieved.
    assert "last harvest" not in said.lower() and "last successful harvest" not in said.lower()
    made = json.loads((ROOT / "data" / "report.json").read_text(encoding="utf-8"))["finished"][:10]
    assert f"were made on {made} from recorded replies, not by a live harvest" in said
    assert "on days this site does not know" in said


def test_the_changes_page_of_a_replay_does_not_call_it_a_harvest(shipped):
    run_id = json.loads((ROOT / "data" / "report.json").read_text(encoding="utf-8"))["run_id"]
    page = BeautifulSoup((shipped / f"changes/{run_id}/index.html").read_text(encoding="utf-8"), "html.parser")
    assert page.h1.get_text(" ", strip=True).startswith("Replay of ")
    assert page.title.get_text().startswith("Changes in the replay of ")
    assert "PubMed and ClinicalTrials.gov were not searched in this run" in text_of(shipped / f"changes/{run_id}/index.html")


def state_of(topics, pubmed: str | None, ctgov: str | None) -> dict:
    """data/state.json (harvest/state.py, version 2): last success per topic and source; the latest
    attempt on 2026-11-21 failed for every source without a success that night."""
    def entry(success):
        attempt = "2026-11-21T03:20:00Z"
        return {"success": success, "attempt": attempt, "error": None if success == attempt else "server error"}
    return {"version": 2, "topics": {t.slug: {"pubmed": entry(pubmed), "ctgov": entry(ctgov)} for t in topics}}


def test_live_edition_names_each_sources_last_success_and_never_calls_a_failed_source_harvested(tmp_path):
    topics = load_topics()
    records = [dict(r, topics=["ketamine"]) for r in real_records("metapub/tests/fixtures/pmid_xml/38011560.xml")]
    newer = make_report("2026-11-21T03:20:00Z", topics, run_id="2026-11-21T032000Z")
    # PubMed succeeded on the 21st; ClinicalTrials.gov failed that night and last succeeded on the 20th.
    state = state_of(topics, "2026-11-21T03:20:00Z", "2026-11-20T03:20:00Z")
    out = build_site(tmp_path, records, report=newer, state=state)
    said = text_of(out / "topics/ketamine/index.html")
    assert "PubMed last harvested for this topic on 21 November 2026" in said
    assert "ClinicalTrials.gov last harvested for this topic on 20 November 2026" in said
    assert "snapshot" not in said.lower()
    home = text_of(out / "index.html")
    assert "The last successful harvest finished on 21 November 2026" in home
    downloads = text_of(out / "downloads/index.html")
    assert "(last successful harvest 2026-11-21 )" in downloads and "snapshot" not in downloads.lower()
    # A source that has never succeeded: no harvest date is claimed for it.
    state = state_of(topics, "2026-11-21T03:20:00Z", None)
    out = build_site(tmp_path / "again", records, report=newer, state=state)
    said = text_of(out / "topics/ect/index.html")
    assert "This edition has no recruiting trials on this treatment: ClinicalTrials.gov has not yet been harvested successfully for this topic" in said
