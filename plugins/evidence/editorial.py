"""Editor overrides (content/overrides.toml) applied by the site build.

Cards hold what PubMed and ClinicalTrials.gov say; the editors' corrections are a layer the build puts
on top, read afresh on every build, so adding, changing or removing an override shows on the next
`make build` without a harvest, and the cards stay what a replay of the raw cache makes.

The file is read once per build, before the cards (the prefetch child is forked after that and
inherits it).  A broken file stops the build with one line naming the file, line and problem.
"""

from __future__ import annotations

import os
import sys

from harvest.cards.overrides import Override, apply_overrides, load_overrides
from harvest.errors import ConfigError

_current: dict[str, list[Override]] = {}


def overrides_path(settings: dict) -> str:
    return settings.get("EVIDENCE_OVERRIDES") or os.path.join(settings["PATH"], "overrides.toml")


def load(pelican) -> None:
    """`initialized` signal: read the overrides of this build (a missing file means none)."""
    global _current
    try:
        _current = load_overrides(overrides_path(pelican.settings))
    except ConfigError as exc:
        # Raising here would bury the line under Pelican's traceback; the editor needs only this.
        print(f"ERROR: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def current() -> dict[str, list[Override]]:
    return _current


def apply(record: dict, overrides: dict | None = None) -> tuple[dict, dict | None]:
    """(record as the site shows it, editor info or None) — harvest.cards.overrides.apply_overrides."""
    return apply_overrides(record, _current if overrides is None else overrides)


def pin_note(editor: dict | None) -> dict | None:
    """The pin's {"reason", "date"} when the editors pinned the card."""
    if not editor or not editor.get("pinned"):
        return None
    return next((n for n in editor.get("notes") or [] if n["action"] == "pin"), None)


def hide_note(editor: dict | None) -> dict | None:
    if not editor or not editor.get("hidden"):
        return None
    return next((n for n in editor.get("notes") or [] if n["action"] == "hide"), None)


# How the card names a field in its correction note (else the field name in words).
FIELD_LABELS = {
    "title": "Title", "abstract": "Abstract", "design": "Study design", "status": "Status",
    "enrollment": "Enrollment", "primary_completion_date": "Primary completion",
    "has_results": "Results posted", "phases": "Phase", "publication_types": "Publication types",
    "why_stopped": "Why it stopped", "retracted": "Retraction", "mesh": "MeSH terms",
}


def corrected(editor: dict | None) -> dict:
    """field → its change (with a "label"), for the correction note beside the corrected values."""
    return {c["field"]: {**c, "label": FIELD_LABELS.get(c["field"], c["field"].replace("_", " ").capitalize())}
            for c in (editor or {}).get("changes") or []}
