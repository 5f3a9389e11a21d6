"""Which topics a record is about: a deterministic, explainable score over the record's own fields.

A record belongs to a topic when it is about the topic's **treatment** *and* about a **mood
disorder** (a condition: depression in its forms, bipolar disorder, suicidal ideation and behaviour
— a drug class such as "antidepressant" is not a condition).  Each of the two questions gets a score
from the record's fields, and both scores must reach 3 points:

=========================================  =================  ====================
field                                      treatment points   mood-disorder points
=========================================  =================  ====================
title names it                             3                  3
a MeSH heading is one of its descriptors   3                  3
a trial intervention (or its other name)   3                  —
a trial condition names it                 —                  2
an author keyword names it                 2                  2
each mention in the abstract or in a       1 (at most 3)      1 (at most 3)
trial's intervention descriptions
=========================================  =================  ====================

A trial's MeSH terms are NLM's mapping of its own conditions and interventions, so they restate
those fields: when a condition or intervention already scored they add nothing, otherwise they
count as a condition (2) would.  So the title alone, an article's MeSH heading alone or a trial's
intervention list alone is enough; a trial's condition list needs its title or summary to name the
mood disorder too (sponsors list secondary conditions); an author keyword needs one more mention;
the abstract alone needs three separate mentions.  A single mention
deep in an abstract ("patients previously given ketamine were excluded") is a mention in passing and
earns 1 point — not enough.  A trial's eligibility criteria are never read (the parsers do not even
keep them): their exclusion lists name treatments the trial is not about.

Words and MeSH descriptors come from ``harvest/classification/topics.toml`` (the treatment's ``terms``/``mesh``/
``context`` per topic; the mood-disorder ``terms``/``mesh``/``context`` and the ``ignore`` phrases
under ``[scope]``).  Text is read as a sequence of words (runs of letters and digits; spaces, hyphens
and punctuation separate them).  A term matches the same words in the same order,
case-insensitively unless it is written in capitals (acronyms such as "TMS"), with a plural allowed
on its last word ("s", "es", "y" → "ies"); a term of several words also matches them written as
one ("theta burst" finds "theta-burst" and "thetaburst").  A term never matches part of a word:
"ketamine" does not count inside "esketamine" (which is listed too).  A MeSH heading counts only
when it *is* one of the descriptors, whole: "Antidepressive Agents, Tricyclic" is not "Depression".
A term listed under ``context`` ("TMS", "SAD", "ECT") counts only in a record that also names one of
its context words anywhere in the fields above ("TMS" with "stimulation" or "transcranial", not
trimethylsilyl chemistry; "SAD" with "seasonal" or "winter", not social anxiety disorder).
A drug class listed under ``hints`` adds one point at most, so it supports a specific name but never
stands in for one: for the mood disorder "antidepressant" or the heading "Antidepressive Agents" (a
class of drugs, not a condition); for psilocybin "psychedelic" (LSD and DMT are psychedelics too).
A title that says the people studied are healthy (``healthy`` under ``[scope]``: "in healthy
volunteers") makes the record not about a mood disorder unless the title also names one, because
the abstract of such a study names the disorder only as what the treatment is used for.
``ignore`` phrases ("respiratory depression", "neonatal phototherapy") are masked before anything
else is counted, because they use a topic's word in a sense that has nothing to do with it.

The result depends only on the record's own fields and the topics file, so a record gets the same
topics whether it arrived live, from the replay cache, or through two different topic queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

THRESHOLD = 3
TREATMENT_POINTS = {"title": 3, "mesh": 3, "interventions": 3, "keywords": 2}
# A trial's condition list is the sponsor's own, often with secondary conditions ("Depression;
# Mental Health Issue" for a workplace wellbeing app): it needs the title or summary to agree.
SCOPE_POINTS = {"title": 3, "mesh": 3, "conditions": 2, "keywords": 2}
ABSTRACT_POINT = 1
ABSTRACT_MAX = 3

# Words are runs of letters and digits; everything else (spaces, hyphens, commas, brackets)
# separates them.  "S-ketamine" is the words "s", "ketamine"; "esketamine" is one word.
_WORD_RE = re.compile(r"[^\W_]+")


def _words(term: str) -> tuple[str, ...]:
    return tuple(_WORD_RE.findall(term))


def _is_acronym(term: str) -> bool:
    letters = [c for c in term if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _plurals(word: str) -> tuple[str, ...]:
    """The word and the plural forms a term's last word may take ("therapy" → "therapies")."""
    forms = [word, word + "s", word + "es"]
    if len(word) > 2 and word.endswith("y"):
        forms.append(word[:-1] + "ies")
    return tuple(forms)


