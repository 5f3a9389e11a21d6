"""Jinja filters and globals for the theme.  Autoescape is on; the only Markup made here is
nh3-sanitized inline HTML and JSON-LD whose '</' sequences are escaped."""

from __future__ import annotations

import datetime as dt
import json
import re

from jinja2 import pass_context
from markupsafe import Markup

from harvest.cards.citations import doi_url
from harvest.records.record import DESIGN_LABELS, DESIGNS, EVIDENCE_LEVELS
from harvest.records.sanitize import clean_inline, one_line

from . import model, reader


def inline_html(markup: str | None) -> Markup:
    """Harvested inline markup (i/b/sup/sub only), sanitized again at render time."""
    return Markup(clean_inline(markup))


def _script_safe(data: object) -> Markup:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=None)
    # Inside <script> only '</' (and '<!--') can end or confuse the data block.
    text = text.replace("</", "<\\/").replace("<!--", "<\\u0021--")
    return Markup(text)


_SCHEMA_STATUS = {
    "RECRUITING": "https://schema.org/Recruiting",
    "NOT_YET_RECRUITING": "https://schema.org/NotYetRecruiting",
    "ENROLLING_BY_INVITATION": "https://schema.org/EnrollingByInvitation",
    "ACTIVE_NOT_RECRUITING": "https://schema.org/ActiveNotRecruiting",
    "COMPLETED": "https://schema.org/Completed",
    "SUSPENDED": "https://schema.org/Suspended",
    "TERMINATED": "https://schema.org/Terminated",
    "WITHDRAWN": "https://schema.org/Withdrawn",
}


def jsonld(record: dict, article, siteurl: str = "") -> Markup:
    """schema.org description of a card: ScholarlyArticle for papers, MedicalStudy types for trials."""
    data: dict = {"@context": "https://schema.org", "name": record.get("title") or record["id"]}
    if siteurl:
        data["url"] = f"{siteurl}/{article.url}"
    ids = []
    if record["source"] == "pubmed":
        data["@type"] = "ScholarlyArticle"
        data["headline"] = (record.get("title") or "")[:110]
        data["author"] = [{"@type": "Person", "name": a} for a in record.get("authors") or []]
        if record.get("journal"):
            data["isPartOf"] = {"@type": "Periodical", "name": record["journal"]}
        if record.get("date") or record.get("year"):
            data["datePublished"] = record.get("date") or str(record["year"])
        if record.get("mesh"):
            data["keywords"] = record["mesh"]
        ids.append({"@type": "PropertyValue", "propertyID": "PMID", "value": record["pmid"]})
        if record.get("doi"):
            ids.append({"@type": "PropertyValue", "propertyID": "DOI", "value": record["doi"]})
        data["sameAs"] = f"https://pubmed.ncbi.nlm.nih.gov/{record['pmid']}/"
    else:
        design = record.get("design")
        data["@type"] = "MedicalObservationalStudy" if design == "observational" else "MedicalTrial"
        ids.append({"@type": "PropertyValue", "propertyID": "NCT", "value": record["nct_id"]})
        if record.get("status") in _SCHEMA_STATUS:
            data["status"] = _SCHEMA_STATUS[record["status"]]
        if record.get("conditions"):
            data["healthCondition"] = [{"@type": "MedicalCondition", "name": c} for c in record["conditions"]]
        if record.get("phases"):
            data["phase"] = model.phase_label(record["phases"])
        data["sameAs"] = f"https://clinicaltrials.gov/study/{record['nct_id']}"
    data["identifier"] = ids
    return _script_safe(data)


def design_label(design: str | None) -> str:
    return model.design_label(design)


def level_of(design: str | None) -> int:
    return model.level(design)


def authors_short(authors: list[str], limit: int = 3) -> str:
    if len(authors) <= limit:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + " et al."


def thousands(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value or "")


@pass_context
def once_per_card(context, macro, art) -> Markup:
    """``macro(art)``, rendered once per card and page depth, then reused.

    A card's list item is the same on every listing, facet page and sort order it appears on (four
    to six of them) except for SITEURL, which relative URLs make depend on the page's depth; so it
    is kept on the article, keyed by SITEURL.
    """
    cache = art.__dict__.setdefault("_once_per_card", {})
    key = (macro.name, context.get("SITEURL"))
    html = cache.get(key)
    if html is None:
        html = cache[key] = Markup(macro(art))
    return html


def forget_once_per_card(cards) -> None:
    """Drop what once_per_card kept for these cards: once a topic's listings are written, most of
    its cards appear on no other page, and keeping every card's items to the end of the build
    would hold a few kilobytes per card.  A card used again is rendered again, to the same HTML."""
    for art in cards:
        art.__dict__.pop("_once_per_card", None)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def long_date(value) -> str:
    """'2026-11-30' -> '30 November 2026'.  Month names are spelled here, not by strftime's %B,
    because Pelican sets the process locale and the site is in English whatever the build machine's."""
    if not value:
        return ""
    day = dt.date.fromisoformat(str(value)[:10])
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def number_word(n: int) -> str:
    """Small counts in words, as running text spells them ('seven treatments')."""
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else thousands(n)


_H2_RE = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', re.S)
_TAG_RE = re.compile(r"<[^>]+>")


def section_links(html: str) -> list[tuple[str, str]]:
    """(id, plain text) of each <h2 id=...> in rendered editor HTML (Markdown's toc extension gives
    every heading an id): the "On this page" list of a topic page."""
    out = []
    for anchor, inner in _H2_RE.findall(html or ""):
        text = Markup(one_line(_TAG_RE.sub("", inner))).unescape()
        if text:
            out.append((anchor, text))
    return out


def pack_citations(ev: dict) -> dict:
    """The card page's packed RIS and BibTeX ({"packed", "ris_bytes"}), made as the page is rendered."""
    return reader.pack_citations(ev["ris"], ev["bib"])


FILTERS = {
    "pack_citations": pack_citations,
    "long_date": long_date,
    "number_word": number_word,
    "inline_html": inline_html,
    "design_label": design_label,
    "level_of": level_of,
    "level_label": model.level_label,
    "status_label": model.status_label,
    "phase_label": model.phase_label,
    "authors_short": authors_short,
    "thousands": thousands,
    "doi_url": doi_url,
    "section_links": section_links,
}

GLOBALS = {
    "once_per_card": once_per_card,
    "DESIGNS": DESIGNS,
    "DESIGN_LABELS": DESIGN_LABELS,
    "EVIDENCE_LEVELS": EVIDENCE_LEVELS,
    "LEVEL_MEANINGS": model.LEVEL_MEANINGS,
    "LEVEL_WORDS": model.LEVEL_WORDS,
    "LEVEL_PLACES": model.LEVEL_PLACES,
    "NO_LEVEL_LABEL": model.NO_LEVEL_LABEL,
    "NO_LEVEL_MEANING": model.NO_LEVEL_MEANING,
    "LINK_GRADES": model.LINK_GRADES,
    "LINK_GRADE_SHORT": model.LINK_GRADE_SHORT,
    "RESULTS_RULES": model.RULES,
}
