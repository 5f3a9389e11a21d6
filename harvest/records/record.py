"""The normalized evidence record: the one data contract between harvest, cards and site.

A record is a plain dict (JSON-serialisable, key order = FIELDS) so that it can be printed as JSON
lines, stored in card metadata and loaded by the Pelican plugin without a shared class.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# The record is described once, by its JSON Schema (published with the downloads); its properties are
# every key a record carries, in the order cards and JSON lines write them.
_PROPERTIES = json.loads(Path(__file__).with_name("record.schema.json").read_text(encoding="utf-8"))["properties"]
FIELDS: tuple[str, ...] = tuple(_PROPERTIES)

# Fields whose "unknown" value is [] rather than None.
LIST_FIELDS = frozenset(name for name, prop in _PROPERTIES.items() if prop.get("type") == "array")

# Strongest first.  PubMed records take the first design any of their publication types maps to.
DESIGNS: tuple[str, ...] = (
    "meta-analysis",
    "systematic-review",
    "rct",
    "clinical-trial",
    "observational",
    "case-report",
    "review",
    "guideline",
    "commentary",
    "other",
)

DESIGN_LABELS = {
    "meta-analysis": "Meta-analysis",
    "systematic-review": "Systematic review",
    "rct": "Randomized controlled trial",
    "clinical-trial": "Clinical trial (non-randomized)",
    "observational": "Observational study",
    "case-report": "Case report",
    "review": "Narrative review",
    "guideline": "Guideline",
    "commentary": "Commentary",
    "other": "Other",
}

# Evidence level shown as a badge (1 = strongest).  Documented on the Methods page.
EVIDENCE_LEVELS = {
    "meta-analysis": 1,
    "systematic-review": 1,
    "rct": 2,
    "clinical-trial": 3,
    "observational": 4,
    "case-report": 5,
    "review": 5,
    "guideline": 5,
    "commentary": 5,
    "other": 5,
}

PMID_RE = re.compile(r"^[1-9][0-9]{0,9}$")
NCT_RE = re.compile(r"^NCT[0-9]{8}$")


def empty_record() -> dict:
    return {f: ([] if f in LIST_FIELDS else None) for f in FIELDS}


def ordered(record: dict) -> dict:
    """Return the record with exactly FIELDS, in FIELDS order (missing → unknown value)."""
    out = empty_record()
    for key in FIELDS:
        if key in record:
            out[key] = record[key]
    return out


def valid_pmid(value: object) -> bool:
    return isinstance(value, str) and bool(PMID_RE.match(value))


def valid_nct(value: object) -> bool:
    return isinstance(value, str) and bool(NCT_RE.match(value))
