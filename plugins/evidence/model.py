"""Pure functions over records: labels, flags, ordering and facets the templates show.

Nothing here knows about Pelican, so each rule (what counts as "overdue", which section is the
bottom line, what "strongest first" means) can be read and tested on its own.
"""

from __future__ import annotations

import datetime as dt
import re

from harvest.records.dates import parts, period_end, period_start
from harvest.records.record import DESIGN_LABELS, DESIGNS, EVIDENCE_LEVELS

# What each level means; the Methods page prints this as the legend (anchor #levels).  Level 1 is
# the strongest; readers see the word (LEVEL_WORDS) and the name, never the bare number.
LEVEL_MEANINGS = {
    1: ("systematic review or meta-analysis", "Meta-analyses and systematic reviews: they pool or "
        "appraise many studies using a stated method, so they weigh most."),
    2: ("randomized trial", "Randomized controlled trials: chance decides who gets the treatment, which "
        "makes a fair comparison with the control group possible."),
    3: ("non-randomized trial", "Clinical trials without randomization (for example single-arm or "
        "open-label studies): everyone knows who got the treatment, so expectation and selection can "
        "sway results."),
    4: ("observational study", "Observational studies follow people who chose or were given a treatment "
        "in ordinary care; they show associations, not cause and effect."),
    5: ("background", "Case reports, narrative reviews, guidelines, commentaries and other papers: "
        "useful context, but not new tests of whether the treatment works."),
}
LEVEL_WORDS = {1: "Strongest", 2: "Strong", 3: "Moderate", 4: "Weak", 5: "Weakest"}
LEVEL_PLACES = {1: "the strongest", 2: "the second strongest", 3: "the middle", 4: "the second weakest",
                5: "the weakest"}
NO_LEVEL_LABEL = "Registered trial — no results yet"
NO_LEVEL_MEANING = ("A trial registration says what will be tested, not what was found, so it gets no "
                    "evidence level until results are posted on ClinicalTrials.gov or a paper reporting "
                    "its results is linked to it; then it takes the level of its design.")

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
    """The level of a design (1 strongest).  A card's own level is evidence_level()."""
    return EVIDENCE_LEVELS.get(design or "other", 5)


def evidence_level(record: dict, results_link: bool = False) -> int | None:
    """A publication: its design's level.  A trial: its design's level once it has results (posted,
    or a results-grade linked publication), else None — a registration is a plan, not evidence."""
    if record.get("source") == "ctgov" and not (record.get("has_results") or results_link):
        return None
    return level(record.get("design"))


def level_label(lvl: int | None) -> str:
    """'Strongest: systematic review or meta-analysis', or the no-level label of a registration."""
    if lvl is None:
        return NO_LEVEL_LABEL
    return f"{LEVEL_WORDS[lvl]}: {LEVEL_MEANINGS[lvl][0]}"


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


def _add_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


# --- Results reporting -------------------------------------------------------------------------
#
# Which rule obliges a trial to report results, read from its own registry entry.  FDAAA 801 covers
# only "applicable clinical trials"; ClinicalTrials.gov does not say which trials those are, so we
# follow the published criteria FDAAA TrialsTracker (DeVito, Bacon & Goldacre; EBM DataLab, Oxford)
# uses to find ACTs (started on or after 18 January 2017, when the Final Rule took effect) and
# probable ACTs (started before it, primary completion on or after it).  The Methods page (#flags)
# states these rules in words; change both together.

FINAL_RULE_DATE = dt.date(2017, 1, 18)
# Phases TrialsTracker accepts: anything but phase 1 (early phase 1 included); devices are "NA".
_ACT_PHASES = ({"PHASE1", "PHASE2"}, {"PHASE2"}, {"PHASE2", "PHASE3"}, {"PHASE3"}, {"PHASE4"}, {"NA"})
# Intervention types a pACT must study (an FDA-regulated product), as TrialsTracker lists them.
_PACT_INTERVENTIONS = frozenset(
    {"DRUG", "DEVICE", "BIOLOGICAL", "GENETIC", "RADIATION", "COMBINATION_PRODUCT", "DIAGNOSTIC_TEST"}
)
# The United States and its territories, as ClinicalTrials.gov spells them (old and new spellings).
US_COUNTRIES = frozenset(
    {"United States", "American Samoa", "Guam", "Northern Mariana Islands", "Puerto Rico",
     "U.S. Virgin Islands", "Virgin Islands (U.S.)", "United States Minor Outlying Islands"}
)
# The registry says the trial has ended (its primary completion date is then a fact, not a plan).
ENDED_STATUSES = ("COMPLETED", "TERMINATED")

