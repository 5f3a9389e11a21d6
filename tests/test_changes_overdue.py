"""The "what changed" page of the run during which a trial's results fell due lists it as having become
overdue, and so does the topic's changes feed; the date comes from the trial's registry entry."""

from __future__ import annotations

import datetime as dt
import sys

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import ROOT, build_site, derive, make_report, real_records

sys.path.insert(0, str(ROOT / "plugins"))
from evidence import model  # noqa: E402

pytestmark = pytest.mark.slow


def test_run_in_which_results_fell_due_lists_the_trial(tmp_path):
    act = next(r for r in real_records("ctgov-website-download/UserZetsu-dtx-analysis/data/ctg-studies.json")
               if r["nct_id"] == "NCT05016050")  # FDA-regulated device, U.S., completed 2023-03-16, no results
    records, editors = [derive(act, topics=["tms"])], {}
    reference = dt.date(2025, 6, 1)
    due = {r["id"]: info["due"] for r in records
           if (info := model.reporting(r, [], reference)) and info["overdue"] and info["due"]}
    rid, day = sorted(due.items())[0]
    topics = load_topics()
    before = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    after = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    runs = [make_report(f"{before}T03:20:00Z", topics), make_report(f"{after}T03:20:00Z", topics),
            make_report(f"{reference.isoformat()}T03:20:00Z", topics)]
    out = build_site(tmp_path, records, editors=editors, report=runs[-1], runs=runs,
                     reference_date=reference.isoformat())

    def events(run):
        soup = BeautifulSoup((out / "changes" / run["run_id"] / "index.html").read_text(encoding="utf-8"),
                             "html.parser")
        return " ".join(soup.select_one("#events").get_text().split())

    key = rid.split(":", 1)[1]
    assert key in events(runs[1]) and "results became overdue" in events(runs[1])
    assert key not in events(runs[0]) and key not in events(runs[2])
    slug = next(r for r in records if r["id"] == rid)["topics"][0]
    feed = (out / "feeds" / "changes" / f"{slug}.atom.xml").read_text(encoding="utf-8")
    assert "Results became overdue" in feed and key in feed
