"""End to end: trials that differ only in whether a reporting rule covers them come out overdue / not
overdue the same way in the card pages, the listings, the topic page, the Atom feeds and the CSV
download of a real site build (tests/sitebuild.py)."""

from __future__ import annotations

import csv
import gzip
import io
import xml.etree.ElementTree as ET

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from harvest.records import drift
from sitebuild import build_site, derive, make_report, real_records

DTX = "ctgov-website-download/UserZetsu-dtx-analysis/data/ctg-studies.json"
DISC = "ctgov-website-download/koy570-herniated_disc/ctg-studies.json"
ATOM = "{http://www.w3.org/2005/Atom}"


def _trials(rel):
    return {r["nct_id"]: r for r in real_records(rel)}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    dtx, disc = _trials(DTX), _trials(DISC)
    review = real_records("metapub/tests/fixtures/pmid_xml/24794070.xml")[0]
    act = dtx["NCT05016050"]  # FDA-regulated device, U.S., completed 2023-03-16, no results
    not_covered = derive(act, "NCT90000011", topics=["tms"])
    # Edited: the copy differs from the real ACT only in its FDA-regulated-device answer ("No"),
    # which takes it out of FDAAA 801's reach.
    not_covered["registry"]["fda_regulated_device"] = False
    records = [
        derive(act, topics=["tms"]),
        not_covered,
        derive(disc["NCT03607838"], topics=["tms"]),  # FDAAA trial with a certificate of delay
        derive(disc["NCT03884387"], topics=["tms"]),  # Danish, no rule; results paper linked below
        # Edited: a real review given a DataBank entry naming the Danish trial (a results-grade link) ...
        derive(review, "90000021", linked_nct_ids=["NCT03884387"], topics=["tms"]),
        # ... and one that only mentions the ACT's number in its abstract (not results-grade)
        derive(review, "90000022", mentioned_nct_ids=["NCT05016050"], topics=["tms"]),
    ]
    # Edited: the certificate trial as it could have read before it ended (planned 400 participants,
    # primary completion 2021-12), so its card carries the history harvest/records/drift.py keeps.
    cert = records[2]
    before = dict(cert, enrollment=400, enrollment_type="ESTIMATED", primary_completion_date="2021-12")
    history = {cert["id"]: {"history": drift.events(before, cert, "2025-06-01")}}
    topics = load_topics()
    report = make_report("2025-06-01T03:00:00+00:00", topics)
    out = build_site(tmp_path_factory.mktemp("reporting"), records, report=report, reference_date="2025-06-01",
                     extras=history)
    return out


def page(out, rel):
    return BeautifulSoup((out / rel).read_text(encoding="utf-8"), "html.parser")


def text(node):
    return " ".join(node.get_text(" ").split()) if node is not None else ""


def test_card_pages(site):
    act = page(site, "evidence/ctgov/NCT05016050.html")
    notice = text(act.select_one(".notice-overdue"))
    assert notice.startswith("Results overdue under FDAAA 801.")
    assert "results were due on ClinicalTrials.gov by 2024-04-15" in notice
    assert "Rule: U.S. FDAAA 801 (applicable clinical trial" in text(act.select_one("dd.reporting"))
    other = page(site, "evidence/ctgov/NCT90000011.html")
    assert other.select_one(".notice-overdue") is None
    assert "overdue" not in text(other.select_one("article.card")).lower()
    assert text(other.select_one("dd.reporting")).startswith("No results posted 2 years after completion.")
    cert = page(site, "evidence/ctgov/NCT03607838.html")
    assert cert.select_one(".notice-overdue") is None
    assert "Certificate of delay filed on 2023-07-14" in text(cert.select_one("dd.reporting"))
    facts = {text(d): text(d.find_next_sibling("dd")) for d in cert.select("dl.facts dt")}
    assert facts["Enrollment"] == "352 participants (actual; 400 planned)"
    assert facts["Primary completion"].startswith("2022-08-03 (moved from 2021-12; see changes in the registry")


