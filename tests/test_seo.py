"""sitemap.xml, robots.txt, the 404 page and canonical URLs of a real built site."""

from __future__ import annotations

import runpy
import sys
import xml.etree.ElementTree as ET

import pytest
from bs4 import BeautifulSoup

from sitebuild import ROOT
from test_feeds import LATEST_RUN, SITEURL, extras_sites

sys.path.insert(0, str(ROOT / "plugins"))
from seo import make_canonical, sitemap_index_xml, sitemap_xml  # noqa: E402

pytestmark = pytest.mark.slow

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
# The footer's "Report an error" link is absolute (another site), so it works at any depth too.
REPOSITORY = runpy.run_path(str(ROOT / "pelican.conf.py"))["SOURCE_REPOSITORY_URL"]


@pytest.fixture(scope="module")
def site():
    return extras_sites()


def sitemap_entries(out):
    root = ET.parse(out / "sitemap.xml").getroot()
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    return {u.find("sm:loc", NS).text: getattr(u.find("sm:lastmod", NS), "text", None)
            for u in root.findall("sm:url", NS)}


def test_sitemap_lists_every_html_page_with_absolute_urls(site):
    out = site["pub"]
    entries = sitemap_entries(out)
    assert all(loc.startswith(SITEURL + "/") for loc in entries)
    pages = set()
    for path in out.rglob("*.html"):
        rel = path.relative_to(out).as_posix()
        if rel == "404.html" or rel.startswith("pagefind/"):
            continue
        if '<meta name="robots" content="noindex">' in path.read_text(encoding="utf-8"):
            continue  # a card the editors withdrew (its URL stays, as a short page)
        pages.add(SITEURL + "/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel))
    assert set(entries) == pages
    for record in site["records"]:
        key = record["pmid"] if record["source"] == "pubmed" else record["nct_id"]
        assert f"{SITEURL}/evidence/{record['source']}/{key}.html" in entries
    assert f"{SITEURL}/evidence/pubmed/92000001.html" not in entries  # hidden card
    for url in ("", "topics/tms/", "changes/", f"changes/{LATEST_RUN}/", "methods/", "search/"):
        assert f"{SITEURL}/{url}" in entries, url
    assert f"{SITEURL}/404.html" not in entries
    # Card pages carry their record's revision date; nothing carries the build date.
    assert entries[f"{SITEURL}/evidence/pubmed/32525788.html"] == "2024-04-03"


def test_robots_txt_points_to_the_sitemap(site):
    robots = (site["pub"] / "robots.txt").read_text(encoding="utf-8").splitlines()
    assert robots[0] == "User-agent: *"
    assert f"Sitemap: {SITEURL}/sitemap.xml" in robots
    assert "Disallow: /" not in robots  # the whole site may be crawled


def test_404_page_works_at_any_depth(site):
    for out in (site["dev"], site["pub"]):
        page = BeautifulSoup((out / "404.html").read_text(encoding="utf-8"), "html.parser")
        assert page.find("h1").get_text(strip=True) == "Page not found"
        assert page.find("meta", attrs={"name": "robots", "content": "noindex"})
        assert "not medical advice" in page.get_text()  # the base template's disclaimer
        # Shown at whatever path was missing: no link may be relative to the page's own folder.
        for tag in page.find_all(["a", "link", "script", "img"]):
            url = tag.get("href") or tag.get("src")
            if url and not url.startswith(("#", "mailto:", "tel:", "data:")):
                # The footer's crisis-line directory is an absolute external address, fine anywhere.
                assert url.startswith(("/", SITEURL + "/", REPOSITORY + "/", "https://findahelpline.com")), url
    pub = BeautifulSoup((site["pub"] / "404.html").read_text(encoding="utf-8"), "html.parser")
    assert pub.find("a", href=f"{SITEURL}/search/")


def test_canonical_url_helper_and_pages(site):
    canonical = make_canonical("https://x.org/")
    assert canonical("evidence/pubmed/1.html") == "https://x.org/evidence/pubmed/1.html"
    assert canonical("topics/tms/") == "https://x.org/topics/tms/"
    assert canonical("/topics/tms/index.html") == "https://x.org/topics/tms/"
    assert canonical("index.html") == canonical("") == "https://x.org/"
    assert make_canonical("")("topics/tms/") == "/topics/tms/"
    for out in (site["dev"], site["pub"]):
        page = BeautifulSoup((out / "changes" / LATEST_RUN / "index.html").read_text(encoding="utf-8"), "html.parser")
        link = page.find("link", rel="canonical")
        base = SITEURL if out == site["pub"] else ""
        assert link["href"] == f"{base}/changes/{LATEST_RUN}/"


def test_sitemap_xml_escapes_and_splits():
    text = sitemap_xml([("https://x.org/a?b=1&c=2", "2024-01-02"), ("https://x.org/", None)])
    root = ET.fromstring(text)
    locs = [u.find("sm:loc", NS).text for u in root.findall("sm:url", NS)]
    assert locs == ["https://x.org/a?b=1&c=2", "https://x.org/"]
    index = ET.fromstring(sitemap_index_xml(["https://x.org/sitemap-1.xml"]))
    assert index.tag.endswith("sitemapindex")


def test_every_page_has_exactly_one_canonical_link_to_itself(site):
    for out, base in ((site["pub"], SITEURL), (site["dev"], "")):
        pages = [p for p in out.rglob("*.html") if not p.relative_to(out).as_posix().startswith("pagefind/")]
        assert len(pages) > 50
        for path in pages:
            rel = path.relative_to(out).as_posix()
            page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
            links = page.find_all("link", rel="canonical")
            assert len(links) == 1, f"{rel}: {len(links)} canonical links"
            own = rel[: -len("index.html")] if rel.endswith("index.html") else rel
            assert links[0]["href"] == f"{base}/{own}", rel
            if base:
                assert links[0]["href"].startswith(SITEURL + "/"), rel  # absolute when published
