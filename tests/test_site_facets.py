"""Facet listings that work without JavaScript: topic × design and topic × trial status, paginated,
in two sort orders (newest first, strongest evidence first)."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from harvest.records.record import DESIGN_LABELS, EVIDENCE_LEVELS
from sitebuild import REFERENCE_DATE, build_site, make_report, sample_records, shown

pytestmark = pytest.mark.slow
PAGE_SIZE = 5


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    records, editors = sample_records()
    report = make_report(REFERENCE_DATE + "T03:16:10Z", load_topics())
    out = build_site(tmp_path_factory.mktemp("facets"), records, editors=editors, report=report,
                     settings={"EVIDENCE_PAGE_SIZE": PAGE_SIZE})
    visible = shown(records, editors)
    return {"out": out, "records": {r["id"]: r for r in visible}}


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def card_ids(page):
    ids = []
    for a in page.select(".listing-main .ev-list a.ev-title"):
        m = re.search(r"evidence/(pubmed|ctgov)/([^/]+)\.html$", a["href"])
        ids.append(f"{m.group(1)}:{m.group(2)}")
    return ids


def walk(out, first):
    """Follow 'Next' links from a listing's first page; returns [(page soup, ids)]."""
    pages = []
    path = out / first / "index.html"
    while True:
        page = soup(path)
        pages.append((page, card_ids(page)))
        nxt = page.select_one('.pagination a[rel="next"]')
        if not nxt:
            return pages
        path = (path.parent / nxt["href"]).resolve() / "index.html"


