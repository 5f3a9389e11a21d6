"""Editor overrides: ``content/overrides.toml``, applied by the site build, never written by a harvest.

The file is keyed by record id; each entry is one action with a required reason and date::

    [["pubmed:38011560"]]
    action = "replace"          # hide | pin | replace
    field = "title"             # replace only: a record field (not id, source, pmid, nct_id)
    value = "Corrected title"   # replace only: same JSON type as the field
    reason = "Publisher typo in the title, confirmed with the journal"
    date = 2026-11-22           # TOML date or "YYYY-MM-DD"

Cards hold what the sources say; the site build (plugins/evidence/editorial.py) reads this file on
every build and applies it to the records it reads, so adding, changing or removing an override shows
on the next `make build` with no harvest, and a replay of the raw cache gives the same cards whatever
this file holds.  ``hide`` takes the card off every listing, feed, export, sitemap and the search
index (its URL keeps a short "withdrawn" page); ``pin`` puts it first in its topic's listings.
Replacing ``title`` also rewrites ``title_html`` (escaped); abstract sections given without ``html``
get it from their text (escaped).  apply_overrides() returns the editor info the site shows:
``{"hidden", "pinned", "changes": [{"field", "from", "to", "reason", "date"}],
"notes": [{"action", "reason", "date"}]}`` (notes hold the hide/pin actions).

Every problem is reported as ``<file>:<line>: <record id> entry <n>: <problem>``, the line being the
entry's ``[["<id>"]]`` header: load_overrides() raises the first as a ConfigError, check_overrides()
lists them all, plus overrides that name no card.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from harvest.errors import ConfigError
from harvest.fileio import read_toml
from harvest.records.record import FIELDS, LIST_FIELDS, valid_nct, valid_pmid
from harvest.records.sanitize import collapse, escape

OVERRIDES_PATH = Path(__file__).resolve().parents[2] / "content" / "overrides.toml"
ACTIONS = ("hide", "pin", "replace")
PROTECTED = frozenset({"id", "source", "pmid", "nct_id"})
_INT_FIELDS = frozenset({"year", "enrollment"})
_BOOL_FIELDS = frozenset({"retracted", "has_results"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Override:
    id: str
    action: str
    reason: str
    date: str
    field: str | None = None
    value: object = None


def valid_id(record_id: str) -> bool:
    source, _, ident = record_id.partition(":")
    return (source == "pubmed" and valid_pmid(ident)) or (source == "ctgov" and valid_nct(ident))


def load_overrides(path: str | Path | None = None) -> dict[str, list[Override]]:
    """Read and validate the overrides file.  A missing file means no overrides."""
    overrides, problems = scan_overrides(path)
    if problems:
        raise ConfigError(problems[0])
    return overrides


def scan_overrides(path: str | Path | None = None) -> tuple[dict[str, list[Override]], list[str]]:
    """(valid overrides, one line per problem).  A missing file means no overrides."""
    path = Path(path) if path is not None else OVERRIDES_PATH
    try:
        doc = read_toml(path, "overrides")
    except FileNotFoundError:
        return {}, []
    except ConfigError as exc:
        return {}, [_with_line(str(exc), path)]
    headers = _header_lines(path.read_text(encoding="utf-8"))
    out: dict[str, list[Override]] = {}
    problems = []
    for record_id, entries in doc.items():
        lines = headers.get(record_id) or [1]
        if not valid_id(record_id):
            problems.append(f"{path}:{lines[0]}: {record_id!r}: not a record id (pubmed:<PMID> or ctgov:<NCT id>)")
            continue
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list):
            problems.append(f"{path}:{lines[0]}: {record_id}: write entries as [[\"{record_id}\"]] tables")
            continue
        for n, entry in enumerate(entries, 1):
            line = lines[min(n, len(lines)) - 1]
            try:
                override = _entry(f"{path}:{line}: {record_id} entry {n}", record_id, entry)
            except ConfigError as exc:
                problems.append(str(exc))
            else:
                out.setdefault(record_id, []).append(override)
    return out, problems


def check_overrides(path: str | Path, content_dir: str | Path) -> list[str]:
    """Every problem of the overrides file, and every override whose record has no card (one line each)."""
    path = Path(path)
    overrides, problems = scan_overrides(path)
    if not path.exists():
        return problems
    headers = _header_lines(path.read_text(encoding="utf-8"))
    for record_id in overrides:
        source, _, ident = record_id.partition(":")
        card = Path(content_dir) / "evidence" / source / f"{ident}.md"
        if not card.is_file():
            line = (headers.get(record_id) or [1])[0]
            problems.append(f"{path}:{line}: {record_id}: no card with this id ({card} does not exist)")
    return problems


# `[["pubmed:1"]]` or `["pubmed:1"]` (ids hold a colon, so they are always quoted keys)
_HEADER_RE = re.compile(r"""^\s*\[\[?\s*(?:"([^"\\]*)"|'([^']*)')\s*\]\]?\s*(?:#.*)?$""")
_TOML_LINE_RE = re.compile(r"\(at line (\d+), column \d+\)")


