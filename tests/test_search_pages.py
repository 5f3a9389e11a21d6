"""Search over everything a reader reads: explainers, glossary entries and Methods beside the cards.

Index tests read Pagefind's own files; the browser tests type the queries a reader would into the
real search page (Chromium, tests/browser.py) and check which page comes first.
Run: .venv/bin/python -m pytest tests/test_search_pages.py -q
"""

from __future__ import annotations

import gzip
import json
import re

import pytest
from bs4 import BeautifulSoup

pytest.register_assert_rewrite("browser")
from browser import DESKTOP, MOBILE, classified_record, served  # noqa: E402
from sitebuild import PM, REFERENCE_DATE, ROOT, UNSTABLE, build_site, derive, real_records  # noqa: E402

pytest_plugins = ["browser"]

RESULT_LINK = ".search-result-link"

# query → (title of the page that must come first, where its result link goes)
FIRST = {
    "TMS": ("Transcranial magnetic stimulation (TMS)", "/topics/tms/"),
    "CYP2D6": ("CYP2D6", "/glossary/#cyp2d6"),
    "seasonal affective disorder": ("Seasonal affective disorder (SAD)", "/glossary/#sad"),
    "esketamine nasal spray": ("Ketamine and esketamine", "/topics/ketamine/"),
}


def competing_cards() -> list[dict]:
    """Real records, plus copies whose TITLES were changed to name each query term: the hardest
    competition an explainer or glossary entry meets, a card that names the term in its heading.
    PubMed 38011560 is unchanged: its real abstract names esketamine nasal spray."""
    review = real_records(PM.format("32525788"))[0]
    ketamine = classified_record()
    return [
        ketamine,
        derive(review, "94000001", topics=["tms"], design="rct",
               title="Accelerated TMS versus sham TMS in treatment-resistant depression: a randomized trial",
               title_html=None),
        derive(review, "94000002", topics=["pgx"],
               title="CYP2D6 and CYP2C19 genotype-guided antidepressant prescribing: a review",
               title_html=None),
        derive(review, "94000003", topics=["light-therapy"],
               title="Bright light for seasonal affective disorder: a review", title_html=None),
        derive(ketamine, "94000004", topics=["ketamine"], design="rct",
               title="Esketamine nasal spray in treatment-resistant depression: a randomized trial",
               title_html=None),
    ]


@pytest.fixture(scope="module")
def reading_site(tmp_path_factory):
    out = build_site(tmp_path_factory.mktemp("search-pages"), competing_cards(),
                     reference_date=REFERENCE_DATE, pagefind=True)
    with served(out) as url:
        yield out, url


def fragments(out) -> list[dict]:
    found = []
    for path in (out / "pagefind" / "fragment").glob("*.pf_fragment"):
        raw = gzip.decompress(path.read_bytes())
        found.append(json.loads(raw[len(b"pagefind_dcd"):]))
    return found


def link_of(fragment: dict) -> str:
    return fragment["meta"].get("url") or fragment["url"]


# --- the index ---------------------------------------------------------------------------------

def test_every_glossary_entry_is_its_own_result_opening_the_glossary_at_it(reading_site):
    out, _ = reading_site
    page = BeautifulSoup((out / "glossary" / "index.html").read_text(encoding="utf-8"), "html.parser")
    entries = {h.get_text(" ", strip=True): "/glossary/#" + h["id"] for h in page.select("main h2[id]")}
    assert len(entries) > 20
    indexed = {f["meta"]["title"]: link_of(f) for f in fragments(out)
               if f["filters"].get("type") == ["Glossary entry"]}
    assert indexed == entries
    cyp = next(f for f in fragments(out) if f["meta"]["title"] == "CYP2D6")
    assert "paroxetine" in cyp["content"] and "citalopram" not in cyp["content"]  # its own text only


def test_explainers_and_methods_are_indexed_under_their_pages(reading_site):
    out, _ = reading_site
    by_link = {link_of(f): f for f in fragments(out)}
    for md in sorted((ROOT / "content" / "topics").glob("*.md")):
        slug = md.stem
        doc = by_link[f"/topics/{slug}/"]
        assert doc["filters"]["type"] == ["Explainer"]
        section = BeautifulSoup((out / "topics" / slug / "index.html").read_text(encoding="utf-8"),
                                "html.parser").select_one("section.explainer")
        # the template's "reviewed as of" line, and the not-medical-advice line every explainer repeats
        for left_out in section.select("p.meta, p.disclaimer"):
            left_out.decompose()
        shown = section.get_text(" ")
        assert re.sub(r"\W", "", shown) in re.sub(r"\W", "", doc["content"]), slug
    assert not any("It is not medical advice" in by_link[f"/topics/{md.stem}/"]["content"]
                   for md in (ROOT / "content" / "topics").glob("*.md"))
    methods = by_link["/methods/"]
    assert methods["filters"]["type"] == ["Methods"] and "PubMed" in methods["content"]