def date_key(rec):
    parts = [int(p) for p in (rec["date"] or str(rec["year"])).split("-")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_design_listing_is_paginated_and_complete(site):
    out, records = site["out"], site["records"]
    reviews = {rid for rid, r in records.items() if "tms" in r["topics"] and r["design"] == "review"}
    assert len(reviews) > 2 * PAGE_SIZE
    pages = walk(out, "topics/tms/design/review")
    assert len(pages) == -(-len(reviews) // PAGE_SIZE)
    assert all(len(ids) == PAGE_SIZE for _, ids in pages[:-1])
    seen = [i for _, ids in pages for i in ids]
    assert len(seen) == len(set(seen)) and set(seen) == reviews
    assert not (out / f"topics/tms/design/review/page/{len(pages) + 1}").exists()
    assert (out / "topics/tms/design/review/page/2/index.html").exists()
    # numbered pagination marks the current page
    second = soup(out / "topics/tms/design/review/page/2/index.html")
    assert second.select_one('.pagination a[aria-current="page"]').get_text() == "2"
    assert "page 2 of" in second.title.get_text()


def test_pagination_links_the_ends_and_the_pages_near_this_one(site):
    """Not every page: a link to each of a large topic's pages on each of them made the listings'
    bytes grow with the square of their page count.  tms has 26 cards, 6 pages of 5."""
    def numbers(rel):
        return [el.get_text() for el in soup(site["out"] / rel / "index.html").select(".pagination li > :not([rel])")]

    assert numbers("topics/tms/all") == ["1", "2", "3", "…", "6"]
    assert numbers("topics/tms/all/page/4") == ["1", "2", "3", "4", "5", "6"]
    assert numbers("topics/tms/all/page/6") == ["1", "…", "4", "5", "6"]
    last = soup(site["out"] / "topics/tms/all/index.html").select(".pagination a")[-2]
    assert last.get_text() == "6" and last["href"].endswith("/all/page/6/")


def test_newest_first_order(site):
    out, records = site["out"], site["records"]
    seen = [i for _, ids in walk(out, "topics/tms/all") for i in ids]
    tms = {rid for rid, r in records.items() if "tms" in r["topics"]}
    assert set(seen) == tms
    keys = [date_key(records[i]) for i in seen]
    assert keys == sorted(keys, reverse=True)


def test_strongest_first_order(site):
    out, records = site["out"], site["records"]
    seen = [i for _, ids in walk(out, "topics/tms/all/level") for i in ids]
    # a trial without results has no level and sorts after every level
    levels = [(records[i]["retracted"], 6 if records[i]["source"] == "ctgov" and not records[i]["has_results"]
               else EVIDENCE_LEVELS[records[i]["design"]]) for i in seen]
    assert levels == sorted(levels)
    assert 6 in [lvl for _, lvl in levels]
    assert seen[0] == "pubmed:90000001"           # the meta-analysis
    assert seen[-1] == "pubmed:90000002"          # the retracted paper sorts last
    # within a level, larger first (randomized trials with results, then registrations)
    rcts = [(lvl, -(records[i]["enrollment"] or 0)) for i, (_, lvl) in zip(seen, levels)
            if records[i]["design"] == "rct" and not records[i]["retracted"]]
    assert rcts == sorted(rcts)
    page = soup(out / "topics/tms/all/level/index.html")
    current = page.select_one('.sort a[aria-current="page"]')
    assert "Strongest" in current.get_text()
    assert page.select_one('.sort a:not([aria-current])')["href"].endswith("topics/tms/all/")


def test_a_design_listing_whose_two_orders_agree_is_written_once(site):
    """Narrative reviews all have one level (and none is retracted): strongest first would repeat
    newest first page for page, so it is not written and the page says the orders agree."""
    out, records = site["out"], site["records"]
    review = out / "topics/tms/design/review"
    assert (review / "index.html").exists() and not (review / "level").exists()
    page = soup(review / "index.html")
    assert page.select_one("nav.sort") is None
    assert page.select_one("p.sort").get_text() == "Newest first, which here is also the order by strength of evidence."

def test_a_facet_listing_is_newest_first_and_links_the_topics_strongest_first_listing(site):
    """Randomized trials mix registrations without results (no level) with trials that have them, so
    the two orders differ; only the topic's whole evidence is written strongest first as well (a
    second copy of every facet listing was a fifth of a large site's listing bytes)."""
    out = site["out"]
    rct = out / "topics/tms/design/rct"
    assert (rct / "index.html").exists() and not (rct / "level").exists()
    page = soup(rct / "index.html")
    assert page.select_one("nav.sort") is None
    note = page.select_one("p.sort")
    assert note.get_text().startswith("Newest first. ")
    assert note.select_one("a")["href"].endswith("topics/tms/all/level/")
    assert (out / "topics/tms/all/level/index.html").exists()


def test_status_listing_has_only_that_status(site):
    out, records = site["out"], site["records"]
    for status in ("completed", "recruiting", "withdrawn"):
        seen = [i for _, ids in walk(out, f"topics/tms/status/{status}") for i in ids]
        expected = {rid for rid, r in records.items()
                    if "tms" in r["topics"] and r["source"] == "ctgov" and r["status"] == status.upper()}
        assert expected and set(seen) == expected, status
    # newest first only: strongest first is the topic's all/level/ listing
    assert not (out / "topics/tms/status/completed/level").exists()


def test_facet_menu_counts_and_links_resolve(site):
    out, records = site["out"], site["records"]
    topic = soup(out / "topics/tms/index.html")
    links = topic.select("nav.facets a")
    assert links
    tms = [r for r in records.values() if "tms" in r["topics"]]
    for a in links:
        target = (out / "topics/tms" / a["href"]).resolve() / "index.html"
        assert target.exists(), a["href"]
        count = int(re.search(r"\((\d+)\)", a.get_text()).group(1))
        listing = soup(target)
        total = int(re.search(r"(\d+) cards?", listing.select_one("p.meta").get_text()).group(1))
        assert count == total, a["href"]
        label = a.get_text().split(" (")[0].strip()
        if label in DESIGN_LABELS.values():
            design = next(k for k, v in DESIGN_LABELS.items() if v == label)
            assert count == sum(1 for r in tms if r["design"] == design)


def test_listing_items_show_badge_and_flags(site):
    page = soup(site["out"] / "topics/tms/status/completed/index.html")
    item = page.select_one('a[href$="evidence/ctgov/NCT03884387.html"]').find_parent("li")
    # a registration without results: no level, and no rule covers it (see test_reporting_site.py)
    assert item.select_one(".badge.level-none").get_text(" ", strip=True) == "Registered trial — no results yet"
    assert item.select_one(".flag-overdue") is None
    assert item.select_one(".tag-no-results").get_text() == "No results posted 6 years after completion"
    item = page.select_one('a[href$="evidence/ctgov/NCT00763412.html"]').find_parent("li")
    assert item.select_one(".badge.level-2").get_text(" ", strip=True) == "Strong Randomized controlled trial"


def test_topic_page_lists_first_page_and_links_to_the_rest(site):
    out = site["out"]
    topic = soup(out / "topics/tms/index.html")
    items = topic.select("#all-evidence .ev-list .ev-item")
    assert len(items) == PAGE_SIZE
    more = topic.select_one('#all-evidence a.button')
    assert more["href"].endswith("topics/tms/all/")


def test_topic_without_cards_still_has_a_listing(site):
    page = soup(site["out"] / "topics/pgx/index.html")
    assert "found no evidence cards on this treatment" in " ".join(page.get_text().split())
    assert (site["out"] / "topics/pgx/all/index.html").exists()


def test_a_list_item_links_only_its_card_and_the_listing_explains_levels_once(site):
    """A listing repeats its items on every sort order and facet: an item's badge is text, and the
    page has one link to what the levels mean (the card page's own badge links there too)."""
    page = soup(site["out"] / "topics/tms/design/review/index.html")
    items = page.select(".listing-main .ev-item")
    assert items and all([a["class"] for a in item.select("a")] == [["ev-title"]] for item in items)
    assert all(item.select_one(".badge .badge-level") for item in items)
    assert len(page.select('main a[href$="methods/#levels"]')) == 1
