"""Harvested text is escaped end to end; the CSP forbids inline scripts; nothing loads from elsewhere."""

from __future__ import annotations

import json
import re

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from harvest.sources.pubmed.parse import parse_pubmed
from sitebuild import PM, REAL_API, REFERENCE_DATE, build_site, make_report, sample_records

pytestmark = pytest.mark.slow

HOSTILE_TITLE = "<script>alert(1)</script> </script><!-- x"
HOSTILE_ABSTRACT = '<img src=x onerror="alert(2)"> is not an image'


def hostile_record() -> dict:
    """The real efetch body of PMID 32525788 with a hostile title and conclusion, parsed for real."""
    raw = (REAL_API / PM.format("32525788")).read_bytes()
    title = b"<ArticleTitle>Pain Perception and Management: Where do We Stand?</ArticleTitle>"
    assert title in raw
    escaped_title = HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
    raw = raw.replace(title, b"<ArticleTitle>" + escaped_title + b"</ArticleTitle>")
    conclusion = b'<AbstractText Label="CONCLUSION">Improved understanding'
    assert conclusion in raw
    hostile = HOSTILE_ABSTRACT.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()
    raw = raw.replace(conclusion, b'<AbstractText Label="CONCLUSION">' + hostile + b" Improved understanding")
    [record] = parse_pubmed(raw, "hostile-32525788.xml").records
    assert record["title"].startswith("<script>alert(1)</script>")
    record["topics"] = ["tms"]
    return record


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    records, editors = sample_records()
    records = [r for r in records if r["id"] != "pubmed:32525788"] + [hostile_record()]
    report = make_report(REFERENCE_DATE + "T03:16:10Z", load_topics(),
                         changes={"new": ["pubmed:32525788"], "updated": [], "new_retractions": [],
                                  "status_changes": []})
    out = build_site(tmp_path_factory.mktemp("security"), records, editors=editors, report=report)
    pages = sorted(p for p in out.rglob("*.html") if "pagefind" not in p.parts)
    return {"out": out, "pages": pages}


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_hostile_title_renders_as_text_on_its_card(site):
    page = soup(site["out"] / "evidence/pubmed/32525788.html")
    assert page.select_one("article.card h1").get_text().startswith("<script>alert(1)</script>")
    assert HOSTILE_TITLE in page.title.get_text()
    bottom = page.select_one(".bottom-line").get_text()
    assert '<img src=x onerror="alert(2)">' in bottom
    assert page.select("img[onerror]") == [] and page.select("img[src=x]") == []


def test_no_page_carries_an_injected_element(site):
    for path in site["pages"]:
        page = soup(path)
        for script in page.find_all("script"):
            assert script.get("src") or script.get("type") == "application/ld+json", path
            assert "alert(" not in (script.get("src") or ""), path
        assert page.select("[onerror]") == [], path
        # raw bytes: the tag never appears unescaped outside the JSON-LD data block
        raw = path.read_text(encoding="utf-8")
        body = re.sub(r'<script type="application/ld\+json">.*?</script>', "", raw, flags=re.S)
        assert "<script>alert" not in body, path


def test_hostile_title_is_escaped_in_listings(site):
    for rel in ("index.html", "topics/tms/index.html", "topics/tms/all/index.html"):
        page = soup(site["out"] / rel)
        link = page.select_one('a[href$="evidence/pubmed/32525788.html"]')
        assert link is not None and link.get_text().startswith("<script>alert(1)</script>"), rel


def test_json_ld_cannot_close_its_script_element(site):
    raw = (site["out"] / "evidence/pubmed/32525788.html").read_text(encoding="utf-8")
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', raw, flags=re.S).group(1)
    assert "</" not in block and "<!--" not in block
    data = json.loads(block)
    assert data["name"].startswith("<script>alert(1)</script>")


def test_csp_meta_on_every_page_without_unsafe_inline_scripts(site):
    assert len(site["pages"]) > 40
    for path in site["pages"]:
        page = soup(path)
        meta = page.select_one('meta[http-equiv="Content-Security-Policy"]')
        assert meta is not None, path
        policy = {d.split()[0]: d.split()[1:] for d in meta["content"].split(";") if d.strip()}
        scripts = policy.get("script-src", policy.get("default-src"))
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, path
        assert policy["object-src"] == ["'none'"]
        assert all(s.startswith("'") for s in scripts), f"{path}: only keyword sources allowed"


def test_everything_loaded_comes_from_the_site(site):
    for path in site["pages"]:
        page = soup(path)
        for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src")):
            for el in page.find_all(tag):
                url = el.get(attr)
                if not url or (tag == "link" and "stylesheet" not in (el.get("rel") or [])):
                    continue
                assert not re.match(r"^(https?:)?//", url), f"{path}: {tag} loads {url}"
        for style in page.find_all(style=True):
            raise AssertionError(f"{path}: inline style attribute on <{style.name}>")
        assert page.find("style") is None, path


def test_basic_accessibility_structure_on_every_page(site):
    for path in site["pages"]:
        page = soup(path)
        assert page.html.get("lang") == "en", path
        skip = page.select_one("a.skip-link")
        assert skip and page.find(id=skip["href"][1:]) is not None, path
        assert page.find("main") and page.find("header") and page.find("footer"), path
        assert len(page.find_all("h1")) == 1, path
        for field in page.select("input, select, textarea"):
            if field.get("type") == "hidden":
                continue
            labelled = field.get("aria-label") or (field.get("id") and page.select_one(f'label[for="{field["id"]}"]'))
            assert labelled, f"{path}: unlabelled form control"
        for img in page.find_all("img"):
            assert img.get("alt"), f"{path}: image without alt text"
