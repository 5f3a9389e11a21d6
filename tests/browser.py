"""Shared fixtures for the browser tests: one real site, one local server, one Debian Chromium.

The site is built once per test session with tests/sitebuild.py (Pelican with the project's own
pelican.conf.py, then Pagefind) from records parsed out of the real recordings in
tests/data/real-api/, served from a ThreadingHTTPServer on 127.0.0.1 (free port), and driven with
PyPI Playwright on Debian's /usr/bin/chromium (``playwright install`` cannot work offline).

Test modules load this file as a plugin (``pytest_plugins = ["browser"]``) so the session fixtures
are shared: the site is built and the browser started once, however many modules use them.

Missing Chromium is a failure, not a skip: CI installs it in .ci/run, and a silently skipped
browser suite would hide every search, accessibility and layout regression.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from harvest.classification.classify import classify
from harvest.classification.topics import load_topics
from harvest.records.record import DESIGN_LABELS
from harvest.sources.pubmed.parse import parse_pubmed
from sitebuild import PM, REAL_API, REFERENCE_DATE, ROOT, build_site, derive, make_report, sample_records

# Debian's Chromium unless CHROMIUM_PATH names another real build (Ubuntu's /usr/bin/chromium is a
# stub that asks for a snap; .ci/install-chromium honours the same variable).
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 360, "height": 780}
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

# Words that occur in no real record, so a search for them can only find the derived cards.
UNIQUE_WORD = "quillwort"
HOSTILE_TITLE = "<script>alert(1)</script>"

# The pages the quality bars name (home, topic, card, listing, search), a trial card (its own
# flags and layout) and the other page types.
PAGES = {
    "home": "/",
    "topic": "/topics/tms/",
    "topic with a meta-analysis": "/topics/psilocybin/",  # the living meta-analysis (data/meta/)
    "card": "/evidence/pubmed/32525788.html",
    "trial card": "/evidence/ctgov/NCT03884387.html",
    "listing": "/topics/tms/design/review/",
    "search": "/search/",
    # the rest of the site's page types: cheap to check, and readers land on them too
    "methods": "/methods/",
    "glossary": "/glossary/",
    "about": "/about/",
    "changes": "/changes/",
}


def _xml_text(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def hostile_record() -> dict:
    """The real efetch body of PMID 32976730 with its ArticleTitle swapped for a script tag, parsed for real."""
    raw = (REAL_API / PM.format("32976730")).read_bytes()
    title = b"<ArticleTitle>Marine Heatwaves.</ArticleTitle>"
    assert title in raw, "recording changed: cannot plant the hostile title"
    raw = raw.replace(title, b"<ArticleTitle>" + _xml_text(HOSTILE_TITLE) + b"</ArticleTitle>")
    batch = parse_pubmed(raw, "32976730.xml (hostile title)")
    assert not batch.errors and len(batch.records) == 1, batch.errors
    rec = batch.records[0]
    assert rec["title"] == HOSTILE_TITLE, rec["title"]
    return derive(rec, topics=["tms"])


def classified_record() -> dict:
    """A real PubMed record put into its topic by the harvester's own classifier (not by hand)."""
    batch = parse_pubmed((REAL_API / PM.format("38011560")).read_bytes(), "38011560.xml")
    assert not batch.errors, batch.errors
    rec = batch.records[0]
    topics = classify(rec, load_topics())
    assert topics == ["ketamine"], topics
    return derive(rec, topics=topics)


def unique_word_records(tms_base: dict, ketamine_base: dict) -> list[dict]:
    """Two cards whose titles share UNIQUE_WORD but differ in topic and design (for the filters)."""
    t1 = f"{UNIQUE_WORD.capitalize()} coil placement in depression: a meta-analysis of stimulation targets"
    t2 = f"{UNIQUE_WORD.capitalize()} dosing schedules for esketamine in treatment-resistant depression"
    return [
        derive(tms_base, "93000001", title=t1, title_html=t1, design="meta-analysis", year=2024,
               date="2024-03", topics=["tms"], publication_types=["Journal Article", "Meta-Analysis"]),
        derive(ketamine_base, "93000002", title=t2, title_html=t2, design="rct", year=2025,
               date="2025-01", topics=["ketamine"],
               publication_types=["Journal Article", "Randomized Controlled Trial"]),
    ]


