"""Downloads of the evidence: CSV, JSON Lines, RIS and BibTeX, per topic and for the whole site.

Writes
    downloads/all.{csv,jsonl,ris,bib}.gz            every visible card
    downloads/<topic-slug>.{csv,jsonl,ris,bib}.gz   the cards of one topic
    downloads/record.schema.json                    JSON Schema of one record (harvest/records/record.schema.json)
    downloads/index.html                            the downloads page: every file that holds
                                                    records, with its format, record count and
                                                    size, a data dictionary generated from the
                                                    schema, and the terms each source sets

Bulk files are gzip-compressed, as bulk bibliographic data is published: uncompressed they were
over half of a large site's bytes (bench/build.py prints the output size), and GitHub Pages refuses a site
over 1 GB.  They are standard gzip made with ISA-L (PyPI ``isal``), which compresses much faster than zlib;
the gzip header carries no name and no time, so the bytes depend only on the records (and the
ISA-L version).
A card's own RIS and BibTeX are not files: its page carries the same text (made once by
plugins/evidence/reader.py and reused here) and saves it in the browser (theme/static/js/cite.js).

Reads ``evidence`` and ``topics`` from the context (plugins/evidence).  Records are written in a
fixed order (newest date first, then id) and every byte depends only on the records, so an unchanged
site rebuilds to identical downloads.

Setting (optional)::

    EVIDENCE_EXPORTS = {"formats": ("csv", "jsonl", "ris", "bib"), "compresslevel": 2}
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from importlib import resources

from isal import igzip
from pelican import signals
from pelican.generators import Generator

from harvest.cards.citations import RIS_EOL, abstract_text, bibtex_key, to_bibtex, to_ris, unique_keys
from harvest.fileio import write_if_changed
from harvest.records.record import ordered, valid_nct, valid_pmid
from harvest.records.sanitize import one_line
from evidence import model  # a sibling plugin: PLUGIN_PATHS puts plugins/ on sys.path

logger = logging.getLogger(__name__)

# compresslevel: ISA-L's 0-3.  Level 2 trades somewhat larger files for much less build time than
# zlib's default level.
DEFAULTS = {"formats": ("csv", "jsonl", "ris", "bib"), "compresslevel": 2}
# File name suffix of each bulk format.
SUFFIX = {"csv": ".csv.gz", "jsonl": ".jsonl.gz", "ris": ".ris.gz", "bib": ".bib.gz"}
# Shipped inside the harvest package (package-data), so it is found wherever harvest is installed.
SCHEMA = resources.files("harvest.records").joinpath("record.schema.json")

# Spreadsheet columns, in this order forever (append new ones at the end).
CSV_COLUMNS = (
    "id", "source", "pmid", "nct_id", "doi", "pmcid", "title", "authors", "journal", "year",
    "date", "design", "evidence_level", "publication_types", "mesh", "keywords", "conditions",
    "interventions", "phases", "status", "why_stopped", "enrollment", "has_results",
    "primary_completion_date", "linked_nct_ids", "linked_pmids", "retracted", "corrections",
    "topics", "updated", "url", "abstract",
    "evidence_level_label", "results_rule", "results_reporting", "results_overdue",
    "volume", "issue", "pages",
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
        return LIST_SEP.join(one_line(v) for v in value)
    if isinstance(value, str):
        return one_line(value)
    return value


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


class Compressed:
    """Bulk files compressed only when their text changed since the last build into this output.

    gzip is most of what writing the downloads costs; a file whose text (hash), level, size and
    mtime match ``<CACHE_PATH>/exports.json`` is left as it is, uncompressed text never re-gzipped.
    """

    MANIFEST = "exports.json"

    def __init__(self, cache_path: str | None, output_path: str):
        self.path = os.path.join(cache_path, self.MANIFEST) if cache_path else None
        self.output = os.path.abspath(output_path)
        self.old, self.new = {}, {}
        if self.path:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if data.get("output") == self.output:
                    self.old = data.get("files") or {}
            except (OSError, ValueError):
                pass

    def write(self, path: str, text: str, level: int) -> int:
        """Write `text` gzip-compressed to `path` unless it is there already; returns the file's size."""
        raw = text.encode("utf-8")
        key = f"{hashlib.blake2b(raw, digest_size=16).hexdigest()}:{level}"
        entry = self.old.get(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if entry and entry["key"] == key and st and [st.st_size, st.st_mtime_ns] == entry["stat"]:
            self.new[path] = entry
            return st.st_size
        data = igzip.compress(raw, compresslevel=level, mtime=0)  # no name, time 0: equal text, equal bytes
        write_if_changed(path, data)
        st = os.stat(path)
        self.new[path] = {"key": key, "stat": [st.st_size, st.st_mtime_ns]}
        return len(data)

    def save(self) -> None:
        if not self.path:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"output": self.output, "files": self.new}, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


