"""Evidence at a glance: a topic's headline counts, computed from its cards.

Every sentence the page shows around these numbers is fixed wording in theme/templates/_glance.html;
the only harvested text is the newest evidence synthesis's own conclusion, quoted and labelled as
its authors'.  The rules, stated on the Methods page:

- randomized trials reported: PubMed cards whose design is "rct" (publication type Randomized
  Controlled Trial), retracted papers left out;
- randomized trials registered: ClinicalTrials.gov cards with randomized allocation, and the
  participants they registered (actual enrolment, or the planned number while a trial runs);
- systematic reviews and meta-analyses in the last five years: PubMed cards of those designs dated
  within five years before the reference date (the last harvest), retracted papers left out;
- recruiting now: trials recruiting, not yet recruiting or enrolling by invitation;
- completed without results: the topic's dissemination gap (model.dissemination_gap, Methods #gap).
"""

from __future__ import annotations

import datetime as dt

from . import model

SYNTHESES = ("meta-analysis", "systematic-review")


def _five_years_before(day: dt.date) -> str:
    try:
        return day.replace(year=day.year - 5).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year - 5, day=28).isoformat()


def _on_or_after(record: dict, day: str) -> bool:
    """A publication date as precise as PubMed gives it ('2021', '2021-11') compared at that precision."""
    date = record.get("date") or (str(record["year"]) if record.get("year") else "")
    return bool(date) and date >= day[:len(date)]


def glance(cards: list, reference: dt.date) -> dict:
    pubs = [a for a in cards if a.record["source"] == "pubmed" and not a.record.get("retracted")]
    trials = [a for a in cards if a.record["source"] == "ctgov"]
    reported = [a for a in pubs if a.record["design"] == "rct"]
    registered = [a for a in trials if a.record["design"] == "rct"]
    since = _five_years_before(reference)
    syntheses = sorted((a for a in pubs if a.record["design"] in SYNTHESES and _on_or_after(a.record, since)),
                       key=lambda a: model.newest_key(a.record))
    newest = syntheses[0] if syntheses else None
    return {
        "rct_reports": len(reported),
        "rct_registered": len(registered),
        "rct_participants": sum(model.sample_size(a.record) for a in registered),
        "rct_without_enrolment": sum(1 for a in registered if not model.sample_size(a.record)),
        "syntheses": len(syntheses),
        "since": since,
        "newest": newest,
        "newest_conclusion": newest.ev["bottom_line_html"] if newest is not None and newest.ev.get("bottom_line") else None,
        "recruiting": sum(1 for a in trials if model.is_recruiting(a.record)),
        "as_of": reference.isoformat(),
    }
