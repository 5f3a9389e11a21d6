"""RIS and BibTeX citations of normalized records.

Pure formatting: a record (and optionally the URL of its card page) in, text out; the same input always
gives the same bytes.  Used for each card page's own RIS / BibTeX and
for the bulk downloads (plugins/exports: per topic).

Harvested text is untrusted here too: every value is collapsed to one line, so a title holding
``"\\nER  - "`` cannot end a RIS record early, and BibTeX values have LaTeX's special characters
escaped, so a title cannot close its braces or run a macro.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from urllib.parse import quote

from harvest.records.dates import parts
from harvest.records.record import DESIGN_LABELS, ordered
from harvest.records.sanitize import one_line as _line

# RIS lines end in CR LF (RIS format specification); importers accept it everywhere.
RIS_EOL = "\r\n"

# PubMed's "Surname Initials" form; anything else (a collective name) is kept whole.
_PERSON_RE = re.compile(r"^(?P<surname>.+?)\s+(?P<initials>[A-Z]{1,4})$")
_KEY_WORD_RE = re.compile(r"[a-z0-9]+")
_STOP_WORDS = frozenset("a an and as at by for from in into is of on or the to with".split())

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIALS))


def citation_title(record: dict) -> str:
    """The title as a citation prints it: PubMed ends every ArticleTitle with a full stop, which a
    reference list adds itself (a title ending in "?" or "!" keeps it; "..." stays)."""
    title = _line(record.get("title"))
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1]
    return title


def doi_url(doi: str) -> str:
    """https://doi.org/ link for a DOI.  DOIs may hold #, ?, %, <, > or spaces, which would end or
    change a URL: those are percent-encoded; characters a URL path allows as they are (RFC 3986
    pchar, e.g. the parentheses of 10.1016/0005-2795(76)90109-4) stay readable."""
    return "https://doi.org/" + quote(_line(doi), safe="/:@!$&'()*+,;=")


def verbatim(value: object) -> str:
    """A BibTeX field read verbatim (doi, url): no LaTeX escaping, which would put backslashes into
    the identifier; only a brace could end the value early, so braces are percent-encoded."""
    return _line(value).replace("{", "%7B").replace("}", "%7D")


def page_range(record: dict) -> tuple[str, str]:
    """(first page, last page) of the record's pages; the last is "" for one page or an article number."""
    pages = _line(record.get("pages"))
    first, _, last = pages.partition("-")
    return first.strip(), last.strip()


def latex_escape(text: object) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], _line(text))


def split_author(name: str) -> tuple[str, str] | None:
    """``"Smith JA"`` -> ``("Smith", "JA")``; ``None`` for a collective name."""
    m = _PERSON_RE.match(_line(name))
    if not m:
        return None
    return m.group("surname"), m.group("initials")


def _dotted(initials: str) -> str:
    return " ".join(f"{c}." for c in initials)


def abstract_text(record: dict) -> str:
    parts = []
    for section in record.get("abstract") or []:
        label = _line(section.get("label"))
        text = _line(section.get("text"))
        parts.append(f"{label}: {text}" if label and text else label or text)
    return " ".join(p for p in parts if p)


