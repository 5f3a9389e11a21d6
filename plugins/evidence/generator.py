"""Generated pages: home, topic pages with charts, facet listings, Methods, About and Search.

Runs after Pelican's articles and pages generators (plugin generators come after them), so the
evidence context keys and the editor pages are already there.  Everything is written through
Pelican's writer, so relative URLs, `content_written` signals and output overwrite checks behave as
for Pelican's own pages.

Charts are a self-contained job that needs CPU the reading does not (importing pygal, drawing): a
worker process forked when this generator is created imports pygal while Pelican reads the cards, is
sent the chart tables in generate_context, draws on the second core while Pelican writes the card
pages, and is collected in generate_output.  The parent never imports pygal.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections import Counter

from pelican.generators import Generator

from harvest.fileio import atomic_write, claim, holds

from . import charts, edition, edition_file, filters, glance, model
from . import meta as metaanalysis

logger = logging.getLogger(__name__)

# Listing sort variants: URL segment ('' = default) → (label, key function on card articles).
SORTS = {
    "": ("Newest first", lambda a: model.newest_key(a.record)),
    "level/": ("Strongest evidence first", lambda a: model.strength_key(a.record, a.ev["level"])),
}


# The topic values a listing page shows (theme/templates/listing.html, _macros.facet_nav).
LISTING_TOPIC_KEYS = ("topic", "slug", "url", "count", "design_facets", "status_facets")


def _unpinned(art) -> bool:
    """Sort key part: the editors' pinned cards (content/overrides.toml) come first."""
    return not art.ev["pinned"]


def _topic_of_page(page) -> str | None:
    meta = getattr(page, "metadata", {})
    return meta.get("topic") or meta.get("slug")


