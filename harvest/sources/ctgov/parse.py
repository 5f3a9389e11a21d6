"""ClinicalTrials.gov API v2 JSON → normalized records.

Accepts what the API and the website serve: a ``/studies`` page (``{"studies": [...],
"nextPageToken": ..., "totalCount": ...}``), a single study (``/studies/{nctId}``) or a JSON array of
studies (the website's "Download → JSON").  Pure: bytes in, records out.

Choices worth knowing (the Methods page quotes them):

* ``design``: interventional + randomized allocation → "rct"; any other interventional study →
  "clinical-trial"; observational → "observational"; expanded access (treatment outside a trial) →
  "other".
* ``year``/``date``: the study start date as registered (actual or anticipated), else the date it
  was first posted.  ``updated`` is the last-update-posted date.
* ``abstract`` is the brief summary only: the detailed description is long, and the eligibility
  criteria are never read at all — their exclusion lists name treatments a trial is *not* about.
* ``mesh`` is the MeSH terms NLM derived from the conditions and interventions
  (``derivedSection`` condition/intervention browse ``meshes``), not their ancestors, which would make
  every depression trial also a "Behavior and Behavior Mechanisms" trial.
* Text fields are Markdown-flavoured on ClinicalTrials.gov (the website export has ``Spine Surgery \\&
  Research``): CommonMark backslash escapes are removed from the title, brief summary, conditions,
  interventions, keywords and why_stopped, which are shown as plain text.
* ``intervention_other_names`` and ``intervention_descriptions`` are kept because the API's own
  ``query.intr`` search matches them: the classifier reads them as the trial's interventions (other
  names) and as text (descriptions), so a trial the query found for "Spravato" is not then dropped.
* ``linked_pmids`` are the PubMed ids of every reference the sponsor listed (background, results,
  derived), in the order given; ``registry.references`` keeps each one's type, which grades the link.
* ``registry`` holds the registry facts that decide which results-reporting rule covers a trial and
  whether it has reported (plugins/evidence/model.py reads them): study type, primary purpose,
  intervention types, the FDA-regulated drug/device answers, location countries, start, first
  submission, completion, results submission/posting, certificate of delay and CTIS (EU Clinical
  Trials Regulation) numbers.  A "results submitted" date comes from ``resultsFirstSubmitDate`` or,
  before posting, from the first RELEASE event of the unposted-results annotation (the sponsor sent
  results to ClinicalTrials.gov's quality-control review).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from harvest.errors import ParseError
from harvest.records.record import ordered, valid_nct, valid_pmid
from harvest.records.sanitize import collapse, text_html


@dataclass
class CtgovPage:
    records: list[dict] = field(default_factory=list)
    next_page_token: str | None = None
    total_count: int | None = None
    errors: list[str] = field(default_factory=list)
    shape: str = "page"  # "page" ({"studies": [...]}), "list" (website download) or "study"


def parse_ctgov(data: bytes, name: str) -> CtgovPage:
    """Parse one ClinicalTrials.gov JSON document.  Raises ParseError on malformed JSON or shape."""
    try:
        doc = json.loads(data)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 JSON: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"{name}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"{name}: malformed JSON: {collapse(str(exc))[:200]}") from None
    page = CtgovPage()
    if isinstance(doc, list):
        studies = doc
        page.shape = "list"
    elif isinstance(doc, dict) and "studies" in doc:
        studies = doc["studies"]
        if not isinstance(studies, list):
            raise ParseError(f"{name}: 'studies' is not a list")
        token = doc.get("nextPageToken")
        if token is not None and not isinstance(token, str):
            raise ParseError(f"{name}: 'nextPageToken' is not a string")
        page.next_page_token = token or None
        total = doc.get("totalCount")
        if total is not None and (not isinstance(total, int) or isinstance(total, bool)):
            raise ParseError(f"{name}: 'totalCount' is not an integer")
        page.total_count = total
    elif isinstance(doc, dict) and "protocolSection" in doc:
        studies = [doc]
        page.shape = "study"
    else:
        raise ParseError(
            f"{name}: not a ClinicalTrials.gov study, study list or /studies page "
            f"(top level is a JSON {type(doc).__name__})"
        )
    for position, study in enumerate(studies, 1):
        nct = _nct_of(study)
        try:
            if not isinstance(study, dict) or not isinstance(study.get("protocolSection"), dict):
                raise ValueError("no protocolSection")
            if not valid_nct(nct):
                raise ValueError(f"invalid NCT id {nct!r}")
            page.records.append(_record(study, nct))
        except Exception as exc:  # one bad study must not sink the page
            who = nct if isinstance(nct, str) and nct else f"study {position}"
            page.errors.append(f"{name}: {collapse(who)[:40]}: skipped: {collapse(str(exc))[:200]}")
    return page


def _nct_of(study) -> str | None:
    try:
        value = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _module(section: dict, key: str) -> dict:
    value = section.get(key)
    return value if isinstance(value, dict) else {}


def _str(value) -> str | None:
    return collapse(value) or None if isinstance(value, str) else None


# CommonMark: a backslash before any ASCII punctuation character is an escape for that character.
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _md_text(value) -> str | None:
    """A Markdown-flavoured text field as plain text: `\\&` -> `&`, `\\\\` -> `\\`, nothing else changed."""
    text = _str(value)
    return _MD_ESCAPE.sub(r"\1", text) if text else text


def _md_strings(values) -> list[str]:
    out: list[str] = []
    for s in _strings(values):
        s = _md_text(s)
        if s and s not in out:
            out.append(s)
    return out


def _strings(values) -> list[str]:
    out: list[str] = []
    if not isinstance(values, list):
        return out
    for v in values:
        s = _str(v)
        if s and s not in out:
            out.append(s)
    return out


def _date(struct) -> str | None:
    if isinstance(struct, dict):
        value = _str(struct.get("date"))
        if value and len(value) in (4, 7, 10) and value[:4].isdigit():
            return value
    return None


def _design(design_module: dict) -> str:
    study_type = design_module.get("studyType")
    if study_type == "INTERVENTIONAL":
        allocation = _module(design_module, "designInfo").get("allocation")
        return "rct" if allocation == "RANDOMIZED" else "clinical-trial"
    if study_type == "OBSERVATIONAL":
        return "observational"
    return "other"


def _record(study: dict, nct: str) -> dict:
    ps = study["protocolSection"]
    ident = _module(ps, "identificationModule")
    status = _module(ps, "statusModule")
    desc = _module(ps, "descriptionModule")
    conds = _module(ps, "conditionsModule")
    design = _module(ps, "designModule")
    arms = _module(ps, "armsInterventionsModule")
    refs = _module(ps, "referencesModule")
    derived = study.get("derivedSection") if isinstance(study.get("derivedSection"), dict) else {}

    title, title_html = text_html(_md_text(ident.get("briefTitle")) or _md_text(ident.get("officialTitle")))
    summary, summary_html = text_html(_md_text(desc.get("briefSummary")))
    abstract = [{"label": None, "text": summary, "html": summary_html}] if summary else []

    date = _date(status.get("startDateStruct")) or _date(status.get("studyFirstPostDateStruct"))

    interventions: list[str] = []
    other_names: list[str] = []
    descriptions: list[str] = []
    for item in arms.get("interventions") or []:
        if isinstance(item, dict):
            n = _md_text(item.get("name"))
            if n and n not in interventions:
                interventions.append(n)
            for other in _md_strings(item.get("otherNames")):
                if other not in interventions and other not in other_names:
                    other_names.append(other)
            d = _md_text(item.get("description"))
            if d and d not in descriptions:
                descriptions.append(d)

    mesh = []
    for key in ("conditionBrowseModule", "interventionBrowseModule"):
        for m in _module(derived, key).get("meshes") or []:
            term = _str(m.get("term")) if isinstance(m, dict) else None
            if term and term not in mesh:
                mesh.append(term)

    enrollment_info = _module(design, "enrollmentInfo")
    enrollment = enrollment_info.get("count")
    if isinstance(enrollment, bool) or not isinstance(enrollment, int):
        enrollment = None
    enrollment_type = enrollment_info.get("type") if enrollment_info.get("type") in ("ACTUAL", "ESTIMATED") else None

    outcomes = []
    for item in _module(ps, "outcomesModule").get("primaryOutcomes") or []:
        measure = _md_text(item.get("measure")) if isinstance(item, dict) else None
        if measure and measure not in outcomes:
            outcomes.append(measure)
    sponsor = _md_text(_module(_module(ps, "sponsorCollaboratorsModule"), "leadSponsor").get("name"))

    pmids = []
    for ref in refs.get("references") or []:
        pmid = _str(ref.get("pmid")) if isinstance(ref, dict) else None
        if valid_pmid(pmid) and pmid not in pmids:
            pmids.append(pmid)

    has_results = study.get("hasResults")
    registry = _registry(study, ps, status, design, arms, refs)
    return ordered(
        {
            "id": f"ctgov:{nct}",
            "source": "ctgov",
            "nct_id": nct,
            "title": title or None,
            "title_html": title_html or None,
            "authors": [],
            "year": int(date[:4]) if date else None,
            "date": date,
            "design": _design(design),
            "mesh": mesh,
            "keywords": _md_strings(conds.get("keywords")),
            "abstract": abstract,
            "conditions": _md_strings(conds.get("conditions")),
            "interventions": interventions,
            "intervention_other_names": other_names,
            "intervention_descriptions": descriptions,
            "phases": _strings(design.get("phases")),
            "status": _str(status.get("overallStatus")),
            "why_stopped": _md_text(status.get("whyStopped")),
            "enrollment": enrollment,
            "enrollment_type": enrollment_type,
            "has_results": has_results if isinstance(has_results, bool) else None,
            "primary_completion_date": _date(status.get("primaryCompletionDateStruct")),
            "primary_outcomes": outcomes,
            "sponsor": sponsor,
            "linked_pmids": pmids,
            "registry": registry,
            "retracted": False,
            "topics": [],
            "updated": _date(status.get("lastUpdatePostDateStruct")),
        }
    )


def _upper(value) -> str | None:
    return value if isinstance(value, str) and re.fullmatch(r"[A-Z0-9_]{1,40}", value) else None


def _bool(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _day(value) -> str | None:
    return _date({"date": value})


def _registry(study: dict, ps: dict, status: dict, design: dict, arms: dict, refs: dict) -> dict:
    oversight = _module(ps, "oversightModule")
    ident = _module(ps, "identificationModule")
    locations = _module(ps, "contactsLocationsModule").get("locations") or []
    annotation = _module(_module(study, "annotationSection"), "annotationModule")
    unposted = _module(annotation, "unpostedAnnotation").get("unpostedEvents") or []

    countries: list[str] = []
    for loc in locations:
        country = _str(loc.get("country")) if isinstance(loc, dict) else None
        if country and country not in countries:
            countries.append(country)
    intervention_types: list[str] = []
    for item in arms.get("interventions") or []:
        kind = _upper(item.get("type")) if isinstance(item, dict) else None
        if kind and kind not in intervention_types:
            intervention_types.append(kind)
    references = []
    for ref in refs.get("references") or []:
        pmid = _str(ref.get("pmid")) if isinstance(ref, dict) else None
        if valid_pmid(pmid) and pmid not in (r["pmid"] for r in references):
            references.append({"pmid": pmid, "type": _upper(ref.get("type"))})
    ctis = []
    for sec in ident.get("secondaryIdInfos") or []:
        if isinstance(sec, dict) and sec.get("type") == "CTIS":
            value = _str(sec.get("id"))
            if value and value not in ctis:
                ctis.append(value)
    releases = sorted(
        d for d in (_day(e.get("date")) for e in unposted if isinstance(e, dict) and e.get("type") == "RELEASE") if d
    )
    start = _module(status, "startDateStruct")
    primary = _module(status, "primaryCompletionDateStruct")
    return {
        "study_type": _upper(design.get("studyType")),
        "primary_purpose": _upper(_module(design, "designInfo").get("primaryPurpose")),
        "intervention_types": intervention_types,
        "fda_regulated_drug": _bool(oversight.get("isFdaRegulatedDrug")),
        "fda_regulated_device": _bool(oversight.get("isFdaRegulatedDevice")),
        "countries": countries,
        "start_date": _date(start),
        "start_date_type": _upper(start.get("type")),
        "first_submitted": _day(status.get("studyFirstSubmitDate")),
        "primary_completion_type": _upper(primary.get("type")),
        "completion_date": _date(status.get("completionDateStruct")),
        "results_submitted": _day(status.get("resultsFirstSubmitDate")) or (releases[0] if releases else None),
        "results_posted": _date(status.get("resultsFirstPostDateStruct")),
        "delay_certificate_submitted": _day(status.get("dispFirstSubmitDate")),
        "ctis_numbers": ctis,
        "references": references,
    }
