"""Reading on a phone and a laptop (Chromium): the topic page's "On this page" list, the Methods run
table at 1280 px, and the downloads page, axe-clean.  Site: tests/browser.py's shared build."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("browser")
from browser import DESKTOP, MOBILE  # noqa: E402

pytest_plugins = ["browser"]
pytestmark = pytest.mark.browser


def test_evidence_is_one_tap_from_the_top_of_a_topic_page_on_a_phone(site, open_page):
    page = open_page(viewport=MOBILE).page
    page.goto(site.url("/topics/tms/"))
    link = page.get_by_role("navigation", name="On this page").get_by_role("link", name="Evidence summary")
    box = link.bounding_box()
    assert box and box["y"] + box["height"] <= MOBILE["height"], f"the link is below the first screen: {box}"
    assert box["height"] >= 24
    link.click()
    page.wait_for_function("location.hash === '#evidence-summary'")
    top = page.locator("#evidence-summary").bounding_box()["y"]
    assert abs(top) < 5, top


def test_methods_run_tables_fit_at_1280px(site, open_page):
    page = open_page(viewport=DESKTOP).page
    page.goto(site.url("/methods/"))
    page.locator("table.run-table").first.wait_for()
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll('table.run-table'), t =>
        [t.caption ? t.caption.textContent.trim() : '', t.scrollWidth, t.closest('.table-scroll').clientWidth])""")
    assert sizes
    for caption, table_w, wrapper_w in sizes:
        assert table_w <= wrapper_w, f"{caption!r} needs a horizontal scroll at 1280 px: {table_w} > {wrapper_w}"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("path", ["/downloads/", "/topics/tms/"], ids=["downloads", "topic"])
@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "360px"])
def test_downloads_and_topic_pages_are_axe_clean_and_fit(site, open_page, viewport, path):
    """The downloads page and a topic page with its "On this page" list."""
    from test_a11y import describe, run_axe

    page = open_page(viewport=viewport).page
    page.goto(site.url(path), wait_until="networkidle")
    violations = run_axe(page)
    assert not violations, describe(violations)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
