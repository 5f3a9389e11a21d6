"""Downloads of the evidence: CSV, JSON Lines, RIS and BibTeX, per topic and for the whole site.

Writes
    downloads/all.{csv,jsonl,ris,bib}.gz            every visible card
    downloads/<topic-slug>.{csv,jsonl,ris,bib}.gz   the cards of one topic
    downloads/record.schema.json                    JSON Schema of one record (harvest/record.schema.json)
    evidence/<source>/<id>.{ris,bib}                each card's own citation, beside its page

Bulk files are gzip-compressed, as bulk bibliographic data is published: uncompressed they were
over half of a large site's bytes (485 MB of 910 at 20,000 cards), and GitHub Pages refuses a site
over 1 GB.  The gzip header carries no name and no time, so the bytes depend only on the records.
A card's citation files are written once here and linked from its page (they used to be inlined
into every card page as data: URIs).

Reads ``evidence`` and ``topics`` from the context (plugins/evidence).  Records are written in a
fixed order (newest date first, then id) and every byte depends only on the records, so an unchanged
site rebuilds to identical downloads.

Setting (optional)::

    EVIDENCE_EXPORTS = {"formats": ("csv", "jsonl", "ris", "bib"), "compresslevel": 6}
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
from importlib import resources

from pelican import signals
from pelican.generators import Generator

from harvest.fileio import write_if_changed
from harvest.citations import RIS_EOL, abstract_text, bibtex_key, to_bibtex, to_ris, unique_keys
from harvest.record import ordered, valid_nct, valid_pmid
from evidence import model  # a sibling plugin: PLUGIN_PATHS puts plugins/ on sys.path

logger = logging.getLogger(__name__)

DEFAULTS = {"formats": ("csv", "jsonl", "ris", "bib"), "compresslevel": 6}
# File name suffix of each bulk format.
SUFFIX = {"csv": ".csv.gz", "jsonl": ".jsonl.gz", "ris": ".ris.gz", "bib": ".bib.gz"}
# Shipped inside the harvest package (package-data), so it is found wherever harvest is installed.
SCHEMA = resources.files("harvest").joinpath("record.schema.json")

# Spreadsheet columns, in this order forever (append new ones at the end).
CSV_COLUMNS = (
    "id", "source", "pmid", "nct_id", "doi", "pmcid", "title", "authors", "journal", "year",
    "date", "design", "evidence_level", "publication_types", "mesh", "keywords", "conditions",
    "interventions", "phases", "status", "why_stopped", "enrollment", "has_results",
    "primary_completion_date", "linked_nct_ids", "linked_pmids", "retracted", "corrections",
    "topics", "updated", "url", "abstract",
    "evidence_level_label", "results_rule", "results_reporting", "results_overdue",
)
# evidence_level: the card's level (1 strongest, empty for a registration without results), and the
# last four columns are what the card page shows (plugins/evidence/model.py), so a spreadsheet never
# contradicts the site.
# A cell starting with one of these is a formula to Excel/LibreOffice/Sheets (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEP = "; "


def settings_of(settings: dict) -> dict:
    return {**DEFAULTS, **(settings.get("EVIDENCE_EXPORTS") or {})}


def safe_cell(value: object) -> object:
    """Text a spreadsheet will show, never evaluate: formula-like strings get a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return LIST_SEP.join(_one_line(v) for v in value)
    if isinstance(value, str):
        return _one_line(value)
    return value


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def csv_row(record: dict, url: str, card: dict | None = None) -> list:
    """`card`: the card's derived values (``article.ev``); without them the flags are worked out from
    the record alone (no links known)."""
    corrections = [
        f"{c.get('type')}" + (f" PMID {c.get('pmid')}" if c.get("pmid") else "")
        for c in record.get("corrections") or []
    ]
    values = dict(record)
    values["corrections"] = corrections
    if card and "level" in card:
        lvl, info = card["level"], card.get("reporting")
    else:
        lvl, info = model.evidence_level(record), None
    values["evidence_level"] = lvl
    values["evidence_level_label"] = model.level_label(lvl)
    rule = model.RULES.get((info or {}).get("rule") or "")
    values["results_rule"] = rule["long"] if rule else ("none identified" if record.get("source") == "ctgov" else "")
    values["results_reporting"] = model.reporting_text(info)
    values["results_overdue"] = bool(info and info["overdue"]) if record.get("source") == "ctgov" else None
    values["url"] = url
    values["abstract"] = abstract_text(record)
    return [safe_cell(_cell(values.get(col))) for col in CSV_COLUMNS]