FORMATS = {
    "csv": ("CSV", "Spreadsheet (Excel, LibreOffice, R, pandas): one row per record; list fields joined with “; ”."),
    "jsonl": ("JSON Lines", "One JSON record per line, exactly as the data dictionary below describes (record.schema.json)."),
    "ris": ("RIS", "Citations for reference managers such as Zotero, EndNote and Mendeley."),
    "bib": ("BibTeX", "Citations for LaTeX and reference managers."),
}
# CSV columns that are not record fields: what the card page shows (plugins/evidence/model.py).
CSV_ONLY = {
    "evidence_level": "The card's evidence level, 1 (strongest) to 5, as the Methods page defines it; empty for a registration without results.",
    "evidence_level_label": "The evidence level in words, as the card shows it.",
    "url": "The record's card on this site.",
    "results_rule": "For trials: the results-reporting rule the site applies (none identified when no rule applies).",
    "results_reporting": "For trials: whether and when results were reported, as the card says.",
    "results_overdue": "For trials: true when results are overdue under that rule.",
}


def human_size(n: int) -> str:
    """Bytes as readers read them (1 kB = 1,000 bytes, as download sizes are usually given)."""
    if n < 1000:
        return f"{n} bytes"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if n >= 100 else f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def _type_text(spec: dict) -> str:
    types = spec.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    names = {"string": "text", "integer": "whole number", "boolean": "true or false",
             "array": "list", "object": "object"}
    main = [t for t in types if t != "null"]
    if not main and "enum" in spec:
        main = ["string"]
    text = " or ".join(names.get(t, t) for t in main)
    if "array" in main:
        inner = (spec.get("items") or {}).get("type")
        text = f"list of {names.get(inner, inner)}s" if isinstance(inner, str) else "list"
    if "null" in types or None in (spec.get("enum") or []):
        text += " or empty"
    return text


def data_dictionary(schema: dict) -> list[dict]:
    """One row per record field, in record order, from the JSON Schema the downloads follow."""
    rows = []
    for name, spec in schema["properties"].items():
        values = [v for v in spec.get("enum") or [] if v is not None]
        parts = [f"{sub} ({_type_text(sub_spec)})"
                 for sub, sub_spec in ((spec.get("items") or {}).get("properties") or {}).items()]
        rows.append({"name": name, "type": _type_text(spec), "description": spec.get("description", ""),
                     "values": values, "parts": parts})
    return rows


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
        sets = [("all", "All topics", items)]
        for topic in self.context.get("topics") or []:
            sets.append((topic.slug, topic.name, [i for i in items if topic.slug in (i.record.get("topics") or [])]))
        listed = []
        gz = Compressed(self.settings.get("CACHE_PATH"), self.output_path)
        for name, label, subset in sets:
            files = []
            for fmt in options["formats"]:
                size = gz.write(os.path.join(downloads, f"{name}{SUFFIX[fmt]}"), render_set(subset, fmt),
                                options["compresslevel"])
                files.append({"format": FORMATS[fmt][0], "file": f"{name}{SUFFIX[fmt]}", "size": human_size(size)})
            if subset:  # a set without records is still written (links keep working) but not offered
                listed.append({"name": name, "label": label, "records": len(subset), "files": files})
        gz.save()
        schema_bytes = SCHEMA.read_bytes()
        write_if_changed(os.path.join(downloads, "record.schema.json"), schema_bytes)
        writer.write_file(
            "downloads/index.html", self.get_template("downloads"), self.context,
            relative_urls=self.settings["RELATIVE_URLS"], page_url="downloads/", page_title="Downloads",
            download_sets=listed, formats=[FORMATS[f] for f in options["formats"]],
            dictionary=data_dictionary(json.loads(schema_bytes)),
            csv_only={c: CSV_ONLY[c] for c in CSV_COLUMNS if c in CSV_ONLY},
            schema_size=human_size(len(schema_bytes)),
        )
        logger.info("exports: %d records, %d topics", len(items), len(sets) - 1)


def get_generators(pelican):
    return ExportsGenerator


def register():
    signals.get_generators.connect(get_generators)
