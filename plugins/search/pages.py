"""Search documents for what readers read besides cards: topic explainers, glossary entries, Methods.

Each becomes one small HTML document that plugins/search hands Pagefind with the cards.  A document
says what kind of page it is (a ``type`` filter and metadata the result shows), and the page a reader
lands on: an explainer is its topic page, Methods its page, and each glossary entry its own result
that opens the glossary at that entry (Pagefind's ``url`` metadata overrides the document's path).

Explainers and glossary entries are written for readers; cards are records of research.  A reader
searching "TMS" or "CYP2D6" wants the explanation first: see SUBJECT_META.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harvest.records.sanitize import one_line

# Labels of the ``type`` filter, also used by search_doc.html for cards.
EXPLAINER, GLOSSARY, METHODS = "Explainer", "Glossary entry", "Methods"

# A query that names what a page is about should find that page first.  Each kind of page carries
# what it is about (its title with its summary; a glossary entry's whole short text) in its own
# metadata field, which search.js boosts (Pagefind's ranking.metaWeights; result tags leave them out):
# the explainer, the site's main page on a treatment, above the glossary's definitions, both above
# cards, whose titles only get Pagefind's default title boost.  The weights in search.js were set
# with tests/test_search_pages.py's queries, each of which must find the explainer or glossary entry
# above cards that name the same term in their titles.
SUBJECT_META = {EXPLAINER: "explains", GLOSSARY: "defines", METHODS: "describes"}

# Glossary entries are the glossary page's level-2 headings with ids (Markdown ``## Word {#id}``).
_ENTRY_RE = re.compile(r'<h2 id="(?P<id>[^"]+)">(?P<title>.*?)</h2>', re.S)
_TAG_RE = re.compile(r"<[^>]+>")
# Every explainer opens with the same not-medical-advice line (Markdown ``{: .disclaimer }``); in the
# index it would only push the words a reader searched for out of the result's excerpt.
_DISCLAIMER_RE = re.compile(r'<p class="disclaimer">.*?</p>\s*', re.S)


@dataclass
class PageDoc:
    kind: str          # EXPLAINER, GLOSSARY or METHODS
    title: str         # plain text (escaped by the template)
    save_as: str       # where the document is written for Pagefind (its URL unless `url` is set)
    body: str          # the page's own HTML, as the site shows it
    url: str | None = None
    topic: str | None = None
    subject: str = ""  # what the page is about, in a few words (the `subject` metadata)

    @property
    def subject_key(self) -> str:
        return SUBJECT_META[self.kind]


def _plain(html: str) -> str:
    return one_line(_TAG_RE.sub(" ", html))


def _page(pages, relpath: str):
    return next((p for p in pages if p.relative_source_path.replace("\\", "/") == relpath), None)


def glossary_entries(page) -> list[PageDoc]:
    """One document per entry: its heading and the text up to the next entry's heading."""
    html = page.content
    matches = list(_ENTRY_RE.finditer(html))
    docs = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(html)
        title = one_line(_TAG_RE.sub("", m.group("title")))
        entry_id = m.group("id")
        body = html[m.end():end]
        docs.append(PageDoc(GLOSSARY, title, f"{page.save_as.rsplit('/', 1)[0]}/{entry_id}/index.html",
                            body, url=f"/{page.url}#{entry_id}", subject=f"{title}. {_plain(body)}"))
    return docs


def page_docs(context: dict) -> list[PageDoc]:
    """Every non-card document: explainers (from the evidence plugin's topic data), glossary, Methods."""
    docs = []
    for data in context.get("topic_data") or []:
        explainer = data.get("explainer")
        if explainer is not None:
            name = data["topic"].name
            summary = _plain(explainer.metadata.get("summary") or "")
            docs.append(PageDoc(EXPLAINER, name, data["url"] + "index.html",
                                _DISCLAIMER_RE.sub("", explainer.content),
                                topic=name, subject=f"{name}. {summary}"))
    pages = list(context.get("pages") or []) + list(context.get("hidden_pages") or [])
    glossary = _page(pages, "pages/glossary.md")
    if glossary is not None:
        docs.extend(glossary_entries(glossary))
    methods = _page(pages, "pages/methods.md")
    if methods is not None:
        docs.append(PageDoc(METHODS, methods.title, "methods/index.html", methods.content,
                            subject=f"{methods.title}. {_plain(methods.metadata.get('summary') or '')}"))
    return docs