class EvidencePagesGenerator(Generator):
    def generate_context(self):
        # Nothing to read: the pages are derived from the articles and pages generators' output,
        # whose contexts are complete by now.
        evidence = self.context.get("evidence", [])
        topics = self.context.get("topics", [])
        self.by_path, explainers = self._editor_pages()
        per_topic = {t.slug: [] for t in topics}
        for art in evidence:
            for slug in art.record["topics"]:
                if slug in per_topic:
                    per_topic[slug].append(art)
        for cards in per_topic.values():
            cards.sort(key=_unpinned)  # stable: pinned cards first, the rest stay newest first
        self.topic_data = [self._topic(t, per_topic[t.slug], explainers.get(t.slug)) for t in topics]
        self.context["topic_data"] = self.topic_data
        self.charts = self._start_charts()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The chart worker is forked now, before Pelican reads the cards, so it imports pygal while
        # Pelican reads.  A plain forked Process and a pipe, not a pool: a pool starts a thread in
        # this process, and plugins/search forks again later.
        here, there = multiprocessing.Pipe()
        child = multiprocessing.get_context("fork").Process(
            target=charts.worker, args=(there, here), daemon=True)
        child.start()
        there.close()
        self.chart_worker = (child, here)

    def _start_charts(self) -> dict:
        """file → SVG bytes for cached charts; the chart worker is sent the others to draw."""
        cache_dir = None
        if self.settings.get("EVIDENCE_CHART_CACHE") and self.settings.get("CACHE_PATH"):
            cache_dir = os.path.join(self.settings["CACHE_PATH"], "evidence-charts")
        done, todo = {}, []
        for data in self.topic_data:
            for chart in data["charts"]:
                svg = charts.cached_svg(chart["table"], chart["kind"], cache_dir)
                if svg is None:
                    todo.append((chart["file"], chart["table"], chart["kind"]))
                else:
                    done[chart["file"]] = svg
        if todo:
            self.chart_worker[1].send((todo, cache_dir))
        else:
            # Every chart is cached: the worker may still be importing pygal, and waiting
            # for it would stall this build for nothing.
            self._stop_worker(terminate=True)
        return done

    def _stop_worker(self, terminate: bool = False) -> None:
        child, conn = self.chart_worker
        conn.close()
        if terminate:
            child.terminate()
        child.join()
        self.chart_worker = None

    def _collect_charts(self) -> None:
        if self.chart_worker is None:
            return
        child, conn = self.chart_worker
        try:
            rendered = conn.recv()
        except EOFError:
            rendered = None
        self._stop_worker()
        if rendered is None:
            raise RuntimeError(f"the chart worker died (exit {child.exitcode})")
        if isinstance(rendered, str):
            raise RuntimeError(f"drawing charts failed: {rendered}")
        self.charts.update(rendered)

    # -- data ----------------------------------------------------------------------------------

    def _editor_pages(self):
        pages = list(self.context.get("pages", [])) + list(self.context.get("hidden_pages", []))
        by_path = {p.relative_source_path.replace(os.sep, "/"): p for p in pages}
        explainers = {
            _topic_of_page(p): p for path, p in by_path.items() if path.startswith("topics/")
        }
        return by_path, explainers

    def _listing_specs(self, topic, cards):
        """Every facet listing of a topic: (kind, value, label, base url, cards)."""
        slug = topic.slug
        specs = [("all", None, "All evidence", f"topics/{slug}/all/", cards)]
        by_design, by_status = {}, {}
        for art in cards:
            by_design.setdefault(art.record["design"] or "other", []).append(art)
            if art.record["source"] == "ctgov" and art.record["status"]:
                by_status.setdefault(art.record["status"], []).append(art)
        for design in model.designs_in_order(by_design):
            specs.append(("design", design, model.design_label(design),
                          f"topics/{slug}/design/{design}/", by_design[design]))
        for status in model.statuses_in_order(by_status):
            specs.append(("status", status, f"Trials: {model.status_label(status)}",
                          f"topics/{slug}/status/{model.status_slug(status)}/", by_status[status]))
        return specs

    def _topic(self, topic, cards, explainer):
        page_size = int(self.settings.get("EVIDENCE_PAGE_SIZE") or 50)
        records = [a.record for a in cards]
        specs = self._listing_specs(topic, cards)
        design_facets = [
            {"value": v, "label": label, "level": model.level(v), "level_label": model.level_label(model.level(v)),
             "count": len(items), "url": url}
            for kind, v, label, url, items in specs if kind == "design"
        ]
        status_facets = [
            {"value": v, "label": model.status_label(v), "count": len(items), "url": url}
            for kind, v, label, url, items in specs if kind == "status"
        ]
        strongest = model.strongest_evidence(cards)
        meta_doc = metaanalysis.load(self.settings.get("EVIDENCE_DATA_PATH") or "data", topic.slug) if topic.metapsy else None
        reference = self.context.get("evidence_reference_date")
        recruiting = [a for a in cards if model.is_recruiting(a.record)]
        chart_specs = []
        for kind, name, table in (
            ("publications", "publications-by-year", charts.publications_by_year(records)),
            ("trials", "trials-by-phase-status", charts.trials_by_phase_status(records)),
        ):
            if table:
                chart_specs.append({"kind": kind, "id": f"chart-{name}", "file": f"topics/{topic.slug}/{name}.svg",
                                    "table": table, "alt": charts.describe(table),
                                    "size": [round(v * 100) for v in charts.figsize(table, kind)]})
        return {
            "topic": topic,
            "slug": topic.slug,
            "url": f"topics/{topic.slug}/",
            "cards": cards,
            "count": len(cards),
            "publications": sum(1 for r in records if r["source"] == "pubmed"),
            "trials": sum(1 for r in records if r["source"] == "ctgov"),
            "design_facets": design_facets,
            "status_facets": status_facets,
            "strongest": strongest,
            "gap": model.dissemination_gap(cards),
            "recruiting": recruiting,
            "sources": edition.topic_sources(self.context["edition"], topic.slug, records),
            "charts": chart_specs,
            "explainer": explainer,
            "glance": glance.glance(cards, reference) if reference else None,
            "meta": metaanalysis.view(meta_doc, cards, self.context.get("evidence_by_id", {}), self.settings.get("SITEURL") or "",
                              topic.slug) if meta_doc else None,
            "specs": specs,
            "page_size": page_size,
            "first_page": cards[:page_size],
            "pages": max(1, math.ceil(len(cards) / page_size)),
        }

    # -- output --------------------------------------------------------------------------------

    def _write(self, writer, save_as, template, **kwargs):
        writer.write_file(
            save_as,
            self.get_template(template),
            self.context,
            relative_urls=self.settings["RELATIVE_URLS"],
            **kwargs,
        )

    def _write_bytes(self, rel, data: bytes):
        path = os.path.join(self.output_path, rel)
        claim(path)
        if not holds(path, data):  # unchanged: keep the file (and its mtime)
            atomic_write(path, data)

    def generate_output(self, writer):
        evidence = self.context.get("evidence", [])
        by_path, topic_data = self.by_path, self.topic_data
        for data in topic_data:  # listings first: they need no chart, so the chart worker gets time
            self._write_listings(writer, data)
            filters.forget_once_per_card(data["cards"])
        self._collect_charts()
        for data in topic_data:
            for chart in data["charts"]:
                self._write_bytes(chart["file"], self.charts[chart["file"]])
            if data["meta"]:
                self._write_bytes(data["meta"]["svg_file"], data["meta"]["svg"])
            self._write(writer, data["url"] + "index.html", "topic", topic=data, page_url=data["url"],
                        page_title=data["topic"].name)

        design_counts = Counter(a.record["design"] or "other" for a in evidence)
        self._write(writer, "index.html", "home", page_url="",
                    latest=evidence[: int(self.settings.get("EVIDENCE_LATEST_COUNT") or 10)],
                    intro=by_path.get("pages/home.md"), topic_data=topic_data,
                    design_counts=design_counts, page_title=None)
        self._write(writer, "methods/index.html", "methods", page_url="methods/", page_title="Methods",
                    prose=by_path.get("pages/methods.md"), topic_data=topic_data)
        self._write(writer, "about/index.html", "about", page_url="about/", page_title="About",
                    prose=by_path.get("pages/about.md"))
        self._write(writer, "search/index.html", "search", page_url="search/", page_title="Search")
        try:  # read by the footer of the manifest's pages (theme/static/js/edition.js)
            edition_file.write(self.output_path, self.context, self.settings.get("EVIDENCE_DATA_PATH") or "data")
        except edition_file.EditionFileError as exc:
            logger.error("%s", exc)

    def _write_listings(self, writer, data):
        page_size = data["page_size"]
        # What listing.html and its facet menu show of the topic, not the topic's every card: a listing
        # page is then rendered again only when its own cards or the facet counts changed
        # (plugins/speedups/manifest.py keys a page on the values it is given).
        topic = {k: data[k] for k in LISTING_TOPIC_KEYS}
        for kind, value, label, base, items in data["specs"]:
            pages = max(1, math.ceil(len(items) / page_size))
            orders = {seg: sorted(items, key=lambda a, key=key: (_unpinned(a), key(a)))
                      for seg, (_label, key) in SORTS.items()}
            # Strongest first is written for a topic's whole evidence only.  A design's or a
            # status's cards mostly share one level, and a second copy of every facet listing is a
            # large share of a big site's listing bytes (issue 14's size limits): those pages say
            # which order they are in and link the topic's strongest-first listing.
            agree = orders["level/"] == orders[""]
            sorts = [seg for seg in SORTS if not seg or kind == "all"]
            for sort_seg in sorts:
                sort_label, ordered = SORTS[sort_seg][0], orders[sort_seg]
                first = base + sort_seg
                sort_links = [{"label": SORTS[seg][0], "url": base + seg, "current": seg == sort_seg}
                              for seg in sorts]
                for n in range(1, pages + 1):
                    url = first if n == 1 else f"{first}page/{n}/"
                    page_urls = [first if i == 1 else f"{first}page/{i}/" for i in range(1, pages + 1)]
                    self._write(
                        writer, url + "index.html", "listing",
                        topic=topic, facet={"kind": kind, "value": value, "label": label, "count": len(items)},
                        cards=ordered[(n - 1) * page_size: n * page_size],
                        first_index=(n - 1) * page_size + 1,
                        page_number=n, page_count=pages, page_urls=page_urls,
                        prev_url=page_urls[n - 2] if n > 1 else None,
                        next_url=page_urls[n] if n < pages else None,
                        sort_label=sort_label, sort_links=sort_links, orders_agree=agree, page_url=url,
                        page_title=f"{data['topic'].name}: {label}"
                        + (f" ({sort_label.lower()})" if sort_seg else "")
                        + (f", page {n} of {pages}" if pages > 1 else ""),
                    )