def json_line(record: dict) -> str:
    """One record of the JSON Lines download: C-speed encoding (no indent), one line per record."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


class Formatted:
    """Each record's CSV row, RIS and BibTeX text, made once and shared by every file it is in."""

    def __init__(self, record: dict, url: str, card: dict | None = None):
        """`card`: the card's own citations (plugins/evidence ``article.ev``), reused when they match."""
        card = card or {}
        self.record = record
        self.url = url
        self.ris = card["ris"] if card.get("ris") is not None else to_ris(record, url)
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow(csv_row(record, url, card))
        self.csv = out.getvalue()
        self.json = json_line(record)
        self.key = bibtex_key(record)
        self._bib: dict[str, str] = {}
        if card.get("bib") is not None and card.get("bib_key") == self.key:
            self._bib[self.key] = card["bib"]

    def bibtex(self, key: str) -> str:
        if key not in self._bib:
            self._bib[key] = to_bibtex(self.record, key, self.url)
        return self._bib[key]


def _csv_header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(CSV_COLUMNS)
    return out.getvalue()


def render_set(items: list[Formatted], fmt: str) -> str:
    """One download file.  CSV: RFC 4180 (CRLF, minimal quoting), UTF-8 without BOM."""
    if fmt == "csv":
        return _csv_header() + "".join(item.csv for item in items)
    if fmt == "jsonl":
        return "".join(item.json + "\n" for item in items)
    if fmt == "ris":
        return "".join(item.ris + RIS_EOL for item in items)
    if fmt == "bib":
        keys = unique_keys([item.record for item in items], [item.key for item in items])
        return "\n".join(item.bibtex(key) for item, key in zip(items, keys))
    raise ValueError(f"unknown export format {fmt!r}")


def compress(text: str, level: int) -> bytes:
    """gzip without a file name and with time 0, so equal text gives equal bytes."""
    return gzip.compress(text.encode("utf-8"), compresslevel=level, mtime=0)


def write_card_citations(output_path: str, cards) -> int:
    """Each card's RIS and BibTeX (made once by the reader) into the files its page links to."""
    written = 0
    for article in cards:
        ev = getattr(article, "ev", None)
        if not ev:
            continue
        written += write_if_changed(os.path.join(output_path, ev["ris_href"]), ev["ris"].encode("utf-8"))
        written += write_if_changed(os.path.join(output_path, ev["bib_href"]), ev["bib"].encode("utf-8"))
    return written


def export_order(records: list[dict]) -> list[dict]:
    by_id = sorted(records, key=lambda r: str(r.get("id")))
    return sorted(by_id, key=lambda r: str(r.get("date") or ""), reverse=True)


def has_valid_id(record: dict) -> bool:
    """Ids come from harvested data: only a well-formed PMID or NCT id goes into a download."""
    if record.get("source") == "pubmed":
        return valid_pmid(record.get("pmid"))
    return record.get("source") == "ctgov" and valid_nct(record.get("nct_id"))


class ExportsGenerator(Generator):
    def generate_output(self, writer):
        options = settings_of(self.settings)
        siteurl = (self.settings.get("SITEURL") or "").rstrip("/")
        records, url_of, card_of = [], {}, {}
        for article in self.context.get("evidence") or []:
            record = ordered(article.record)
            if not has_valid_id(record):
                logger.warning("exports: skipping %r, invalid id", record.get("id"))
                continue
            records.append(record)
            url_of[record["id"]] = f"{siteurl}/{article.url.lstrip('/')}"
            card_of[record["id"]] = getattr(article, "ev", None)  # the card's own citations, same URL
        items = [Formatted(record, url_of[record["id"]], card_of[record["id"]]) for record in export_order(records)]

        downloads = os.path.join(self.output_path, "downloads")
        sets = [("all", items)]
        for topic in self.context.get("topics") or []:
            sets.append((topic.slug, [i for i in items if topic.slug in (i.record.get("topics") or [])]))
        for name, subset in sets:
            for fmt in options["formats"]:
                data = compress(render_set(subset, fmt), options["compresslevel"])
                write_if_changed(os.path.join(downloads, f"{name}{SUFFIX[fmt]}"), data)
        write_if_changed(os.path.join(downloads, "record.schema.json"), SCHEMA.read_bytes())
        write_card_citations(self.output_path, self.context.get("evidence") or [])
        logger.info("exports: %d records, %d topics", len(items), len(sets) - 1)


def get_generators(pelican):
    return ExportsGenerator


def register():
    signals.get_generators.connect(get_generators)
