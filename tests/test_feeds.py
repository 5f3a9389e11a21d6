"""Atom feeds and "what changed" pages of a real site built from real-derived cards.

Also home of extras_sites(): the two builds (development and publish settings) that the site-extras
tests (feeds, exports, seo, links) share, so the suite builds them once.
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
from pathlib import Path

import feedparser
import pytest
from bs4 import BeautifulSoup

from harvest.cards.card import read_card
from harvest.classification.topics import load_topics
from sitebuild import ROOT, REFERENCE_DATE, build_site, make_report, sample_records
from test_citations import HOSTILE_TITLE, hostile_record

pytestmark = pytest.mark.slow

SITEURL = "https://atlas.example.org"
HIDDEN = "pubmed:92000001"
LATEST_RUN = "2025-06-01T031610Z"
OLDER_RUN = "2025-03-01T030000Z"


def linked_cards(have: set[str]) -> list[dict]:
    """The committed cards that the editor pages link to, so the explainers' links resolve."""
    found = []
    for path in sorted((ROOT / "content").glob("*/*.md")):
        for source, key in re.findall(r"\{filename\}/evidence/(pubmed|ctgov)/(\w+)\.md", path.read_text("utf-8")):
            card = ROOT / "content" / "evidence" / source / f"{key}.md"
            record, _editor = read_card(card)
            if record["id"] not in have:
                have.add(record["id"])
                found.append(record)
    return found


@functools.lru_cache(maxsize=None)
def extras_sites() -> dict:
    """Build the sample site twice (relative URLs with Pagefind, and absolute publish URLs)."""
    records, editors = sample_records()
    hostile = hostile_record()
    hostile["topics"] = ["tms", "ketamine"]
    records.append(hostile)
    records += linked_cards({r["id"] for r in records})
    topics = load_topics()
    latest = make_report(
        REFERENCE_DATE + "T03:16:10Z", topics, run_id=LATEST_RUN,
        changes={"new": [hostile["id"], "pubmed:32525788"],
                 "updated": ["ctgov:NCT03884387", "pubmed:99999998"],
                 "new_retractions": ["pubmed:90000002"],
                 "status_changes": [{"id": "ctgov:NCT90000001", "from": "NOT_YET_RECRUITING", "to": "RECRUITING"},
                                    {"id": "ctgov:NCT99999998", "from": "RECRUITING", "to": "COMPLETED"}]})
    older = make_report("2025-03-01T03:00:00Z", topics, run_id=OLDER_RUN,
                        changes={"new": ["pubmed:38909159"], "updated": [], "new_retractions": [],
                                 "status_changes": []})
    tmp = Path(tempfile.mkdtemp(prefix="site-extras-"))
    atexit.register(shutil.rmtree, tmp, True)
    common = dict(editors=editors, report=latest, runs=[latest, older], reference_date=REFERENCE_DATE)
    dev = build_site(tmp / "dev", records, pagefind=True, **common)
    pub = build_site(tmp / "pub", records, settings={"SITEURL": SITEURL, "RELATIVE_URLS": False}, **common)
    visible = [r for r in records if r["id"] != HIDDEN]
    return {"dev": dev, "pub": pub, "records": visible, "hostile": hostile, "topics": topics}


@pytest.fixture(scope="module")
def site():
    return extras_sites()


def parse(path: Path):
    feed = feedparser.parse(path.read_bytes())
    assert not feed.bozo, f"{path}: {feed.get('bozo_exception')}"
    return feed


def entry(feed, record_id: str):
    return next(e for e in feed.entries if e.id.endswith(":" + record_id))


def test_all_feed_lists_every_visible_card_newest_arrivals_first(site):
    feed = parse(site["pub"] / "feeds" / "all.atom.xml")
    ids = [e.id for e in feed.entries]
    expected = {f"tag:mood-evidence-atlas.github.io,2026:{r['id']}" for r in site["records"]}
    assert set(ids) == expected and len(ids) == len(expected)
    assert f"tag:mood-evidence-atlas.github.io,2026:{HIDDEN}" not in ids
    # Cards the latest run reported as new come first, then the older run's, then the rest.
    assert set(ids[:2]) == {f"tag:mood-evidence-atlas.github.io,2026:{site['hostile']['id']}",
                            "tag:mood-evidence-atlas.github.io,2026:pubmed:32525788"}
    assert ids[2] == "tag:mood-evidence-atlas.github.io,2026:pubmed:38909159"
    assert feed.entries[0].published == "2025-06-01T03:16:10+00:00"
    # The feed's <updated> is its newest entry's, from the records, never the build time.
    assert feed.feed.updated == max(e.updated for e in feed.entries)
    first = entry(feed, "pubmed:32525788")
    assert first.link == f"{SITEURL}/evidence/pubmed/32525788.html"
    assert first.title == "Pain Perception and Management: Where do We Stand?"
    assert "Narrative review" in first.summary and "Current molecular pharmacology" in first.summary
    assert "Improved understanding of pain physiopathology" in first.summary  # the conclusion
    assert feed.feed.links[1].href == f"{SITEURL}/feeds/all.atom.xml"