@dataclass
class Site:
    root: str                       # http://127.0.0.1:<port>
    output: Path
    topics: dict                    # slug -> Topic
    records: list[dict] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.root + path

    def topic_name(self, slug: str) -> str:
        return self.topics[slug].name

    @staticmethod
    def design_label(design: str) -> str:
        return DESIGN_LABELS[design]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output readable
        pass


@contextlib.contextmanager
def served(out: Path) -> Iterator[str]:
    """A built site served on a free local port while the block runs: its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def require_chromium() -> None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian Chromium. Run .ci/run (it installs it), "
            "`sudo apt-get install -y chromium fonts-dejavu-core`, or set CHROMIUM_PATH to a Chromium "
            "binary.", pytrace=False)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Site:
    """The whole site with its Pagefind index, built once and served on a free local port."""
    records, editors = sample_records()
    ketamine = classified_record()
    tms_base = next(r for r in records if r["id"] == "pubmed:32525788")
    records += [ketamine, hostile_record(), *unique_word_records(tms_base, ketamine)]
    topics = load_topics()
    counts: dict = {}
    for rec in records:
        for slug in rec["topics"]:
            counts.setdefault(slug, {}).setdefault(rec["source"], 0)
            counts[slug][rec["source"]] += 1
    report = make_report("2025-05-31T03:15:00Z", topics, counts)
    base = tmp_path_factory.mktemp("browser-site")
    (base / "data" / "meta").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "meta" / "psilocybin.json", base / "data" / "meta")
    out = build_site(base, records, editors=editors, report=report,
                     reference_date=REFERENCE_DATE, pagefind=True,
                     settings={"EVIDENCE_PAGE_SIZE": 5})  # small pages, so pagination shows up
    assert (out / "pagefind" / "pagefind-ui.js").is_file(), "Pagefind did not write its UI bundle"

    with served(out) as url:
        yield Site(url, out, {t.slug: t for t in topics}, records)


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the whole session."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:
        pw.stop()
        pytest.fail(f"cannot start {CHROMIUM} through Playwright: {exc}", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()


@dataclass
class Watched:
    """A page plus everything it said: console errors, uncaught errors, CSP violations, dialogs."""
    page: object
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        """Violations seen by the page's own securitypolicyviolation listener, plus console reports."""
        seen = self.page.evaluate("window.__cspViolations || []")
        from_console = [m for m in self.console_errors if "Content Security Policy" in m]
        return [f"{v['directive']} blocked {v['blocked']} ({v['source']}:{v['line']})" for v in seen] + from_console


# Registered before any page script runs (init scripts are injected by the browser, not subject to
# the page's CSP), so even a violation during parsing is recorded.
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               source: e.sourceFile, line: e.lineNumber});
});
"""


@pytest.fixture
def open_page(chromium):
    """open_page(viewport=DESKTOP, javascript=True) -> Watched: a fresh context and page, closed after the test."""
    contexts = []

    def _open(viewport: dict = DESKTOP, javascript: bool = True) -> Watched:
        ctx = chromium.new_context(viewport=viewport, java_script_enabled=javascript, service_workers="block")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        watched = Watched(page)
        if javascript:
            page.add_init_script(_CSP_LISTENER)
        page.on("console", lambda m: m.type == "error" and watched.console_errors.append(m.text))
        page.on("pageerror", lambda e: watched.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: watched.failed_requests.append(f"{r.url} ({r.failure})"))

        def _dialog(d):
            watched.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()
        page.on("dialog", _dialog)
        return watched

    yield _open
    for ctx in contexts:
        ctx.close()


def clean_screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
