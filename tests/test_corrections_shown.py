"""What an editors' correction tells readers beyond the card itself: feed and sitemap dates, and the
"what changed" pages.  One real site build from real-derived cards (tests/sitebuild.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser
import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import REFERENCE_DATE, build_site, make_report, sample_records

pytestmark = pytest.mark.slow

CORRECTED = "pubmed:32525788"   # source dates: 2021 and updated 2024-04-03
CORRECTED_TITLE = "Pain perception and management: where do we stand?"
# Later than every date of the record and than the run that first wrote it (2025-06-01).
CORRECTION_DATE = "2025-06-20"
UNCORRECTED = "pubmed:35649368"  # source updated 2025-07-28, no override
EARLIER_FIX = "pubmed:38909159"  # design corrected 2025-05-01, source updated 2025-07-11 (sample_records)
HIDDEN = "pubmed:92000001"       # hidden by the editors (sample_records)
# A real recorded trial that this build has no card for: as if its card was deleted after the run.
GONE = "ctgov:NCT05261815"
# Its card stays, marked out of scope as the harvester marks a record that matches no topic any more
# (harvest/records/drift.py scope(); the sample record itself is unchanged).
LEFT = "pubmed:38747095"
RUN = "2025-06-01T031610Z"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from harvest.records.drift import scope

    records, editors = sample_records()
    left = next(r for r in records if r["id"] == LEFT)
    editors[CORRECTED] = [{"action": "replace", "field": "title", "value": CORRECTED_TITLE,
                           "reason": "Sentence case, as on the publisher's page.", "date": CORRECTION_DATE}]
    run = make_report(REFERENCE_DATE + "T03:16:10Z", load_topics(), run_id=RUN,
                      changes={"new": [CORRECTED, UNCORRECTED, EARLIER_FIX], "updated": [HIDDEN, GONE], "new_retractions": [],
                               "status_changes": [], "out_of_scope": [LEFT, GONE]})
    return build_site(tmp_path_factory.mktemp("corrections"), records, editors=editors, report=run,
                      runs=[run], reference_date=REFERENCE_DATE,
                      extras={LEFT: {"scope": scope(left, REFERENCE_DATE)}})


def feed_updated(out, record_id: str) -> str:
    feed = feedparser.parse((out / "feeds" / "all.atom.xml").read_bytes())
    assert not feed.bozo
    return next(e.updated for e in feed.entries if e.id.endswith(":" + record_id))


def lastmod(out, page: str) -> str | None:
    root = ET.parse(out / "sitemap.xml").getroot()
    for url in root.findall("sm:url", NS):
        if url.find("sm:loc", NS).text.endswith("/" + page):
            return getattr(url.find("sm:lastmod", NS), "text", None)
    raise AssertionError(f"{page} not in the sitemap")


def test_a_correction_dates_the_cards_feed_entry_and_sitemap_entry(site):
    assert feed_updated(site, CORRECTED) == CORRECTION_DATE + "T00:00:00+00:00"
    assert lastmod(site, "evidence/pubmed/32525788.html") == CORRECTION_DATE
    # An uncorrected card keeps its source's date; an older correction does not move a newer one.
    assert feed_updated(site, UNCORRECTED) == "2025-07-28T00:00:00+00:00"
    assert lastmod(site, "evidence/pubmed/35649368.html") == "2025-07-28"
    assert feed_updated(site, EARLIER_FIX) == "2025-07-11T00:00:00+00:00"
    assert lastmod(site, "evidence/pubmed/38909159.html") == "2025-07-11"


def change_items(out, group: str) -> list[str]:
    page = BeautifulSoup((out / "changes" / RUN / "index.html").read_text(encoding="utf-8"), "html.parser")
    return [" ".join(li.get_text().split()) for li in page.find(id=group).find_all("li")]


def test_a_card_no_longer_on_the_site_is_named_once_on_the_change_page(site):
    items = change_items(site, "updated")
    assert items == [f"{HIDDEN} (card withdrawn by the editors)", f"{GONE} (no card on this site now)"]


def test_a_card_gone_from_the_lists_links_the_page_that_says_why(site):
    # A withdrawn or out-of-scope card keeps a short page at its address; a record with no card has none.
    page = BeautifulSoup((site / "changes" / RUN / "index.html").read_text(encoding="utf-8"), "html.parser")
    links = {a.get_text(): a["href"] for a in page.select("a.record-id")}
    withdrawn = "evidence/pubmed/" + HIDDEN.split(":")[1] + ".html"
    left = "evidence/pubmed/" + LEFT.split(":")[1] + ".html"
    assert links[HIDDEN].endswith("/" + withdrawn) and links[LEFT].endswith("/" + left)
    assert GONE not in links
    assert "withdrawn from the atlas by the editors" in (site / withdrawn).read_text(encoding="utf-8")
    assert (site / left).is_file()


def test_a_card_out_of_scope_is_named_once_under_its_heading(site):
    # The group's heading says why; only a record with no card at all gets a note.
    assert change_items(site, "out-of-scope") == [LEFT, f"{GONE} (no card on this site now)"]


def test_a_corrected_title_on_the_change_page_says_so(site):
    items = change_items(site, "new")
    # The card's title as the card shows it now, marked as the editors' and dated.
    assert items[0] == (f"{CORRECTED_TITLE} (title corrected by the editors on {CORRECTION_DATE}) "
                        f"{CORRECTED}")
    # No mark where the title is the source's, even on a card the editors corrected otherwise.
    assert "corrected" not in items[1] and UNCORRECTED in items[1]
    assert "corrected" not in items[2] and EARLIER_FIX in items[2]
