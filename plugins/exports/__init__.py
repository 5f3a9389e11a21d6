"""Downloads of the evidence: data files for the whole site, citation files per topic.

Writes (by default; see ``scope`` below)
    downloads/all.{csv,jsonl}.gz            every visible card, as data: a spreadsheet and JSON Lines.
                                            The ``topics`` column/field says which topics a record
                                            is on, so one topic's records are a filter away.
    downloads/<topic-slug>.{ris,bib}.gz     the citations of one topic's cards, as a reference
                                            manager imports them (a card's own RIS and BibTeX are
                                            on its page)
    downloads/record.schema.json            JSON Schema of one record (harvest/records/record.schema.json)
    downloads/index.html                    the downloads page: every file that holds records,
                                            with its format, record count and size, a data
                                            dictionary generated from the schema, and the terms
                                            each source sets

Each record is in each format's files once (a citation file once per topic it is on): writing every
format both site-wide and per topic put each record into the output at least twice per format, and
at tens of thousands of cards the downloads were a large share of a site that GitHub Pages refuses
over 1 GB.  Data formats are read whole and
filtered, so they are site-wide; citation formats are imported into a reference manager, where a
topic's set is what a reader wants, so they are per topic.

A rebuild into an existing output folder removes the bulk files (``*.csv.gz``, ``*.jsonl.gz``,
``*.ris.gz``, ``*.bib.gz`` in downloads/) that this build does not write: a file of an earlier layout
or of a topic since removed would otherwise be deployed and never updated.

Bulk files are gzip-compressed, as bulk bibliographic data is published: uncompressed they were
over half of a large site's bytes (bench/build.py prints the output size), and GitHub Pages refuses a site
over 1 GB.  They are standard gzip made with zlib at level 6, gzip's own default; the gzip header
carries no name and no time, so the bytes depend only on the records (and the zlib version).  Not
ISA-L, which is faster but was seen to make different bytes of the same text (plugins/exports/chunks.py).

Each file is written member by member (plugins/exports/chunks.py), its text made a few records at
a time, so a build never holds a whole file, or every record's formatted text, in memory (at tens
of thousands of cards that was the largest share of the build's peak memory).  A file whose bytes
did not change keeps its mtime, and a rebuild copies the members whose records did not change from
the last build's file and makes only the others.
A card's own RIS and BibTeX are not files: its page carries the same text (made once by
plugins/evidence/reader.py and reused here) and saves it in the browser (theme/static/js/cite.js).

Reads ``evidence`` and ``topics`` from the context (plugins/evidence).  Records are written in a
fixed order (newest date first, then id) and every byte depends only on the records, so an unchanged
site rebuilds to identical downloads.

Setting (optional; every key may be left out, and ``scope`` may name some formats only)::

    EVIDENCE_EXPORTS = {
        "formats": ("csv", "jsonl", "ris", "bib"),   # which formats are written at all
        "compresslevel": 6,                          # zlib's 1-9
        "scope": {"csv": "site", "jsonl": "site", "ris": "topic", "bib": "topic"},
    }

``scope`` of a format: ``"site"`` (one file, all.<suffix>, of every visible card), ``"topic"`` (one
file per topic, <slug>.<suffix>) or ``"both"``.  The downloads page, the topic pages and the card
pages link only the files the scope makes (``download_layout`` in the template context).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
from importlib import resources

from pelican import signals
from pelican.generators import Generator

from harvest.fileio import claim, write_if_changed
from harvest.cards.citations import RIS_EOL, abstract_text, bibtex_key, to_bibtex, to_ris, unique_keys
from harvest.records.record import ordered, valid_nct, valid_pmid
from harvest.records.sanitize import one_line
from evidence import model  # a sibling plugin: PLUGIN_PATHS puts plugins/ on sys.path
from evidence.keys import manifest as _manifest  # cards' keys, as the build manifest makes them

from . import chunks

build_salt, content_digest = _manifest.build_salt, _manifest.content_digest

logger = logging.getLogger(__name__)

# compresslevel: zlib's 1-9.  Level 6 (gzip's default) makes smaller files than the fast levels, and a
# rebuild compresses only the members whose records changed.
DEFAULTS = {"formats": ("csv", "jsonl", "ris", "bib"), "compresslevel": 6,
            "scope": {"csv": "site", "jsonl": "site", "ris": "topic", "bib": "topic"}}
SCOPES = ("site", "topic", "both")
# Name of the site-wide set and its files (all.csv.gz ...), as the site-wide feed is feeds/all.atom.xml.
SITE = "all"
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
    """EVIDENCE_EXPORTS over the defaults; ``scope`` merged per format.  ValueError (one line) on an
    unknown format or scope."""
    given = settings.get("EVIDENCE_EXPORTS") or {}
    options = {**DEFAULTS, **given}
    options["scope"] = {**DEFAULTS["scope"], **(given.get("scope") or {})}
    if not isinstance(options["formats"], (list, tuple)):
        raise ValueError(f"EVIDENCE_EXPORTS: formats is {options['formats']!r}, not a list of formats "
                         f"(known: {', '.join(SUFFIX)})")
    for fmt in options["formats"]:
        if fmt not in SUFFIX:
            raise ValueError(f"EVIDENCE_EXPORTS: unknown format {fmt!r} (known: {', '.join(SUFFIX)})")
        if options["scope"].get(fmt) not in SCOPES:
            raise ValueError(f"EVIDENCE_EXPORTS: scope of {fmt!r} is {options['scope'].get(fmt)!r}, "
                             f"not one of {', '.join(SCOPES)}")
    return options


def in_scope(options: dict, fmt: str, name: str) -> bool:
    """Whether the set called `name` (SITE or a topic slug) gets a file of format `fmt`."""
    scope = options["scope"][fmt]
    return scope == "both" or (scope == "site") == (name == SITE)


def file_names(sets: list, options: dict) -> dict[str, list[str]]:
    """{format: [file name, ...]}: the bulk files this build writes, in set order."""
    return {fmt: [f"{name}{SUFFIX[fmt]}" for name, *_rest in sets if in_scope(options, fmt, name)]
            for fmt in options["formats"]}


def remove_stale(downloads: str, keep: set[str]) -> list[str]:
    """Remove the bulk files in `downloads` that are not in `keep` (an earlier build's layout, a
    removed topic): they would be deployed with the site and never updated.  Only bulk file names
    are touched; returns the names removed."""
    try:
        names = sorted(os.listdir(downloads))
    except FileNotFoundError:
        return []
    stale = [n for n in names if n.endswith(tuple(SUFFIX.values())) and not n.startswith(".")
             and n not in keep and os.path.isfile(os.path.join(downloads, n))]
    for name in stale:
        os.remove(os.path.join(downloads, name))
    if stale:
        logger.info("exports: removed %d download file(s) this build does not write: %s",
                    len(stale), ", ".join(stale))
    return stale


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


def _csv_header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(CSV_COLUMNS)
    return out.getvalue()


def csv_line(record: dict, url: str, card: dict | None = None) -> str:
    """One CSV row.  CSV: RFC 4180 (CRLF, minimal quoting), UTF-8 without BOM."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(csv_row(record, url, card))
    return out.getvalue()


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