RULES = {
    "fdaaa-act": {
        "name": "FDAAA 801",
        "long": "U.S. FDAAA 801 (applicable clinical trial, by the FDAAA TrialsTracker criteria)",
        "grace_days": 30,
    },
    "fdaaa-pact": {
        "name": "FDAAA 801",
        "long": "U.S. FDAAA 801 (probable applicable clinical trial, by the FDAAA TrialsTracker criteria)",
        "grace_days": 30,
    },
    "eu-ctr": {
        "name": "EU Clinical Trials Regulation",
        "long": "EU Clinical Trials Regulation 536/2014 (the entry gives a CTIS number)",
        "grace_days": 0,
    },
}


def _day(value: str | None) -> dt.date | None:
    # A month-only registry date counts as the month's last day, as TrialsTracker reads it: a
    # deadline is never placed earlier than the registry's own date allows.
    return period_end(value)


def results_rule(record: dict) -> str | None:
    """'fdaaa-act', 'fdaaa-pact', 'eu-ctr' or None: the rule that obliges this trial to report."""
    reg = record.get("registry")
    if record.get("source") != "ctgov" or not isinstance(reg, dict):
        return None
    if reg.get("study_type") == "INTERVENTIONAL" and record.get("status") != "WITHDRAWN":
        phases_ok = set(record.get("phases") or []) in _ACT_PHASES
        purpose_ok = reg.get("primary_purpose") != "DEVICE_FEASIBILITY"
        start = _day(reg.get("start_date"))
        drug, device = reg.get("fda_regulated_drug"), reg.get("fda_regulated_device")
        if phases_ok and purpose_ok and start is not None:
            if start >= FINAL_RULE_DATE and (drug or device):
                return "fdaaa-act"
            ended = _day(record.get("primary_completion_date") or reg.get("completion_date"))
            if (
                start < FINAL_RULE_DATE
                and ended is not None and ended >= FINAL_RULE_DATE
                and _PACT_INTERVENTIONS.intersection(reg.get("intervention_types") or [])
                and ((drug or device) or (drug is None and device is None))
                and US_COUNTRIES.intersection(reg.get("countries") or [])
            ):
                return "fdaaa-pact"
    if reg.get("ctis_numbers"):
        return "eu-ctr"
    return None


def _add_days(day: dt.date, days: int) -> dt.date:
    return day + dt.timedelta(days=days)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _full_years(start: dt.date, end: dt.date) -> int:
    years = end.year - start.year
    return years - 1 if (end.month, end.day) < (start.month, start.day) else years


