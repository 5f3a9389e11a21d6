"""`python -m editor check`: check the editor-written content before it reaches the site.

Explainers (content/topics/*.md) must have the metadata the topic template reads, the eight sections
in order, the disclaimer before the first section, an "as of" date in the access section, every
in-text citation pointing at an entry of their Sources list, and a Flesch reading ease of at least
50.  Every editor file (content/topics/*.md, content/pages/*.md) must have no broken `{filename}`
link and no link to a heading anchor that does not exist.  content/overrides.toml must be valid, each
entry with a reason and a date, a field that exists, and a record that has a card (harvest/cards/overrides.py).

What the reading-ease score is computed on (the same text for the check and the tests):
the explainer body (metadata removed) is rendered with the Markdown extensions the site uses; the
text of each paragraph, list item and table cell before the "Sources" heading is taken, with all
markup and link targets removed (link words stay), citation markers such as "[3]" removed, and a
full stop added where a block does not end a sentence (so a list item is not glued to the next
one); headings are left out (they are labels, not sentences), the Sources list is left out (it is
a list of document titles).  The blocks are joined with spaces and scored with
textstat.flesch_reading_ease.

Output: one line per problem, "<file>: <problem>"; exit status 1 when there is any problem,
2 when the content folder is missing, else 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import markdown
import textstat
from bs4 import BeautifulSoup

from harvest.records.sanitize import one_line

SECTIONS: tuple[str, ...] = (
    "What it is",
    "How it is thought to work",
    "Who it is studied for",
    "What the evidence says so far",
    "Safety and side effects",
    "Access, cost and regulatory status",
    "Open questions",
    "Sources",
)
EVIDENCE_SECTION = "What the evidence says so far"
ACCESS_SECTION = "Access, cost and regulatory status"
SOURCES_SECTION = "Sources"

DISCLAIMER = (
    "This page explains research evidence. It is not medical advice; "
    "talk to a clinician about your own care."
)
REQUIRED_METADATA = ("title", "slug", "topic", "as_of", "summary")
MIN_READING_EASE = 50.0

# Anchors the topic template adds around every explainer (the site contract); more template
# anchors are read from the theme itself (see template_anchors), so a link to a generated part of a
# page (methods.md → #levels) is checked against the template that will surround it.
TEMPLATE_ANCHORS = frozenset({"evidence-summary"})
_LITERAL_ID_RE = re.compile(r"""\bid=["']([A-Za-z][\w-]*)["']""")

# The site's Markdown setup (pelican.conf.py MARKDOWN) plus `meta`, which Pelican adds itself.
MD_EXTENSIONS = ("meta", "extra", "attr_list", "toc")

_HEADING_RE = re.compile(r"^##[ \t]+(?P<text>.+?)[ \t]*(?:\{[^}]*\})?[ \t]*#*[ \t]*$", re.M)
_FENCE_RE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
# A link target in Markdown `](...)` or HTML `href="..."` form.
_LINK_RE = re.compile(r"\]\(\s*<?(?P<md>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|href=[\"'](?P<html>[^\"']+)[\"']")
_CITATION_MARK_RE = re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]")
_AS_OF_RE = re.compile(
    r"\bas\s+of\s+(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}\s+[A-Z][a-z]+\s+\d{4}|[A-Z][a-z]+\s+\d{1,2},?\s+\d{4})",
    re.I,
)
_SENTENCE_END = (".", "!", "?", ":", ";")


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    def line(self, base: Path | None = None) -> str:
        return f"{_display(self.path, base)}: {self.message}"


def _display(path: Path, base: Path | None) -> str:
    for root in (base, Path.cwd()):
        if root is None:
            continue
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


def _md() -> markdown.Markdown:
    return markdown.Markdown(extensions=list(MD_EXTENSIONS), output_format="html5")


def render(text: str) -> tuple[dict[str, str], str]:
    """Markdown source → (lower-cased metadata, body HTML), the way Pelican's reader sees it."""
    md = _md()
    html = md.convert(text)
    meta = {key.lower(): " ".join(values).strip() for key, values in md.Meta.items()}
    return meta, html