def _index(groups: dict[str, tuple[str, ...]]) -> dict[str, list]:
    """first word (lowercased) → [(group, all words lowercased, original words if case matters, term)]."""
    index: dict[str, list] = {}
    for group, terms in groups.items():
        for term in terms:
            words = _words(term)
            if not words:
                continue
            exact_case = _is_acronym(term)
            variants = [words]
            if len(words) > 1:  # "theta burst" also matches "thetaburst"
                variants.append(("".join(words),))
            for variant in variants:
                lows = tuple(w.lower() for w in variant)
                entry = (group, lows, variant if exact_case else None, term)
                # A one-word term's plurals are indexed directly, so a lookup needs no second try.
                firsts = _plurals(lows[0]) if len(lows) == 1 else (lows[0],)
                for first in firsts:
                    bucket = index.setdefault(first, [])
                    if entry not in bucket:
                        bucket.append(entry)
    for bucket in index.values():  # longest terms first: "deep TMS" wins over "TMS"
        bucket.sort(key=lambda e: (-len(e[1]), e[0], e[1], e[3]))
    return index


def _match_at(text, lows, i, term_lows, exact, cache) -> bool:
    last = len(term_lows) - 1
    for j in range(1, last + 1):
        w = lows[i + j]
        t = term_lows[j]
        if w != t and not (j == last and w in _plurals(t)):
            return False
    if exact is not None:
        words = cache.get("words")
        if words is None:  # the words as written are only needed for acronyms
            words = cache["words"] = _WORD_RE.findall(text)
        for j, t in enumerate(exact):
            w = words[i + j]
            if w != t and w != t + "s":
                return False
    return True


IGNORE = "\x00ignore"  # group names that cannot clash with a topic slug
SCOPE = "\x00scope"
HEALTHY = "\x00healthy"
HINT_POINTS = 1
_SEP = "\x00"


def _hint_group(group: str) -> str:
    """Group of the class words (hints) of the scope or of one topic."""
    return f"{group}{_SEP}hint"


def _context_groups(group: str, term: str) -> tuple[str, str]:
    """(group of the ambiguous term, group of its context words) for one `context` entry."""
    return f"{group}{_SEP}{term}", f"{group}{_SEP}{term}{_SEP}ctx"


def _count(index, text: str) -> dict[str, list]:
    """Per group, its non-overlapping mentions as (first word, end word, term), longest match first.

    Mentions that overlap an ignore phrase do not count.
    """
    cache: dict = {}
    if text.isascii():
        lows = _WORD_RE.findall(text.lower())
    else:  # a few characters change length when lowercased: lowercase word by word
        words = cache["words"] = _WORD_RE.findall(text)
        lows = [w.lower() for w in words]
    hits = [i for i, w in enumerate(lows) if w in index]
    if not hits:
        return {}
    n = len(lows)
    found: dict[str, list[tuple[int, int, str]]] = {}
    for i in hits:
        for group, term_lows, exact, term in index[lows[i]]:
            k = len(term_lows)
            spans = found.get(group)
            if spans and spans[-1][1] > i:  # this group already covers this word
                continue
            if i + k > n:
                continue
            if (k > 1 or exact is not None) and not _match_at(text, lows, i, term_lows, exact, cache):
                continue
            if spans is None:
                found[group] = [(i, i + k, term)]
            else:
                spans.append((i, i + k, term))
    masked = found.pop(IGNORE, None)
    if masked:
        skip = {j for start, end, _ in masked for j in range(start, end)}
        found = {
            g: kept
            for g, spans in found.items()
            if (kept := [s for s in spans if not any(j in skip for j in range(s[0], s[1]))])
        }
    return found