def reporting(record: dict, results_publications: list[str], reference: dt.date,
              recorded: bool = False) -> dict | None:
    """What the card says about a trial's results, and whether that is an accusation.

    ``results_publications``: PMIDs linked to the trial by a results-grade link (see LINK_GRADES).
    ``recorded``: the record is a recorded copy (a snapshot edition), retrieved on a day the site
    does not know, not one the last harvest fetched.
    Returns None for articles and for trials with nothing to say yet, else a dict with
    ``state`` (posted, submitted, published, certificate, overdue, due-elsewhere, no-results,
    not-yet-due, due-after-record, record-too-early), ``rule`` (key of RULES or None), ``overdue`` (bool), ``due`` (ISO
    date or None), ``years`` (whole years since primary completion), ``date`` (the date the state
    refers to), ``record_updated`` (the record's last-update-posted date: what the state was judged
    on) and ``recorded``.
    """
    if record.get("source") != "ctgov":
        return None
    reg = record.get("registry") if isinstance(record.get("registry"), dict) else {}
    rule = results_rule(record)
    out = {"state": None, "rule": rule, "overdue": False, "due": None, "years": None, "date": None,
           "pmids": list(results_publications), "record_updated": record.get("updated"),
           "recorded": bool(recorded)}
    if record.get("has_results"):
        out.update(state="posted", date=reg.get("results_posted"))
        return out
    if reg.get("results_submitted"):
        out.update(state="submitted", date=reg["results_submitted"])
        return out
    if results_publications:
        out.update(state="published")
        return out
    ended = record.get("status") in ENDED_STATUSES or (
        rule is not None and reg.get("primary_completion_type") == "ACTUAL")
    completion = _day(record.get("primary_completion_date"))
    if rule == "eu-ctr":  # the Regulation counts from the end of the trial, not primary completion
        completion = _day(reg.get("completion_date")) or completion
    if not ended or completion is None:
        return None
    seen = _seen_until(record, reference, recorded)
    out["years"] = _full_years(completion, seen) if seen and completion < seen else 0
    if rule is not None:
        due = _add_days(_add_year(completion), RULES[rule]["grace_days"])
        if reg.get("delay_certificate_submitted") and rule != "eu-ctr":
            # A certificate of delay defers the deadline, at most to 3 years after primary completion
            # (42 CFR 11.44); TrialsTracker adds the same 30 days' grace.
            due = _add_days(_add_years(completion, 3), RULES[rule]["grace_days"])
            if due >= reference:
                out.update(state="certificate", due=due.isoformat(), date=reg["delay_certificate_submitted"])
                return out
        out["due"] = due.isoformat()
        if due >= reference:
            out["state"] = "not-yet-due"
        elif rule == "eu-ctr":
            # The Regulation wants results in the EU register (CTIS), which this site does not read:
            # missing results on ClinicalTrials.gov are no evidence of a breach.
            out["state"] = "due-elsewhere"
        elif seen is None or due >= seen:
            # Only a recorded copy last updated after the deadline shows the results were missing
            # once they were due (_seen_until).
            out["state"] = "due-after-record"
        else:
            out.update(state="overdue", overdue=True)
        return out
    if record.get("status") == "COMPLETED" and seen and _add_year(completion) < seen:
        out["state"] = "no-results"
        return out
    if recorded and record.get("status") == "COMPLETED" and _add_year(completion) < reference:
        out["state"] = "record-too-early"  # the copy was last updated within 12 months of completion
        return out
    return None


def _seen_until(record: dict, reference: dt.date, recorded: bool) -> dt.date | None:
    """The last day a trial's record shows it as it was: the reference day for a record a harvest
    fetched; for a recorded copy, which describes the trial from its last update to a retrieval day
    the site does not know, that last update (posting results is itself an update of the record; a
    partial date counts from its first day), or None when it has none."""
    if not recorded:
        return reference
    updated = period_start(record.get("updated"))
    return min(updated, reference) if updated else None


def in_dissemination_gap(record: dict, results_link: bool, reference: dt.date, recorded: bool = False) -> bool:
    """A completed trial more than 12 months past primary completion whose results nobody can read:
    none posted on ClinicalTrials.gov and no results-grade linked publication (whatever the rule).
    ``recorded``: as in reporting(), the 12 months must have passed by the copy's last update."""
    if record.get("source") != "ctgov" or record.get("status") != "COMPLETED":
        return False
    if record.get("has_results") or results_link:
        return False
    completion = _day(record.get("primary_completion_date"))
    seen = _seen_until(record, reference, recorded)
    return completion is not None and seen is not None and _add_year(completion) < seen


def dissemination_gap(cards) -> dict:
    """Per topic: the trials in the gap and the participants they enrolled (cards: articles with .ev)."""
    trials = [a for a in cards if a.ev.get("in_gap")]
    return {"trials": trials, "count": len(trials), "participants": sum(sample_size(a.record) for a in trials),
            "completed": sum(1 for a in cards if a.record.get("source") == "ctgov"
                             and a.record.get("status") == "COMPLETED")}


def results_overdue(record: dict, results_publications: list[str], reference: dt.date) -> bool:
    info = reporting(record, results_publications, reference)
    return bool(info and info["overdue"])


def record_words(info: dict) -> str:
    """The registry record a reporting state was judged on, in words."""
    what = "recorded copy of the registry record" if info.get("recorded") else "registry record"
    day = info.get("record_updated")
    return f"{what} this card was made from" + (
        f" (last updated on ClinicalTrials.gov {day})" if day else " (no last-update date given)")