def test_card_results_carry_type_design_and_year_and_read_as_sentences(reading_site):
    out, _ = reading_site
    cards = [f for f in fragments(out) if f["url"].startswith("/evidence/")]
    assert len(cards) == len(competing_cards())
    for f in cards:
        assert f["filters"]["type"] == ["Published study"]
        assert f["meta"]["design"] and f["meta"]["year"].isdigit()
        assert "Evidence levelLevel" not in f["content"] and "Study design: " in f["content"], f["content"][:400]
        # each fact a sentence: label, colon, value, full stop
        assert re.search(r"Study design: [^.]+\. Evidence level: [^.]+\. ", f["content"]), f["content"][:600]


# --- in the browser -----------------------------------------------------------------------------

def first_result(open_page, base: str, query: str, viewport=DESKTOP):
    w = open_page(viewport=viewport)
    page = w.page
    page.goto(base + "/search/")
    page.locator("#search-input").press_sequentially(query, delay=20)
    whole_query_shown(page, query)
    page.locator(RESULT_LINK).first.wait_for(state="visible")
    return page


def whole_query_shown(page, query: str) -> None:
    """Each keystroke starts a search, and the results of an earlier one ("dep") can be on show
    while the last one runs (longer on a busy machine): wait until the summary names the whole query."""
    page.wait_for_function(
        "q => document.querySelector('.search-summary').textContent.includes('for \u201c' + q + '\u201d')", arg=query)


@pytest.mark.browser
@pytest.mark.parametrize("query", list(FIRST))
def test_query_shows_the_explainer_or_glossary_entry_first(reading_site, open_page, query):
    out, base = reading_site
    page = first_result(open_page, base, query)
    titles = [t.strip() for t in page.locator(RESULT_LINK).all_inner_texts()]
    title, href = FIRST[query]
    assert titles[0] == title, f"{query!r}: results in order {titles}"
    assert page.locator(RESULT_LINK).first.get_attribute("href") == href
    # a card that names the term in its title is found too, below
    assert len(titles) > 1, titles


@pytest.mark.browser
def test_each_result_shows_its_type_design_and_year(reading_site, open_page):
    out, base = reading_site
    page = first_result(open_page, base, "esketamine nasal spray")
    results = page.locator(".search-result")
    texts = [" ".join(t.split()) for t in results.all_inner_texts()]
    card = next(t for t in texts if "randomized trial" in t.lower() and "Esketamine nasal spray" in t)
    assert "Type: Published study" in card and "Design: Randomized controlled trial" in card
    assert re.search(r"Year: \d{4}", card), card
    assert texts[0].endswith("Type: Explainer"), texts[0]
    assert not any("Explains:" in t or "Defines:" in t for t in texts), texts  # ranking fields stay hidden
    page.locator('details[data-filter="type"] summary').click()  # a reader opens the filter first
    page.get_by_role("checkbox", name=re.compile("^Glossary entry")).check()
    page.wait_for_timeout(400)
    only = [t.strip() for t in page.locator(RESULT_LINK).all_inner_texts()]
    assert only and all(t in {"Esketamine", "Ketamine", "Dissociation", "NMDA receptor"} for t in only), only


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "360px"])
def test_search_with_page_results_is_axe_clean(reading_site, open_page, viewport):
    from test_a11y import describe, run_axe

    out, base = reading_site
    page = first_result(open_page, base, "TMS", viewport)
    violations = run_axe(page)
    assert not violations, describe(violations)


# --- an index in parts (plugins/search/parts.py) -------------------------------------------------

@pytest.fixture(scope="module")
def parted_site(tmp_path_factory):
    """The same cards in an index of three parts (at most 2 cards each).  By the stable hash of
    plugins/search/parts.py, part 0 (with the editor pages) holds 94000001 only and part 1 holds
    38011560, "Ketamine and the neurobiology of depression"."""
    from plugins.search import parts

    cards = competing_cards()
    assert [parts.part_of(r["id"], 3) for r in cards] == [1, 0, 2, 2, 2]
    out = build_site(tmp_path_factory.mktemp("search-parts"), cards, reference_date=REFERENCE_DATE,
                     pagefind=True, settings={"SEARCH_INDEX": {"enabled": True, "part_size": 2}})
    assert (out / "pagefind-1").is_dir() and (out / "pagefind-2").is_dir()
    with served(out) as url:
        yield out, url


def test_kept_documents_are_what_each_part_indexed_and_change_no_output_byte(parted_site, tmp_path):
    """bench/build.py times Pagefind alone on the documents a build kept, so they must be the ones
    each part's run read, and keeping them must not change the site."""
    out, _ = parted_site
    docs = tmp_path / "docs"
    (docs / "stale.html").parent.mkdir(parents=True)
    (docs / "stale.html").write_text("an earlier build's leftover")
    again = build_site(tmp_path / "site", competing_cards(), reference_date=REFERENCE_DATE, pagefind=True,
                       settings={"SEARCH_INDEX": {"enabled": True, "part_size": 2, "keep_documents": str(docs)}})
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    files_again = {p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file()}
    stable = sorted(f for f in files | files_again if not UNSTABLE.match(f))
    assert [f for f in stable if f not in files or f not in files_again] == []
    assert [f for f in stable if (out / f).read_bytes() != (again / f).read_bytes()] == []
    assert sorted(p.name for p in docs.iterdir()) == ["site-0", "site-1", "site-2"]
    card = next((docs / "site-1").rglob("38011560*.html"))
    assert "Ketamine and the neurobiology of depression" in card.read_text(encoding="utf-8")
    assert list((docs / "site-0").rglob("methods/index.html")), "part 0 also indexes the Methods page"


