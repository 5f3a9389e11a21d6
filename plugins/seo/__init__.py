"""sitemap.xml, robots.txt, the 404 page and canonical URLs.

- ``canonical_url(page_url)``: Jinja global and filter giving a page's absolute URL (SITEURL + url,
  ``index.html`` dropped).  The base template emits ``<link rel="canonical" href="{{ canonical_url(...) }}">``.
  With no SITEURL (development builds) it is root-relative.
- ``404.html`` at the output root, rendered from the theme's ``404.html`` with absolute asset URLs,
  because a server shows it at whatever path was missing.
- ``sitemap.xml``: every HTML page Pelican's writer wrote in this build (cards, topic and listing
  pages, change pages, editor pages), except the 404 page, cards the editors withdrew and anything
  matching ``exclude``.  Over
  50,000 URLs (the sitemap protocol's limit) it becomes a sitemap index of numbered files.
- ``robots.txt`` pointing to the sitemap.

Setting (all keys optional)::

    EVIDENCE_SEO = {"exclude": ("404.html", "drafts/*"), "robots_disallow": ()}
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import os
from xml.sax.saxutils import escape

from pelican import signals
from pelican.generators import Generator

from harvest.fileio import claim, write_if_changed

logger = logging.getLogger(__name__)

DEFAULTS = {"exclude": ("404.html", "drafts/*"), "robots_disallow": ()}
MAX_URLS = 50_000
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def settings_of(settings: dict) -> dict:
    return {**DEFAULTS, **(settings.get("EVIDENCE_SEO") or {})}


def make_canonical(siteurl: str):
    base = (siteurl or "").rstrip("/")

    def canonical_url(page_url: object = "") -> str:
        """'topics/tms/index.html' or 'topics/tms/' -> '<SITEURL>/topics/tms/'; other paths as they are."""
        url = str(page_url or "").lstrip("/")
        if url == "index.html" or url.endswith("/index.html"):
            url = url[: -len("index.html")]
        return f"{base}/{url}"

    return canonical_url


class _Build:
    """Pages written during one Pelican run (signals are global; a run resets this)."""

    def __init__(self):
        self.output_path = None
        self.output_prefix = None
        self.pages: dict[str, str | None] = {}


_build = _Build()


def on_initialized(pelican):
    settings = pelican.settings
    canonical = make_canonical(settings.get("SITEURL", ""))
    # Generators copy JINJA_FILTERS/GLOBALS when they are created, which is after this signal.
    settings["JINJA_FILTERS"] = {**settings.get("JINJA_FILTERS", {}), "canonical_url": canonical}
    settings["JINJA_GLOBALS"] = {**settings.get("JINJA_GLOBALS", {}), "canonical_url": canonical}
    _build.__init__()
    _build.output_path = os.path.realpath(settings["OUTPUT_PATH"])
    _build.output_prefix = os.path.join(os.path.abspath(settings["OUTPUT_PATH"]), "")


def _lastmod(context: dict) -> str | None:
    content = context.get("article") or context.get("page")
    when = getattr(content, "modified", None) or getattr(content, "date", None)
    if isinstance(when, (dt.date, dt.datetime)):
        return when.strftime("%Y-%m-%d")
    return None


def on_content_written(path, context=None):
    if _build.output_path is None or not str(path).endswith(".html"):
        return
    content = (context or {}).get("article") or (context or {}).get("page")
    if getattr(content, "status", None) == "hidden" and getattr(content, "template", None) == "withdrawn":
        return  # a card the editors withdrew: its URL stays, but it is no page to be found
    if getattr((context or {}).get("article"), "scope", None):
        return  # an out-of-scope card's page (harvest/records/drift.py) is kept for old links, not advertised
    path = os.path.abspath(path)
    if path.startswith(_build.output_prefix):  # the writer's own form of the path: no syscalls
        rel = path[len(_build.output_prefix):].replace(os.sep, "/")
    else:  # realpath costs a stat per path component, so only for a path written another way
        rel = os.path.relpath(os.path.realpath(path), _build.output_path).replace(os.sep, "/")
    if rel.startswith("../"):
        return
    _build.pages[rel] = _lastmod(context or {})


def sitemap_xml(entries: list[tuple[str, str | None]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for loc, lastmod in entries:
        item = f"<url><loc>{escape(loc)}</loc>"
        if lastmod:
            item += f"<lastmod>{lastmod}</lastmod>"
        lines.append(item + "</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def sitemap_index_xml(locs: list[str]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<sitemapindex xmlns="{SITEMAP_NS}">']
    lines += [f"<sitemap><loc>{escape(loc)}</loc></sitemap>" for loc in locs]
    lines.append("</sitemapindex>")
    return "\n".join(lines) + "\n"


def _write(path: str, text: str) -> None:
    claim(path)
    write_if_changed(path, text.encode("utf-8"))  # unchanged files keep bytes and mtime


def on_finalized(pelican):
    settings = pelican.settings
    options = settings_of(settings)
    canonical = make_canonical(settings.get("SITEURL", ""))
    output = settings["OUTPUT_PATH"]
    pages = sorted(
        (rel, lastmod) for rel, lastmod in _build.pages.items()
        if not any(fnmatch.fnmatch(rel, pattern) for pattern in options["exclude"])
    )
    entries = [(canonical(rel), lastmod) for rel, lastmod in pages]
    if len(entries) <= MAX_URLS:
        _write(os.path.join(output, "sitemap.xml"), sitemap_xml(entries))
    else:
        parts = []
        for n, start in enumerate(range(0, len(entries), MAX_URLS), 1):
            name = f"sitemap-{n}.xml"
            _write(os.path.join(output, name), sitemap_xml(entries[start:start + MAX_URLS]))
            parts.append(canonical(name))
        _write(os.path.join(output, "sitemap.xml"), sitemap_index_xml(parts))
    robots = ["User-agent: *"]
    robots += [f"Disallow: /{p.lstrip('/')}" for p in options["robots_disallow"]] or ["Disallow:"]
    robots.append(f"Sitemap: {canonical('sitemap.xml')}")
    _write(os.path.join(output, "robots.txt"), "\n".join(robots) + "\n")
    logger.info("seo: sitemap with %d pages", len(entries))


class NotFoundGenerator(Generator):
    def generate_output(self, writer):
        # Absolute asset URLs (relative_urls=False): the server shows this page at any missing path.
        writer.write_file("404.html", self.get_template("404"), self.context,
                          relative_urls=False, url="404.html", page_name="404",
                          template_name="404")


def get_generators(pelican):
    return NotFoundGenerator


def register():
    signals.initialized.connect(on_initialized)
    signals.get_generators.connect(get_generators)
    signals.content_written.connect(on_content_written)
    signals.finalized.connect(on_finalized)
