"""Which topics a record is about: a deterministic, explainable score over the record's own fields.

A record belongs to a topic when it is about the topic's **treatment** *and* about a **mood
disorder**.  Each of the two questions gets a score from the record's fields, and both scores must
reach 3 points:

=================================  =================  ====================
field                              treatment points   mood-disorder points
=================================  =================  ====================
title names it                     3                  3
a MeSH heading is or names it      3                  3
a trial intervention names it      3                  —
a trial condition names it         —                  3
an author keyword names it         2                  2
each mention in the abstract       1 (at most 3)      1 (at most 3)
=================================  =================  ====================

So the title alone, a MeSH heading alone or a trial's intervention list alone is enough; an author
keyword needs one more mention; the abstract alone needs three separate mentions.  A single mention
deep in an abstract ("patients previously given ketamine were excluded") is a mention in passing and
earns 1 point — not enough.  A trial's eligibility criteria are never read (the parsers do not even
keep them): their exclusion lists name treatments the trial is not about.

Words and MeSH descriptors come from ``harvest/topics.toml`` (the treatment's ``terms``/``mesh`` per
topic; the mood-disorder ``terms``/``mesh`` and the ``ignore`` phrases under ``[scope]``).  Text is
read as a sequence of words (runs of letters and digits; spaces, hyphens and punctuation separate
them).  A term matches the same words in the same order, case-insensitively unless it is written in
capitals (acronyms such as "TMS"), with a plural "s" allowed on its last word; a term of several
words also matches them written as one ("theta burst" finds "theta-burst" and "thetaburst").  A term
never matches part of a word: "ketamine" does not count inside "esketamine" (which is listed too).
A MeSH heading counts when it is one of the topic's descriptors or contains one of its terms.
``ignore`` phrases ("respiratory depression", "long-term depression") are masked before anything
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
SCOPE_POINTS = {"title": 3, "mesh": 3, "conditions": 3, "keywords": 2}
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


def _index(groups: dict[str, tuple[str, ...]]) -> dict[str, list]:
    """first word (lowercased) → [(group, all words lowercased, original words if case matters)]."""
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
                entry = (group, lows, variant if exact_case else None)
                # A one-word term's plural is indexed directly, so a lookup needs no second try.
                firsts = (lows[0], lows[0] + "s") if len(lows) == 1 else (lows[0],)
                for first in firsts:
                    bucket = index.setdefault(first, [])
                    if entry not in bucket:
                        bucket.append(entry)
    for bucket in index.values():  # longest terms first: "deep TMS" wins over "TMS"
        bucket.sort(key=lambda e: (-len(e[1]), e[0], e[1]))
    return index


def _match_at(text, lows, i, term_lows, exact, cache) -> bool:
    last = len(term_lows) - 1
    for j in range(1, last + 1):
        w = lows[i + j]
        t = term_lows[j]
        if w != t and not (j == last and w == t + "s"):
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


def _count(index, text: str) -> dict[str, int]:
    """Per group, how many non-overlapping mentions its terms have (longest match at each word).

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
    found: dict[str, list[tuple[int, int]]] = {}
    for i in hits:
        for group, term_lows, exact in index[lows[i]]:
            k = len(term_lows)
            spans = found.get(group)
            if spans and spans[-1][1] > i:  # this group already covers this word
                continue
            if i + k > n:
                continue
            if (k > 1 or exact is not None) and not _match_at(text, lows, i, term_lows, exact, cache):
                continue
            if spans is None:
                found[group] = [(i, i + k)]
            else:
                spans.append((i, i + k))
    masked = found.pop(IGNORE, None)
    if masked:
        skip = {j for start, end in masked for j in range(start, end)}
        return {
            g: c
            for g, spans in found.items()
            if (c := sum(1 for start, end in spans if not any(j in skip for j in range(start, end))))
        }
    return {g: len(spans) for g, spans in found.items()}


