"""The downloads page (plugins/exports) and the topic page's "On this page" list, on a real build."""

from __future__ import annotations

import gzip
import json

import pytest
from bs4 import BeautifulSoup

from sitebuild import REFERENCE_DATE, ROOT, build_site, sample_records, shown

pytestmark = pytest.mark.slow

SCHEMA = json.loads((ROOT / "harvest" / "records" / "record.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    records, editors = sample_records()
    return build_site(tmp_path_factory.mktemp("downloads"), records, editors=editors,
                      reference_date=REFERENCE_DATE)


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_every_offered_file_exists_with_its_stated_records_and_size(out):
    import sys
    sys.path.insert(0, str(ROOT / "plugins"))
    from exports import human_size

    page = soup(out / "downloads" / "index.html")

    def lines(name):
        return gzip.decompress((out / "downloads" / name).read_bytes()).decode("utf-8").splitlines()

    # Whole-site data files: one row per file, every visible card in it.
    site_rows = page.select("table.downloads-site tbody tr")
    site = {}
    for row in site_rows:
        href = row.a["href"]
        path = out / "downloads" / href.rsplit("/", 1)[-1]
        assert path.is_file(), href
        assert row.select_one(".size").get_text(strip=True) == human_size(path.stat().st_size), href
        site[path.name] = int(row.select_one("td.num").get_text(strip=True).replace(",", ""))
    assert sorted(site) == ["all.csv.gz", "all.jsonl.gz"]
    cards = len(shown(*sample_records()))
    assert len(lines("all.jsonl.gz")) == site["all.jsonl.gz"] == site["all.csv.gz"] == cards
    # Per-topic citation files: RIS and BibTeX per topic with cards.
    offered = {}
    for row in page.select("table.downloads-topics tbody tr"):
        label = row.th.get_text(strip=True)
        records = int(row.select_one("td.num").get_text(strip=True).replace(",", ""))
        for cell in row.select("td:not(.num)"):
            href = cell.a["href"]
            path = out / "downloads" / href.rsplit("/", 1)[-1]
            assert path.is_file(), href
            assert cell.select_one(".meta").get_text(strip=True) == human_size(path.stat().st_size), href
            offered[path.name] = (label, records)
    assert offered and all(name.endswith((".ris.gz", ".bib.gz")) for name in offered)
    assert len(offered) == 2 * len(page.select("table.downloads-topics tbody tr"))
    for name, (label, records) in offered.items():
        if name.endswith(".ris.gz"):
            assert sum(line.startswith("TY  - ") for line in lines(name)) == records, name
    # Topics without cards (the sample gives PGx none) are not offered: their files would be empty.
    assert not any(name.startswith("pgx.") for name in offered)
    assert gzip.decompress((out / "downloads" / "pgx.ris.gz").read_bytes()) == b""
    assert "All topics" not in {label for label, _ in offered.values()}


def test_data_dictionary_is_the_record_schema(out):
    page = soup(out / "downloads" / "index.html")
    rows = page.select("table.dictionary tbody tr")
    assert [r.th.get_text(strip=True) for r in rows] == list(SCHEMA["properties"])
    for row in rows:
        name = row.th.get_text(strip=True)
        meaning = row.select("td")[1].get_text(" ", strip=True)
        assert meaning, f"{name} has no meaning in the data dictionary"
        for value in SCHEMA["properties"][name].get("enum") or []:
            if value is not None:
                assert value in meaning, (name, value)
    assert "evidence_level" in page.get_text() and "url" in page.get_text()


def test_each_source_gets_its_terms_and_attribution(out):
    page = soup(out / "downloads" / "index.html")
    links = {a["href"] for a in page.select("#terms-pubmed ~ p a, #terms-ctgov ~ p a")}
    assert "https://www.nlm.nih.gov/databases/download/terms_and_conditions.html" in links
    assert "https://clinicaltrials.gov/about-site/terms-conditions" in links
    text = " ".join(page.get_text(" ").split())
    assert "Courtesy of the U.S. National Library of Medicine" in text
    assert "date the data were retrieved" in text


def test_topic_without_cards_offers_no_downloads_and_footer_links_the_page(out):
    pgx = soup(out / "topics" / "pgx" / "index.html")
    assert not pgx.select('a[href*="downloads/pgx."]')
    tms = soup(out / "topics" / "tms" / "index.html")
    # its own citation files, and the site-wide data files (filtered by their topics column)
    hrefs = [a["href"].rsplit("/", 1)[-1] for a in tms.select("p.downloads a")]
    assert hrefs == ["tms.ris.gz", "tms.bib.gz", "all.csv.gz", "all.jsonl.gz", "", "tms.atom.xml"]
    assert all((out / "downloads" / h).is_file() for h in hrefs[:4])
    assert "topics column says which are on this topic" in tms.select_one("p.downloads").get_text()
    assert tms.select_one('footer a[href$="downloads/"]').get_text() == "Download the data"


def test_topic_page_lists_its_sections_evidence_first(out):
    page = soup(out / "topics" / "tms" / "index.html")
    nav = page.select_one('nav[aria-label="On this page"]')
    targets = [a["href"] for a in nav.select("a")]
    assert targets[0] == "#evidence-summary"
    for target in targets:
        assert page.find(id=target[1:]) is not None, f"{target} points at nothing"
    explainer_ids = [h["id"] for h in page.select("section.explainer h2[id]")]
    assert explainer_ids and targets[-len(explainer_ids):] == ["#" + i for i in explainer_ids]
    # before the explainer text: one tap from the top of a phone screen
    assert nav.find_next("section") is page.select_one("section.explainer")


def test_a_rebuild_removes_the_download_files_it_no_longer_writes(tmp_path):
    """An earlier build wrote every format site-wide and per topic (the layout before the scope
    setting, asked for here with "both"); rebuilding into the same folder with the default scope
    leaves only this build's files: a stale tms.csv.gz would be deployed and never updated."""
    from sitebuild import pelican_build

    records, editors = sample_records()
    both = {"EVIDENCE_EXPORTS": {"scope": {fmt: "both" for fmt in ("csv", "jsonl", "ris", "bib")}}}
    out = build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE, settings=both)
    downloads = out / "downloads"
    assert {"all.ris.gz", "tms.csv.gz", "tms.jsonl.gz", "tms.ris.gz"} <= {p.name for p in downloads.iterdir()}
    (downloads / "notes.txt").write_text("not a download this build makes\n", encoding="utf-8")
    pelican_build(tmp_path, output=out, reference_date=REFERENCE_DATE)
    names = {p.name for p in downloads.iterdir()}
    assert not {"all.ris.gz", "all.bib.gz", "tms.csv.gz", "tms.jsonl.gz"} & names, sorted(names)
    assert {"all.csv.gz", "all.jsonl.gz", "tms.ris.gz", "tms.bib.gz", "notes.txt"} <= names
    page = soup(downloads / "index.html")
    linked = {a["href"].rsplit("/", 1)[-1] for a in page.select("table.downloads-table a")}
    assert linked <= names
