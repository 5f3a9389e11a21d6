"""ClinicalTrials.gov v2 JSON → records, over every real study recording in tests/data/real-api."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from conftest import REAL, real_data

from harvest.errors import ParseError
from harvest.records.record import DESIGNS, FIELDS, valid_nct, valid_pmid
from harvest.sources.ctgov.parse import parse_ctgov

AACT = "ctgov-aact-fixtures/spec/support/json_data/{}.json"
WEBSITE = "ctgov-website-download/koy570-herniated_disc/ctg-studies.json"
ISO_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
CTGOV_FILES = sorted(str(p.relative_to(REAL)) for p in REAL.rglob("*.json") if "ctgov" in str(p.relative_to(REAL)))


def one(nct: str) -> dict:
    page = parse_ctgov(real_data(AACT.format(nct)), nct)
    assert len(page.records) == 1 and not page.errors
    return page.records[0]


def check_invariants(r: dict) -> None:
    assert list(r) == list(FIELDS)
    assert r["source"] == "ctgov" and valid_nct(r["nct_id"]) and r["id"] == f"ctgov:{r['nct_id']}"
    assert r["pmid"] is None and r["doi"] is None and r["authors"] == [] and r["journal"] is None
    assert isinstance(r["title"], str) and r["title"] and "\n" not in r["title"]
    assert r["design"] in DESIGNS
    assert isinstance(r["status"], str) and r["status"].isupper()
    assert isinstance(r["has_results"], bool)
    assert r["enrollment"] is None or (isinstance(r["enrollment"], int) and r["enrollment"] >= 0)
    for key in ("date", "primary_completion_date", "updated"):
        assert r[key] is None or ISO_RE.match(r[key])
    if r["date"]:
        assert r["year"] == int(r["date"][:4])
    assert all(valid_pmid(p) for p in r["linked_pmids"])
    assert r["retracted"] is False and r["corrections"] == [] and r["topics"] == []
    json.dumps(r, ensure_ascii=False)


@pytest.mark.parametrize("rel", CTGOV_FILES)
def test_every_real_ctgov_file_parses(rel):
    data = real_data(rel)
    page = parse_ctgov(data, rel)
    doc = json.loads(data)
    assert len(page.records) == (len(doc) if isinstance(doc, list) else 1)
    assert page.errors == [] and page.next_page_token is None and page.total_count is None
    for record in page.records:
        check_invariants(record)


def test_corpus_has_the_expected_files():
    # six single studies, the herniated-disc download and the 128 digital-therapeutic trials
    assert len(CTGOV_FILES) == 8 and WEBSITE in CTGOV_FILES
    assert "ctgov-website-download/UserZetsu-dtx-analysis/data/ctg-studies.json" in CTGOV_FILES


def test_randomized_phase2_with_results_NCT02210780():
    r = one("NCT02210780")
    assert r["title"] == "Study of Dupilumab and Immune Responses in Adults With Atopic Dermatitis (AD)"
    assert (r["status"], r["phases"], r["enrollment"], r["has_results"]) == ("COMPLETED", ["PHASE2"], 194, True)
    assert r["design"] == "rct"
    assert (r["year"], r["date"], r["primary_completion_date"], r["updated"]) == (
        2014,
        "2014-08-05",
        "2015-09-15",
        "2020-05-07",
    )
    assert r["conditions"] == ["Atopic Dermatitis"] and r["interventions"] == ["Dupilumab", "Placebo"]
    assert r["mesh"] == ["Dermatitis, Atopic", "Dermatitis", "Eczema"]
    assert r["linked_pmids"] == [] and r["why_stopped"] is None


def test_withdrawn_study_with_reference_NCT00973089():
    r = one("NCT00973089")
    assert (r["status"], r["phases"], r["enrollment"], r["has_results"]) == ("WITHDRAWN", ["NA"], 0, False)
    assert r["design"] == "rct"
    assert r["why_stopped"] == "recruiting or enrolling participants has halted prematurely and will not resume"
    assert r["linked_pmids"] == ["18519994"]
    assert (r["date"], r["year"]) == ("2010-05", 2010)
    assert r["keywords"] == ["Primary tooth", "Caries, Dental", "Alternative treatment"]
    assert r["mesh"] == ["Dental Caries"]


def test_observational_unknown_status_NCT03475563():
    r = one("NCT03475563")
    assert (r["status"], r["phases"], r["enrollment"], r["has_results"]) == ("UNKNOWN", [], 100, False)
    assert r["design"] == "observational"
    assert r["linked_pmids"] == ["25828372", "25689548", "26465375"]
    assert r["interventions"] == ["Coronary angioplasty with stent implantation"]
    assert r["primary_completion_date"] == "2019-12-30"


def test_observational_with_results_NCT05594173():
    r = one("NCT05594173")
    assert (r["status"], r["phases"], r["enrollment"], r["has_results"]) == ("COMPLETED", [], 20, True)
    assert r["design"] == "observational"
    assert r["title"] == "Chewing and Oral Processing of Solid Food"
    assert r["mesh"] == ["Deglutition Disorders"]


def test_randomized_device_na_phase_NCT00763412():
    r = one("NCT00763412")
    assert (r["status"], r["phases"], r["enrollment"], r["has_results"]) == ("COMPLETED", ["NA"], 31, True)
    assert r["design"] == "rct"
    assert r["interventions"] == ["placebo", "repaglinide"]
    assert r["mesh"][-1] == "Repaglinide"  # intervention browse MeSH after the condition ones
    assert (r["date"], r["updated"]) == ("2006-11", "2017-06-05")


def test_non_randomized_interventional_NCT04207047():
    r = one("NCT04207047")
    assert (r["status"], r["phases"], r["enrollment"], r["has_results"]) == ("UNKNOWN", ["NA"], 3, False)
    assert r["design"] == "clinical-trial"
    assert r["interventions"] == ["Genius", "eC02", "PicoPlus", "LaseMD", "LaseMD Flex"]
    assert r["mesh"] == []


def test_brief_summary_is_the_abstract_and_eligibility_is_never_read():
    data = real_data(AACT.format("NCT02210780"))
    doc = json.loads(data)
    r = one("NCT02210780")
    summary = " ".join(doc["protocolSection"]["descriptionModule"]["briefSummary"].split())
    assert r["abstract"] == [{"label": None, "text": summary, "html": summary}]
    criteria = doc["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    sample = " ".join(criteria.split())[20:80]
    assert sample not in json.dumps(r, ensure_ascii=False)


def test_website_download_array_of_100():
    page = parse_ctgov(real_data(WEBSITE), WEBSITE)
    records = page.records
    assert len(records) == 100 and not page.errors
    assert len({r["id"] for r in records}) == 100
    assert Counter(r["status"] for r in records) == {"COMPLETED": 100}
    assert sum(r["has_results"] for r in records) == 6
    assert sum(1 for r in records if r["linked_pmids"]) == 39
    phases = Counter(p for r in records for p in r["phases"])
    assert phases == {"PHASE1": 3, "NA": 60, "PHASE3": 10, "PHASE2": 6, "PHASE4": 6}
    assert sum(r["design"] in ("rct", "clinical-trial") for r in records) == 80
    assert sum(r["design"] == "observational" for r in records) == 20


def test_page_wrapper_gives_token_and_total():
    studies = json.loads(real_data(WEBSITE))[:3]
    body = json.dumps({"studies": studies, "nextPageToken": "NF0g5JGBlPMuwQY", "totalCount": 100}).encode()
    page = parse_ctgov(body, "page 1")
    assert [r["nct_id"] for r in page.records] == [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
    assert (page.next_page_token, page.total_count) == ("NF0g5JGBlPMuwQY", 100)
    last = parse_ctgov(json.dumps({"studies": studies}).encode(), "page 2")
    assert last.next_page_token is None and last.total_count is None


def test_same_study_same_record_whatever_the_wrapper():
    single = real_data(AACT.format("NCT03475563"))
    study = json.loads(single)
    a = parse_ctgov(single, "single").records
    b = parse_ctgov(json.dumps([study]).encode(), "array").records
    c = parse_ctgov(json.dumps({"studies": [study], "totalCount": 1}).encode(), "page").records
    assert a == b == c


# --- bad input ---------------------------------------------------------------------------------


def test_malformed_json_names_the_file():
    data = real_data(AACT.format("NCT00973089"))
    with pytest.raises(ParseError) as exc:
        parse_ctgov(data[: len(data) // 2], "ctgov page tms 2")
    assert str(exc.value).startswith("ctgov page tms 2: malformed JSON") and "\n" not in str(exc.value)


def test_invalid_utf8_names_the_file():
    data = real_data(AACT.format("NCT00973089")).replace(b"Alternative Treatment", b"Alternative \xff Treatment", 1)
    with pytest.raises(ParseError, match=r"^x\.json: "):
        parse_ctgov(data, "x.json")


def test_wrong_shape_names_the_file():
    rel = "astrocite-esummary/packages/astrocite-eutils/src/__tests__/fixtures/pubmed.json"
    with pytest.raises(ParseError) as exc:
        parse_ctgov(real_data(rel), rel)
    assert str(exc.value).startswith(rel + ": not a ClinicalTrials.gov study")
    with pytest.raises(ParseError, match="'studies' is not a list"):
        parse_ctgov(b'{"studies": {"a": 1}}', "p")


def test_one_bad_study_in_an_array_is_skipped_and_named():
    studies = json.loads(real_data(WEBSITE))[:4]
    studies[1]["protocolSection"]["identificationModule"]["nctId"] = "NCT123"
    del studies[2]["protocolSection"]
    page = parse_ctgov(json.dumps(studies).encode(), "download.json")
    assert len(page.records) == 2
    assert len(page.errors) == 2
    assert page.errors[0].startswith("download.json: NCT123: skipped: invalid NCT id")
    assert page.errors[1].startswith("download.json: study 3: skipped: no protocolSection")


def test_odd_values_do_not_leak_into_records():
    study = json.loads(real_data(AACT.format("NCT02210780")))
    study["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = "194"
    study["hasResults"] = "yes"
    study["protocolSection"]["identificationModule"]["briefTitle"] = "  Two\n\tlines\u0000 title\ud800 "
    r = parse_ctgov(json.dumps(study).encode(), "odd").records[0]
    assert r["enrollment"] is None and r["has_results"] is None
    assert r["title"] == "Two lines title"
    json.dumps(r, ensure_ascii=False).encode("utf-8")  # a lone surrogate would fail here


def test_markdown_backslash_escapes_are_removed_from_text_fields():
    """The website export writes `Spine Surgery \\& Research`: readers must see `&`, not `\\&`."""
    raw = json.loads(real_data(WEBSITE))
    records = {r["nct_id"]: r for r in parse_ctgov(real_data(WEBSITE), WEBSITE).records}
    escape = re.compile(r"\\([!-/:-@\[-`{-~])")
    seen = 0
    for study in raw:
        ps = study["protocolSection"]
        rec = records[ps["identificationModule"]["nctId"]]
        conds = ps.get("conditionsModule", {})
        sources = {
            "title": [ps["identificationModule"].get("briefTitle") or ps["identificationModule"]["officialTitle"]],
            "summary": [ps.get("descriptionModule", {}).get("briefSummary")],
            "conditions": conds.get("conditions", []),
            "keywords": conds.get("keywords", []),
            "interventions": [i["name"] for i in ps.get("armsInterventionsModule", {}).get("interventions", [])],
            "why_stopped": [ps["statusModule"].get("whyStopped")],
        }
        parsed = {
            "title": [rec["title"]],
            "summary": [rec["abstract"][0]["text"] if rec["abstract"] else None],
            "conditions": rec["conditions"], "keywords": rec["keywords"],
            "interventions": rec["interventions"], "why_stopped": [rec["why_stopped"]],
        }
        for field, values in sources.items():
            values = [" ".join(v.split()) for v in values if v and v.strip()]
            expected = list(dict.fromkeys(escape.sub(r"\1", v) for v in values))
            got = [v for v in parsed[field] if v]
            assert got == expected, (rec["nct_id"], field)
            assert not any("\\&" in v for v in got), (rec["nct_id"], field)
            seen += sum(1 for v in values if escape.search(v))
    assert seen > 0, "the recording no longer has any backslash escapes to test"
    spine = [r for r in records.values() if "Spine Surgery & Research" in r["abstract"][0]["text"]]
    assert spine and "\\" not in spine[0]["abstract"][0]["text"].split("Spine Surgery")[1][:20]
    # nothing else in the text changed: removing exactly the escapes from the source gives the record
    src = next(s for s in raw if s["protocolSection"]["identificationModule"]["nctId"] == spine[0]["nct_id"])
    summary = " ".join(src["protocolSection"]["descriptionModule"]["briefSummary"].split())
    assert spine[0]["abstract"][0]["text"] == summary.replace("\\&", "&").replace("\\<", "<").replace("\\>", ">")
