"""The built site in a real browser: Pagefind search and filters, pages without JavaScript, the CSP,
hostile harvested text, 360 px layout and screenshots.

Driven through Playwright on Debian Chromium against a site built once per session from real
recordings (tests/browser.py).  Run: .venv/bin/python -m pytest tests/test_browser.py -q
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytest.register_assert_rewrite("browser")  # before importing it, so its asserts report values too
from browser import (DESKTOP, HOSTILE_TITLE, MOBILE, PAGES, UNIQUE_WORD, clean_screenshots)

pytest_plugins = ["browser"]
pytestmark = pytest.mark.browser

RESULT_LINK = ".search-result-link"


def search(watched, site, query: str, expect: str) -> None:
    """Open /search/, type the query like a reader would, wait for a result titled `expect`."""
    page = watched.page
    page.goto(site.url("/search/"))
    box = page.locator("#search-input")
    try:
        box.wait_for(state="visible")
    except PlaywrightTimeout:
        pytest.fail(f"/search/ shows no search box; page says: {page.locator('main').inner_text()[:300]!r}; "
                    f"script errors: {watched.page_errors}")
    box.press_sequentially(query, delay=20)
    try:
        page.locator(RESULT_LINK, has_text=expect).first.wait_for(state="visible")
    except PlaywrightTimeout:
        pytest.fail(f"searching {query!r} never listed {expect!r}; results shown: {result_titles(page)}; "
                    f"message: {page.locator('.search-summary').all_inner_texts()}")


def result_titles(page) -> list[str]:
    return [t.strip() for t in page.locator(RESULT_LINK).all_inner_texts()]


def wait_results(page, predicate, what: str, timeout_ms: int = 10_000) -> list[str]:
    """Poll the result list until predicate(titles) holds; fail with what was shown instead."""
    titles: list[str] = []
    for _ in range(timeout_ms // 100):
        titles = result_titles(page)
        if titles and predicate(titles):
            return titles
        page.wait_for_timeout(100)
    pytest.fail(f"search results never {what}; last shown: {titles}")


def open_filter(page, name: str) -> None:
    """Open one filter group as a reader would; its choices load then (search.js)."""
    group = page.locator(f'details.search-filter[data-filter="{name}"]')
    if group.get_attribute("open") is None:
        group.locator("summary").click()
    group.locator("input.search-filter-checkbox").first.wait_for(state="visible")


def filter_box(page, name: str, value: str):
    open_filter(page, name)
    return page.locator(f'input.search-filter-checkbox[name="{name}"][value="{value}"]')


# --- search ---------------------------------------------------------------------------------

def test_search_finds_card_by_title_word_and_opens_it(site, open_page):
    w = open_page()
    title = "Ketamine and the neurobiology of depression"
    search(w, site, "neurobiology", expect=title)
    assert w.page.url.endswith("/search/?q=neurobiology"), w.page.url  # back and shared links keep the query
    link = w.page.locator(RESULT_LINK, has_text=title).first
    href = link.get_attribute("href")
    assert href and href.endswith("/evidence/pubmed/38011560.html"), href
    link.click()
    w.page.wait_for_url(re.compile(r"/evidence/pubmed/38011560\.html$"))
    assert title in w.page.locator("h1").inner_text()
    assert not w.page_errors, w.page_errors


def test_search_from_home_box_runs_the_query(site, open_page):
    w = open_page()
    w.page.goto(site.url("/"))
    w.page.get_by_label("Search the atlas").fill(UNIQUE_WORD)
    w.page.get_by_role("button", name="Search").click()
    w.page.wait_for_url(re.compile(r"/search/\?q=" + UNIQUE_WORD))
    titles = wait_results(w.page, lambda t: len(t) == 2, "showed the two derived cards")
    assert all(UNIQUE_WORD in t.lower() for t in titles), titles
    assert not w.page.locator(".search-more").is_visible(), "'More results' offered with every result shown"


def test_search_filters_narrow_results_by_topic_and_design(site, open_page):
    w = open_page()
    page = w.page
    tms_title = f"{UNIQUE_WORD.capitalize()} coil placement"
    ket_title = f"{UNIQUE_WORD.capitalize()} dosing schedules"
    search(w, site, UNIQUE_WORD, expect=tms_title)
    wait_results(page, lambda t: any(ket_title in x for x in t) and any(tms_title in x for x in t),
                 "listed both topics' cards before filtering")

    tms = filter_box(page, "topic", site.topic_name("tms"))
    assert tms.count() == 1, "no 'topic' filter for TMS in the search UI (data-pagefind-filter=\"topic\")"
    tms.check()
    titles = wait_results(page, lambda t: not any(ket_title in x for x in t), "dropped the ketamine card")
    assert any(tms_title in x for x in titles), titles
    assert len(titles) == 1, titles
    tms.uncheck()
    wait_results(page, lambda t: len(t) == 2, "came back after clearing the filter")

    rct = filter_box(page, "design", site.design_label("rct"))
    assert rct.count() == 1, "no 'design' filter for RCTs in the search UI (data-pagefind-filter=\"design\")"
    rct.check()
    titles = wait_results(page, lambda t: not any(tms_title in x for x in t), "dropped the meta-analysis")
    assert titles == [t for t in titles if ket_title in t] and len(titles) == 1, titles
    assert not w.page_errors, w.page_errors


def test_search_page_has_year_and_status_filters(site, open_page):
    w = open_page()
    search(w, site, UNIQUE_WORD, expect=UNIQUE_WORD.capitalize())
    for name in ("topic", "design", "year", "status"):
        open_filter(w.page, name)
        assert w.page.locator(f'input.search-filter-checkbox[name="{name}"]').count() > 0, \
            f"search UI offers no '{name}' filter"


# --- without JavaScript ---------------------------------------------------------------------

def test_pages_work_without_javascript(site, open_page):
    w = open_page(javascript=False)
    page = w.page
    page.goto(site.url("/"))
    assert page.locator("h1").first.is_visible()
    tiles = page.locator("#treatments a[href*='/topics/']")
    assert tiles.count() == len(site.topics), tiles.all_inner_texts()
    assert page.locator("footer .disclaimer").is_visible()

    page.locator("#treatments a", has_text=site.topic_name("tms")).click()
    page.wait_for_url(re.compile(r"/topics/tms/$"))
    assert site.topic_name("tms") in page.locator("h1").inner_text()
    assert page.locator("#evidence-summary").is_visible()
    assert page.locator("#all-evidence .ev-item").count() > 0

    # a design facet: pre-rendered, so it navigates without any script
    label = site.design_label("review")
    page.locator("nav.facets a", has_text=label).first.click()
    page.wait_for_url(re.compile(r"/topics/tms/design/review/$"))
    items = page.locator(".listing-main .ev-item")
    assert items.count() > 0
    assert all(label in t for t in items.locator(".badge").all_inner_texts())
    # pagination and sorting are plain links too
    page.locator("nav.pagination a[rel=next]").click()
    page.wait_for_url(re.compile(r"/topics/tms/design/review/page/2/$"))
    assert page.locator(".listing-main .ev-item").count() > 0
    page.goto(site.url("/topics/tms/design/rct/"))  # trials with and without results: two orders
    page.locator('p.sort a[href$="/tms/all/level/"]').click()
    page.wait_for_url(re.compile(r"/topics/tms/all/level/$"))
    assert page.locator('nav.sort a[aria-current="page"]').inner_text().strip() == "Strongest evidence first"

    # a status facet
    page.goto(site.url("/topics/tms/"))
    recruiting = [r for r in site.records if "tms" in r["topics"] and r["status"] == "RECRUITING"]
    page.locator("nav.facets a", has_text=re.compile(r"^\s*Recruiting\b")).click()
    page.wait_for_url(re.compile(r"/topics/tms/status/recruiting/$"))
    assert page.locator(".listing-main .ev-item").count() == len(recruiting) > 0

    # a card opened from the list shows its content
    page.locator(".listing-main a.ev-title").first.click()
    page.wait_for_url(re.compile(r"/evidence/ctgov/NCT\d{8}\.html$"))
    assert page.locator("h1").inner_text().strip()
    assert page.locator("dl.facts").is_visible()

    page.goto(site.url("/search/"))
    assert page.locator("noscript, .notice", has_text="needs JavaScript").first.is_visible(), \
        "the search page says nothing to readers without JavaScript"


# --- CSP and hostile text -------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PAGES))
def test_no_csp_violations_or_script_errors(site, open_page, name):
    w = open_page()
    page = w.page
    if name == "search":
        search(w, site, UNIQUE_WORD, expect=UNIQUE_WORD.capitalize())
    else:
        page.goto(site.url(PAGES[name]), wait_until="networkidle")
    csp = page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert csp, f"{PAGES[name]}: no Content-Security-Policy meta tag"
    script_src = next((d.strip() for d in csp.split(";") if d.strip().startswith("script-src")), None)
    assert script_src, f"{PAGES[name]}: CSP has no script-src: {csp}"
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src.replace(
        "'wasm-unsafe-eval'", ""), f"{PAGES[name]}: {script_src}"
    page.wait_for_timeout(200)  # let late violation reports arrive
    assert not w.csp_violations(), f"{PAGES[name]}: CSP violations:\n" + "\n".join(w.csp_violations())
    assert not w.page_errors, f"{PAGES[name]}: uncaught script errors: {w.page_errors}"
    assert not w.console_errors, f"{PAGES[name]}: console errors: {w.console_errors}"
    assert not w.failed_requests, f"{PAGES[name]}: failed requests: {w.failed_requests}"


def test_csp_blocks_and_reports_an_inline_script(site, open_page):
    """The check above can fail: an inline script added to a served page is blocked and reported."""
    w = open_page()
    w.page.goto(site.url("/"), wait_until="networkidle")
    w.page.evaluate("""() => { const s = document.createElement('script');
                               s.textContent = 'window.__ranInline = true;'; document.body.appendChild(s); }""")
    w.page.wait_for_timeout(200)
    assert w.page.evaluate("window.__ranInline === true") is False, "the CSP let an inline script run"
    assert any("script-src" in v for v in w.csp_violations()), w.csp_violations()


def test_hostile_title_shows_as_text_and_never_runs(site, open_page):
    w = open_page()
    page = w.page
    page.goto(site.url("/evidence/pubmed/32976730.html"), wait_until="networkidle")
    assert page.locator("h1").inner_text().strip() == HOSTILE_TITLE
    assert page.locator("article script").count() == 0
    assert HOSTILE_TITLE in page.title()
    # and in search results (Pagefind stores the title; its UI must not render it as HTML)
    search(w, site, "marine", expect=HOSTILE_TITLE)
    page.wait_for_timeout(300)
    assert w.dialogs == [], f"the hostile title ran as script: {w.dialogs}"
    assert not w.page_errors, w.page_errors


# --- layout ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PAGES))
def test_no_horizontal_scroll_at_360px(site, open_page, name):
    w = open_page(viewport=MOBILE)
    page = w.page
    if name == "search":
        search(w, site, UNIQUE_WORD, expect=UNIQUE_WORD.capitalize())
    else:
        page.goto(site.url(PAGES[name]), wait_until="networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > MOBILE["width"] + 1:
        wide = page.evaluate("""(limit) => Array.from(document.querySelectorAll('body *'))
            .filter(e => e.getBoundingClientRect().right > limit + 1)
            .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= limit + 1)
            .slice(0, 8)
            .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                 (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
                 ' right=' + Math.round(e.getBoundingClientRect().right))""", MOBILE["width"])
        pytest.fail(f"{PAGES[name]} scrolls sideways at 360 px: scrollWidth={width}; "
                    f"first elements past the edge: {wide}")


def test_chart_text_is_readable_at_360px(site, open_page):
    """The SVG charts keep their smallest text at 10 CSS px or more when a phone scales them down."""
    w = open_page(viewport=MOBILE)
    page = w.page
    page.goto(site.url("/topics/tms/"), wait_until="networkidle")
    imgs = page.locator("figure.chart img")
    assert imgs.count() == 2
    for i in range(imgs.count()):
        img = imgs.nth(i)
        shown = img.bounding_box()["width"]
        svg = (site.output / "topics/tms" / img.get_attribute("src").rsplit("/", 1)[-1]).read_text(encoding="utf-8")
        view_width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
        sizes = [float(s) for s in re.findall(r"font-size: ?([\d.]+)px", svg)]
        assert sizes, "no text with a CSS font size in the chart"
        smallest = min(sizes) * shown / view_width
        assert smallest >= 10, f"{img.get_attribute('src')}: smallest text {smallest:.1f} px at 360 px"


def test_search_filters_start_closed_and_load_their_choices_when_opened(site, open_page):
    """A first search fetches no filter file (Pagefind's filters() loads every one of them, so the
    choices load when a reader opens a filter); the filters are offered all the same."""
    for viewport in (MOBILE, DESKTOP):
        w = open_page(viewport=viewport)
        fetched: list[str] = []
        w.page.on("request", lambda request: fetched.append(request.url))
        search(w, site, UNIQUE_WORD, expect=UNIQUE_WORD.capitalize())
        w.page.wait_for_load_state("networkidle")
        blocks = w.page.locator("details.search-filter")
        names = [blocks.nth(i).locator("summary").inner_text().strip().lower() for i in range(blocks.count())]
        assert names == ["type", "topic", "design", "year", "status"], names
        assert not any(blocks.nth(i).get_attribute("open") is not None for i in range(blocks.count()))
        assert fetched and not [u for u in fetched if "/filter/" in u], fetched
        open_filter(w.page, "design")
        assert [u for u in fetched if u.endswith(".pf_filter")], "opening a filter loaded no filter file"


@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "360px"])
def test_search_filter_column_is_wide_enough_to_read_and_tick(site, open_page, viewport):
    """The filter column keeps a readable width beside the results and each checkbox a 24 px target."""
    w = open_page(viewport=viewport)
    search(w, site, UNIQUE_WORD, expect=UNIQUE_WORD.capitalize())
    panel = w.page.locator(".search-filters").bounding_box()
    assert panel["width"] >= min(190, viewport["width"] - 40), panel
    open_filter(w.page, "type")
    box = w.page.locator('details[data-filter="type"] .search-filter-checkbox').first.bounding_box()
    assert box["width"] >= 24 and abs(box["width"] - box["height"]) < 1, box


SHOT_PAGES = {"home": "/", "topic": "/topics/tms/", "card": "/evidence/pubmed/32525788.html",
              "trial": "/evidence/ctgov/NCT03884387.html", "listing": "/topics/tms/design/review/",
              "search": f"/search/?q={UNIQUE_WORD}"}


def test_screenshots_at_desktop_and_360px(site, open_page):
    """Full-page PNGs for a human to look at (tests/screenshots/, git-ignored)."""
    folder = clean_screenshots()
    written = []
    for label, viewport in (("1280", DESKTOP), ("360", MOBILE)):
        w = open_page(viewport=viewport)
        for name, path in SHOT_PAGES.items():
            w.page.goto(site.url(path), wait_until="networkidle")
            if name == "search":
                w.page.locator(RESULT_LINK).first.wait_for(state="visible")
            target = folder / f"{name}-{label}.png"
            w.page.screenshot(path=str(target), full_page=True)
            written.append(target)
    for path in written:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, f"{path.name}: not a real PNG"
        width = int.from_bytes(data[16:20], "big")
        assert width == int(path.stem.rsplit("-", 1)[1]), f"{path.name}: {width} px wide"


# --- citations -------------------------------------------------------------------------------

@pytest.mark.parametrize("label, fmt", [("RIS", "ris"), ("BibTeX", "bib")])
def test_card_citation_button_saves_the_builds_citation_from_the_keyboard(site, open_page, label, fmt):
    """theme/static/js/cite.js saves the text the page carries: byte for byte what harvest/cards/citations.py
    makes of the real recorded record (CR LF line ends of RIS included), with no file per card."""
    from harvest.cards.citations import bibtex_key, to_bibtex, to_ris

    record = next(r for r in site.records if r["id"] == "pubmed:38011560")
    url = "/evidence/pubmed/38011560.html"  # the development build: no SITEURL
    expected = to_ris(record, url) if fmt == "ris" else to_bibtex(record, bibtex_key(record), url)
    w = open_page()
    w.page.goto(site.url(url))
    button = w.page.locator(".cite").get_by_role("button", name=label, exact=True)
    button.focus()
    with w.page.expect_download() as info:
        w.page.keyboard.press("Enter")
    download = info.value
    assert download.suggested_filename == f"evidence-pubmed-38011560.{fmt}"
    assert Path(download.path()).read_bytes() == expected.encode("utf-8")
    assert "Ketamine and the neurobiology of depression" in expected
    assert not (w.page_errors or w.console_errors or w.csp_violations())


def test_card_citations_without_javascript_are_the_topics_bulk_files(site, open_page):
    import gzip

    w = open_page(javascript=False)
    w.page.goto(site.url("/evidence/pubmed/38011560.html"))
    assert w.page.locator(".cite[data-cite]").is_hidden()  # the buttons need cite.js
    with w.page.expect_download() as info:
        w.page.locator(".cite-bulk").get_by_role("link", name="RIS").first.click()
    download = info.value
    assert download.suggested_filename == "ketamine.ris.gz"
    text = gzip.decompress(Path(download.path()).read_bytes()).decode("utf-8")
    assert "TI  - Ketamine and the neurobiology of depression" in text


@pytest.mark.parametrize("kind", ["publications", "trials"])
def test_chart_legend_labels_never_run_into_the_next_column(open_page, kind):
    """Drawn in Chromium with every design or status label the site has: a legend label ends
    before the swatch of the column to its right (pygal lays columns out across the plot only)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    from evidence import charts
    from evidence.model import STATUS_LABELS
    from harvest.records.record import DESIGN_LABELS

    labels = list(DESIGN_LABELS.values()) if kind == "publications" else list(STATUS_LABELS.values())
    rows = ["2021", "2022", "2023"] if kind == "publications" else ["Phase 1", "Phase 2/3", "No phase given"]
    overlaps = []
    # every label in the left column (beside the shortest one), and the short labels among themselves
    for group in [sorted(labels, key=len)[:4]] + [[label, min(labels, key=len)] for label in labels]:
        table = {"title": "t", "row_header": "r", "rows": rows, "columns": group,
                 "values": [[1 + (i + j) % 3 for j in range(len(group))] for i in range(len(rows))],
                 "xlabel": "x", "ylabel": "y"}
        svg = charts._draw(table, kind).decode("utf-8")
        page = open_page(viewport=DESKTOP).page
        page.set_content(f"<!doctype html><body style='margin:0'>{svg}</body>")
        overlaps += page.evaluate("""() => {
            const boxes = [...document.querySelectorAll('.legends .legend')].map(g => ({
                text: g.querySelector('text').textContent,
                right: g.querySelector('text').getBoundingClientRect().right,
                left: g.querySelector('rect').getBoundingClientRect().left,
                top: Math.round(g.querySelector('rect').getBoundingClientRect().top)}));
            return boxes.filter(a => boxes.some(b => b.top === a.top && b.left > a.left && a.right > b.left - 2))
                        .map(a => a.text);
        }""")
    assert overlaps == [], overlaps
