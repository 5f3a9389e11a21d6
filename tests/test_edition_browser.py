"""The footer of card and listing pages in a real browser: theme/static/js/edition.js puts in the
sentence the other pages' footer has (live or snapshot wording, and the stale warning) from
output/edition.json; without JavaScript, or with a file it cannot trust, the link to the Methods
page stays.  Run: .venv/bin/python -m pytest tests/test_edition_browser.py -q
"""

from __future__ import annotations

import json

import pytest

pytest.register_assert_rewrite("browser")
from browser import served  # noqa: E402

from harvest.classification.topics import load_topics  # noqa: E402
from sitebuild import REFERENCE_DATE, build_site, make_report, sample_records  # noqa: E402

pytest_plugins = ["browser"]
pytestmark = pytest.mark.browser

CARD = "/evidence/pubmed/32525788.html"
LISTING = "/topics/tms/design/review/"
HOLDER = "footer [data-edition]"


def said(page, selector: str) -> str:
    return " ".join(page.locator(selector).first.inner_text().split())


def footer_line(watched, url: str, expect: str) -> str:
    """Open url and wait until the footer's edition line starts with `expect`; its words."""
    page = watched.page
    page.goto(url, wait_until="networkidle")
    try:
        page.wait_for_function("([sel, text]) => { const n = document.querySelector(sel);"
                               " return n && n.textContent.trim().startsWith(text); }",
                               arg=[HOLDER, expect], timeout=10_000)
    except Exception:
        pytest.fail(f"{url}: footer says {said(page, HOLDER)!r}, not {expect!r}; "
                    f"errors: {watched.console_errors + watched.page_errors}")
    return said(page, HOLDER)


def no_errors(watched) -> None:
    assert not watched.console_errors, watched.console_errors
    assert not watched.page_errors, watched.page_errors
    assert not watched.failed_requests, watched.failed_requests
    assert not watched.csp_violations(), watched.csp_violations()
    assert not watched.dialogs, watched.dialogs


@pytest.mark.parametrize("path", [CARD, LISTING])
def test_live_footer_shows_the_last_harvest_as_other_pages_do(site, open_page, path):
    w = open_page()
    home = w.page
    home.goto(site.url("/"))
    sentence = said(home, "footer p:has([data-edition]), footer p:has(time)")
    assert "Last successful harvest: 2025-05-31." in sentence  # the session site's live report
    stale = said(home, ".freshness-stale")  # the build day is long after that report

    line = footer_line(w, site.url(path), "Last successful harvest: 2025-05-31.")
    assert line == f"Last successful harvest: 2025-05-31. {stale}"
    assert w.page.locator(f"{HOLDER} time").first.get_attribute("datetime") == "2025-05-31"
    assert w.page.locator(f"{HOLDER} a").count() == 0
    no_errors(w)


def test_without_javascript_the_footer_links_the_methods_page(site, open_page):
    w = open_page(javascript=False)
    w.page.goto(site.url(CARD))
    assert said(w.page, HOLDER) == "How fresh the data are: harvest status."
    w.page.locator(f"{HOLDER} a").click()
    w.page.wait_for_url("**/methods/#edition-h")
    assert "The last successful harvest finished on" in said(w.page, "#edition")


def test_an_edition_file_of_another_shape_leaves_the_link(site, open_page):
    w = open_page()
    # Not what the build writes (plugins/evidence/edition_file.py checks each value): markup where a
    # date belongs.  The script must neither show nor run it.
    body = json.dumps({"kind": "live", "last_harvest": '<img src=x onerror="alert(1)">', "made": None,
                       "newest": None, "age_days": None, "stale": False})
    w.page.route("**/edition.json", lambda route: route.fulfill(status=200, body=body,
                                                                content_type="application/json"))
    w.page.goto(site.url(CARD), wait_until="networkidle")
    w.page.wait_for_timeout(200)
    assert said(w.page, HOLDER) == "How fresh the data are: harvest status."
    assert w.page.locator("footer img").count() == 0
    no_errors(w)


@pytest.fixture(scope="module")
def snapshot_site(tmp_path_factory):
    """A snapshot edition: cards made by `harvest replay` of recorded replies (mode "replay")."""
    records, editors = sample_records()
    report = make_report("2025-05-30T09:53:10Z", load_topics(), mode="replay")
    base = tmp_path_factory.mktemp("snapshot-site")
    out = build_site(base, records, editors=editors, report=report, reference_date=REFERENCE_DATE)
    with served(out) as url:
        yield url


def test_snapshot_footer_says_snapshot_with_and_without_javascript(snapshot_site, open_page):
    w = open_page()
    home = w.page
    home.goto(snapshot_site + "/")
    expected = "Snapshot edition made 2025-05-30 from recorded replies; not a live harvest."
    assert expected in said(home, "footer p:has(time)")

    assert footer_line(w, snapshot_site + CARD, "Snapshot edition made 2025-05-30") == expected
    no_errors(w)

    plain = open_page(javascript=False)
    plain.page.goto(snapshot_site + CARD)
    assert said(plain.page, HOLDER) == ("Snapshot edition made from recorded replies; not a live harvest "
                                        "(how this edition was made).")