def source_url(record: dict) -> str | None:
    """The record's page at its source (PubMed or ClinicalTrials.gov)."""
    if record.get("source") == "pubmed" and record.get("pmid"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{record['pmid']}/"
    if record.get("source") == "ctgov" and record.get("nct_id"):
        return f"https://clinicaltrials.gov/study/{record['nct_id']}"
    return None


def _date_parts(record: dict) -> tuple[str, str]:
    """(year, RIS date ``YYYY/MM/DD/``) from the record's ISO date, as precise as known."""
    date = _line(record.get("date"))
    year = str(record["year"]) if record.get("year") else date[:4]
    pieces = date.split("-") if parts(date, whole=True) else []
    ris_date = ""
    if pieces:
        ris_date = "/".join(pieces + [""] * (3 - len(pieces))) + "/"
    return year, ris_date


def _notes(record: dict) -> list[str]:
    notes = []
    if record.get("retracted"):
        notes.append("RETRACTED publication")
    for corr in record.get("corrections") or []:
        kind = _line(corr.get("type"))
        pmid = _line(corr.get("pmid"))
        if kind and kind != "RetractionIn":
            notes.append(f"{kind}: PMID {pmid}" if pmid else kind)
    if record.get("source") == "ctgov":
        if record.get("status"):
            notes.append(f"Trial status: {_line(record['status'])}")
        if record.get("phases"):
            notes.append("Phase: " + ", ".join(_line(p) for p in record["phases"]))
        if record.get("enrollment") is not None:
            notes.append(f"Enrollment: {record['enrollment']}")
    if record.get("design"):
        notes.append("Design: " + DESIGN_LABELS.get(record["design"], _line(record["design"])))
    return notes


def to_ris(record: dict, url: str | None = None) -> str:
    """One RIS record (``TY`` ... ``ER``), lines ending in CR LF."""
    record = ordered(record)
    is_trial = record["source"] == "ctgov"
    lines: list[tuple[str, str]] = [("TY", "ELEC" if is_trial else "JOUR")]
    lines.append(("TI", citation_title(record)))
    for name in record["authors"]:
        person = split_author(name)
        lines.append(("AU", f"{person[0]}, {''.join(c + '.' for c in person[1])}" if person else _line(name)))
    year, ris_date = _date_parts(record)
    if year:
        lines.append(("PY", year))
    if ris_date:
        lines.append(("DA", ris_date))
    if record["journal"]:
        lines.append(("T2", _line(record["journal"])))
        lines.append(("JO", _line(record["journal"])))
    lines.append(("VL", _line(record["volume"])))
    lines.append(("IS", _line(record["issue"])))
    first, last = page_range(record)
    lines.append(("SP", first))
    lines.append(("EP", last))
    if record["doi"]:
        lines.append(("DO", _line(record["doi"])))
    if is_trial:
        lines.append(("DB", "ClinicalTrials.gov"))
        lines.append(("AN", _line(record["nct_id"])))
    else:
        lines.append(("DB", "PubMed"))
        lines.append(("AN", _line(record["pmid"])))
        if record["pmcid"]:
            lines.append(("C2", _line(record["pmcid"])))
    for link in (url, source_url(record)):
        if link:
            lines.append(("UR", link))
    abstract = abstract_text(record)
    if abstract:
        lines.append(("AB", abstract))
    for term in list(record["mesh"]) + list(record["keywords"]):
        if _line(term):
            lines.append(("KW", _line(term)))
    for note in _notes(record):
        lines.append(("N1", note))
    lines.append(("ER", ""))
    return "".join(f"{tag}  - {value}{RIS_EOL}" for tag, value in lines if value or tag == "ER")


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _KEY_WORD_RE.findall(folded)


def bibtex_key(record: dict) -> str:
    """``surname + year + first significant title word``, ASCII only, e.g. ``smith2024ketamine``."""
    authors = record.get("authors") or []
    surname = ""
    if authors:
        person = split_author(authors[0])
        surname = "".join(_ascii_words(person[0] if person else authors[0])[:1])
    if not surname:
        surname = "nct" if record.get("source") == "ctgov" else "anon"
    year, _ = _date_parts(record)
    words = [w for w in _ascii_words(_line(record.get("title"))) if w not in _STOP_WORDS]
    return f"{surname}{year or 'nd'}{words[0] if words else ''}"


def _bib_author(name: str) -> str:
    person = split_author(name)
    if person:
        return f"{latex_escape(person[0])}, {_dotted(person[1])}"
    # Braces keep BibTeX from splitting "STAR*D Study Group" into first and last names.
    return "{" + latex_escape(name) + "}"


def to_bibtex(record: dict, key: str | None = None, url: str | None = None) -> str:
    record = ordered(record)
    is_trial = record["source"] == "ctgov"
    fields: list[tuple[str, str]] = []
    # Double braces keep the title's capitals (TMS, PGx) as written.
    fields.append(("title", "{" + latex_escape(citation_title(record)) + "}"))
    if record["authors"]:
        fields.append(("author", " and ".join(_bib_author(a) for a in record["authors"])))
    if record["journal"]:
        fields.append(("journal", latex_escape(record["journal"])))
    year, _ = _date_parts(record)
    if year:
        fields.append(("year", latex_escape(year)))
    if record["volume"]:
        fields.append(("volume", latex_escape(record["volume"])))
    if record["issue"]:
        fields.append(("number", latex_escape(record["issue"])))
    if record["pages"]:
        first, last = page_range(record)
        fields.append(("pages", latex_escape(first) + (f"--{latex_escape(last)}" if last else "")))
    if record["doi"]:
        fields.append(("doi", verbatim(record["doi"])))
    if is_trial:
        fields.append(("howpublished", "ClinicalTrials.gov"))
        fields.append(("number", latex_escape(record["nct_id"])))
    else:
        fields.append(("pmid", latex_escape(record["pmid"])))
        if record["pmcid"]:
            fields.append(("pmcid", latex_escape(record["pmcid"])))
    link = url or source_url(record)
    if link:
        fields.append(("url", verbatim(link)))
    notes = _notes(record)
    if notes:
        fields.append(("note", latex_escape("; ".join(notes))))
    entry_type = "misc" if is_trial else "article"
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{key or bibtex_key(record)},\n{body}\n}}\n"


def unique_keys(records: list[dict], base: list[str] | None = None) -> list[str]:
    """BibTeX keys for ``records`` (same order), made unique with a/b/c... suffixes.

    Suffixes go by record id within each clash, so they do not depend on the records' order.
    ``base`` may pass the records' ``bibtex_key`` values when the caller already has them.
    """
    if base is None:
        base = [bibtex_key(r) for r in records]
    counts = Counter(base)
    clashing: dict[str, list[str]] = {}
    for key, record in zip(base, records):
        if counts[key] > 1:
            clashing.setdefault(key, []).append(str(record.get("id")))
    taken = set(k for k, n in counts.items() if n == 1)
    suffix_of: dict[tuple[str, str], str] = {}
    for key, ids in clashing.items():
        n = 0
        for rid in sorted(ids):
            while True:
                n += 1
                candidate = key + _suffix(n)
                if candidate not in taken and candidate not in counts:
                    break
            taken.add(candidate)
            suffix_of[(key, rid)] = candidate
    return [suffix_of.get((k, str(r.get("id"))), k) for k, r in zip(base, records)]


def _suffix(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters
