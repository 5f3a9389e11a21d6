"""Editor overrides: ``content/overrides.toml``, applied when cards are written, never written by a harvest.

The file is keyed by record id; each entry is one action with a required reason and date::

    [["pubmed:38011560"]]
    action = "replace"          # hide | pin | replace
    field = "title"             # replace only: a record field (not id, source, pmid, nct_id)
    value = "Corrected title"   # replace only: same JSON type as the field
    reason = "Publisher typo in the title, confirmed with the journal"
    date = 2026-11-22           # TOML date or "YYYY-MM-DD"

``hide`` keeps the card but the site does not list or build it; ``pin`` puts it first in its topic.
Replacing ``title`` also rewrites ``title_html`` (escaped); abstract sections given without ``html``
get it from their text (escaped).  The card records every override that applied in its
``Ev_editor`` line: ``{"hidden", "pinned", "changes": [{"field", "from", "to", "reason", "date"}],
"notes": [{"action", "reason", "date"}]}`` (notes hold the hide/pin actions).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .fileio import read_toml
from .record import FIELDS, LIST_FIELDS, valid_nct, valid_pmid
from .sanitize import collapse, escape

OVERRIDES_PATH = Path(__file__).resolve().parent.parent / "content" / "overrides.toml"
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
    path = Path(path) if path is not None else OVERRIDES_PATH
    try:
        doc = read_toml(path, "overrides")
    except FileNotFoundError:
        return {}
    out: dict[str, list[Override]] = {}
    for record_id, entries in doc.items():
        if not valid_id(record_id):
            raise ConfigError(f"{path}: {record_id!r}: not a record id (pubmed:<PMID> or ctgov:<NCT id>)")
        if isinstance(entries, dict):
            entries = [entries]
        if not isinstance(entries, list):
            raise ConfigError(f"{path}: {record_id}: write entries as [[\"{record_id}\"]] tables")
        for n, entry in enumerate(entries, 1):
            out.setdefault(record_id, []).append(_entry(path, record_id, n, entry))
    return out


def _entry(path: Path, record_id: str, n: int, entry) -> Override:
    where = f"{path}: {record_id} entry {n}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: not a table")
    unknown = set(entry) - {"action", "field", "value", "reason", "date"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    action = entry.get("action")
    if action not in ACTIONS:
        raise ConfigError(f"{where}: action must be one of {', '.join(ACTIONS)}")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}: reason is required")
    date = entry.get("date")
    if isinstance(date, dt.datetime):
        date = date.date()
    if isinstance(date, dt.date):
        date = date.isoformat()
    elif not (isinstance(date, str) and _DATE_RE.match(date) and _real_date(date)):
        raise ConfigError(f"{where}: date is required (YYYY-MM-DD)")
    field = entry.get("field")
    value = entry.get("value")
    if action == "replace":
        if field not in FIELDS:
            raise ConfigError(f"{where}: cannot replace unknown field {field!r}")
        if field in PROTECTED:
            raise ConfigError(f"{where}: field {field!r} identifies the record and cannot be replaced")
        if "value" not in entry:
            raise ConfigError(f"{where}: replace needs a value")
        value = _check_value(where, field, _plain(value))
    elif field is not None or "value" in entry:
        raise ConfigError(f"{where}: {action} takes no field or value")
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


def _check_value(where: str, field: str, value):
    if field in LIST_FIELDS:
        ok = isinstance(value, list)
    elif field in _INT_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif field in _BOOL_FIELDS:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where}: value has the wrong type for {field}")
    if field == "abstract":
        fixed = []
        for part in value:
            if not isinstance(part, dict) or not isinstance(part.get("text"), str):
                raise ConfigError(f"{where}: abstract sections need a text")
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