def body_markdown(text: str) -> str:
    """The Markdown after the metadata block (Pelican's metadata ends at the first blank line)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not line.strip():
            return "".join(lines[i + 1 :])
        if i == 0 and not re.match(r"^[A-Za-z][\w-]*:", line):
            return text
    return ""


def sections(body: str) -> list[tuple[str, str]]:
    """`## ` sections of a Markdown body as (heading text, section Markdown), in page order.

    The text before the first heading is returned under the heading "".
    """
    masked = _FENCE_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), body)
    out: list[tuple[str, str]] = []
    start, name = 0, ""
    for m in _HEADING_RE.finditer(masked):
        out.append((name, body[start : m.start()]))
        name, start = m.group("text").strip(), m.end()
    out.append((name, body[start:]))
    return out


def _plain_blocks(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    blocks = []
    for el in soup.find_all(["p", "li", "dt", "dd", "td", "th"]):
        # Containers (a list item holding paragraphs, say) are scored through their children.
        if el.find(["p", "li", "ul", "ol", "dl", "table"]):
            continue
        text = _CITATION_MARK_RE.sub("", el.get_text())
        text = one_line(text)
        text = re.sub(r"\s+([.,;:!?)])", r"\1", text)
        if not text:
            continue
        if not text.endswith(_SENTENCE_END):
            text += "."
        blocks.append(text)
    return blocks


def scored_text(text: str) -> str:
    """The plain text the reading-ease score is computed on (see the module docstring)."""
    body = body_markdown(text)
    kept = [part for name, part in sections(body) if name != SOURCES_SECTION]
    # Headings are dropped by construction: `sections` returns only the text under them.
    _meta, html = render("\n\n".join(kept))
    return " ".join(_plain_blocks(html))


def reading_ease(text: str) -> float:
    return float(textstat.flesch_reading_ease(scored_text(text)))


def html_ids(html: str) -> set[str]:
    soup = BeautifulSoup(html, "html.parser")
    return {el["id"] for el in soup.find_all(id=True)}


class _AnchorCache:
    def __init__(self) -> None:
        self._ids: dict[Path, set[str]] = {}

    def ids(self, path: Path) -> set[str]:
        key = path.resolve()
        if key not in self._ids:
            _meta, html = render(path.read_text(encoding="utf-8"))
            self._ids[key] = html_ids(html)
        return self._ids[key]


def _parse_date(text: str) -> dt.date | None:
    text = re.sub(r"\s+", " ", text.strip().rstrip(","))
    for fmt in ("%Y-%m-%d", "%d %B %Y", "%B %d, %Y", "%B %d %Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def template_for(path: Path, content_dir: Path, theme_dir: Path | None) -> Path | None:
    """The theme template that will surround an editor file on the built page, if there is one."""
    if theme_dir is None:
        return None
    templates = theme_dir / "templates"
    rel = path.resolve().relative_to(content_dir.resolve()).parts
    if rel[0] == "topics":
        return templates / "topic.html"
    specific = templates / f"{path.stem}.html"
    return specific if specific.is_file() else templates / "page.html"


def template_anchors(template: Path | None) -> set[str]:
    """Fixed ids (no Jinja inside) in a template and in base.html, plus the contract's anchors."""
    ids = set(TEMPLATE_ANCHORS)
    if template is None:
        return ids
    for name in (template, template.parent / "base.html"):
        if name.is_file():
            ids |= set(_LITERAL_ID_RE.findall(name.read_text(encoding="utf-8")))
    return ids