def reporting_text(info: dict | None) -> str:
    """The one-line wording of a reporting state, the same in the card, feeds and exports."""
    if not info or not info.get("state"):
        return ""
    state = info["state"]
    rule = RULES.get(info.get("rule") or "", {})
    years = info.get("years") or 0
    ago = f"{years} year{'s' if years != 1 else ''}" if years >= 1 else "less than a year"
    if state == "posted":
        return "Results posted on ClinicalTrials.gov" + (f" ({info['date']})" if info.get("date") else "")
    if state == "submitted":
        return f"Results submitted to ClinicalTrials.gov on {info['date']}, not yet posted (under quality-control review)"
    if state == "published":
        return "Results published: " + ", ".join(f"PMID {p}" for p in info["pmids"])
    if state == "certificate":
        return (f"Certificate of delay filed on {info['date']}: under {rule['name']} results are due by "
                f"{info['due']}")
    if state == "not-yet-due":
        return f"Results not yet due under {rule['name']} (due by {info['due']})"
    if state == "overdue":
        return (f"Results overdue under {rule['name']}: due by {info['due']}; none posted in the "
                f"{record_words(info)}, and no results publication linked")
    if state == "due-after-record":
        return (f"Results due under {rule['name']} by {info['due']}; the {record_words(info)} is older than "
                "that day, so this snapshot cannot show whether they were posted")
    if state == "due-elsewhere":
        return (f"Results due in the EU register (CTIS) under the {rule['name']} by {info['due']}; "
                "none on ClinicalTrials.gov (this site does not read CTIS)")
    if state == "record-too-early":
        return (f"No results in the {record_words(info)}, which is less than 12 months after completion, so "
                "this snapshot cannot show whether they were posted later")
    if state == "no-results":
        if info.get("recorded"):
            return (f"No results posted {ago} after completion in the recorded copy of its registry record"
                    f" (last updated on ClinicalTrials.gov {info['record_updated']})")
        return f"No results posted {ago} after completion"
    return ""


# --- Trial <-> publication links ----------------------------------------------------------------

# Strongest first.  Only the first two say the paper reports the trial's results.
LINK_GRADES = {
    "databank": "PubMed lists this trial as the paper's source (DataBank entry)",
    "result": "the trial's registry entry lists this paper as its results",
    "background": "the trial's registry entry lists this paper as background",
    "derived": "ClinicalTrials.gov matched this paper to the trial (derived reference)",
    "mention": "the trial's number appears in the paper's abstract",
}
LINK_GRADE_SHORT = {
    "databank": "Reports this trial (PubMed DataBank)",
    "result": "Results paper (registry reference)",
    "background": "Background paper (registry reference)",
    "derived": "Related paper (derived registry reference)",
    "mention": "Mentions the trial number in its abstract",
}
RESULTS_GRADES = ("databank", "result")
_GRADE_RANK = {g: i for i, g in enumerate(LINK_GRADES)}


def link_grade_of_reference(ref_type: str | None, status: str | None = None) -> str:
    """A registry reference's grade: RESULT -> result, DERIVED -> derived, anything else background.

    A trial that has not finished enrolling cannot have reported its results, so a RESULT reference
    on a trial still recruiting (or not yet) is read as background: sponsors do file the papers a
    trial builds on under RESULT.
    """
    if ref_type == "RESULT" and status not in RECRUITING_STATUSES:
        return "result"
    if ref_type == "DERIVED":
        return "derived"
    return "background"


def best_grade(grades) -> str | None:
    present = [g for g in grades if g in _GRADE_RANK]
    return min(present, key=_GRADE_RANK.__getitem__) if present else None


def is_results_grade(grade: str | None) -> bool:
    return grade in RESULTS_GRADES


# --- Registry facts ---------------------------------------------------------------------------


def registration_timing(record: dict) -> str | None:
    """'prospective', 'retrospective', 'same-month' or None (not a trial, or start not actual).

    Compares the date the entry was first submitted with the actual start date; when the start is
    given to the month only, a submission within that month cannot be placed ('same-month').
    """
    reg = record.get("registry")
    if record.get("source") != "ctgov" or not isinstance(reg, dict) or reg.get("start_date_type") != "ACTUAL":
        return None
    submitted = _day(reg.get("first_submitted"))
    start_first, start_last = period_start(reg.get("start_date")), period_end(reg.get("start_date"))
    if submitted is None or start_first is None:
        return None
    if submitted > start_last:
        return "retrospective"
    if submitted < start_first or (submitted <= start_first and start_first == start_last):
        return "prospective"
    return "same-month"


REGISTRATION_TEXT = {
    "prospective": "Registered before the study started",
    "retrospective": "Registered after the study started (retrospective registration)",
    "same-month": "Registered in the month the study started",
}


