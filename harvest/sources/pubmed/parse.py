"""PubMed XML (efetch ``PubmedArticleSet`` or baseline ``MedlineCitationSet``) → normalized records.

Pure: bytes in, records out, no network and no files.  The fetch layer and the replay path both call
:func:`parse_pubmed`, so a record gets the same fields whichever way it arrived.

Choices worth knowing (the Methods page quotes them):

* ``date`` is the journal issue date (``PubDate``) as precise as PubMed gives it ("2024", "2024-03",
  "2024-03-05"), so that it always agrees with ``year`` — the year every citation style prints.  A
  ``MedlineDate`` range such as "1998 Dec-1999 Jan" gives its start ("1998-12").  The electronic
  ``ArticleDate`` is used only when the issue date has no year at all.
* ``design`` is the strongest design (``record.DESIGNS`` order) any publication type maps to; see
  :data:`DESIGN_OF_TYPE`.  Veterinary trial types map to "other": evidence levels on this site are
  about evidence in people.  "Comparative Study" is a MEDLINE indexing tag applied to any comparison
  (bench work included), not a design, so it maps to nothing.
* ``corrections`` lists the notices *about* this record (retraction, partial retraction, erratum,
  expression of concern, update, republication), never comments or the notices it itself issues.
* ``updated`` is ``DateRevised``.
* Authors are "Surname Initials" (``ValidYN="N"`` entries, which PubMed keeps for corrected author
  lists, are dropped); a ``CollectiveName`` is kept as written.
* Parsing never loads DTDs, resolves entities or touches the network.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from lxml import etree

from harvest.errors import ParseError
from harvest.records.record import DESIGNS, NCT_RE, ordered, valid_pmid
from harvest.records.sanitize import collapse, inline

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

# PubMed publication type → design.  Types not listed (Journal Article, Multicenter Study,
# Comparative Study, English Abstract, Published Erratum, ...) say nothing about the design.
DESIGN_OF_TYPE = {
    "Meta-Analysis": "meta-analysis",
    "Network Meta-Analysis": "meta-analysis",
    "Systematic Review": "systematic-review",
    "Randomized Controlled Trial": "rct",
    "Clinical Trial": "clinical-trial",
    "Clinical Trial, Phase I": "clinical-trial",
    "Clinical Trial, Phase II": "clinical-trial",
    "Clinical Trial, Phase III": "clinical-trial",
    "Clinical Trial, Phase IV": "clinical-trial",
    "Controlled Clinical Trial": "clinical-trial",
    "Pragmatic Clinical Trial": "clinical-trial",
    "Equivalence Trial": "clinical-trial",
    "Adaptive Clinical Trial": "clinical-trial",
    "Observational Study": "observational",
    "Twin Study": "observational",
    "Case Reports": "case-report",
    "Review": "review",
    "Scoping Review": "review",
    "Practice Guideline": "guideline",
    "Guideline": "guideline",
    "Consensus Development Conference": "guideline",
    "Consensus Development Conference, NIH": "guideline",
    "Comment": "commentary",
    "Editorial": "commentary",
    "Letter": "commentary",
    "News": "commentary",
    "Newspaper Article": "commentary",
    "Interview": "commentary",
}

CORRECTION_TYPES = (
    "RetractionIn",
    "PartialRetractionIn",
    "ErratumIn",
    "ExpressionOfConcernIn",
    "UpdateIn",
    "RepublishedIn",
)
RETRACTION_TYPES = frozenset({"RetractionIn"})

_YEAR_RE = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
_MEDLINE_DATE_RE = re.compile(r"^\s*(\d{4})(?:\s+([A-Za-z]{3}))?")

_PARSER_OPTS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=True,  # a baseline file is one big document; entities are off, so no bomb risk
)


@dataclass
class PubmedBatch:
    records: list[dict] = field(default_factory=list)
    books_skipped: int = 0
    errors: list[str] = field(default_factory=list)


def parse_pubmed(data: bytes, name: str) -> PubmedBatch:
    """Parse one PubMed XML document.  Raises ParseError for a document that is not well-formed."""
    try:
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTS))
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{name}: not well-formed PubMed XML: {_one_line(str(exc))}") from None
    except ValueError as exc:  # e.g. a str with an encoding declaration
        raise ParseError(f"{name}: cannot read as XML: {_one_line(str(exc))}") from None
    if root.tag not in ("PubmedArticleSet", "MedlineCitationSet"):
        raise ParseError(f"{name}: root element <{root.tag}> is not PubmedArticleSet or MedlineCitationSet")
    batch = PubmedBatch()
    for position, node in enumerate(root, 1):
        tag = node.tag
        if tag == "PubmedArticle":
            citation = node.find("MedlineCitation")
            pubmed_data = node.find("PubmedData")
        elif tag == "MedlineCitation":
            citation, pubmed_data = node, None
        elif tag == "PubmedBookArticle":
            batch.books_skipped += 1
            continue
        else:  # DeleteCitation (update files), comments, anything new: nothing to index
            continue
        pmid = _pmid_of(citation)
        try:
            if citation is None:
                raise ValueError("no MedlineCitation")
            if not valid_pmid(pmid):
                raise ValueError(f"invalid PMID {pmid!r}")
            batch.records.append(_record(citation, pubmed_data, pmid))
        except Exception as exc:  # one bad record must not sink the batch
            who = f"PMID {pmid}" if pmid else f"record {position}"
            batch.errors.append(f"{name}: {who}: skipped: {_one_line(str(exc))}")
    return batch


_LXML_WHERE_RE = re.compile(r"\s*\(<string>, line \d+\)\s*$")


def _one_line(text: str) -> str:
    return _LXML_WHERE_RE.sub("", collapse(text))[:300]


def _pmid_of(citation) -> str | None:
    if citation is None:
        return None
    el = citation.find("PMID")
    return collapse(el.text) if el is not None and el.text else None


def _text(el) -> str | None:
    if el is None:
        return None
    if len(el) == 0:
        return collapse(el.text) or None
    return collapse("".join(el.itertext())) or None


def _iso(year: str | None, month: str | None = None, day: str | None = None) -> str | None:
    if not year:
        return None
    year = year.strip()
    if len(year) != 4 or not year.isdigit():
        return None
    m = _month(month)
    if not m:
        return year
    if day:
        day = day.strip()
        if day.isdigit() and 1 <= int(day) <= 31:
            return f"{year}-{m:02d}-{int(day):02d}"
    return f"{year}-{m:02d}"


def _month(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        m = int(value)
        return m if 1 <= m <= 12 else None
    return MONTHS.get(value[:3].lower())


def _date_of(el) -> str | None:
    """ISO date of a Year/Month/Day element (DateRevised, ArticleDate, PubDate)."""
    if el is None:
        return None
    parts = {child.tag: child.text for child in el}
    return _iso(parts.get("Year"), parts.get("Month"), parts.get("Day"))


def _pub_date(pub, article_dates) -> tuple[int | None, str | None]:
    year = date = None
    if pub is not None:
        date = _date_of(pub)
        if date:
            year = int(date[:4])
        else:
            medline = pub.findtext("MedlineDate") or ""
            m = _YEAR_RE.search(medline)
            if m:
                year = int(m.group(1))
                start = _MEDLINE_DATE_RE.match(medline)
                if start and start.group(1) == m.group(1):
                    date = _iso(start.group(1), start.group(2))
                else:
                    date = m.group(1)
    if year is None:
        for ad in article_dates:
            date = _date_of(ad)
            if date:
                year = int(date[:4])
                break
    return year, date


def _author(author) -> str | None:
    if author.get("ValidYN") == "N":
        return None
    last = initials = fore = suffix = None
    for child in author:
        tag = child.tag
        if tag == "LastName":
            last = child.text
        elif tag == "Initials":
            initials = child.text
        elif tag == "ForeName":
            fore = child.text
        elif tag == "Suffix":
            suffix = child.text
        elif tag == "CollectiveName":
            return inline(child)[0] or None
    initials = collapse(initials)
    if not initials and fore:
        initials = "".join(p[0] for p in re.split(r"[\s\-.]+", collapse(fore)) if p)
    name = " ".join(p for p in (collapse(last), initials, collapse(suffix)) if p)
    return name or None


def _pages(pagination) -> str | None:
    """Page range from <Pagination>: StartPage-EndPage when given, else MedlinePgn with an
    abbreviated end page written out ("1001-9" -> "1001-1009", as citation styles print it)."""
    if pagination is None:
        return None
    start, end = _text(pagination.find("StartPage")), _text(pagination.find("EndPage"))
    if start:
        return f"{start}-{end}" if end and end != start else start
    pages = _text(pagination.find("MedlinePgn")) or ""
    m = re.fullmatch(r"(\d+)-(\d+)", pages)
    if m and len(m.group(2)) < len(m.group(1)):
        first, last = m.groups()
        pages = f"{first}-{first[: len(first) - len(last)]}{last}"
    return pages or None


def _unique(values) -> list:
    seen = set()
    out = []
    for v in values:
        if v and v not in seen:
            seen.add(v)
            out.append(v)
    return out


def _record(citation, pubmed_data, pmid: str) -> dict:
    # One pass over the children of MedlineCitation and Article: cheaper than a find() per field,
    # which matters at 20,000 records a run.
    article = None
    updated = None
    mesh: list[str] = []
    keywords: list[str] = []
    corrections: list[dict] = []
    other_ids: list[str] = []
    medline_ta = None
    for child in citation:
        tag = child.tag
        if tag == "Article":
            article = child
        elif tag == "DateRevised":
            updated = _date_of(child)
        elif tag == "MeshHeadingList":
            for heading in child:
                for d in heading:
                    if d.tag == "DescriptorName":
                        mesh.append(_text(d))
        elif tag == "KeywordList":
            for k in child:
                if k.tag == "Keyword":
                    keywords.append(inline(k)[0])
        elif tag == "CommentsCorrectionsList":
            for cc in child:
                ref_type = cc.get("RefType")
                if ref_type in CORRECTION_TYPES:
                    ref_pmid = collapse(cc.findtext("PMID")) or None
                    corrections.append({"type": ref_type, "pmid": ref_pmid if valid_pmid(ref_pmid) else None})
        elif tag == "OtherID":
            other_ids.append(collapse(child.text))
        elif tag == "MedlineJournalInfo":
            medline_ta = _text(child.find("MedlineTA"))
    if article is None:
        raise ValueError("no Article element")

    title_el = vernacular = journal_el = pub_date = None
    abstract = []
    authors = []
    pub_types = []
    article_dates = []
    elocation_doi = None
    pagination = None
    nct_ids = []
    for child in article:
        tag = child.tag
        if tag == "ArticleTitle":
            title_el = child
        elif tag == "Abstract":
            for part in child:
                if part.tag != "AbstractText":
                    continue
                text, html = inline(part)
                if text:
                    label = collapse(part.get("Label")) or None
                    abstract.append({"label": label, "text": text, "html": html})
        elif tag == "AuthorList":
            for author in child:
                name = _author(author)
                if name:
                    authors.append(unicodedata.normalize("NFC", name))
        elif tag == "PublicationTypeList":
            pub_types = _unique(_text(pt) for pt in child)
        elif tag == "Journal":
            journal_el = child
            pub_date = child.find("JournalIssue/PubDate")
        elif tag == "Pagination":
            pagination = child
        elif tag == "ELocationID":
            if elocation_doi is None and child.get("EIdType") == "doi" and child.get("ValidYN", "Y") == "Y":
                elocation_doi = collapse(child.text) or None
        elif tag == "ArticleDate":
            article_dates.append(child)
        elif tag == "VernacularTitle":
            vernacular = child
        elif tag == "DataBankList":
            for bank in child:
                if collapse(bank.findtext("DataBankName")).lower() != "clinicaltrials.gov":
                    continue
                for acc in bank.iterfind("AccessionNumberList/AccessionNumber"):
                    value = collapse(acc.text).upper()
                    if NCT_RE.match(value):
                        nct_ids.append(value)

    title, title_html = inline(title_el)
    if not title:
        title, title_html = inline(vernacular)

    journal = None
    if journal_el is not None:
        journal = _text(journal_el.find("Title")) or _text(journal_el.find("ISOAbbreviation"))
    journal = journal or medline_ta

    year, date = _pub_date(pub_date, article_dates)
    volume = issue = None
    if journal_el is not None:
        volume = _text(journal_el.find("JournalIssue/Volume")) or None
        issue = _text(journal_el.find("JournalIssue/Issue")) or None

    designs = {DESIGN_OF_TYPE[t] for t in pub_types if t in DESIGN_OF_TYPE}
    design = next((d for d in DESIGNS if d in designs), "other")

    doi = pmcid = None
    if pubmed_data is not None:
        for aid in pubmed_data.iterfind("ArticleIdList/ArticleId"):
            kind = aid.get("IdType")
            if kind == "doi" and not doi:
                doi = collapse(aid.text) or None
            elif kind == "pmc" and not pmcid:
                pmcid = collapse(aid.text) or None
    doi = doi or elocation_doi
    if not pmcid:
        pmcid = next((v for v in other_ids if v.startswith("PMC") and v[3:].isdigit()), None)

    retracted = "Retracted Publication" in pub_types or any(
        c["type"] in RETRACTION_TYPES for c in corrections
    )

    return ordered(
        {
            "id": f"pubmed:{pmid}",
            "source": "pubmed",
            "pmid": pmid,
            "nct_id": None,
            "doi": doi,
            "pmcid": pmcid,
            "title": title or None,
            "title_html": title_html or None,
            "authors": authors,
            "journal": journal,
            "volume": volume,
            "issue": issue,
            "pages": _pages(pagination),
            "year": year,
            "date": date,
            "design": design,
            "publication_types": pub_types,
            "mesh": _unique(mesh),
            "keywords": _unique(keywords),
            "abstract": abstract,
            "status": None,
            "has_results": None,
            "enrollment": None,
            "linked_nct_ids": _unique(nct_ids),
            "linked_pmids": [],
            "mentioned_nct_ids": [n for n in _nct_mentions(abstract) if n not in nct_ids],
            "retracted": retracted,
            "corrections": corrections,
            "topics": [],
            "updated": updated,
        }
    )


# An NCT number written in the abstract ("NCT01234567", "NCT 01234567"): the weakest sign that a
# paper is about a trial, since abstracts also cite trials they only discuss.
_NCT_MENTION_RE = re.compile(r"\bNCT ?([0-9]{8})\b")


def _nct_mentions(abstract: list[dict]) -> list[str]:
    return _unique("NCT" + m.group(1) for s in abstract for m in _NCT_MENTION_RE.finditer(s.get("text") or ""))