def check_links(
    path: Path, content_dir: Path, text: str, anchors: _AnchorCache, theme_dir: Path | None = None
) -> list[Problem]:
    """`{filename}` links must name an existing file; `#anchor`s must exist on the target page."""
    problems = []
    _meta, html = render(text)
    own_ids = html_ids(html) | template_anchors(template_for(path, content_dir, theme_dir))
    for m in _LINK_RE.finditer(_FENCE_RE.sub("", text)):
        target = m.group("md") or m.group("html")
        if target.startswith("{filename}") or target.startswith("|filename|"):
            ref, _, anchor = target[len("{filename}") :].partition("#")
            dest = (content_dir / ref.lstrip("/")) if ref.startswith("/") else (path.parent / ref)
            if not ref or not dest.is_file():
                problems.append(Problem(path, f"broken link {target}: no file {ref or '(empty)'}"))
                continue
            if anchor and dest.suffix == ".md" and anchor not in anchors.ids(dest):
                problems.append(
                    Problem(path, f"broken link {target}: no anchor #{anchor} in {ref.lstrip('/')}")
                )
        elif target.startswith("#") and target[1:] not in own_ids:
            problems.append(Problem(path, f"broken link {target}: no such anchor on this page"))
    return problems


def check_explainer(path: Path, known_topics: set[str] | None = None, min_ease: float = MIN_READING_EASE) -> list[Problem]:
    problems: list[Problem] = []
    text = path.read_text(encoding="utf-8")
    meta, _html = render(text)
    for key in REQUIRED_METADATA:
        if not meta.get(key):
            problems.append(Problem(path, f"missing metadata {key.capitalize()}:"))
    as_of = None
    if meta.get("as_of"):
        as_of = _parse_date(meta["as_of"])
        if as_of is None or meta["as_of"] != as_of.isoformat():
            problems.append(Problem(path, f"As_of {meta['as_of']!r} is not a YYYY-MM-DD date"))
    if meta.get("slug") and meta.get("topic") and meta["slug"] != meta["topic"]:
        problems.append(Problem(path, f"Slug {meta['slug']!r} differs from Topic {meta['topic']!r}"))
    if known_topics is not None and meta.get("topic") and meta["topic"] not in known_topics:
        problems.append(Problem(path, f"Topic {meta['topic']!r} is not in harvest/classification/topics.toml"))

    parts = sections(body_markdown(text))
    found = [name for name, _ in parts[1:]]
    by_name = {name: part for name, part in parts}
    for name in SECTIONS:
        if name not in found:
            problems.append(Problem(path, f'missing section "## {name}"'))
    for name in found:
        if name not in SECTIONS:
            problems.append(Problem(path, f'unexpected section "## {name}" (sections are: {", ".join(SECTIONS)})'))
        elif found.count(name) > 1:
            problems.append(Problem(path, f'section "## {name}" appears {found.count(name)} times'))
    present = [name for name in found if name in SECTIONS]
    if present != [name for name in SECTIONS if name in present]:
        problems.append(Problem(path, f"sections out of order: {' · '.join(present)}"))

    intro_text = " ".join(_plain_blocks(render(parts[0][1])[1]))
    if DISCLAIMER not in one_line(intro_text):
        problems.append(Problem(path, f'missing disclaimer before the first section: "{DISCLAIMER}"'))

    if EVIDENCE_SECTION in by_name and "(#evidence-summary)" not in by_name[EVIDENCE_SECTION].replace(" ", ""):
        problems.append(Problem(path, f'section "{EVIDENCE_SECTION}" does not link to #evidence-summary'))

    if ACCESS_SECTION in by_name:
        dates = [_parse_date(m.group("date")) for m in _AS_OF_RE.finditer(by_name[ACCESS_SECTION])]
        if not any(dates):
            problems.append(Problem(path, f'section "{ACCESS_SECTION}" has no "as of <date>" (e.g. "as of 22 November 2026")'))
        elif as_of is not None and as_of not in dates:
            problems.append(Problem(path, f'section "{ACCESS_SECTION}" "as of" date differs from As_of {as_of}'))

    problems.extend(_check_citations(path, by_name))

    ease = reading_ease(text)
    if ease < min_ease:
        problems.append(Problem(path, f"reading ease {ease:.1f} is below {min_ease:g} (shorter sentences, plainer words)"))
    return problems