def export_order(entries: list[tuple]) -> list[tuple]:
    """Newest date first, then id: (record, ...) tuples."""
    by_id = sorted(entries, key=lambda e: str(e[0].get("id")))
    return sorted(by_id, key=lambda e: str(e[0].get("date") or ""), reverse=True)


def has_valid_id(record: dict) -> bool:
    """Ids come from harvested data: only a well-formed PMID or NCT id goes into a download."""
    if record.get("source") == "pubmed":
        return valid_pmid(record.get("pmid"))
    return record.get("source") == "ctgov" and valid_nct(record.get("nct_id"))


def write_members(settings: dict, output_path: str, downloads: str, sets: list, entries: list, options: dict) -> dict:
    """The file of every format for each set in its scope (the SITE set: site-wide; the others:
    topics), as gzip members (plugins/exports/chunks.py): a member whose records did not change is
    copied from the last build's file.  Returns {format: {set: size}}.
    ``entries``: (record, url, card values, the card's key) in export order."""
    level = options["compresslevel"]
    salt = f"{build_salt(settings)}|{settings.get('SITEURL')}|{level}"
    index = chunks.Index(settings.get("CACHE_PATH"), output_path, salt)
    ids = [record["id"] for record, _u, _c, _d in entries]
    sizes = {}
    for fmt in options["formats"]:
        chosen = [s for s in sets if in_scope(options, fmt, s[0])]
        if not chosen:
            sizes[fmt] = {}
            continue
        indexes = [members for _name, _label, members in chosen]
        paths = [os.path.join(downloads, f"{name}{SUFFIX[fmt]}") for name, _label, _m in chosen]
        keys = [[entries[i][3] for i in members] for members in indexes]
        if fmt == "csv":
            def text_of(i, _k, _n):
                record, url, card, _d = entries[i]
                return csv_line(record, url, card or {})
        elif fmt == "jsonl":
            def text_of(i, _k, _n):
                return json_line(ordered(entries[i][0])) + "\n"
        elif fmt == "ris":
            def text_of(i, _k, _n):
                record, url, card, _d = entries[i]
                card = card or {}
                return (card["ris"] if card.get("ris") is not None else to_ris(record, url)) + RIS_EOL
        else:  # "bib": check_settings let only SUFFIX's formats into the build
            base = [bibtex_key(record) for record, _u, _c, _d in entries]
            unique = [unique_keys([entries[i][0] for i in members], [base[i] for i in members]) for members in indexes]
            keys = [[f"{entries[i][3]}:{key}" for i, key in zip(members, made)] for members, made in zip(indexes, unique)]

            def text_of(i, k, n):
                record, url, card, _d = entries[i]
                card, key = card or {}, unique[k][n]
                reuse = card.get("bib") is not None and card.get("bib_key") == key
                # Entries are separated by one blank line: "\n".join of entries that end in "\n".
                return ("\n" if n else "") + (card["bib"] if reuse else to_bibtex(record, key, url))
        for path in paths:
            claim(path)
        made = chunks.write_files(paths, level, index, fmt, indexes, ids, keys, text_of,
                                  header=_csv_header() if fmt == "csv" else "", text_varies=fmt == "bib")
        sizes[fmt] = {name: size for (name, _label, _m), size in zip(chosen, made)}
    index.save()
    logger.info("exports: %d gzip member(s) made, %d copied from the last build", index.made, index.reused)
    return sizes


