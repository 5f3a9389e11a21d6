"""The "Results overdue" flag names the registry record it was judged on, in both editions: a live
edition's record is the one the nightly harvest fetched; a snapshot's is a recorded copy retrieved on a
day the site does not know, so there a trial is flagged only when its copy was last updated after
the results fell due (real site builds, tests/sitebuild.py)."""

from __future__ import annotations

import csv
import gzip
import io

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import build_site, derive, make_report, real_records

pytestmark = pytest.mark.slow

DTX = "ctgov-website-download/UserZetsu-dtx-analysis/data/ctg-studies.json"
REFERENCE = "2025-06-01"
# Both are FDA-regulated device trials in the U.S. without results (real records, unaltered):
# NCT05016050: results due 2024-04-15, record last updated 2023-06-01 (before the deadline);
# NCT05601362: results due 2024-09-29, record last updated 2024-12-06 (after the deadline).
OLD_COPY, NEW_COPY = "NCT05016050", "NCT05601362"
# No reporting rule covers it: completed 2021-12-16, record last updated 2022-01-05, no results.
NO_RULE = "NCT04985331"


def _records():
    trials = {r["nct_id"]: r for r in real_records(DTX)}
    return [derive(trials[n], topics=["tms"]) for n in (OLD_COPY, NEW_COPY, NO_RULE)]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    report = make_report(f"{REFERENCE}T03:00:00Z", load_topics())  # a live run: data/state.json has its success
    return build_site(tmp_path_factory.mktemp("live"), _records(), report=report, reference_date=REFERENCE)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    report = make_report(f"{REFERENCE}T03:00:00Z", load_topics(), mode="replay")  # no live harvest ever
    return build_site(tmp_path_factory.mktemp("snapshot"), _records(), report=report, reference_date=REFERENCE)


def page(out, rel):
    return BeautifulSoup((out / rel).read_text(encoding="utf-8"), "html.parser")


def text(node):
    return " ".join(node.get_text().split()) if node is not None else ""


def notice(out, nct):
    return text(page(out, f"evidence/ctgov/{nct}.html").select_one(".notice-overdue"))


def reporting_fact(out, nct):
    return text(page(out, f"evidence/ctgov/{nct}.html").select_one("dd.reporting"))


def badges(out):
    listing = page(out, "topics/tms/all/index.html")
    return {a["href"].rsplit("/", 1)[-1].removesuffix(".html"): text(a.find_parent("li").select_one(".flag-overdue"))
            for a in listing.select(".ev-item a.ev-title")}


def csv_rows(out):
    data = gzip.decompress((out / "downloads" / "all.csv.gz").read_bytes()).decode("utf-8")
    return {r["id"]: r for r in csv.DictReader(io.StringIO(data, newline=""))}


def test_live_card_names_the_registry_record(live):
    for nct, updated in ((OLD_COPY, "2023-06-01"), (NEW_COPY, "2024-12-06")):
        said = notice(live, nct)
        assert said.startswith("Results overdue under FDAAA 801.")
        assert ("None were posted in the registry record this card was made from (last updated on "
                f"ClinicalTrials.gov {updated}), and no publication reporting its results is linked to it.") in said
        assert "recorded" not in said and "snapshot" not in said
        assert "None are posted" not in said
    assert badges(live)[OLD_COPY] == "Results overdue under FDAAA 801 (by its registry record, last updated 2023-06-01)"
    assert reporting_fact(live, OLD_COPY).startswith(
        "Results overdue under FDAAA 801: due by 2024-04-15; none posted in the registry record this card was "
        "made from (last updated on ClinicalTrials.gov 2023-06-01), and no results publication linked.")


def test_snapshot_card_says_it_was_checked_against_a_recorded_copy(snapshot):
    said = notice(snapshot, NEW_COPY)
    assert said.startswith("Results overdue under FDAAA 801.")
    assert ("None were posted in the recorded copy of the registry record this card was made from (last updated "
            "on ClinicalTrials.gov 2024-12-06), and no publication reporting its results is linked to it.") in said
    assert ("This edition is a snapshot: the check was made against that recorded copy, not against the registry "
            "as it is now, where results may have been posted since.") in said
    assert badges(snapshot)[NEW_COPY] == ("Results overdue under FDAAA 801 (by its recorded registry record, "
                                          "last updated 2024-12-06)")


def test_snapshot_does_not_flag_a_copy_older_than_the_deadline(snapshot):
    # The copy was last updated before the results fell due: it cannot show they were missing after.
    assert notice(snapshot, OLD_COPY) == ""
    assert badges(snapshot)[OLD_COPY] == ""
    assert reporting_fact(snapshot, OLD_COPY).startswith(
        "Results due under FDAAA 801 by 2024-04-15; the recorded copy of the registry record this card was made "
        "from (last updated on ClinicalTrials.gov 2023-06-01) is older than that day, so this snapshot cannot "
        "show whether they were posted.")
    rows = csv_rows(snapshot)
    assert rows[f"ctgov:{OLD_COPY}"]["results_overdue"] == "false"
    assert rows[f"ctgov:{NEW_COPY}"]["results_overdue"] == "true"


def test_methods_page_states_the_basis(snapshot, live):
    for out in (snapshot, live):
        section = text(page(out, "methods/index.html").select_one("#flag-overdue").find_next("p").find_next("p"))
        assert section.startswith("The flag is judged on the registry record the card was made from")
    flags = text(page(snapshot, "methods/index.html").select_one("#flags"))
    assert "In this snapshot edition each trial is judged on the recorded copy of its registry record" in flags
    assert "In this snapshot edition" not in text(page(live, "methods/index.html").select_one("#flags"))


def gap(out):
    topic = page(out, "topics/tms/index.html")
    return (text(topic.select_one("#gap").find_next("p")),
            {a["href"].rsplit("/", 1)[-1].removesuffix(".html") for a in topic.select("#gap ~ details a.ev-title")})


def test_time_without_results_is_counted_to_the_copys_last_update(snapshot, live):
    assert reporting_fact(live, NO_RULE).startswith("No results posted 3 years after completion.")
    said, trials = gap(live)
    assert said.startswith("Of the 3 completed trials on this treatment, 3 ended more than 12 months ago with no "
                           "results posted on ClinicalTrials.gov")
    assert trials == {OLD_COPY, NEW_COPY, NO_RULE}
    # The copy was last updated 3 weeks after completion: it shows nothing about the years after.
    assert reporting_fact(snapshot, NO_RULE).startswith(
        "No results in the recorded copy of the registry record this card was made from (last updated on "
        "ClinicalTrials.gov 2022-01-05), which is less than 12 months after completion, so this snapshot cannot "
        "show whether they were posted later.")
    assert "years after completion" not in text(page(snapshot, "topics/tms/all/index.html"))
    said, trials = gap(snapshot)
    assert said.startswith("Of the 3 completed trials on this treatment, 1 had ended more than 12 months before "
                           "the recorded copy of their registry record was last updated, with no results posted in "
                           "it and no linked paper reporting results")
    assert trials == {NEW_COPY}