def search_watching(open_page, base: str, query: str):
    """The search page after one query, with every URL it requested so far (a live list)."""
    w = open_page(viewport=DESKTOP)
    fetched: list[str] = []
    w.page.on("request", lambda request: fetched.append(request.url))
    w.page.goto(base + "/search/")
    w.page.locator("#search-input").press_sequentially(query, delay=20)
    whole_query_shown(w.page, query)
    w.page.locator(RESULT_LINK).first.wait_for(state="visible")
    w.page.wait_for_load_state("networkidle")
    return w, fetched


def summary_count(page) -> int:
    return int(re.match(r"([\d,]+) results?", page.locator(".search-summary").inner_text()).group(1).replace(",", ""))


@pytest.mark.browser
def test_a_common_word_searches_the_first_part_until_the_reader_asks_for_all(parted_site, open_page):
    """A first search pays for one part's index only; every card is one click away."""
    out, base = parted_site
    w, fetched = search_watching(open_page, base, "depression")
    page = w.page
    assert [u for u in fetched if "/pagefind/" in u] and not [u for u in fetched if re.search(r"/pagefind-\d+/", u)], fetched
    assert not [u for u in fetched if "/filter/" in u], fetched
    # nor Pagefind's UI bundle or its web worker: the page's own script runs the engine
    assert not [u for u in fetched if "pagefind-ui" in u or "pagefind-worker" in u], fetched
    assert "searching 1 of the 5 evidence cards" in page.locator(".search-summary").inner_text()
    first = summary_count(page)
    every = page.get_by_role("button", name="Search all 5 evidence cards")
    every.click()
    page.wait_for_function("() => document.querySelector('.search-scope').hidden")
    page.wait_for_load_state("networkidle")
    assert [u for u in fetched if "/pagefind-1/" in u] and [u for u in fetched if "/pagefind-2/" in u], fetched
    assert summary_count(page) > first
    assert "searching" not in page.locator(".search-summary").inner_text()
    assert not w.page_errors, w.page_errors


@pytest.mark.browser
def test_a_word_the_first_part_hardly_has_searches_every_part(parted_site, open_page):
    out, base = parted_site
    w, fetched = search_watching(open_page, base, "neurobiology")
    title = "Ketamine and the neurobiology of depression"
    w.page.locator(RESULT_LINK, has_text=title).first.wait_for(state="visible")
    href = w.page.locator(RESULT_LINK, has_text=title).first.get_attribute("href")
    assert href.endswith("/evidence/pubmed/38011560.html"), href
    assert [u for u in fetched if "/pagefind-1/" in u], fetched


@pytest.mark.browser
def test_opening_a_filter_counts_and_filters_every_part(parted_site, open_page):
    out, base = parted_site
    w, fetched = search_watching(open_page, base, "depression")
    page = w.page
    page.locator('details[data-filter="type"] summary').click()
    study = page.get_by_role("checkbox", name=re.compile("^Published study"))
    study.wait_for(state="visible")
    # the count is over the whole index: three cards in three parts name depression (94000002 and
    # 94000003, about CYP2D6 and seasonal affective disorder, do not)
    page.wait_for_function("() => /\\(3\\)/.test(document.querySelector("
                           "'details[data-filter=\"type\"] input[value=\"Published study\"]').parentNode.textContent)")
    study.check()
    page.wait_for_function("() => /^3 results/.test(document.querySelector('.search-summary').textContent)")
    page.wait_for_load_state("networkidle")
    assert [u for u in fetched if "/pagefind-2/filter/" in u], fetched
    titles = page.locator(RESULT_LINK).all_inner_texts()
    assert len(titles) == 3 and any("neurobiology" in t for t in titles), titles  # part 1's card too


def test_search_documents_go_to_memory_only_when_it_has_room_for_two_parts(tmp_path, monkeypatch):
    """A container's /dev/shm is 64 MB unless the job asks for more (.github/workflows): the
    documents of a 5,000-card part would fill it and fail the build, so they go to disk then."""
    import os
    from types import SimpleNamespace

    from plugins.search import scratch_parent

    shm = str(tmp_path)
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_bavail=64 * 1024 * 1024 // 4096, f_frsize=4096))
    assert scratch_parent(5000, shm) is None
    assert scratch_parent(300, shm) == shm
    assert scratch_parent(300, str(tmp_path / "missing")) is None