def layout(options: dict) -> dict:
    """What the pages link (``download_layout`` in the template context): the site-wide files and the
    suffixes of the per-topic files, each with its format's label, in format order."""
    return {
        "site": [{"format": fmt, "label": FORMATS[fmt][0], "file": f"{SITE}{SUFFIX[fmt]}"}
                 for fmt in options["formats"] if in_scope(options, fmt, SITE)],
        "topic": [{"format": fmt, "label": FORMATS[fmt][0], "suffix": SUFFIX[fmt]}
                  for fmt in options["formats"] if options["scope"][fmt] in ("topic", "both")],
    }


class ExportsGenerator(Generator):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set before any generator reads or renders: topic and card pages link the files it names.
        self.context["download_layout"] = layout(settings_of(self.settings))

    def generate_output(self, writer):
        options = settings_of(self.settings)
        siteurl = (self.settings.get("SITEURL") or "").rstrip("/")
        entries = []  # (record, its card's URL, the card's derived values incl. its own citations)
        for article in self.context.get("evidence") or []:
            record = article.record
            if not has_valid_id(record):
                logger.warning("exports: skipping %r, invalid id", record.get("id"))
                continue
            entries.append((record, f"{siteurl}/{article.url.lstrip('/')}", getattr(article, "ev", None),
                            content_digest(article)))
        entries = export_order(entries)

        downloads = os.path.join(self.output_path, "downloads")
        sets = [(SITE, "All topics", list(range(len(entries))))]
        for topic in self.context.get("topics") or []:
            sets.append((topic.slug, topic.name,
                         [i for i, (record, *_rest) in enumerate(entries) if topic.slug in (record.get("topics") or [])]))
        sizes = write_members(self.settings, self.output_path, downloads, sets, entries, options)
        remove_stale(downloads, {name for names in file_names(sets, options).values() for name in names})
        files = self.context["download_layout"]
        site_files = [{**f, "meaning": FORMATS[f["format"]][1], "records": len(entries),
                       "size": human_size(sizes[f["format"]][SITE])}
                      for f in files["site"]] if entries else []
        topic_formats = files["topic"]
        topic_rows = []
        for name, label, indexes in sets[1:]:
            # A topic without records still has its files (links keep working) but is not offered.
            if indexes and topic_formats:
                topic_rows.append({"name": name, "label": label, "records": len(indexes), "files": [
                    {"format": f["label"], "file": f"{name}{f['suffix']}",
                     "size": human_size(sizes[f["format"]][name])} for f in topic_formats]})
        schema_bytes = SCHEMA.read_bytes()
        claim(os.path.join(downloads, "record.schema.json"))
        write_if_changed(os.path.join(downloads, "record.schema.json"), schema_bytes)
        writer.write_file(
            "downloads/index.html", self.get_template("downloads"), self.context,
            relative_urls=self.settings["RELATIVE_URLS"], page_url="downloads/", page_title="Downloads",
            site_files=site_files, topic_formats=[(f["label"], FORMATS[f["format"]][1]) for f in topic_formats],
            topic_rows=topic_rows, records=len(entries),
            dictionary=data_dictionary(json.loads(schema_bytes)),
            csv_only={c: CSV_ONLY[c] for c in CSV_COLUMNS if c in CSV_ONLY},
            schema_size=human_size(len(schema_bytes)),
        )
        logger.info("exports: %d records, %d topics", len(entries), len(sets) - 1)


def get_generators(pelican):
    return ExportsGenerator


def check_settings(pelican) -> None:
    """`initialized` signal: a bad EVIDENCE_EXPORTS stops the build before anything is read."""
    try:
        settings_of(pelican.settings)
    except ValueError as exc:
        # Raising here would bury the line under Pelican's traceback; whoever set it needs only this.
        print(f"ERROR: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def register():
    signals.initialized.connect(check_settings)
    signals.get_generators.connect(get_generators)
