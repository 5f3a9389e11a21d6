"""Pure functions over records: labels, flags, ordering and facets the templates show.

Nothing here knows about Pelican, so each rule (what counts as "overdue", which section is the
bottom line, what "strongest first" means) can be read and tested on its own.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from harvest.record import DESIGN_LABELS, DESIGNS, EVIDENCE_LEVELS

# What each badge level means; the Methods page prints this as the legend (anchor #levels).
LEVEL_MEANINGS = {
    1: ("Evidence synthesis", "Meta-analyses and systematic reviews: they pool or appraise many studies "
        "using a stated method, so they weigh most."),
    2: ("Randomized trial", "Randomized controlled trials: chance decides who gets the treatment, which "
        "makes a fair comparison with the control group possible."),
    3: ("Other trial", "Clinical trials without randomization (for example single-arm or open-label "
        "studies): everyone knows who got the treatment, so expectation and selection can sway results."),
    4: ("Observational", "Observational studies follow people who chose or were given a treatment in "
        "ordinary care; they show associations, not cause and effect."),
    5: ("Background", "Case reports, narrative reviews, guidelines, commentaries and other papers: useful "
        "context, but not new tests of whether the treatment works."),
}

STATUS_LABELS = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "COMPLETED": "Completed",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "UNKNOWN": "Unknown status",
    "AVAILABLE": "Available (expanded access)",
    "NO_LONGER_AVAILABLE": "No longer available",
    "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "WITHHELD": "Withheld",
}
# Listing order of statuses on facet menus: open trials first.
STATUS_ORDER = tuple(STATUS_LABELS)
RECRUITING_STATUSES = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION")
STOPPED_STATUSES = ("WITHDRAWN", "TERMINATED", "SUSPENDED")

PHASE_LABELS = {
    "EARLY_PHASE1": "Early phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
    "NA": "Not applicable",
}

CORRECTION_NOTICES = {
    "RetractionIn": ("retraction", "This article has been retracted."),
    "ExpressionOfConcernIn": ("concern", "The journal has published an expression of concern about this article."),
    "ErratumIn": ("correction", "A correction (erratum) to this article has been published."),
    "PartialRetractionIn": ("retraction", "Part of this article has been retracted."),
    "CorrectedandRepublishedIn": ("correction", "This article was corrected and republished."),
    "RepublishedIn": ("correction", "This article has been republished."),
    "UpdateIn": ("correction", "An updated version of this article has been published."),
}

# Abstract section labels that carry the authors' conclusion (PubMed labels are free text).
_BOTTOM_LINE_RE = re.compile(
    r"^\s*(?:authors'?\s+)?(?:conclusions?|interpretations?|implications?|summary and conclusions?|"
    r"discussion and conclusions?|conclusions? and (?:relevance|implications?|significance)|"
    r"main conclusions?|clinical relevance|significance)\s*:?\s*$",
    re.IGNORECASE,
)


def design_label(design: str | None) -> str:
    return DESIGN_LABELS.get(design or "other", DESIGN_LABELS["other"])


def level(design: str | None) -> int:
    return EVIDENCE_LEVELS.get(design or "other", 5)


def status_label(status: str | None) -> str:
    if not status:
        return ""
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def status_slug(status: str) -> str:
    return status.lower().replace("_", "-")


def phase_label(phases: list[str]) -> str:
    """'PHASE2','PHASE3' → 'Phase 2/3' as ClinicalTrials.gov itself shows combined phases."""
    if not phases:
        return "No phase given"
    if len(phases) == 1:
        return PHASE_LABELS.get(phases[0], phases[0])
    nums = [p.replace("EARLY_PHASE", "Early ").replace("PHASE", "") for p in phases]
    return "Phase " + "/".join(nums)


def bottom_line(record: dict) -> dict | None:
    """The abstract's conclusions section, when it has one (the last matching label wins)."""
    found = None
    for section in record.get("abstract") or []:
        if section.get("label") and _BOTTOM_LINE_RE.match(section["label"]):
            found = section
    return found


def is_recruiting(record: dict) -> bool:
    return record.get("source") == "ctgov" and record.get("status") in RECRUITING_STATUSES


