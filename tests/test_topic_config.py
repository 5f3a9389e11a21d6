"""A topic added to topics.toml — and nothing else — gets its pages, facets, feeds and exports.

The site and the harvester read the same topics file; EVIDENCE_TOPICS points a build at a copy, so
this test adds a treatment the shipped file does not have (MDMA-assisted therapy) to a temporary copy
and builds a real site from real recorded records classified with that copy.
"""

from __future__ import annotations

import csv
import gzip
import io

import feedparser
import pytest
from bs4 import BeautifulSoup

from harvest.classification.classify import classify
from harvest.classification.topics import TOPICS_PATH, load_topics
from sitebuild import build_site, make_report, real_records

pytestmark = pytest.mark.slow

PSYNAMIC = "psynamic-webapp/test/test_data/abstract_test.xml"
MDMA_TRIAL = "pubmed:41344230"  # "MDMA-assisted therapy for major depressive disorder: ... trial"

NEW_TOPIC = '''
[[topic]]
slug = "mdma"
name = "MDMA-assisted therapy"
summary = "Psychotherapy given with a few doses of MDMA."
pubmed_query = '(MDMA[tiab] OR "N-Methyl-3,4-methylenedioxyamphetamine"[mh]) AND {scope}'
terms = ["MDMA", "methylenedioxymethamphetamine", "midomafetamine"]
mesh = ["N-Methyl-3,4-methylenedioxyamphetamine"]
[topic.ctgov]
"query.cond" = "{scope}"
"query.intr" = "MDMA OR midomafetamine"
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("topicconf")
    path = tmp / "topics.toml"
    path.write_text(TOPICS_PATH.read_text(encoding="utf-8") + NEW_TOPIC, encoding="utf-8")
    topics = load_topics(path)
    records = []
    for rec in real_records(PSYNAMIC):
        rec["topics"] = classify(rec, topics)
        if rec["topics"]:
            records.append(rec)
    report = make_report("2026-11-01T03:17:00Z", topics)
    out = build_site(tmp, records, report=report, settings={"EVIDENCE_TOPICS": str(path)})
    return {"out": out, "records": records, "topics": topics}


def test_the_shipped_file_does_not_know_the_topic_but_the_copy_classifies_a_real_record_into_it(site):
    assert "mdma" not in {t.slug for t in load_topics()}
    rec = next(r for r in site["records"] if r["id"] == MDMA_TRIAL)
    assert rec["topics"] == ["mdma"]


def test_new_topic_gets_a_topic_page_with_its_card_and_a_home_tile(site):
    out = site["out"]
    page = BeautifulSoup((out / "topics/mdma/index.html").read_text(encoding="utf-8"), "html.parser")
    assert page.h1.get_text() == "MDMA-assisted therapy"
    assert page.find("a", href=lambda h: h and h.endswith("evidence/pubmed/41344230.html"))
    home = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    tiles = [t.h3.get_text(" ", strip=True) for t in home.select(".topic-tile")]
    assert tiles == [t.name for t in site["topics"]] and len(tiles) == 8
    assert "The eight treatments" in home.get_text(" ")
    methods = (out / "methods/index.html").read_text(encoding="utf-8")
    assert 'id="query-mdma"' in methods


def test_new_topic_gets_facet_listings(site):
    out = site["out"] / "topics/mdma"
    assert (out / "all/index.html").exists() and (out / "all/level/index.html").exists()
    facets = list((out / "design").glob("*/index.html"))
    assert facets, "no design facet pages for the new topic"
    assert all("41344230" in p.read_text(encoding="utf-8") for p in facets)


def test_new_topic_gets_a_feed_and_exports(site):
    out = site["out"]
    feed = feedparser.parse((out / "feeds/mdma.atom.xml").read_bytes())
    assert any("41344230" in e.link for e in feed.entries)
    exports = sorted(p.name for p in (out / "downloads").iterdir() if p.name.startswith("mdma."))
    assert exports == ["mdma.bib.gz", "mdma.ris.gz"], "no citation downloads for the new topic"
    text = gzip.decompress((out / "downloads" / "all.csv.gz").read_bytes()).decode("utf-8")
    ids = [row["id"] for row in csv.DictReader(io.StringIO(text)) if "mdma" in row["topics"].split("; ")]
    assert ids == [MDMA_TRIAL]
    assert MDMA_TRIAL.split(":")[1] in gzip.decompress((out / "downloads" / "mdma.ris.gz").read_bytes()).decode()
    # the card's own page names the topic it is filed under
    card = (out / "evidence/pubmed/41344230.html").read_text(encoding="utf-8")
    assert "MDMA-assisted therapy" in card
