"""WCAG 2.2 AA: axe-core finds no violations on the pages the issue names, in a real browser.

axe-core comes bundled with axe-playwright-python (no CDN, no npm).  Pages are checked at desktop
width and at 360 px (where the layout, and so contrast/overlap/target sizes, differ).  The search
page is checked after a query, with Pagefind's results and filters on screen.
Run: .venv/bin/python -m pytest tests/test_a11y.py -q
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("browser")
from browser import DESKTOP, MOBILE, PAGES, UNIQUE_WORD

pytest_plugins = ["browser"]
pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]  # axe-core has no rule tagged wcag22a


def describe(violations: list[dict]) -> str:
    """One readable block per rule: id, impact, help, where (selectors) and axe's failure summary."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']} [{', '.join(t for t in v['tags'] if t.startswith('wcag'))}]")
        lines.append(f"  {v['helpUrl']}")
        for node in v["nodes"][:5]:
            target = " ".join(map(str, node.get("target", [])))
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {target}: {summary[:300]}")
            lines.append(f"       {node.get('html', '')[:160]}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more elements")
    return "\n".join(lines)


def run_axe(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                        "resultTypes": ["violations"]})
    return results.response["violations"]


def open_for_axe(site, open_page, name: str, viewport: dict):
    w = open_page(viewport=viewport)
    page = w.page
    if name == "search":
        page.goto(site.url("/search/"))
        page.locator("#search-input").press_sequentially(UNIQUE_WORD, delay=20)
        page.locator(".search-result-link").first.wait_for(state="visible")
        # a filter open, so its choices are checked too (they load when a reader opens one)
        page.locator('details[data-filter="topic"] summary').click()
        page.locator('details[data-filter="topic"] .search-filter-checkbox').first.wait_for(state="visible")
        page.wait_for_timeout(300)  # let the filter counts and result excerpts settle
    else:
        page.goto(site.url(PAGES[name]), wait_until="networkidle")
    return page


@pytest.mark.parametrize("name", list(PAGES))
def test_axe_no_wcag_violations_desktop(site, open_page, name):
    page = open_for_axe(site, open_page, name, DESKTOP)
    violations = run_axe(page)
    assert not violations, f"axe-core on {PAGES[name]} at {DESKTOP['width']} px:\n{describe(violations)}"


@pytest.mark.parametrize("name", list(PAGES))
def test_axe_no_wcag_violations_360px(site, open_page, name):
    page = open_for_axe(site, open_page, name, MOBILE)
    violations = run_axe(page)
    assert not violations, f"axe-core on {PAGES[name]} at {MOBILE['width']} px:\n{describe(violations)}"


def test_axe_runs_and_sees_a_real_problem(site, open_page):
    """Guard against a silently broken axe run: an image without alt text on the home page is reported."""
    page = open_for_axe(site, open_page, "home", DESKTOP)
    page.evaluate("""() => { const i = document.createElement('img'); i.src = '/nothing.png';
                             document.querySelector('main').appendChild(i); }""")
    ids = [v["id"] for v in run_axe(page)]
    assert "image-alt" in ids, ids


# Best-practice rules (not WCAG-tagged, so not in the runs above) that the site keeps anyway: headings
# in order (listing facets come right after the h1) and a visible label on every form field (Pagefind's
# search input has only a title of its own).
BEST_PRACTICE_RULES = ["heading-order", "label-title-only", "empty-heading", "page-has-heading-one"]


@pytest.mark.parametrize("name", list(PAGES))
def test_axe_best_practice_headings_and_labels(site, open_page, name):
    from axe_playwright_python.sync_playwright import Axe

    page = open_for_axe(site, open_page, name, DESKTOP if name != "search" else MOBILE)
    results = Axe().run(page, options={"runOnly": {"type": "rule", "values": BEST_PRACTICE_RULES},
                                        "resultTypes": ["violations"]})
    violations = results.response["violations"]
    assert not violations, f"axe-core best practice on {PAGES[name]}:\n{describe(violations)}"


def test_search_input_has_a_visible_label(site, open_page):
    page = open_for_axe(site, open_page, "search", MOBILE)
    label = page.locator('label[for="search-input"]')
    assert label.is_visible() and label.inner_text().strip() == "Search the atlas"
    box = page.get_by_role("searchbox", name="Search the atlas")
    assert box.get_attribute("id") == "search-input"
    assert "search-input" in box.get_attribute("class")
    assert box.evaluate("e => Array.from(e.labels).map(l => l.textContent.trim())") == ["Search the atlas"]