def test_levels_and_link_grades_on_cards(site):
    # the Danish registration has a DataBank-linked paper: it takes its design's level
    danish = page(site, "evidence/ctgov/NCT03884387.html")
    assert text(danish.select_one(".badges .badge")) == "Strong Randomized controlled trial"
    facts = {text(d): text(d.find_next_sibling("dd")) for d in danish.select("dl.facts dt")}
    assert facts["Evidence level"] == "Strong: randomized trial (the second strongest of five levels)"
    linked = danish.select_one(".linked li")
    assert "PMID 90000021" in text(linked) and "Reports this trial (PubMed DataBank)" in text(linked)
    assert text(danish.select_one("dd.reporting")).startswith("Results published: PMID 90000021.")
    # a mention in an abstract links the cards but gives neither a level nor an excuse
    act = page(site, "evidence/ctgov/NCT05016050.html")
    assert text(act.select_one(".badges .badge")) == "Registered trial — no results yet"
    assert "Mentions the trial number in its abstract" in text(act.select_one(".linked"))
    assert act.select_one(".notice-overdue") is not None
    facts = {text(d): text(d.find_next_sibling("dd")) for d in act.select("dl.facts dt")}
    assert facts["Registration"].startswith("Registered after the study started (retrospective registration)")
    assert facts["Enrollment"] == "367 participants (actual)"


def test_listing_and_topic_gap(site):
    listing = page(site, "topics/tms/all/index.html")
    flagged = {a["href"].rsplit("/", 1)[-1] for a in listing.select(".ev-item a.ev-title")
               if a.find_parent("li").select_one(".flag-overdue")}
    assert flagged == {"NCT05016050.html"}
    item = listing.select_one('a[href$="NCT90000011.html"]').find_parent("li")
    assert text(item.select_one(".tag-no-results")) == "No results posted 2 years after completion"
    assert "Results overdue under FDAAA 801" in text(listing.select_one('a[href$="NCT05016050.html"]').find_parent("li"))
    topic = page(site, "topics/tms/index.html")
    gap = topic.select_one("#gap").find_next("p")
    # four completed trials; the Danish one has a results paper; the other three enrolled 367 + 367 + 352
    assert text(gap).startswith("Of the 4 completed trials on this treatment, 3 ended more than 12 months ago")
    assert "together they enrolled 1,086 participants" in text(gap)
    gap_ids = {a["href"].rsplit("/", 1)[-1] for a in topic.select("#gap ~ details a.ev-title")}
    assert gap_ids == {"NCT05016050.html", "NCT90000011.html", "NCT03607838.html"}


def test_feed_entries(site):
    root = ET.parse(site / "feeds" / "tms.atom.xml").getroot()
    summaries = {e.find(f"{ATOM}link").get("href").rsplit("/", 1)[-1]: e.find(f"{ATOM}summary").text
                 for e in root.iter(f"{ATOM}entry")}
    assert "Results overdue under FDAAA 801" in summaries["NCT05016050.html"]
    assert "overdue" not in summaries["NCT90000011.html"].lower()
    assert "No results posted 2 years after completion" in summaries["NCT90000011.html"]
    assert summaries["NCT05016050.html"].startswith("<p>Registered trial — no results yet · ")


def test_csv_download(site):
    data = gzip.decompress((site / "downloads" / "all.csv.gz").read_bytes()).decode("utf-8")
    rows = [r for r in csv.DictReader(io.StringIO(data, newline="")) if "tms" in r["topics"].split("; ")]
    by_id = {r["id"]: r for r in rows}
    act, other = by_id["ctgov:NCT05016050"], by_id["ctgov:NCT90000011"]
    assert act["results_overdue"] == "true" and other["results_overdue"] == "false"
    assert act["results_rule"].startswith("U.S. FDAAA 801") and other["results_rule"] == "none identified"
    assert other["results_reporting"] == "No results posted 2 years after completion"
    assert act["evidence_level"] == "" and act["evidence_level_label"] == "Registered trial — no results yet"
    assert by_id["ctgov:NCT03884387"]["evidence_level"] == "2"
    assert by_id["pubmed:90000021"]["results_overdue"] == ""


def test_methods_page_states_the_rules(site):
    methods = page(site, "methods/index.html")
    for anchor in ("results-reporting", "which-rule", "flag-overdue", "no-results", "gap", "link-grades",
                   "registration", "level-none"):
        assert methods.select_one(f"#{anchor}") is not None, anchor
    assert methods.select_one('a[href="https://fdaaa.trialstracker.net/"]')