class Lexicon:
    """All the terms of a topics list, compiled once: the scope, each topic, and the ignore list.

    Matching works on words, not characters: each text is split into words once, and only the
    words that start some term are looked at, in one dict shared by every topic, so the cost grows
    with the length of the text, not with the number of terms.
    """

    SCOPE = SCOPE

    def __init__(self, topics):
        topics = list(topics)
        first = topics[0]
        def scope_of(t):
            return (t.scope_terms, t.scope_mesh, t.ignore, t.scope_context, t.scope_hints, t.scope_healthy)

        shared = scope_of(first)
        for t in topics:
            if scope_of(t) != shared:
                raise ValueError(f"topic {t.slug!r}: all topics must share one [scope]")
        groups = {IGNORE: first.ignore, HEALTHY: first.scope_healthy, _hint_group(SCOPE): first.scope_hints}
        for t in topics:
            groups[_hint_group(t.slug)] = t.hints
        # group → [(group of the ambiguous term, group of its context words)]
        self.contextual: dict[str, list[tuple[str, str]]] = {}
        for group, terms, context in [(SCOPE, first.scope_terms, first.scope_context)] + [
            (t.slug, t.terms, t.context) for t in topics
        ]:
            ambiguous = dict(context)
            groups[group] = tuple(term for term in terms if term not in ambiguous)
            for term, words in context:
                term_group, words_group = _context_groups(group, term)
                groups[term_group] = (term,)
                groups[words_group] = words
                self.contextual.setdefault(group, []).append((term_group, words_group))
        self.index = _index(groups)
        self.scope_mesh = frozenset(m.casefold() for m in first.scope_mesh)
        self.mesh = {t.slug: frozenset(m.casefold() for m in t.mesh) for t in topics}
        self.mesh[SCOPE] = self.scope_mesh

        self._short: dict[str, Hits] = {}

    def read(self, text) -> "Hits":
        """Every group's mentions in one piece of text."""
        if not isinstance(text, str) or not text:
            return Hits("", {})
        if len(text) > 120:
            return Hits(text, _count(self.index, text))
        # MeSH headings, keywords and conditions repeat across records: remember short texts.
        hits = self._short.get(text)
        if hits is None:
            if len(self._short) > 100_000:
                self._short.clear()
            hits = self._short[text] = Hits(text, _count(self.index, text))
        return hits


@dataclass(frozen=True)
class Hits:
    text: str
    spans: dict  # group → [(first word, end word, term)]


@lru_cache(maxsize=32)
def _lexicon(topics: tuple) -> Lexicon:
    return Lexicon(topics)


def lexicon(topics) -> Lexicon:
    return _lexicon(tuple(topics))


@dataclass(frozen=True)
class _Fields:
    title: Hits
    abstract: list  # the abstract's parts, then a trial's intervention descriptions
    mesh: list
    keywords: list
    conditions: list
    interventions: list  # a trial's intervention names, then their other names
    derived_mesh: bool  # a trial's MeSH terms are NLM's mapping of its conditions and interventions
    active: frozenset  # groups of ambiguous terms whose context the record names

    def mentions(self, hits: Hits, group: str, contextual: dict) -> list[tuple[int, int, str]]:
        """The group's mentions in one text: its plain terms, and its ambiguous terms in context."""
        spans = list(hits.spans.get(group, ()))
        for term_group, _words in contextual.get(group, ()):
            if term_group in self.active:
                for span in hits.spans.get(term_group, ()):
                    if not any(span[0] < s[1] and s[0] < span[1] for s in spans):
                        spans.append(span)
        return spans


# The record fields a verdict is read from (_read): a card whose editors corrected one of them shows
# reasons found in the harvested wording, and says so.
FIELDS_READ = frozenset({"title", "abstract", "intervention_descriptions", "mesh", "keywords", "conditions",
                         "interventions", "intervention_other_names"})


def _read(record: dict, lex: Lexicon) -> _Fields:
    def many(values) -> list:
        return [lex.read(v) for v in (values or []) if isinstance(v, str)]

    title = lex.read(record.get("title"))
    abstract = [lex.read(p.get("text")) for p in (record.get("abstract") or []) if isinstance(p, dict)]
    abstract += many(record.get("intervention_descriptions"))
    mesh = many(record.get("mesh"))
    keywords = many(record.get("keywords"))
    conditions = many(record.get("conditions"))
    interventions = many(record.get("interventions")) + many(record.get("intervention_other_names"))
    named = set()
    for hits in [title, *abstract, *mesh, *keywords, *conditions, *interventions]:
        named.update(hits.spans)
    active = frozenset(
        term_group
        for pairs in lex.contextual.values()
        for term_group, words_group in pairs
        if words_group in named
    )
    derived = record.get("source") == "ctgov"
    return _Fields(title, abstract, mesh, keywords, conditions, interventions, derived, active)


def _quote(terms) -> str:
    return ", ".join(f"“{t}”" for t in dict.fromkeys(terms))


