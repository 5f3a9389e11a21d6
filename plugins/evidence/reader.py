"""A Markdown reader with a fast path for evidence cards.

Cards are machine-written (harvest/cards/card.py): their metadata is one JSON value per line and their body
is the abstract, which the card template renders from the record itself.  Running Python-Markdown on
them (twice: body, then the formatted Summary field) is most of a stock build's time, so cards are read
with harvest.cards.card.parse_card and everything else still goes through Pelican's MarkdownReader.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import logging
import os
import sys
import zlib

from markupsafe import Markup, escape
from pelican.readers import MarkdownReader
from pelican.utils import SafeDatetime

from harvest.cards.card import parse_card_all
from harvest.cards.citations import bibtex_key, to_bibtex, to_ris
from harvest.cards.overrides import last_corrected
from harvest.errors import CardError
from harvest.records.dates import period_start
# The harvester's policy again at read time: a hand-edited card cannot smuggle markup in.
from harvest.records.sanitize import clean_inline, one_line

from . import editorial, prefetch

logger = logging.getLogger(__name__)

# Editor pages whose body is shown inside a generated page rather than on a page of their own.
EMBEDDED_PAGES = {"pages/home.md": "", "pages/methods.md": "methods/", "pages/about.md": "about/"}


def safe_html(record: dict, title: str) -> dict:
    """Sanitize a card's harvested markup once, at read time: {"title", "abstract"}.

    The templates show these Markup values as they are (card title on every listing it appears in,
    abstract sections, bottom line) instead of running nh3 again per use.
    """
    title_html = record.get("title_html")
    shown = {"title": Markup(clean_inline(title_html)) if title_html else escape(title), "abstract": []}
    for section in record.get("abstract") or []:
        shown["abstract"].append(Markup(clean_inline(section.get("html") or section.get("text"))))
    return shown


def card_content(record: dict, shown: dict) -> str:
    """A card's article.content: the abstract as HTML with labels as headings, for feeds and plain
    themes.  The site's templates render the card from the record, so this is made only when asked
    (Pelican's ``_get_content`` hook, set by ``lazy_content``), not kept for every card."""
    parts = []
    for section, cleaned in zip(record.get("abstract") or [], shown["abstract"]):
        if section.get("label"):
            parts.append(f"<h3>{html.escape(section['label'])}</h3>")
        # Plain text (no html) is escaped before it becomes the content; html was cleaned already.
        body = cleaned if section.get("html") else clean_inline(html.escape(section.get("text") or ""))
        parts.append(f"<p>{body}</p>")
    return "\n".join(parts)


def lazy_content(content) -> None:
    """content_object_init: a card's content is made from its record when something reads it."""
    if getattr(content, "_content", None) == "" and isinstance(getattr(content, "safe_html", None), dict):
        content._get_content = functools.partial(card_content, content.record, content.safe_html)


# Strings up to this long are interned: design, status, topics, MeSH terms, journals, labels and the
# keys of nested objects repeat across thousands of cards and are then held once.
_INTERN_MAX = 100


def compact(value):
    """The same JSON value, its short strings interned and equal title/abstract text and html held once.

    Held for every card until the build ends: at tens of thousands of cards the copies were a large
    share of the build's memory.  Equality, and so every output, is unchanged.
    """
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= _INTERN_MAX else value
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, dict):
        out = {sys.intern(k) if type(k) is str else k: compact(v) for k, v in value.items()}
        if "html" in out and out["html"] == out.get("text"):
            out["html"] = out["text"]  # abstract sections without markup: text and html are equal
        if "title_html" in out and out["title_html"] == out.get("title"):
            out["title_html"] = out["title"]
        return out
    return value


def _date(value: str | None) -> SafeDatetime | None:
    day = period_start(value)
    return SafeDatetime(day.year, day.month, day.day) if day else None


def content_relpath(source_path: str, content_path: str) -> str:
    """'evidence/pubmed/1.md': a content file's path below PATH, with forward slashes."""
    return os.path.relpath(source_path, content_path).replace(os.sep, "/")