def _period_end(value: str | None) -> dt.date | None:
    """Last day covered by an ISO date as precise as given ('2023' → 31 Dec, '2023-05' → 31 May)."""
    if not value:
        return None
    m = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if not m:
        return None
    year = int(m.group(1))
    if m.group(3):
        return dt.date(year, int(m.group(2)), int(m.group(3)))
    if m.group(2):
        month = int(m.group(2))
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, 12, 31)


def _add_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def results_overdue(record: dict, has_linked_publication: bool, reference: dt.date) -> bool:
    """Completed trial, no posted results, no linked publication, primary completion > 12 months ago.

    12 months is the FDAAA 801 deadline for results reporting of applicable clinical trials.
    """
    if record.get("source") != "ctgov" or record.get("status") != "COMPLETED":
        return False
    if record.get("has_results") or has_linked_publication:
        return False
    end = _period_end(record.get("primary_completion_date"))
    return end is not None and _add_year(end) < reference


def notices(record: dict) -> list[dict]:
    """Banners for retractions, expressions of concern and corrections, strongest first."""
    out = []
    seen = set()
    if record.get("retracted"):
        retraction = next(
            (c.get("pmid") for c in record.get("corrections") or [] if c.get("type") == "RetractionIn"), None
        )
        out.append({"kind": "retraction", "text": CORRECTION_NOTICES["RetractionIn"][1], "pmid": retraction})
        seen.add("RetractionIn")
    for corr in record.get("corrections") or []:
        ctype = corr.get("type")
        if ctype in CORRECTION_NOTICES and ctype not in seen:
            kind, text = CORRECTION_NOTICES[ctype]
            out.append({"kind": kind, "text": text, "pmid": corr.get("pmid")})
            seen.add(ctype)
    order = {"retraction": 0, "concern": 1, "correction": 2}
    return sorted(out, key=lambda n: order[n["kind"]])


def sample_size(record: dict) -> int:
    value = record.get("enrollment")
    return value if isinstance(value, int) else 0


def newest_key(record: dict) -> tuple:
    """Sort key: newest first, then by id so equal dates keep one stable order."""
    return (_neg_date(record.get("date"), record.get("year")), record.get("id") or "")


def strength_key(record: dict) -> tuple:
    """Sort key: strongest evidence first — level, design within the level (meta-analyses before
    systematic reviews), then larger samples, then newer.  Retracted papers sort last."""
    design = record.get("design") or "other"
    return (
        1 if record.get("retracted") else 0,
        level(design),
        _DESIGN_RANK.get(design, len(DESIGNS)),
        -sample_size(record),
    ) + newest_key(record)


_DESIGN_RANK = {d: i for i, d in enumerate(DESIGNS)}


def is_strong_evidence(record: dict) -> bool:
    """Belongs in a topic's "Strongest evidence first" list: evidence, not plans.

    Publications at level 1-2 (meta-analyses, systematic reviews, RCT reports) that are not
    retracted, and randomized trials that have posted results and were not withdrawn, terminated or
    suspended.  A registration without results says what will be tested, not what was found.
    """
    if level(record.get("design")) > 2 or record.get("retracted"):
        return False
    if record.get("source") == "ctgov":
        return bool(record.get("has_results")) and record.get("status") not in STOPPED_STATUSES
    return True


def strongest_key(record: dict) -> tuple:
    """Publications first (by strength_key), then trials with posted results, largest enrollment first."""
    if record.get("source") == "ctgov":
        return (1, -sample_size(record)) + newest_key(record)
    return (0, 0) + strength_key(record)


def strongest_evidence(articles, limit: int = 10) -> list:
    return sorted((a for a in articles if is_strong_evidence(a.record)),
                  key=lambda a: strongest_key(a.record))[:limit]


def _neg_date(date: str | None, year: int | None) -> tuple[int, int, int]:
    """(-year, -month, -day) so an ascending sort puts the newest first; unknown parts count as 0."""
    m = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", date or "")
    if m:
        return (-int(m.group(1)), -int(m.group(2) or 0), -int(m.group(3) or 0))
    return (-(year if isinstance(year, int) else 0), 0, 0)


def designs_in_order(present) -> list[str]:
    return [d for d in DESIGNS if d in present]


def statuses_in_order(present) -> list[str]:
    known = [s for s in STATUS_ORDER if s in present]
    return known + sorted(s for s in present if s not in STATUS_LABELS)
