"""Evidence cards: one Pelican Markdown file per record.

Card layout, format 2 (the site's only input besides editor pages)::

    Card-Format: 2
    Title: <plain one-line title>
    Date: <YYYY-MM-DD, padded from the record's date/year>
    Modified: <YYYY-MM-DD from `updated`, when known>
    Slug: <source>-<PMID or NCT id>
    Ev_id: "pubmed:38011560"
    Ev_source: "pubmed"
    ...                      one `Ev_<field>` line per record field, value as one-line JSON
    Ev_editor: {...}         only when an editor override applied (see overrides.py)
    Ev_history: [...]        only when the source changed a tracked value between harvests (drift.py)
    Ev_scope: {...}          only when a re-fetched record no longer belongs to any topic (drift.py)

The card is its metadata block and nothing else: the record (abstract included) is in the `Ev_` lines,
which is all the site reads.  Format 1 cards (no Card-Format line) also carried the abstract again as
an escaped Markdown body after a blank line; they are still read (the body is ignored), so a replay
into a content folder of older cards rewrites them in format 2.

Record fields live under an `Ev_` prefix so no harvested value can land in a name Pelican reserves
(status, template, save_as, url, lang, category, tags, authors, summary, ...).  Values are JSON on a
single line: newlines and other line separators inside harvested text are escaped, so a title such as
"x\\nStatus: draft" can never start a metadata line of its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harvest.errors import CardError
from harvest.fileio import atomic_write, holds
from harvest.records.dates import parts
from harvest.records.record import FIELDS, ordered, valid_nct, valid_pmid
from harvest.records.sanitize import one_line

FORMAT = 2
PREFIX = "Ev_"
EDITOR_KEY = "Ev_editor"
# Card-level keys that are not record fields: what the harvester learnt across harvests.  They live in
# the card, so they survive a replay of the raw cache (which only knows each record's latest reply).
EXTRA_KEYS = {"Ev_history": "history", "Ev_scope": "scope"}

# JSON leaves these unescaped with ensure_ascii=False, but str.splitlines() and some Markdown
# readers treat them as line breaks.
_LINE_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_LINE_BREAKS_RE = re.compile("[\u0085\u2028\u2029]")


def dump_value(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return _LINE_BREAKS_RE.sub(lambda m: _LINE_BREAKS[m.group()], text)


def card_relpath(record: dict) -> Path:
    """Path of a record's card relative to content/, after validating its id (untrusted input)."""
    source = record.get("source")
    if source == "pubmed":
        pmid = record.get("pmid")
        if not valid_pmid(pmid) or record.get("id") != f"pubmed:{pmid}":
            raise CardError(f"{record.get('id')!r}: invalid PMID {pmid!r}")
        return Path("evidence", "pubmed", f"{pmid}.md")
    if source == "ctgov":
        nct = record.get("nct_id")
        if not valid_nct(nct) or record.get("id") != f"ctgov:{nct}":
            raise CardError(f"{record.get('id')!r}: invalid NCT id {nct!r}")
        return Path("evidence", "ctgov", f"{nct}.md")
    raise CardError(f"{record.get('id')!r}: unknown source {source!r}")


def _pelican_date(value: str | None, year: int | None) -> str | None:
    if (p := parts(value)) and p[2]:
        return value[:10]
    if p := parts(value, whole=True):
        return value + ("-01" if p[1] else "-01-01")
    if year:
        return f"{int(year):04d}-01-01"
    return None


def render_card(record: dict, editor: dict | None = None, extras: dict | None = None) -> str:
    """The card's exact text.  Pure: the same record (and editor info, extras) gives the same bytes."""
    record = ordered(record)
    rel = card_relpath(record)
    title = one_line(record["title"]) or f"Untitled record {record['id']}"
    lines = [f"Card-Format: {FORMAT}", f"Title: {title}"]
    date = _pelican_date(record["date"], record["year"]) or _pelican_date(record["updated"], None)
    if date:
        lines.append(f"Date: {date}")
    modified = _pelican_date(record["updated"], None)
    if modified:
        lines.append(f"Modified: {modified}")
    lines.append(f"Slug: {rel.parent.name}-{rel.stem}")
    for key in FIELDS:
        lines.append(f"{PREFIX}{key}: {dump_value(record[key])}")
    if editor:
        lines.append(f"{EDITOR_KEY}: {dump_value(editor)}")
    for key, name in EXTRA_KEYS.items():
        if (extras or {}).get(name):
            lines.append(f"{key}: {dump_value(extras[name])}")
    return "\n".join(lines) + "\n"


def parse_card(text: str, name: str = "<card>") -> tuple[dict, dict | None]:
    """Read a card's text back into (record, editor info).  Inverse of render_card."""
    record, editor, _extras = parse_card_all(text, name)
    return record, editor


def parse_card_all(text: str, name: str = "<card>") -> tuple[dict, dict | None, dict]:
    """(record, editor info, extras {"history": [...], "scope": {...}}) of a card's text."""
    head = text.partition("\n\n")[0]  # a format 1 card's Markdown body follows a blank line: not read
    values: dict = {}
    editor = None
    extras: dict = {}
    for lineno, line in enumerate(head.removesuffix("\n").split("\n"), 1):
        key, colon, raw = line.partition(": ")
        if not colon:
            raise CardError(f"{name}:{lineno}: not a 'Key: value' line")
        if key == EDITOR_KEY:
            editor = json.loads(raw)
        elif key in EXTRA_KEYS:
            try:
                extras[EXTRA_KEYS[key]] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CardError(f"{name}:{lineno}: bad JSON for {key}: {exc}") from None
        elif key.startswith(PREFIX):
            field = key[len(PREFIX):]
            if field not in FIELDS:
                raise CardError(f"{name}:{lineno}: unknown field {field!r}")
            try:
                values[field] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CardError(f"{name}:{lineno}: bad JSON for {field}: {exc}") from None
    missing = [f for f in FIELDS if f not in values]
    if missing:
        raise CardError(f"{name}: missing fields {', '.join(missing)}")
    return ordered(values), editor, extras


def read_card(path: Path) -> tuple[dict, dict | None]:
    return parse_card(Path(path).read_text(encoding="utf-8"), str(path))


def read_card_all(path: Path) -> tuple[dict, dict | None, dict]:
    return parse_card_all(Path(path).read_text(encoding="utf-8"), str(path))


def write_card(content_dir: Path, record: dict, editor: dict | None = None, extras: dict | None = None) -> str:
    """Write a record's card atomically.  Returns 'new', 'updated' or 'unchanged'.

    An unchanged card is not touched at all (its mtime is kept), so a no-change run writes nothing
    and Pelican's content cache stays warm.
    """
    path = Path(content_dir) / card_relpath(record)
    data = render_card(record, editor, extras).encode("utf-8")
    if holds(path, data):
        return "unchanged"
    existed = path.exists()
    atomic_write(path, data)
    return "updated" if existed else "new"