def _header_lines(text: str) -> dict[str, list[int]]:
    """record id → the line numbers of its entry headers, in order (tomllib gives no positions)."""
    out: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = _HEADER_RE.match(line)
        if m:
            out.setdefault(m.group(1) if m.group(1) is not None else m.group(2), []).append(number)
    return out


def _with_line(message: str, path: Path) -> str:
    """read_toml's "<file>: problem (at line N, column M)" → "<file>:N: problem (...)"."""
    m = _TOML_LINE_RE.search(message)
    prefix = f"{path}: "
    if m and message.startswith(prefix):
        return f"{path}:{m.group(1)}: {message[len(prefix):]}"
    return message


def _entry(where: str, record_id: str, entry) -> Override:
    """One validated entry; every problem of the entry goes into one ConfigError line."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: not a table")
    problems = []
    unknown = set(entry) - {"action", "field", "value", "reason", "date"}
    if unknown:
        problems.append(f"unknown keys {', '.join(sorted(unknown))}")
    action = entry.get("action")
    if action not in ACTIONS:
        problems.append(f"action must be one of {', '.join(ACTIONS)}")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append("reason is required")
    date = entry.get("date")
    if isinstance(date, dt.datetime):
        date = date.date()
    if isinstance(date, dt.date):
        date = date.isoformat()
    elif not (isinstance(date, str) and _DATE_RE.match(date) and _real_date(date)):
        problems.append("date is required (YYYY-MM-DD)")
    field = entry.get("field")
    value = entry.get("value")
    if action == "replace":
        if field not in FIELDS:
            problems.append(f"cannot replace unknown field {field!r}")
        elif field in PROTECTED:
            problems.append(f"field {field!r} identifies the record and cannot be replaced")
        elif "value" not in entry:
            problems.append("replace needs a value")
        else:
            try:
                value = _check_value(field, _plain(value))
            except ValueError as exc:
                problems.append(str(exc))
    elif action in ACTIONS and (field is not None or "value" in entry):
        problems.append(f"{action} takes no field or value")
    if problems:
        raise ConfigError(f"{where}: {'; '.join(problems)}")
    return Override(record_id, action, collapse(reason), date, field, value)


def _real_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _plain(value):
    """TOML dates → ISO strings, so every value is JSON (card metadata is JSON)."""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _check_value(field: str, value):
    if field in LIST_FIELDS:
        ok = isinstance(value, list)
    elif field in _INT_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif field in _BOOL_FIELDS:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ValueError(f"value has the wrong type for {field}")
    if field == "abstract":
        fixed = []
        for part in value:
            if not isinstance(part, dict) or not isinstance(part.get("text"), str):
                raise ValueError("abstract sections need a text")
            text = collapse(part["text"])
            label = part.get("label")
            fixed.append({"label": collapse(label) or None if isinstance(label, str) else None,
                          "text": text, "html": escape(text)})
        value = fixed
    return value


def apply_overrides(record: dict, overrides) -> tuple[dict, dict | None]:
    """Apply the record's overrides (a load_overrides() mapping, or the list for this record).

    Returns the (possibly changed) record copy and the editor info for its card, or the record
    unchanged and None when no override names it.
    """
    entries = overrides.get(record.get("id"), []) if isinstance(overrides, dict) else list(overrides or [])
    entries = [o for o in entries if o.id == record.get("id")]
    if not entries:
        return record, None
    record = copy.deepcopy(record)
    editor = {"hidden": False, "pinned": False, "changes": [], "notes": []}
    for o in entries:
        if o.action == "hide":
            editor["hidden"] = True
            editor["notes"].append({"action": "hide", "reason": o.reason, "date": o.date})
        elif o.action == "pin":
            editor["pinned"] = True
            editor["notes"].append({"action": "pin", "reason": o.reason, "date": o.date})
        else:
            old = record.get(o.field)
            new = copy.deepcopy(o.value)
            record[o.field] = new
            if o.field == "title":
                record["title"] = collapse(new)
                record["title_html"] = escape(record["title"])
            editor["changes"].append(
                {"field": o.field, "from": old, "to": record[o.field], "reason": o.reason, "date": o.date}
            )
    if not editor["notes"]:
        del editor["notes"]
    return record, editor


def last_corrected(editor: dict | None, field: str | None = None) -> str | None:
    """The day ("YYYY-MM-DD") of the latest correction (a replaced field; ``field``: of that field
    only) the editors made to a card.

    A card's update date in the feeds and the sitemap is the latest of its source's dates and this
    (the rule on the Methods page): a correction changes what the card says.  Hiding and pinning
    change no field, so they do not count.
    """
    return max((c["date"] for c in (editor or {}).get("changes") or [] if field in (None, c["field"])),
               default=None)
