"""RIS and BibTeX formatting of real parsed records (harvest/cards/citations.py)."""

from __future__ import annotations

import re

from harvest.cards.citations import (
    bibtex_key,
    latex_escape,
    split_author,
    to_bibtex,
    to_ris,
    unique_keys,
)
from harvest.sources.pubmed.parse import parse_pubmed
from sitebuild import CT_AACT, PM, REAL_API, derive, real_records

HOSTILE_PMID = "93000001"
HOSTILE_TITLE = 'Evil =1+1 <script>alert(1)</script> 100% {\\textbf{x}} $a_b$ #1 ~ ^ & "q"'


def pain_review():
    return real_records(PM.format("32525788"))[0]


def hostile_record():
    """The real 32525788 efetch XML with its title replaced by hostile text, parsed for real."""
    data = (REAL_API / PM.format("32525788")).read_bytes()
    xml_title = (HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                 + "\nER  - \nTY  - JOUR")
    data = data.replace(b"Pain Perception and Management: Where do We Stand?", xml_title.encode())
    data = data.replace(b'<PMID Version="1">32525788</PMID>', f'<PMID Version="1">{HOSTILE_PMID}</PMID>'.encode())
    return parse_pubmed(data, "hostile.xml").records[0]


def test_hostile_fixture_is_a_new_record():
    record = hostile_record()
    assert record["id"] == f"pubmed:{HOSTILE_PMID}" and record["title"].startswith(HOSTILE_TITLE)


def test_ris_of_a_real_article_has_authors_doi_year_and_ids():
    record = pain_review()
    ris = to_ris(record, "https://example.org/evidence/pubmed/32525788.html")
    lines = ris.split("\r\n")
    assert lines[0] == "TY  - JOUR"
    assert lines[-2:] == ["ER  - ", ""]
    assert "TI  - Pain Perception and Management: Where do We Stand?" in lines
    assert [l for l in lines if l.startswith("AU  - ")] == [
        "AU  - Afridi, B.", "AU  - Khan, H.", "AU  - Akkol, E.K.", "AU  - Aschner, M."]
    assert "PY  - 2021" in lines
    assert "DO  - 10.2174/1874467213666200611142438" in lines
    assert "AN  - 32525788" in lines
    assert "C2  - PMC7728656" in lines
    assert "JO  - Current molecular pharmacology" in lines
    assert "UR  - https://example.org/evidence/pubmed/32525788.html" in lines
    assert "UR  - https://pubmed.ncbi.nlm.nih.gov/32525788/" in lines
    assert any(l.startswith("AB  - BACKGROUND: Pain is often flammable") for l in lines)
    assert "KW  - Nociceptors" in lines
    # Every line is "XX  - value": no value can spill onto a line of its own.
    assert all(re.match(r"^[A-Z][A-Z0-9]  - ", l) for l in lines[:-1])


def test_bibtex_of_a_real_article():
    record = pain_review()
    bib = to_bibtex(record)
    assert bib.startswith("@article{afridi2021pain,\n")
    assert "  author = {Afridi, B. and Khan, H. and Akkol, E. K. and Aschner, M.},\n" in bib
    assert "  title = {{Pain Perception and Management: Where do We Stand?}},\n" in bib
    assert "  year = {2021},\n" in bib
    assert "  doi = {10.2174/1874467213666200611142438},\n" in bib
    assert "  journal = {Current molecular pharmacology},\n" in bib
    assert "  url = {https://pubmed.ncbi.nlm.nih.gov/32525788/}" in bib
    assert bib.endswith("}\n")


def test_trial_citation_is_a_registry_entry_without_authors():
    trial = real_records(CT_AACT.format("NCT00973089"))[0]
    ris = to_ris(trial)
    assert ris.startswith("TY  - ELEC\r\n")
    assert "AU  - " not in ris
    assert "DB  - ClinicalTrials.gov\r\n" in ris
    assert "AN  - NCT00973089\r\n" in ris
    assert "UR  - https://clinicaltrials.gov/study/NCT00973089\r\n" in ris
    assert "N1  - Trial status: WITHDRAWN\r\n" in ris
    bib = to_bibtex(trial)
    assert bib.startswith("@misc{")
    assert "  number = {NCT00973089},\n" in bib
    assert "  howpublished = {ClinicalTrials.gov},\n" in bib


def test_hostile_title_cannot_break_ris_or_bibtex():
    record = hostile_record()
    ris = to_ris(record)
    lines = ris.split("\r\n")
    # The injected "\nER  - \nTY  - JOUR" stayed inside the title line: one record, one ER.
    assert sum(1 for l in lines if l.startswith("ER  -")) == 1
    assert sum(1 for l in lines if l.startswith("TY  -")) == 1
    title_line = next(l for l in lines if l.startswith("TI  - "))
    assert title_line.endswith("<script>alert(1)</script> 100% {\\textbf{x}} $a_b$ #1 ~ ^ & \"q\" ER - TY - JOUR")

    bib = to_bibtex(record)
    title = next(l for l in bib.splitlines() if l.startswith("  title = "))
    assert "<script>" not in bib and "\\textless{}script\\textgreater{}" in title
    assert "100\\%" in title and "\\$a\\_b\\$" in title and "\\#1" in title and "\\&" in title
    assert "\\textbackslash{}textbf\\{x\\}" in title
    assert "\\textasciitilde{}" in title and "\\textasciicircum{}" in title
    # Braces in the entry balance, so the title cannot close the field or the entry early.
    depth = 0
    for ch in re.sub(r"\\[{}]", "", bib):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0


def test_latex_escape_and_author_names():
    assert latex_escape("a_b & c%") == "a\\_b \\& c\\%"
    assert latex_escape("line\nbreak\u2028here") == "line break here"
    assert split_author("van der Berg JA") == ("van der Berg", "JA")
    assert split_author("STAR*D Study Group") is None
    record = derive(pain_review(), authors=["STAR*D Study Group", "Smith JA"])
    bib = to_bibtex(record)
    # A collective name is braced so BibTeX does not split it into first/last names.
    assert "author = {{STAR*D Study Group} and Smith, J. A.}" in bib
    assert "AU  - STAR*D Study Group\r\n" in to_ris(record)


def test_unique_keys_are_stable_and_independent_of_order():
    base = pain_review()
    a = derive(base, "90000011")
    b = derive(base, "90000012")
    c = derive(base, "90000013", title="Another title entirely")
    keys = unique_keys([a, b, c])
    assert keys == ["afridi2021paina", "afridi2021painb", "afridi2021another"]
    assert unique_keys([c, b, a]) == list(reversed(keys))
    assert bibtex_key(c) == "afridi2021another"
    bib = "\n".join(to_bibtex(r, k) for r, k in zip((a, b, c), keys))
    found = re.findall(r"^@\w+\{([^,]+),$", bib, re.MULTILINE)
    assert found == keys and len(set(found)) == 3
