"""Volume, issue and pages from real PubMed records into RIS and BibTeX; DOIs kept as DOIs; titles
without PubMed's closing full stop (harvest/sources/pubmed/parse.py, harvest/cards/citations.py)."""

from __future__ import annotations

from harvest.cards.citations import doi_url, to_bibtex, to_ris
from harvest.sources.pubmed.parse import parse_pubmed
from sitebuild import PM, REAL_API, derive, real_records

BIO = "biopython-sdist-1.88/Tests/Entrez/{}"


def one(rel, pmid):
    return next(r for r in real_records(rel) if r["pmid"] == pmid)


def ris_lines(record):
    return to_ris(record).split("\r\n")


def bib_fields(record):
    body = to_bibtex(record)
    return dict(line.strip().rstrip(",").split(" = ", 1) for line in body.splitlines()[1:-1])


def test_parser_keeps_volume_issue_and_pages():
    pnas = one(PM.format("38011560"), "38011560")
    assert (pnas["volume"], pnas["issue"], pnas["pages"]) == ("120", "49", "e2305772120")
    # StartPage/EndPage give the full range, not MedlinePgn's abbreviated "244-55"
    assert one(BIO.format("pubmed2.xml"), "11748933")["pages"] == "244-255"
    frontiers = one(BIO.format("pubmed6.xml"), "30108519")
    assert frontiers["pages"] == "1034" and frontiers["issue"] is None


def test_abbreviated_medline_pages_are_written_out():
    # Older PubMed records carry only MedlinePgn: the real 11748933 reply with its StartPage and
    # EndPage removed, as such a record arrives.
    raw = (REAL_API / BIO.format("pubmed2.xml")).read_bytes()
    cut = b"<StartPage>244</StartPage><EndPage>255</EndPage>"
    assert cut in raw
    batch = parse_pubmed(raw.replace(cut, b""), "pubmed2.xml (MedlinePgn only)")
    record = next(r for r in batch.records if r["pmid"] == "11748933")
    assert record["pages"] == "244-255"


def test_ris_and_bibtex_carry_volume_issue_and_pages():
    pnas = one(PM.format("38011560"), "38011560")
    lines = ris_lines(pnas)
    assert {"VL  - 120", "IS  - 49", "SP  - e2305772120"} <= set(lines)
    assert not any(line.startswith("EP  - ") for line in lines)
    fields = bib_fields(pnas)
    assert fields["volume"] == "{120}" and fields["number"] == "{49}" and fields["pages"] == "{e2305772120}"

    ranged = one(BIO.format("pubmed2.xml"), "11748933")
    assert {"SP  - 244", "EP  - 255"} <= set(ris_lines(ranged))
    assert bib_fields(ranged)["pages"] == "{244--255}"


def test_titles_lose_pubmeds_full_stop_in_citations_only():
    pnas = one(PM.format("38011560"), "38011560")
    assert pnas["title"].endswith("treatments.")
    assert "TI  - Ketamine and the neurobiology of depression: Toward next-generation rapid-acting " \
           "antidepressant treatments" in ris_lines(pnas)
    assert bib_fields(pnas)["title"].endswith("antidepressant treatments}}")
    question = real_records(PM.format("32525788"))[0]  # "...: Where do We Stand?" keeps its mark
    assert "TI  - Pain Perception and Management: Where do We Stand?" in ris_lines(question)


def test_dois_stay_dois_in_bibtex_and_links_are_url_encoded():
    paren = one(BIO.format("pubmed1.xml"), "9997")
    assert paren["doi"] == "10.1016/0005-2795(76)90109-4"
    assert bib_fields(paren)["doi"] == "{10.1016/0005-2795(76)90109-4}"
    assert doi_url(paren["doi"]) == "https://doi.org/10.1016/0005-2795(76)90109-4"
    # A DOI with characters LaTeX escaping would mangle and a URL would misread (SICI-style DOIs
    # hold all of them); the real PNAS record with its DOI changed.
    sici = derive(one(PM.format("38011560"), "38011560"), doi="10.1002/(SICI)1097-4598_x<688::AID>3.0.CO;2-2#a%b")
    assert bib_fields(sici)["doi"] == "{10.1002/(SICI)1097-4598_x<688::AID>3.0.CO;2-2#a%b}"
    assert doi_url(sici["doi"]) == "https://doi.org/10.1002/(SICI)1097-4598_x%3C688::AID%3E3.0.CO;2-2%23a%25b"


def test_card_page_shows_volume_issue_and_pages(tmp_path):
    from bs4 import BeautifulSoup

    from sitebuild import build_site

    pnas = derive(one(PM.format("38011560"), "38011560"), topics=["ketamine"])
    out = build_site(tmp_path, [pnas], editor_content=False)
    page = BeautifulSoup((out / "evidence" / "pubmed" / "38011560.html").read_text(encoding="utf-8"), "html.parser")
    line = " ".join(page.select_one(".source-line").get_text(" ").split())
    assert line.startswith("Proceedings of the National Academy of Sciences of the United States of America "
                           "120(49):e2305772120 · 2023"), line
