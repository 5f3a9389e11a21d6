"""Topic pages: "At a glance" counts and the living meta-analysis (pooled effect, forest plot and its
table, links by DOI and registration number, the since-last-search meter, attribution)."""

from __future__ import annotations

import re
import shutil
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import CT_AACT, PM, ROOT, build_site, derive, make_report, real_records

pytestmark = pytest.mark.slow

REFERENCE = "2026-06-01"


def psilocybin_records() -> list[dict]:
    """Real parsed records, re-numbered and re-dated into the psilocybin topic (each change noted)."""
    structured = real_records(PM.format("33474827"))[0]
    review = real_records(PM.format("32525788"))[0]  # structured abstract with a CONCLUSION section
    trial = real_records(CT_AACT.format("NCT00763412"))[0]
    return [
        # an RCT report carrying Raison 2023's DOI, so the meta-analysis links it (DOI, design, date altered)
        derive(structured, "93000001", design="rct", doi="10.1001/jama.2023.14530", date="2023-08", year=2023,
               topics=["psilocybin"]),
        # an RCT report published after the database's last search (id, DOI, design and date altered)
        derive(structured, "93000002", design="rct", doi="10.5555/after-the-search", date="2026-01-15",
               year=2026, topics=["psilocybin"]),
        # a meta-analysis in the last five years (id, design and date altered)
        derive(review, "93000003", design="meta-analysis", date="2025-03", year=2025, topics=["psilocybin"],
               publication_types=["Journal Article", "Meta-Analysis"]),
        # Raison 2023's registration (NCT number, status and topic altered)
        derive(trial, "NCT03866174", design="rct", status="COMPLETED", has_results=True, topics=["psilocybin"]),
        # a trial completed after the last search, no results (id, status, dates, enrolment altered)
        derive(trial, "NCT93000001", design="rct", status="COMPLETED", has_results=False,
               primary_completion_date="2026-03", enrollment=120, topics=["psilocybin"]),
        # a trial completed in 2023 that has posted no results: in the dissemination gap (id, status,
        # dates, enrolment altered)
        derive(trial, "NCT93000003", design="rct", status="COMPLETED", has_results=False, linked_pmids=[],
               primary_completion_date="2023-05", enrollment=60, topics=["psilocybin"]),
        # a recruiting randomized trial (id, status, enrolment altered)
        derive(trial, "NCT93000002", design="rct", status="RECRUITING", has_results=False,
               primary_completion_date="2027-06", enrollment=40, topics=["psilocybin"]),
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("meta")
    records = psilocybin_records()
    (base / "data" / "meta").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "meta" / "psilocybin.json", base / "data" / "meta" / "psilocybin.json")
    report = make_report(REFERENCE + "T03:00:00Z", load_topics())
    out = build_site(base, records, report=report)
    return {"out": out, "records": records}


def page(site, slug="psilocybin"):
    return BeautifulSoup((site["out"] / "topics" / slug / "index.html").read_text(encoding="utf-8"), "html.parser")


def text(node) -> str:
    return " ".join(node.get_text(" ").split())


def test_glance_counts_from_the_cards_in_fixed_wording(site):
    glance = page(site).find(id="at-a-glance")
    rows = {text(d.find("dt")): text(d.find("dd")) for d in glance.select("dl > div")}
    trial_enrolment = site["records"][3]["enrollment"]
    assert rows == {
        "Randomized trials reported in PubMed": "2 · list",
        "Randomized trials registered on ClinicalTrials.gov":
            f"4, with {trial_enrolment + 220:,} participants enrolled or planned as registered",
        "Systematic reviews and meta-analyses in the last five years": "1 (published since 2021-06-01 )",
        "Trials recruiting now": "1 · list",
        "Completed trials without results more than a year after completion": "1 of 3 completed · list",
    }
    assert "as of 2026-06-01 , the date of the last harvest." in text(glance)
    quote = glance.find("figure", class_="glance-quote")
    assert "its authors concluded" in text(quote.figcaption)
    assert quote.figcaption.a["href"].endswith("evidence/pubmed/93000003.html")
    conclusion = next(s for s in site["records"][2]["abstract"] if s["label"] and "CONCLUSION" in s["label"].upper())
    assert text(quote.blockquote) == " ".join(conclusion["text"].split())


def test_what_this_does_not_mean_is_the_same_on_every_topic(site):
    paragraphs = {text(page(site, t.slug).select_one(".glance-not p")) for t in load_topics()}
    assert len(paragraphs) == 1
    assert paragraphs.pop().startswith("These numbers count studies; they do not say whether the treatment works")


def test_topic_page_shows_the_pooled_effect(site):
    meta = page(site).find(id="meta-analysis")
    figures = {text(d.find("dt")): text(d.find("dd")) for d in meta.select("dl.meta-figures > div")}
    assert figures == {
        "Pooled effect (Hedges' g)": "−0.88 , 95% confidence interval −1.22 to −0.55",
        "95% prediction interval": "−1.91 to 0.15",
        "Studies and participants": "13 studies, 644 participants",
        "Heterogeneity": "I² = 52%, τ² = 0.19",
    }
    attribution = meta.find(class_="attribution")
    hrefs = [a["href"] for a in attribution.find_all("a")]
    assert "https://github.com/metapsy-project/data-depression-psiloctr" in hrefs
    assert "https://doi.org/10.5281/zenodo.15714852" in hrefs
    assert "https://opendatacommons.org/licenses/by/1-0/" in hrefs
    assert "Open Data Commons Attribution License 1.0" in text(attribution)