def card_entry(source_path: str, rel: str, siteurl: str, overrides: dict | None = None) -> tuple[str, dict]:
    """(content, metadata) of one card: everything that depends on the card file alone and the
    editors' overrides of it (overrides: a harvest.cards.overrides mapping; None = this build's).

    Pure (no logging, no shared state), so the prefetch child can run it for the parent: it raises
    CardError or ValueError for a bad card and the caller reports it.  The citations are made here,
    not when the cards are linked, because they depend on this card only (and so run in parallel).
    """
    with open(source_path, encoding="utf-8") as fh:
        text = fh.read()
    # An editor line stored in the card (cards written before overrides moved to the build) is
    # ignored: content/overrides.toml as it is now is the only source of corrections.
    record, _stored, extras = parse_card_all(text, rel)
    record, editor = editorial.apply(record, overrides)
    record = compact(record)
    head = text.partition("\n\n")[0]
    meta = {}
    for line in head.split("\n"):
        key, _, value = line.partition(": ")
        if key in ("Title", "Date", "Modified", "Slug"):
            meta[key.lower()] = value
    source = record["source"]
    key = record["pmid"] if source == "pubmed" else record["nct_id"]
    # One file per card, not a folder with an index.html: a folder per card would double the file
    # system entries a build creates.
    url = f"evidence/{source}/{key}.html"
    # The title as the card writer puts it on the card's Title line (harvest/cards/card.py), but of
    # the record with the editors' overrides applied: a corrected title is the page's title too.
    title = one_line(record["title"]) or meta.get("title") or record["id"]
    if title == record["title"]:
        title = record["title"]
    shown = safe_html(record, title)
    metadata = {
        "title": title,
        "slug": meta.get("slug") or f"{source}-{key}",
        "url": url,
        "save_as": url,
        "template": "card",
        "record": record,
        "editor": editor,
        "safe_html": shown,
        "history": extras.get("history") or [],
        "scope": extras.get("scope"),
        # What the build manifest keys the card by (plugins/speedups/manifest.py): made here, it
        # travels with Pelican's content cache, so a rebuild need not read the file again to hash it.
        "source_digest": hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest(),
    }
    date = _date(meta.get("date")) or _date(record["date"])
    if date is None and isinstance(record["year"], int):
        date = SafeDatetime(record["year"], 1, 1)
    metadata["date"] = date or SafeDatetime(1970, 1, 1)
    modified = _date(meta.get("modified"))
    corrected = _date(last_corrected(editor))
    if corrected:
        # The sitemap's lastmod (plugins/seo) is the latest of the source's dates and the correction's.
        modified = max(d for d in (modified, metadata["date"], corrected) if d)
    if modified:
        metadata["modified"] = modified
    if editor and editor.get("hidden"):
        # Pelican writes hidden articles but lists them nowhere; the evidence context, feeds, exports,
        # search index and sitemap take only listed cards.  The URL keeps a short "withdrawn" page.
        metadata["status"] = "hidden"
        metadata["template"] = "withdrawn"
    elif extras.get("scope"):
        # Out of scope (harvest/records/drift.py): a hidden article too, with its own short page saying why.
        metadata["status"] = "hidden"
        metadata["template"] = "out_of_scope"
    else:
        metadata["citations"] = citations(record, f"{siteurl.rstrip('/')}/{url}")
    return "", metadata  # content: made when asked (lazy_content)


def citations(record: dict, url: str) -> dict:
    """The card's RIS and BibTeX (with their key), shared by its page and the download files.  The
    page's packed form (pack_citations) is made when the page is rendered (filter pack_citations):
    kept for every card it would add a kilobyte or two to each card's memory for the whole build."""
    key = bibtex_key(record)
    return {"ris": to_ris(record, url), "bib_key": key, "bib": to_bibtex(record, key, url)}


def pack_citations(ris: str, bib: str) -> dict:
    """RIS then BibTeX as one zlib stream in base64, for the card page to carry
    (theme/templates/_card_cite.html, read back by theme/static/js/cite.js), and where the RIS
    bytes end.  Compressed together they take about half the bytes of the two texts escaped into
    the page (the abstract is in the RIS), on every card page of the site; base64 also leaves
    nothing in the harvested text that HTML could read, and carries RIS's CR LF line ends, which an
    HTML parser would turn into LF.  zlib, not the faster ISA-L: ISA-L once packed the same text
    into different bytes in two builds, and a page must not change when its card did not."""
    ris_bytes = ris.encode("utf-8")
    packed = zlib.compress(ris_bytes + bib.encode("utf-8"), 9)
    return {"packed": base64.b64encode(packed).decode("ascii"), "ris_bytes": len(ris_bytes)}


class EvidenceReader(MarkdownReader):
    """Registered for .md: cards under evidence/ take the fast path, other files are Markdown."""

    def read(self, source_path):
        rel = content_relpath(source_path, self.settings["PATH"])
        if rel.startswith("evidence/"):
            return self.read_card(source_path, rel)
        content, metadata = super().read(source_path)
        return content, self._page_metadata(rel, metadata)

    def read_card(self, source_path: str, rel: str):
        entry = prefetch.take(source_path)  # read ahead by the prefetch child, or None
        try:
            if entry is None:
                return card_entry(source_path, rel, self.settings.get("SITEURL") or "")
            ok, value = entry
            if not ok:
                raise value  # the child's error, handled exactly as if it had happened here
            # Interned again here: strings that came through the pipe are new copies.
            value[1]["record"] = compact(value[1]["record"])
            return value
        except (CardError, ValueError) as exc:
            # One clear line naming the file; --fatal errors turns it into a failed build.
            logger.error("evidence card %s: %s", rel, exc)
            return "", {"status": "skip"}

    def _page_metadata(self, rel: str, metadata: dict) -> dict:
        if rel.startswith("topics/"):
            # Explainers are shown on the generated topic page; links to them land there.
            slug = metadata.get("topic") or metadata.get("slug") or os.path.splitext(os.path.basename(rel))[0]
            metadata["url"] = f"topics/{slug}/"
            metadata["save_as"] = ""
        elif rel in EMBEDDED_PAGES:
            metadata["url"] = EMBEDDED_PAGES[rel]
            metadata["save_as"] = ""
        return metadata