def registry_drift(record: dict, history: list | None) -> dict:
    """What the card's registry history (harvest/records/drift.py) says about plan versus outcome.

    ``planned_enrollment``: the first planned (ESTIMATED) enrollment the history records, when the
    registry now gives a different, actual number.  ``completion_moved_from``: the first primary
    completion date the history records, when the date has moved since.  None when unknown: the
    history starts with the first harvest that saw a change, so older plans are not known.
    """
    planned = moved = None
    for entry in history or []:
        if not isinstance(entry, dict) or entry.get("event") != "changed":
            continue
        if entry.get("field") == "enrollment" and planned is None and entry.get("from_type") == "ESTIMATED":
            planned = entry.get("from")
        if entry.get("field") == "primary_completion_date" and moved is None:
            moved = entry.get("from")
    kind = record.get("enrollment_type")
    if not (isinstance(planned, int) and kind == "ACTUAL" and planned != record.get("enrollment")):
        planned = None
    if not (isinstance(moved, str) and moved != record.get("primary_completion_date")):
        moved = None
    return {"planned_enrollment": planned, "completion_moved_from": moved}


def enrollment_text(record: dict, planned: int | None = None) -> str:
    """'120 participants (actual)' / '(planned)': the registry gives one number and says which;
    ``planned``: the earlier planned number from the registry history, when it differed."""
    n = record.get("enrollment")
    if not isinstance(n, int):
        return ""
    kind = record.get("enrollment_type")
    label = {"ACTUAL": "actual", "ESTIMATED": "planned"}.get(kind)
    if label == "actual" and isinstance(planned, int):
        label = f"actual; {planned:,} planned"
    return f"{n:,} participant{'s' if n != 1 else ''}" + (f" ({label})" if label else "")


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


_NO_LEVEL = object()


def strength_key(record: dict, lvl=_NO_LEVEL) -> tuple:
    """Sort key: strongest evidence first — level, design within the level (meta-analyses before
    systematic reviews), then larger samples, then newer.  Registrations without results (no level)
    come after every level; retracted papers sort last.  ``lvl``: the card's evidence_level(), when
    known (it depends on links); else worked out from the record alone."""
    design = record.get("design") or "other"
    if lvl is _NO_LEVEL:
        lvl = evidence_level(record)
    return (
        1 if record.get("retracted") else 0,
        lvl if lvl is not None else len(LEVEL_WORDS) + 1,
        _DESIGN_RANK.get(design, len(DESIGNS)),
        -sample_size(record),
    ) + newest_key(record)


_DESIGN_RANK = {d: i for i, d in enumerate(DESIGNS)}


def is_strong_evidence(record: dict, lvl=_NO_LEVEL) -> bool:
    """Belongs in a topic's "Strongest evidence first" list: evidence, not plans.

    Anything at the two strongest levels (meta-analyses, systematic reviews, randomized trials) that
    is not retracted; for a trial that means results posted or a results publication linked (else it
    has no level), and not withdrawn, terminated or suspended.
    """
    if lvl is _NO_LEVEL:
        lvl = evidence_level(record)
    if lvl is None or lvl > 2 or record.get("retracted"):
        return False
    if record.get("source") == "ctgov":
        return record.get("status") not in STOPPED_STATUSES
    return True


def strongest_key(record: dict) -> tuple:
    """Publications first (by strength_key), then trials with results, largest enrollment first."""
    if record.get("source") == "ctgov":
        return (1, -sample_size(record)) + newest_key(record)
    return (0, 0) + strength_key(record)


def _card_level(article):
    ev = getattr(article, "ev", None)
    return ev["level"] if ev and "level" in ev else _NO_LEVEL


def strongest_evidence(articles, limit: int = 10) -> list:
    return sorted((a for a in articles if is_strong_evidence(a.record, _card_level(a))),
                  key=lambda a: strongest_key(a.record))[:limit]


def _neg_date(date: str | None, year: int | None) -> tuple[int, int, int]:
    """(-year, -month, -day) so an ascending sort puts the newest first; unknown parts count as 0."""
    p = parts(date)
    if p:
        return (-p[0], -(p[1] or 0), -(p[2] or 0))
    return (-(year if isinstance(year, int) else 0), 0, 0)


def designs_in_order(present) -> list[str]:
    return [d for d in DESIGNS if d in present]


def statuses_in_order(present) -> list[str]:
    known = [s for s in STATUS_ORDER if s in present]
    return known + sorted(s for s in present if s not in STATUS_LABELS)
