"""Topics: the editor's configuration in ``harvest/classification/topics.toml``, loaded into :class:`Topic` objects.

The harvester takes each topic's queries from here, the classifier its terms and MeSH descriptors,
and the site its names and exact queries.  Adding a topic means editing the TOML file only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harvest.errors import ConfigError
from harvest.fileio import read_toml
from harvest.sources.metapsy.pool import METAPSY_RE

TOPICS_PATH = Path(__file__).with_name("topics.toml")

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Names the site already uses beside the topics' slugs: the site-wide downloads and feed
# (downloads/all.*, feeds/all.atom.xml) would be overwritten by a topic's own.
RESERVED_SLUGS = frozenset({"all"})
_TOPIC_KEYS = {"slug", "name", "summary", "pubmed_query", "ctgov", "terms", "mesh", "context", "hints", "metapsy"}
_SCOPE_KEYS = {"name", "pubmed", "ctgov", "terms", "mesh", "ignore", "context", "hints", "healthy"}


@dataclass(frozen=True)
class Topic:
    slug: str
    name: str
    summary: str
    pubmed_query: str  # exact ESearch term, {scope} already expanded
    # ClinicalTrials.gov query.* parameters, {scope} already expanded (left out of the hash: a dict)
    ctgov: dict[str, str] = field(hash=False)
    terms: tuple[str, ...]  # words naming the treatment
    mesh: tuple[str, ...]  # MeSH descriptors naming the treatment
    # (term, context words): an ambiguous term ("TMS") counts only in a record that also names one
    # of its context words ("stimulation"); the term is one of `terms`.
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    hints: tuple[str, ...] = ()  # the treatment's class ("psychedelic"): supports, never makes, the treatment
    scope_name: str = "Mood disorders"
    scope_terms: tuple[str, ...] = ()  # words naming a mood disorder
    scope_mesh: tuple[str, ...] = ()  # MeSH descriptors naming a mood disorder
    ignore: tuple[str, ...] = ()  # phrases masked before matching ("respiratory depression")
    scope_context: tuple[tuple[str, tuple[str, ...]], ...] = ()  # as `context`, for scope terms
    scope_hints: tuple[str, ...] = ()  # words that support, but never make, the scope ("antidepressant")
    scope_healthy: tuple[str, ...] = ()  # title phrases saying the people studied are healthy
    metapsy: str | None = None  # GitHub owner/name of a Metapsy living meta-analytic database
    # Not part of equality/hash: derived from the fields above.
    url: str = field(default="", compare=False)

    def __post_init__(self):
        object.__setattr__(self, "url", f"/topics/{self.slug}/")


def load_topics(path: str | Path | None = None) -> list[Topic]:
    """Read and validate the topics file.  Raises ConfigError naming the file and the problem."""
    path = Path(path) if path is not None else TOPICS_PATH
    try:
        doc = read_toml(path, "topics")
    except FileNotFoundError:
        raise ConfigError(f"{path}: cannot read topics file: No such file or directory") from None

    def fail(where: str, problem: str):
        raise ConfigError(f"{path}: {where}: {problem}")

    scope = doc.get("scope")
    if not isinstance(scope, dict):
        fail("[scope]", "missing table")
    unknown = set(scope) - _SCOPE_KEYS
    if unknown:
        fail("[scope]", f"unknown keys {', '.join(sorted(unknown))}")
    scope_name = _string(scope, "name", "[scope]", fail)
    scope_pubmed = _string(scope, "pubmed", "[scope]", fail)
    scope_ctgov = _string(scope, "ctgov", "[scope]", fail)
    scope_terms = _strings(scope, "terms", "[scope]", fail)
    scope_mesh = _strings(scope, "mesh", "[scope]", fail, required=False)
    ignore = _strings(scope, "ignore", "[scope]", fail, required=False)
    scope_context = _context(scope, scope_terms, "[scope]", fail)
    scope_hints = _strings(scope, "hints", "[scope]", fail, required=False)
    scope_healthy = _strings(scope, "healthy", "[scope]", fail, required=False)

    entries = doc.get("topic")
    if not isinstance(entries, list) or not entries:
        fail("[[topic]]", "no topics defined")
    extra = set(doc) - {"scope", "topic"}
    if extra:
        fail("top level", f"unknown tables {', '.join(sorted(extra))}")
    topics: list[Topic] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, 1):
        where = f"topic {n}"
        if not isinstance(entry, dict):
            fail(where, "not a table")
        slug = entry.get("slug")
        if isinstance(slug, str):
            where = f"topic {slug!r}"
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            fail(where, "slug must be lowercase letters, digits and single hyphens")
        if slug in RESERVED_SLUGS:
            fail(where, f"slug {slug!r} is reserved (the site-wide downloads and feed use it)")
        if slug in seen:
            fail(where, "duplicate slug")
        seen.add(slug)
        unknown = set(entry) - _TOPIC_KEYS
        if unknown:
            fail(where, f"unknown keys {', '.join(sorted(unknown))}")
        ctgov = entry.get("ctgov")
        if not isinstance(ctgov, dict) or not ctgov:
            fail(where, "ctgov must be a table of query.* parameters")
        for key, value in ctgov.items():
            if not key.startswith("query.") or not isinstance(value, str) or not value.strip():
                fail(where, f"ctgov.{key}: keys must be query.* and values non-empty strings")
        query = _string(entry, "pubmed_query", where, fail)
        metapsy = entry.get("metapsy")
        if metapsy is not None and (not isinstance(metapsy, str) or not METAPSY_RE.match(metapsy)
                                    or metapsy.split("/")[1] in (".", "..")):
            fail(where, "metapsy must be a GitHub repository as owner/name "
                        "(e.g. metapsy-project/data-depression-psiloctr)")
        topics.append(
            Topic(
                slug=slug,
                name=_string(entry, "name", where, fail),
                summary=_string(entry, "summary", where, fail),
                pubmed_query=query.replace("{scope}", scope_pubmed),
                ctgov={k: v.replace("{scope}", scope_ctgov) for k, v in sorted(ctgov.items())},
                terms=_strings(entry, "terms", where, fail),
                mesh=_strings(entry, "mesh", where, fail, required=False),
                context=_context(entry, _strings(entry, "terms", where, fail), where, fail),
                hints=_strings(entry, "hints", where, fail, required=False),
                scope_name=scope_name,
                scope_terms=scope_terms,
                scope_mesh=scope_mesh,
                ignore=ignore,
                scope_context=scope_context,
                scope_hints=scope_hints,
                scope_healthy=scope_healthy,
                metapsy=metapsy,
            )
        )
    return topics


def _string(table: dict, key: str, where: str, fail) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        fail(where, f"{key} must be a non-empty string")
    return value.strip()


def _strings(table: dict, key: str, where: str, fail, required: bool = True) -> tuple[str, ...]:
    value = table.get(key, None if required else [])
    if not isinstance(value, list) or (required and not value):
        fail(where, f"{key} must be a {'non-empty ' if required else ''}list of strings")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            fail(where, f"{key} must contain only non-empty strings")
        out.append(item.strip())
    return tuple(out)


def _context(table: dict, terms: tuple[str, ...], where: str, fail) -> tuple[tuple[str, tuple[str, ...]], ...]:
    value = table.get("context", {})
    if not isinstance(value, dict):
        fail(where, "context must be a table of term = [context words]")
    out = []
    for term, words in sorted(value.items()):
        if term not in terms:
            fail(where, f"context.{term}: not one of the terms")
        out.append((term, _strings(value, term, f"{where} context", fail)))
    return tuple(out)