class Lexicon:
    """All the terms of a topics list, compiled once: the scope, each topic, and the ignore list.

    Matching works on words, not characters: each text is split into words once, and only the
    words that start some term are looked at, in one dict shared by every topic.  That keeps
    classifying 20,000 records to about a second.
    """

    SCOPE = SCOPE

    def __init__(self, topics):
        topics = list(topics)
        first = topics[0]
        for t in topics:
            if (t.scope_terms, t.scope_mesh, t.ignore) != (first.scope_terms, first.scope_mesh, first.ignore):
                raise ValueError(f"topic {t.slug!r}: all topics must share one [scope]")
        groups = {IGNORE: first.ignore, SCOPE: first.scope_terms}
        for t in topics:
            groups[t.slug] = t.terms
        self.index = _index(groups)
        self.scope_mesh = frozenset(m.casefold() for m in first.scope_mesh)
        self.mesh = {t.slug: frozenset(m.casefold() for m in t.mesh) for t in topics}
        self.mesh[SCOPE] = self.scope_mesh

        self._short: dict[str, Hits] = {}

    def read(self, text) -> "Hits":
        """Counts of every group's mentions in one piece of text."""
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
    counts: dict


@lru_cache(maxsize=32)
def _lexicon(topics: tuple) -> Lexicon:
    return Lexicon(topics)


def lexicon(topics) -> Lexicon:
    return _lexicon(tuple(topics))


@dataclass(frozen=True)
class _Fields:
    title: Hits
    abstract: list
    mesh: list
    keywords: list
    conditions: list
    interventions: list


def _read(record: dict, lex: Lexicon) -> _Fields:
    def many(values) -> list:
        return [lex.read(v) for v in (values or []) if isinstance(v, str)]

    return _Fields(
        title=lex.read(record.get("title")),
        abstract=[lex.read(p.get("text")) for p in (record.get("abstract") or []) if isinstance(p, dict)],
        mesh=many(record.get("mesh")),
        keywords=many(record.get("keywords")),
        conditions=many(record.get("conditions")),
        interventions=many(record.get("interventions")),
    )


def _score(fields: _Fields, group: str, mesh: frozenset, points: dict[str, int]) -> tuple[int, list[str]]:
    score = 0
    reasons: list[str] = []
    if fields.title.counts.get(group):
        score += points["title"]
        reasons.append(f"title (+{points['title']})")
    hit = next((d.text for d in fields.mesh if d.counts.get(group) or d.text.casefold() in mesh), None)
    if hit is not None:
        score += points["mesh"]
        reasons.append(f"MeSH {hit!r} (+{points['mesh']})")
    for key in ("interventions", "conditions"):
        if key in points:
            hit = next((v.text for v in getattr(fields, key) if v.counts.get(group)), None)
            if hit is not None:
                score += points[key]
                reasons.append(f"{key[:-1]} {hit!r} (+{points[key]})")
    hit = next((k.text for k in fields.keywords if k.counts.get(group)), None)
    if hit is not None:
        score += points["keywords"]
        reasons.append(f"keyword {hit!r} (+{points['keywords']})")
    mentions = sum(part.counts.get(group, 0) for part in fields.abstract)
    if mentions:
        gained = min(mentions, ABSTRACT_MAX) * ABSTRACT_POINT
        score += gained
        reasons.append(f"{mentions} abstract mention{'s' if mentions > 1 else ''} (+{gained})")
    return score, reasons


def explain(record: dict, topics) -> list[dict]:
    """Per topic: both scores with their reasons and the verdict."""
    topics = list(topics)
    if not topics:
        return []
    lex = lexicon(topics)
    fields = _read(record, lex)
    scope, scope_reasons = _score(fields, Lexicon.SCOPE, lex.scope_mesh, SCOPE_POINTS)
    out = []
    for topic in topics:
        treatment, reasons = _score(fields, topic.slug, lex.mesh[topic.slug], TREATMENT_POINTS)
        out.append(
            {
                "slug": topic.slug,
                "treatment": treatment,
                "treatment_reasons": reasons,
                "scope": scope,
                "scope_reasons": scope_reasons,
                "match": treatment >= THRESHOLD and scope >= THRESHOLD,
            }
        )
    return out


def classify(record: dict, topics) -> list[str]:
    """Slugs of the topics the record is about, in topics order."""
    return [r["slug"] for r in explain(record, topics) if r["match"]]