def _score(fields: _Fields, lex: Lexicon, group: str, points: dict[str, int]) -> tuple[int, list[str], list[str]]:
    """(score, reasons with points, the same reasons in words for a reader)."""
    mesh = lex.mesh[group]
    contextual = lex.contextual

    def named(hits: Hits) -> list[str]:
        return [term for _s, _e, term in fields.mentions(hits, group, contextual)]

    score = 0
    reasons: list[str] = []
    words: list[str] = []
    terms = named(fields.title)
    if group == SCOPE and not terms:
        healthy = fields.title.spans.get(HEALTHY)
        if healthy:
            # A study of healthy people is not about a mood disorder, however often its abstract
            # names the disorder the treatment is used for ("esketamine ... in healthy individuals",
            # with "major depressive disorder" as background).  A title naming both the healthy and
            # a mood disorder ("in healthy volunteers and patients with MDD") still counts.
            term = healthy[0][2]
            return 0, [f"title: {term!r}, people without a mood disorder (0)"], [f"title names “{term}”"]
    if terms:
        score += points["title"]
        reasons.append(f"title (+{points['title']})")
        words.append(f"title names {_quote(terms)}")
    mesh_hit = next((d.text for d in fields.mesh if d.text.casefold() in mesh), None)
    listed = False
    for key in ("interventions", "conditions"):
        if key in points:
            hit = next((v for v in getattr(fields, key) if named(v)), None)
            if hit is not None:
                listed = True
                score += points[key]
                reasons.append(f"{key[:-1]} {hit.text!r} (+{points[key]})")
                words.append(f"{key[:-1]} “{hit.text}”")
    if mesh_hit is not None:
        # A trial's MeSH terms restate its conditions and interventions: one statement, counted once.
        if not fields.derived_mesh:
            gained = points["mesh"]
        elif listed:
            gained = 0
        else:
            gained = min(points["mesh"], points.get("conditions", points["mesh"]))
        score += gained
        reasons.append(f"MeSH {mesh_hit!r} (+{gained})")
        words.append(f"MeSH heading “{mesh_hit}”")
    hit = next((k for k in fields.keywords if named(k)), None)
    if hit is not None:
        score += points["keywords"]
        reasons.append(f"keyword {hit.text!r} (+{points['keywords']})")
        words.append(f"keyword “{hit.text}”")
    # A drug class is not a condition ("antidepressant"), nor one treatment ("psychedelic" is also
    # LSD and DMT): one point at most, never enough alone, so it completes a specific name that
    # already counts twice (an author keyword; two mentions in the abstract) but stands in for none.
    hint = _hint_group(group)
    everywhere = [fields.title, *fields.mesh, *fields.keywords, *fields.abstract]
    terms = [t for hits in everywhere for _s, _e, t in hits.spans.get(hint, ())]
    if terms:
        score += HINT_POINTS
        reasons.append(f"drug class {terms[0]!r} (+{HINT_POINTS})")
        words.append(f"drug class {_quote(terms)}")
    terms = [term for part in fields.abstract for term in named(part)]
    if terms:
        mentions = len(terms)
        gained = min(mentions, ABSTRACT_MAX) * ABSTRACT_POINT
        score += gained
        reasons.append(f"{mentions} abstract mention{'s' if mentions > 1 else ''} (+{gained})")
        words.append(f"{mentions} mention{'s' if mentions > 1 else ''} of {_quote(terms)} in the text")
    return score, reasons, words


def explain(record: dict, topics) -> list[dict]:
    """Per topic: both scores with their reasons and the verdict."""
    topics = list(topics)
    if not topics:
        return []
    lex = lexicon(topics)
    fields = _read(record, lex)
    scope, scope_reasons, scope_words = _score(fields, lex, Lexicon.SCOPE, SCOPE_POINTS)
    out = []
    for topic in topics:
        treatment, reasons, words = _score(fields, lex, topic.slug, TREATMENT_POINTS)
        out.append(
            {
                "slug": topic.slug,
                "treatment": treatment,
                "treatment_reasons": reasons,
                "scope": scope,
                "scope_reasons": scope_reasons,
                "match": treatment >= THRESHOLD and scope >= THRESHOLD,
                "why": f"treatment: {'; '.join(words)} — mood disorder: {'; '.join(scope_words)}",
            }
        )
    return out


def classify(record: dict, topics) -> list[str]:
    """Slugs of the topics the record is about, in topics order."""
    return [r["slug"] for r in explain(record, topics) if r["match"]]


def classify_with_reasons(record: dict, topics) -> tuple[list[str], dict[str, str]]:
    """(topics, per topic one line in words of what matched), for the card's "why on this topic"."""
    verdicts = [r for r in explain(record, topics) if r["match"]]
    return [r["slug"] for r in verdicts], {r["slug"]: r["why"] for r in verdicts}