def test_forest_plot_svg_and_its_table_with_links(site):
    meta = page(site).find(id="meta-analysis")
    img = meta.find("figure", id="forest-plot").img
    assert "pooled Hedges' g −0.88" in img["alt"]
    svg = ElementTree.fromstring((site["out"] / "topics" / "psilocybin" / "forest.svg").read_bytes())
    ns = "{http://www.w3.org/2000/svg}"
    labels = [t.text for t in svg.iter(ns + "text")]
    assert "Back 2024" in labels and "von Rotz 2023" in labels and "Pooled (k = 13, n = 644)" in labels
    assert len(svg.findall(f"{ns}polygon")) == 1  # the pooled diamond
    assert sum(1 for c in svg.iter(ns + "circle")) == 13 * 6  # RoB marks: five domains and overall
    rows = meta.select("table.forest-table tbody tr")
    assert len(rows) == 14 and text(rows[-1].th) == "Pooled"
    by_study = {text(r.th): r for r in rows}
    raison = by_study["Raison 2023"]
    links = [a["href"] for a in raison.find_all("a")]
    assert any(h.endswith("evidence/pubmed/93000001.html") for h in links)  # card found by DOI
    assert any(h.endswith("evidence/ctgov/NCT03866174.html") for h in links)  # card found by registration
    back = [a["href"] for a in by_study["Back 2024"].find_all("a")]
    assert back == ["https://doi.org/10.1001/jamanetworkopen.2024.49026", "https://clinicaltrials.gov/study/NCT05163496"]
    ross = [a["href"] for a in by_study["Ross 2025"].find_all("a")]
    assert ross[1] == "https://trialsearch.who.int/Trial2.aspx?TrialID=ACTRN12619001225101"
    assert "Overall: high risk of bias" in text(by_study["Griffiths 2016"])
    assert re.search(r"−1\.27 .*−1\.88 to −0\.66", text(by_study["Griffiths 2016"]))


def test_meter_counts_what_appeared_since_the_last_search(site):
    meta = page(site).find(id="meta-analysis")
    sentence = text(meta.find(id="since-last-search").find_next("p"))
    assert sentence == ("Since this database's last search on 2025-10-31 , the atlas has found 1 newer "
                        "randomized-trial report and 1 completed trial on this treatment that the pooled "
                        "result does not include yet.")
    links = [a["href"] for a in meta.find(id="since-last-search").find_next("ul").find_all("a")]
    assert [h.rsplit("/", 1)[1] for h in links] == ["93000002.html", "NCT93000001.html"]


def test_topic_without_a_database_has_no_meta_analysis(site):
    assert page(site, "tms").find(id="meta-analysis") is None
    assert page(site, "tms").find(id="at-a-glance") is not None
    assert page(site, "tms").select_one('.on-this-page a[href="#meta-analysis"]') is None


def test_on_this_page_leads_to_the_glance_and_the_pooled_result(site):
    hrefs = [a["href"] for a in page(site).select(".on-this-page a")]
    assert "#at-a-glance" in hrefs and "#meta-analysis" in hrefs


def test_forest_svg_escapes_harvested_text():
    import json
    import sys

    sys.path.insert(0, str(ROOT / "plugins"))
    from evidence import meta

    doc = json.loads((ROOT / "data" / "meta" / "psilocybin.json").read_text(encoding="utf-8"))
    doc["studies"][0]["study"] = '<script>alert(1)</script> & "Back"'  # the real row's name made hostile
    svg = meta.view(doc, [], {}, "", "psilocybin")["svg"]
    tree = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert not list(tree.iter(ns + "script")) and not list(tree.iter("script"))
    assert '<script>alert(1)</script> & "Back"' in [t.text for t in tree.iter(ns + "text")]


def test_a_snapshot_edition_says_its_counts_are_not_a_live_search(tmp_path):
    (tmp_path / "data" / "meta").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "meta" / "psilocybin.json", tmp_path / "data" / "meta" / "psilocybin.json")
    report = dict(make_report(REFERENCE + "T03:00:00Z", load_topics()), mode="replay")  # no live run: a snapshot
    out = build_site(tmp_path, psilocybin_records()[:1], report=report, state={})
    soup = BeautifulSoup((out / "topics" / "psilocybin" / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert ("Counted from the evidence cards of this snapshot edition, made on 2026-06-01 from a fixed set of "
            "recorded replies, not a live search") in text(soup.find(id="at-a-glance"))
    meter = text(soup.find(id="since-last-search").find_next("p"))
    assert meter.endswith("so it can miss newer reports and trials that a live harvest would find.")


def test_downloads_page_gives_the_metapsy_licence_and_attribution(site):
    downloads = BeautifulSoup((site["out"] / "downloads" / "index.html").read_text(encoding="utf-8"), "html.parser")
    section = downloads.select_one("#terms-metapsy-psilocybin")
    assert section is not None, "the Metapsy database's terms are not on the downloads page"
    said = " ".join(section.find_next("p").get_text(" ").split())
    assert "Metapsy project" in said and "Open Data Commons Attribution License 1.0" in said, said
    links = {a["href"] for a in section.find_next("p").select("a")}
    assert "https://doi.org/10.5281/zenodo.15714852" in links
