"""Honest freshness (issue 11): per topic and source the last *successful* harvest, a failed latest
attempt told in plain words with its short error class only, and the home page saying how old the
data are when no harvest has succeeded for more than three days."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import REFERENCE_DATE, build_site, make_report, sample_records

pytestmark = pytest.mark.slow

RAW_ERROR = ("tms: pubmed esearch.fcgi: connection failed after 4 retries (NewConnectionError: "
             "<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection)")


def text(node) -> str:
    return " ".join(node.get_text().split())


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fresh")
    topics = load_topics()
    ok = make_report(f"{REFERENCE_DATE}T03:20:00Z", topics)
    failed = make_report("2025-06-05T03:18:00Z", topics)
    ok["mode"] = failed["mode"] = "run"  # live harvests, not a replay of recordings
    failed["ok"] = False
    for topic in failed["topics"]:  # a night without network: every topic failed at its first request
        topic["sources"]["pubmed"].update(error=RAW_ERROR.replace("tms", topic["slug"]), error_kind="network")
        topic["sources"]["ctgov"].update(error=f"{topic['slug']}: ctgov replies discarded because pubmed failed",
                                         error_kind="network")
    state = {"topics": {t.slug: {source: {"attempt": "2025-06-05T03:18:00Z", "error": "network",
                                          "error_source": "pubmed", "success": f"{REFERENCE_DATE}T03:20:00Z"}
                                 for source in ("pubmed", "ctgov")} for t in topics}, "version": 2}
    (tmp / "data").mkdir()
    (tmp / "data" / "state.json").write_text(json.dumps(state), encoding="utf-8")
    records, editors = sample_records()
    out = build_site(tmp, records, editors=editors, report=ok, runs=[ok, failed], reference_date=REFERENCE_DATE,
                     settings={"EVIDENCE_TODAY": "2025-06-11"})
    return out, failed


def page(out, rel):
    return BeautifulSoup((out / rel).read_text(encoding="utf-8"), "html.parser")


def test_topic_page_says_the_latest_attempt_failed_and_where_the_cards_are_from(site):
    out, _ = site
    tms = page(out, "topics/tms/index.html")
    assert text(tms.select_one(".freshness-failed")) == (
        "The latest update attempt on 2025-06-05 could not reach PubMed; "
        "the cards shown are from the harvest of 2025-06-01.")
    assert "PubMed last harvested for this topic on" in text(tms.select_one("#evidence-summary"))


def test_methods_lists_each_topic_and_source_with_the_error_class_only(site):
    out, _ = site
    methods = page(out, "methods/index.html")
    section = text(methods.select_one("#freshness"))
    assert "failed on 2025-06-05: network" in section
    assert "Transcranial magnetic stimulation (TMS): The latest update attempt on 2025-06-05 could not reach PubMed" \
        in section


def test_home_page_says_how_old_the_data_are(site):
    out, _ = site
    home = page(out, "index.html")
    assert "The newest data on this site are 10 days old" in text(home.select_one(".freshness-stale"))
    assert "Last successful harvest: 2025-06-01" in text(home.select_one("footer"))


def test_no_public_page_shows_exception_text(site):
    out, failed = site
    changes = page(out, f"changes/{failed['run_id']}/index.html")
    assert "network" in text(changes.select_one("#per-topic"))
    for path in out.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert "NewConnectionError" not in html and "discarded because" not in html, path


def test_a_state_file_of_another_shape_stops_the_build_with_an_error_naming_it(tmp_path):
    from sitebuild import SiteBuildError

    topics = load_topics()
    # harvest/state.py writes UTC stamps; a hand-edited or damaged file may hold anything.
    state = {"version": 2, "topics": {topics[0].slug: {"pubmed": {"success": "yesterday", "attempt": None,
                                                                   "error": None}}}}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "state.json").write_text(json.dumps(state), encoding="utf-8")
    records, _ = sample_records()
    with pytest.raises(SiteBuildError) as exc:
        build_site(tmp_path, records, report=make_report(f"{REFERENCE_DATE}T03:20:00Z", topics))
    # The error names the file and the value (the log wraps lines: compare its words).  Before, the
    # build went on to crash on the value, in a traceback naming neither.
    log = " ".join(str(exc.value).split())
    assert f"state.json: {topics[0].slug} pubmed success is not an ISO UTC time: 'yesterday'" in log
    assert "Invalid isoformat string" not in log
