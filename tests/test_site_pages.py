"""Home, topic, card, Methods and About pages of a real site built from real-derived test cards."""

from __future__ import annotations

import json
import re

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import (EDITOR_CHANGE, HIDE_REASON, REFERENCE_DATE, ROOT, build_site, derive, make_report,
                       sample_records, shown)

pytestmark = pytest.mark.slow

HOME_INTRO = """Title: Welcome
Slug: home-intro
Status: hidden

Welcome to the **atlas intro** written by the editors.
"""

EXPLAINER = """Title: TMS explained
Slug: tms
Topic: tms
As_of: 2025-05-01
Summary: What TMS is.

## What it is

Explainer body about coils and magnetic pulses.

## What the evidence says so far

See [the evidence summary](#evidence-summary).
"""


def strongest_records(records: list[dict]) -> list[dict]:
    """Ketamine cards that test the "Strongest evidence first" rule (copies of the sample's real records)."""
    pub = next(r for r in records if r["id"] == "pubmed:32525788")
    trial = next(r for r in records if r["id"] == "ctgov:NCT00763412")   # real randomized trial with results

    def t(nct, **changes):
        return derive(trial, nct, topics=["ketamine"], **changes)

    return [
        derive(pub, "90000010", design="rct", year=2023, date="2023-01", topics=["ketamine"],
               publication_types=["Journal Article", "Randomized Controlled Trial"]),
        derive(pub, "90000011", design="meta-analysis", year=2020, date="2020-01", topics=["ketamine"],
               publication_types=["Journal Article", "Meta-Analysis"]),
        t("NCT90000010", status="COMPLETED", has_results=True, enrollment=300),
        t("NCT90000011", status="COMPLETED", has_results=True, enrollment=80),
        t("NCT90000012", status="TERMINATED", has_results=True, enrollment=1000, why_stopped="Funding"),
        t("NCT90000013", status="RECRUITING", has_results=False, enrollment=2000),
        t("NCT90000014", status="COMPLETED", has_results=False, enrollment=900),
        t("NCT90000015", status="COMPLETED", has_results=True, enrollment=700, design="clinical-trial"),
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    records, editors = sample_records()
    records += strongest_records(records)
    topics = load_topics()
    report = make_report(REFERENCE_DATE + "T03:16:10Z", topics, counts={"tms": {"pubmed": 21, "ctgov": 8}},
                         changes={"new": ["pubmed:32525788"], "updated": [], "new_retractions": [],
                                  "status_changes": []})
    older = make_report("2025-03-01T03:00:00Z", topics,
                        changes={"new": ["pubmed:38909159"], "updated": [], "new_retractions": [],
                                 "status_changes": []})
    out = build_site(tmp_path_factory.mktemp("pages"), records, editors=editors, report=report,
                     runs=[report, older], pages={"pages/home.md": HOME_INTRO, "topics/tms.md": EXPLAINER})
    return {"out": out, "records": records, "shown": shown(records, editors), "topics": topics}


def soup(out, rel):
    return BeautifulSoup((out / rel).read_text(encoding="utf-8"), "html.parser")


def text(node):
    return " ".join(node.get_text(" ").split())


# -- home ---------------------------------------------------------------------------------------

def test_home_lists_every_topic_with_its_card_count_and_last_harvest(site):
    page = soup(site["out"], "index.html")
    tiles = page.select(".topic-tile")
    assert [text(t.h3) for t in tiles] == [t.name for t in site["topics"]]
    visible = site["shown"]
    for tile, topic in zip(tiles, site["topics"]):
        expected = sum(1 for r in visible if topic.slug in r["topics"])
        assert int(tile.select_one(".count-n").get_text()) == expected, topic.slug
        assert tile.h3.a["href"].endswith(f"topics/{topic.slug}/")
    assert "The last successful harvest finished on 1 June 2025" in text(page)


def test_home_says_what_the_site_is_not_and_has_a_labelled_search_box(site):
    page = soup(site["out"], "index.html")
    assert "Not medical advice." in text(page.select_one(".is-isnt"))
    form = page.select_one("form.search-box")
    assert form["action"].endswith("search/") and form["method"] == "get"
    field = form.select_one("input[name=q]")
    assert page.select_one(f"label[for={field['id']}]") is not None


def test_home_shows_editor_intro_and_latest_evidence_newest_first(site):
    page = soup(site["out"], "index.html")
    assert "atlas intro" in text(page.select_one(".intro"))
    # right after the opening sentence, before the "what this site is / is not" columns
    hero = page.select_one(".hero")
    order = [c.get("class", [c.name])[0] for c in hero.find_all(recursive=False)]
    assert order[:4] == ["h1", "lead", "intro", "is-isnt"], order
    latest = page.select("#latest-h ~ ol .ev-item")
    assert len(latest) == 10
    years = [int(re.search(r"\b(19|20)\d\d\b", text(li)).group()) for li in latest]
    assert years == sorted(years, reverse=True)
    assert not (site["out"] / "home-intro").exists()


# -- topic page ---------------------------------------------------------------------------------

def test_topic_page_shows_explainer_then_summary_then_charts_then_list(site):
    page = soup(site["out"], "topics/tms/index.html")
    main = page.select_one("main")
    ids = [el.get("id") for el in main.find_all(["section"]) if el.get("id")]
    assert ids == ["evidence-summary", "charts", "all-evidence"]
    explainer = main.select_one(".explainer")
    assert "coils and magnetic pulses" in text(explainer)
    assert explainer.find_next("section")["id"] == "evidence-summary"
    assert explainer.select_one('a[href="#evidence-summary"]') is not None
    assert "2025-05-01" in text(explainer)


def test_topic_summary_counts_by_design(site):
    page = soup(site["out"], "topics/tms/index.html")
    rows = page.select("#evidence-summary table.counts-table tbody tr")
    counts = {text(r.th): int(text(r.select("td")[-1])) for r in rows}
    tms = [r for r in site["shown"] if "tms" in r["topics"]]
    from harvest.records.record import DESIGN_LABELS
    expected = {}
    for r in tms:
        expected[DESIGN_LABELS[r["design"]]] = expected.get(DESIGN_LABELS[r["design"]], 0) + 1
    assert counts == expected
    # strongest design first
    assert list(counts)[0] == "Meta-analysis"


def strongest_ids(out, slug):
    page = soup(out, f"topics/{slug}/index.html")
    return [a["href"].removesuffix(".html").rsplit("/", 1)[-1] for a in page.select("#strongest + p + ol .ev-item a.ev-title")]


def test_strongest_evidence_lists_evidence_not_plans(site):
    # TMS: the meta-analysis, the systematic review, then the one randomized trial with posted results;
    # the retracted RCT, the recruiting trials (500 and 50 planned), the withdrawn trial and completed
    # registrations without results are all left out.
    assert strongest_ids(site["out"], "tms") == ["90000001", "38909159", "NCT00763412"]
    page = soup(site["out"], "topics/tms/index.html")
    rule = text(page.select_one("#strongest + p"))
    assert "registrations without results are left out" in rule and "stopped trials" in rule


def test_strongest_evidence_orders_publications_then_trials_with_results_by_size(site):
    # meta-analysis, RCT publication, then trials with results largest first; not the terminated trial
    # (1,000 with results), the recruiting one (2,000 planned), the completed one without results (900)
    # or the non-randomized one (700 with results).
    assert strongest_ids(site["out"], "ketamine") == ["90000011", "90000010", "NCT90000010", "NCT90000011"]


def test_recruiting_trials_are_listed(site):
    page = soup(site["out"], "topics/tms/index.html")
    items = page.select("#recruiting + p + ol .ev-item")
    assert {i.a["href"].removesuffix(".html").rsplit("/", 1)[-1] for i in items} == {"NCT90000001", "NCT90000002"}


def test_topic_without_explainer_uses_config_summary(site):
    page = soup(site["out"], "topics/psilocybin/index.html")
    topic = next(t for t in site["topics"] if t.slug == "psilocybin")
    if (site["out"].parent / "content" / "topics" / "psilocybin.md").exists():
        assert page.select_one(".explainer") is not None
    else:
        assert topic.summary in text(page)


# -- card page ----------------------------------------------------------------------------------

def test_card_page_fields(site):
    page = soup(site["out"], "evidence/pubmed/32525788.html")
    card = page.select_one("article.card")
    assert card.has_attr("data-pagefind-body")
    assert text(card.h1) == "Pain Perception and Management: Where do We Stand?"
    assert text(card.select_one(".authors")) == "Afridi B, Khan H, Akkol EK, Aschner M"
    assert "Current molecular pharmacology" in text(card.select_one(".source-line"))
    assert "2021" in text(card.select_one(".source-line"))
    badge = card.select_one(".badges a.badge")
    assert badge["href"].endswith("methods/#levels") and "Weakest" in text(badge)
    assert "Narrative review" in text(badge)
    labels = [text(h) for h in card.select(".abstract-section h3")]
    assert labels == ["BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSION"]
    bottom = card.select_one(".bottom-line")
    assert text(bottom).startswith("Bottom line Improved understanding of pain physiopathology")
    # the conclusions are on the page once: the abstract's CONCLUSION section points up to them
    assert text(card).count("Improved understanding of pain physiopathology") == 1
    conclusion = card.select(".abstract-section")[-1]
    assert text(conclusion).startswith("CONCLUSION Shown above as the bottom line")
    assert conclusion.select_one("a")["href"] == "#bottom-line-h"
    assert [text(li) for li in card.select(".terms")[0].select("li")] == \
        ["Humans", "Nociceptors", "Pain", "Pain Perception"]
    links = {a["href"] for a in page.select(".source-links a")}
    assert links == {"https://pubmed.ncbi.nlm.nih.gov/32525788/",
                     "https://doi.org/10.2174/1874467213666200611142438",
                     "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7728656/"}
    cites = [(b.get_text(), b["data-cite-file"]) for b in page.select(".cite button[data-cite-part]")]
    assert cites == [("RIS", "evidence-pubmed-32525788.ris"), ("BibTeX", "evidence-pubmed-32525788.bib")]
    assert [a["href"] for a in page.select(".cite-bulk a")] == \
        ["../../downloads/tms.ris.gz", "../../downloads/tms.bib.gz", "../../downloads/"]
    assert "Harvested on 2025-06-01" in text(page.select_one(".harvested"))
    topic_link = card.select_one(".facts a[href$='topics/tms/']")
    assert topic_link is not None


def test_card_without_conclusions_has_no_bottom_line(site):
    page = soup(site["out"], "evidence/pubmed/90000003.html")
    assert page.select_one(".bottom-line") is None


def test_card_json_ld(site):
    page = soup(site["out"], "evidence/pubmed/32525788.html")
    data = json.loads(page.select_one('script[type="application/ld+json"]').string)
    assert data["@type"] == "ScholarlyArticle"
    assert data["name"].startswith("Pain Perception")
    assert {"propertyID": "PMID", "value": "32525788", "@type": "PropertyValue"} in data["identifier"]
    trial = soup(site["out"], "evidence/ctgov/NCT00973089.html")
    data = json.loads(trial.select_one('script[type="application/ld+json"]').string)
    assert data["@type"] in ("MedicalTrial", "MedicalObservationalStudy")
    assert data["status"] == "https://schema.org/Withdrawn"


def test_trial_card_fields(site):
    page = soup(site["out"], "evidence/ctgov/NCT03884387.html")
    facts = {text(dt): text(dt.find_next_sibling("dd")) for dt in page.select("dl.facts dt")}
    assert facts["Enrollment"] == "142 participants (actual)"
    assert facts["Status"] == "Completed"
    assert facts["Phase"] == "Not applicable"
    assert facts["Results posted"] == "No"
    assert facts["Primary completion"] == "2019-04-13"
    assert facts["Conditions"] and facts["Interventions"]
    assert page.select_one('.source-links a[href="https://clinicaltrials.gov/study/NCT03884387"]')


def test_harvested_on_comes_from_the_run_that_wrote_the_card(site):
    page = soup(site["out"], "evidence/pubmed/38909159.html")
    assert "Harvested on 2025-03-01" in text(page.select_one(".harvested"))


def test_editor_correction_is_shown_with_reason(site):
    page = soup(site["out"], "evidence/pubmed/38909159.html")
    note = text(page.select_one(".editor-note"))
    assert EDITOR_CHANGE["reason"] in note and "2025-05-01" in note and "design" in note


def test_hidden_card_is_not_published_anywhere(site):
    out = site["out"]
    for html in list((out / "topics").rglob("*.html")) + [out / "index.html"]:
        assert "92000001" not in html.read_text(encoding="utf-8"), html
    # its URL keeps a short page saying the editors withdrew it, when and why
    page = soup(out, "evidence/pubmed/92000001.html")
    assert text(page.h1) == "Withdrawn from the atlas"
    assert HIDE_REASON in text(page.main) and "2025-05-02" in text(page.main)
    assert page.select_one('meta[name="robots"]')["content"] == "noindex"
    assert page.select_one("[data-pagefind-body]") is None and page.select_one(".card") is None


# -- flags --------------------------------------------------------------------------------------

def test_retraction_banner(site):
    page = soup(site["out"], "evidence/pubmed/90000002.html")
    banner = page.select_one(".notice-retraction")
    assert "retracted" in text(banner).lower()
    assert banner.select_one('a[href="https://pubmed.ncbi.nlm.nih.gov/90000099/"]')
    # the banner comes before the title
    assert banner.find_next("h1") is not None
    listing = soup(site["out"], "topics/tms/all/index.html")
    item = listing.select_one('a[href$="evidence/pubmed/90000002.html"]').find_parent("li")
    assert item.select_one(".flag-retraction")


def test_erratum_banner_from_real_record(site):
    page = soup(site["out"], "evidence/pubmed/35649368.html")
    banner = page.select_one(".notice-correction")
    assert "correction" in text(banner).lower()
    assert banner.select_one('a[href="https://pubmed.ncbi.nlm.nih.gov/35767954/"]')


def test_results_overdue_flag(site):
    out = site["out"]
    # The Danish patient-decision-aid study (completed 2019, no results): no U.S. site, no
    # FDA-regulated product, no CTIS number, so no rule covers it: a neutral fact, not "overdue".
    page = soup(out, "evidence/ctgov/NCT03884387.html")
    assert page.select_one(".notice-overdue") is None
    assert "No results posted 6 years after completion" in text(page.select_one("dd.reporting"))
    # has a linked publication on the site → not overdue
    assert soup(out, "evidence/ctgov/NCT05245214.html").select_one(".notice-overdue") is None
    # results posted → not overdue
    assert soup(out, "evidence/ctgov/NCT00763412.html").select_one(".notice-overdue") is None
    # completed less than 12 months before the reference date → not yet overdue
    assert soup(out, "evidence/ctgov/NCT90000003.html").select_one(".notice-overdue") is None
    # recruiting → never overdue
    assert soup(out, "evidence/ctgov/NCT90000001.html").select_one(".notice-overdue") is None


def test_withdrawn_trial_shows_status_and_why_stopped(site):
    page = soup(site["out"], "evidence/ctgov/NCT00973089.html")
    stopped = text(page.select_one(".notice-stopped"))
    assert stopped.startswith("Withdrawn.")
    assert "recruiting or enrolling participants has halted prematurely and will not resume" in stopped


def test_links_between_trials_and_publications_both_ways(site):
    out = site["out"]
    # trial lists PMID 28427393 in its references → the publication card links back to the trial
    pub = soup(out, "evidence/pubmed/28427393.html")
    assert pub.select_one('.linked a[href$="evidence/ctgov/NCT05245214.html"]')
    trial = soup(out, "evidence/ctgov/NCT05245214.html")
    assert trial.select_one('.linked a[href$="evidence/pubmed/28427393.html"]')
    # publication's DataBank names NCT00763412 → the trial card links to the publication
    trial = soup(out, "evidence/ctgov/NCT00763412.html")
    assert trial.select_one('.linked a[href$="evidence/pubmed/90000003.html"]')
    pub = soup(out, "evidence/pubmed/90000003.html")
    assert pub.select_one('.linked a[href$="evidence/ctgov/NCT00763412.html"]')
    # a linked trial that is not on the site links to ClinicalTrials.gov
    assert pub.select_one('.linked a[href="https://clinicaltrials.gov/study/NCT99999999"]')


# -- Methods, About, Glossary, Search -------------------------------------------------------------

def test_methods_page(site):
    page = soup(site["out"], "methods/index.html")
    codes = [c.get_text() for c in page.select("pre.query code")]
    assert codes == [t.pubmed_query for t in site["topics"]]
    for t in site["topics"]:
        table = page.select_one(f"#query-{t.slug}").find_next("table")
        params = {text(r.th): text(r.td) for r in table.select("tbody tr")}
        assert params == dict(t.ctgov)
    levels = page.select_one("#levels")
    assert [d["id"] for d in levels.select("dt")] == [f"level-{n}" for n in range(1, 6)] + ["level-none"]
    assert text(levels.select_one("#level-1")) == "Strongest systematic review or meta-analysis"
    assert "Meta-analysis" in text(levels.select_one("#level-1").find_next("dd"))
    rows = page.select("#last-run tbody tr")
    assert len(rows) == 2 * len(site["topics"])
    tms_pubmed = [r for r in rows if text(r.th).startswith("Transcranial") and "PubMed" in text(r)][0]
    assert text(tms_pubmed.select("td")[1]) == "21"
    # the design order is generated from the record contract, strongest first
    from harvest.records.record import DESIGN_LABELS, DESIGNS
    order = [text(li).rsplit(" (", 1)[0] for li in page.select("#designs ol li")]
    assert order == [DESIGN_LABELS[d] for d in DESIGNS]


def test_methods_page_shows_editor_prose_first_and_says_nothing_twice(site):
    page = soup(site["out"], "methods/index.html")
    main = page.select_one("main article")
    prose = main.select_one(".editor-prose")
    assert prose is not None and prose.find_next("section")["id"] == "edition-section"
    assert prose.find_previous("section") is None  # nothing generated comes before the prose
    # cadence and limitations are the editor's text, once (no second, fixed-prose copy from the theme)
    headings = [text(h) for h in main.find_all("h2")]
    for heading in ("Data sources", "Update cadence", "Limitations"):
        assert headings.count(heading) == 1, headings
    assert "every night" in text(prose) and prose.select_one("#limitations + ul li")
    assert not main.select("#cadence, #sources-h, #limits-h")
    # every same-page anchor content/pages/methods.md links to is on the page
    for a in prose.select('a[href^="#"]'):
        assert page.find(id=a["href"][1:]) is not None, a["href"]


def test_about_glossary_and_search_pages_exist(site):
    out = site["out"]
    about = soup(out, "about/index.html")
    assert "not medical advice" in text(about.select_one("#disclaimer")).lower()
    assert len(about.select("#disclaimer")) == 1 and about.select_one("#disclaimer-h") is None  # the editor's
    if (out.parent / "content" / "pages" / "glossary.md").exists():
        assert soup(out, "glossary/index.html").h1
    search = soup(out, "search/index.html")
    scripts = [s["src"] for s in search.select("script[src]")]
    # the site's own script on Pagefind's API; Pagefind's UI (its script and its filters) is not loaded
    assert len(scripts) == 1 and scripts[0].endswith("theme/js/search.js"), scripts
    assert not search.select('link[href*="pagefind"]')
    assert search.select_one("#search") and search.select_one("noscript")


def test_report_an_error_links_to_the_source_repository(site):
    import runpy
    repo = runpy.run_path(str(ROOT / "pelican.conf.py"))["SOURCE_REPOSITORY_URL"]
    assert repo.startswith("https://")
    about = soup(site["out"], "about/index.html")
    assert about.select_one(f'main a[href="{repo}/issues"]').get_text(strip=True) == "Report an error"
    for rel in ("index.html", "topics/tms/index.html", "evidence/pubmed/32525788.html"):
        assert soup(site["out"], rel).select_one(f'footer a[href="{repo}/issues"]'), rel


def test_about_without_editor_text_shows_the_templates_disclaimer(tmp_path):
    records, _ = sample_records()
    out = build_site(tmp_path, records[:3], editor_content=False)
    about = soup(out, "about/index.html")
    assert "not medical advice" in text(about.select_one("#disclaimer")).lower()
    assert about.select_one("#disclaimer-h") is not None
    home = soup(out, "index.html")  # no editor intro: the longer lead says what the site is
    assert home.select_one(".intro") is None and "plain-language explainers" in text(home.select_one(".lead"))


def test_disclaimer_on_every_page(site):
    pages = list(site["out"].rglob("*.html"))
    assert len(pages) > 50
    for html in pages:
        if "pagefind" in html.parts:
            continue
        footer = soup(html.parent, html.name).select_one("footer")
        assert footer and "explains evidence, not medical advice" in text(footer), html


def test_crisis_help_on_every_page(site):
    """Every page's footer names real crisis lines a reader can reach at once."""
    pages = [p for p in site["out"].rglob("*.html") if "pagefind" not in p.parts]
    assert len(pages) > 50
    for html in pages:
        help_ = soup(html.parent, html.name).select_one("footer .crisis-help")
        assert help_ is not None, html
        words = text(help_)
        assert "988" in words and "Suicide & Crisis Lifeline" in words, html
        assert "Samaritans" in words and "116 123" in words.replace("\xa0", " "), html
        links = {a["href"] for a in help_.select("a[href]")}
        assert {"tel:988", "tel:116123", "https://findahelpline.com"} <= links, html


def test_a_broken_card_fails_the_build_naming_the_file(tmp_path):
    from sitebuild import SiteBuildError
    records, _ = sample_records()
    bad = tmp_path / "content" / "evidence" / "pubmed" / "12345.md"
    bad.parent.mkdir(parents=True)
    bad.write_text('Title: x\nSlug: pubmed-12345\nEv_id: "pubmed:12345"\nEv_title: {not json\n\nbody\n',
                   encoding="utf-8")
    with pytest.raises(SiteBuildError) as err:
        build_site(tmp_path, records[:3], editor_content=False)
    assert "evidence/pubmed/12345.md" in str(err.value)