def test_topic_feeds_hold_only_their_topic(site):
    topics = site["topics"]
    assert {t.slug for t in topics} >= {"tms", "ketamine", "pgx"}
    for topic in topics:
        feed = parse(site["pub"] / "feeds" / f"{topic.slug}.atom.xml")
        want = {r["id"] for r in site["records"] if topic.slug in r["topics"]}
        got = {e.id.rsplit(":", 2)[-2] + ":" + e.id.rsplit(":", 1)[-1] for e in feed.entries}
        assert got == want, topic.slug
        assert topic.name in feed.feed.title
    empty = parse(site["pub"] / "feeds" / "pgx.atom.xml")
    assert empty.entries == []
    # No entries: <updated> is the last harvest, not the build time.
    assert empty.feed.updated == "2025-06-01T03:16:10+00:00"


def test_hostile_title_is_text_in_feeds(site):
    raw = (site["pub"] / "feeds" / "all.atom.xml").read_text(encoding="utf-8")
    assert "<script>" not in raw
    feed = parse(site["pub"] / "feeds" / "all.atom.xml")
    entry_ = entry(feed, site["hostile"]["id"])
    assert entry_.title.startswith(HOSTILE_TITLE)
    # The summary is type="html" holding escaped text: a reader shows "<script>", never runs it.
    assert entry_.summary_detail.type == "text/html"
    assert "&lt;script&gt;" not in raw or "&amp;lt;script" not in raw  # title: one escape level
    assert "<title>Evil =1+1 &lt;script&gt;alert(1)&lt;/script&gt;" in raw


def test_feeds_are_deterministic(site):
    """Same cards and reports, two builds (different SITEURL): identical ids, dates and order."""
    dev = feedparser.parse((site["dev"] / "feeds" / "all.atom.xml").read_bytes())
    pub = feedparser.parse((site["pub"] / "feeds" / "all.atom.xml").read_bytes())
    assert [(e.id, e.updated, e.published) for e in dev.entries] == \
           [(e.id, e.updated, e.published) for e in pub.entries]
    assert entry(dev, "pubmed:32525788").link == "/evidence/pubmed/32525788.html"


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_changes_index_lists_runs_newest_first(site):
    page = soup(site["pub"] / "changes" / "index.html")
    links = [a["href"] for a in page.select("table.changes-table a")]
    assert links == [f"{SITEURL}/changes/{LATEST_RUN}/", f"{SITEURL}/changes/{OLDER_RUN}/"]
    first_row = [td.get_text(strip=True) for td in page.select("table.changes-table tbody tr")[0].find_all("td")]
    assert first_row[1:5] == ["2", "2", "1", "2"]
    assert page.find("a", href=f"{SITEURL}/feeds/all.atom.xml")
    assert page.find("a", href=f"{SITEURL}/feeds/tms.atom.xml")


def test_change_page_links_cards_and_shows_status_changes(site):
    page = soup(site["pub"] / "changes" / LATEST_RUN / "index.html")
    new = page.find(id="new")
    hrefs = [a["href"] for a in new.find_all("a")]
    assert hrefs == [f"{SITEURL}/evidence/pubmed/{site['hostile']['pmid']}.html", f"{SITEURL}/evidence/pubmed/32525788.html"]
    # The hostile title is text on the page, not markup.
    assert HOSTILE_TITLE in new.get_text() and not page.find("script")
    updated = page.find(id="updated")
    assert updated.find("a", href=f"{SITEURL}/evidence/ctgov/NCT03884387.html")
    assert "pubmed:99999998" in updated.get_text() and "no card on this site" in updated.get_text()
    retractions = page.find(id="new-retractions")
    assert retractions.find("a", href=f"{SITEURL}/evidence/pubmed/90000002.html")
    status = page.find(id="status-changes")
    items = [" ".join(li.get_text(" ").split()) for li in status.find_all("li")]
    assert "not yet recruiting → recruiting" in items[0]
    assert status.find("a", href=f"{SITEURL}/evidence/ctgov/NCT90000001.html")
    assert "ctgov:NCT99999998" in items[1] and "no card on this site" in items[1]
    per_topic = page.find(id="per-topic")
    assert per_topic is not None and "Transcranial" in per_topic.get_text()