def _check_citations(path: Path, by_name: dict[str, str]) -> list[Problem]:
    """Every numbered source is cited in the text, and every citation has a Sources entry."""
    sources = by_name.get(SOURCES_SECTION)
    if sources is None:
        return []
    defined = re.findall(r"id=[\"'](src-[\w-]+)[\"']|\{#(src-[\w-]+)\}", sources)
    defined_ids = {a or b for a, b in defined}
    if not defined_ids:
        return [Problem(path, 'section "Sources" lists no source with an anchor (e.g. <a id="src-1"></a>)')]
    text = "".join(part for name, part in by_name.items() if name != SOURCES_SECTION)
    cited = set(re.findall(r"\]\(#(src-[\w-]+)\)", text))
    return [
        Problem(path, f"source #{anchor} is listed under Sources but never cited in the text")
        for anchor in sorted(defined_ids - cited)
    ]


def _known_topics() -> set[str] | None:
    try:
        from harvest.classification.topics import load_topics
    except ImportError:
        return None
    try:
        return {topic.slug for topic in load_topics()}
    except Exception:  # the topics file's own checks report its problems; this check just skips
        return None


def check_content(
    content_dir: Path, min_ease: float = MIN_READING_EASE, theme_dir: Path | None = None
) -> list[Problem]:
    """Every problem in the editor content under content_dir (theme_dir: the site theme, default
    the `theme` folder next to content_dir, used to resolve links to template-made anchors)."""
    if theme_dir is None and (content_dir.parent / "theme" / "templates").is_dir():
        theme_dir = content_dir.parent / "theme"
    problems: list[Problem] = []
    anchors = _AnchorCache()
    explainers = sorted((content_dir / "topics").glob("*.md"))
    pages = sorted((content_dir / "pages").glob("*.md"))
    if not explainers:
        problems.append(Problem(content_dir / "topics", "no explainers found"))
    known = _known_topics()
    for path in explainers:
        problems.extend(check_explainer(path, known, min_ease))
    for path in explainers + pages:
        problems.extend(check_links(path, content_dir, path.read_text(encoding="utf-8"), anchors, theme_dir))
    glossary = content_dir / "pages" / "glossary.md"
    if glossary.is_file():
        problems.extend(_check_glossary(glossary))
    return problems


def _check_glossary(path: Path) -> list[Problem]:
    """Entries are `## Term {#anchor}` so links keep working when a term's wording changes."""
    problems = []
    seen: set[str] = set()
    for m in re.finditer(r"^##[ \t]+(?P<line>.+)$", path.read_text(encoding="utf-8"), re.M):
        line = m.group("line")
        anchor = re.search(r"\{[^}]*#(?P<id>[\w-]+)[^}]*\}\s*$", line)
        if not anchor:
            problems.append(Problem(path, f'glossary entry "{line.strip()}" has no {{#anchor}}'))
        elif anchor.group("id") in seen:
            problems.append(Problem(path, f"glossary anchor #{anchor.group('id')} is used twice"))
        else:
            seen.add(anchor.group("id"))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m editor check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", type=Path, default=Path("content"), help="content folder (default: content)")
    parser.add_argument("--theme", type=Path, default=None, help="site theme (default: ../theme next to the content folder)")
    parser.add_argument("--min-ease", type=float, default=MIN_READING_EASE, help="lowest Flesch reading ease allowed")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print each explainer's reading ease")
    args = parser.parse_args(argv)
    content_dir: Path = args.content
    if not content_dir.is_dir():
        print(f"{content_dir}: content folder not found", file=sys.stderr)
        return 2
    problems = check_content(content_dir, args.min_ease, args.theme)
    for problem in problems:
        print(problem.line())
    from harvest.cards.overrides import check_overrides

    override_problems = check_overrides(content_dir / "overrides.toml", content_dir)
    for line in override_problems:
        print(line)
    problems = problems + override_problems
    if args.verbose:
        for path in sorted((content_dir / "topics").glob("*.md")):
            score = reading_ease(path.read_text(encoding="utf-8"))
            print(f"{_display(path, None)}: reading ease {score:.1f}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {content_dir}", file=sys.stderr)
        return 1
    return 0
