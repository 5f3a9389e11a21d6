"""harvest/records/drift.py over real parsed trials: which registry changes become dated history entries."""

from __future__ import annotations

import copy
import json

from harvest.records import drift
from harvest.sources.ctgov.parse import parse_ctgov
from servers import nct_of, real_studies


def trial() -> dict:
    """A real registered trial with results, sponsor and primary outcomes (AACT fixture NCT00763412)."""
    study = next(s for s in real_studies() if nct_of(s) == "NCT00763412")
    return parse_ctgov(json.dumps(study).encode(), "NCT00763412").records[0]


def test_every_tracked_registry_change_is_one_dated_entry():
    old = trial()
    assert old["sponsor"] and old["primary_outcomes"] and old["enrollment"] is not None
    new = copy.deepcopy(old)
    # Test values: the registry revised the entry on 2026-11-20 and changed each tracked value.
    new.update(updated="2026-11-20", status="TERMINATED", enrollment=old["enrollment"] - 10,
               primary_outcomes=["Change in HbA1c at 12 months"], primary_completion_date="2027-06",
               sponsor="Another University", linked_pmids=old["linked_pmids"] + ["30000001"])
    old["has_results"], new["has_results"] = False, True  # results posted in this revision
    events = drift.events(old, new, "2026-11-23")
    assert {e["date"] for e in events} == {"2026-11-20"}  # the registry's date, not the harvest day
    kinds = [(e["event"], e.get("field")) for e in events]
    assert kinds == [("status_changed", None), ("changed", "enrollment"), ("changed", "primary_outcomes"),
                     ("changed", "primary_completion_date"), ("changed", "sponsor"), ("results_posted", None),
                     ("publication_linked", None)]
    assert events[-1]["to"] == "30000001"
    history = drift.merged([], events)
    assert drift.merged(history, events) == history  # seen again (a replay, the overlap): no duplicates


def test_unknown_old_values_and_unchanged_records_are_not_changes():
    old = trial()
    assert drift.events(old, copy.deepcopy(old), "2026-11-23") == []
    assert drift.events(None, old, "2026-11-23") == []  # a new card has no history
    # A card written before the harvester read sponsor and outcomes: learning them is not a change.
    before = dict(old, sponsor=None, primary_outcomes=[], enrollment_type=None)
    assert drift.events(before, old, "2026-11-23") == []


def test_scope_note_is_dated_by_the_record():
    note = drift.scope(dict(trial(), updated="2026-11-25"), "2026-11-26")
    assert note["since"] == "2026-11-25" and "no longer matches any topic" in note["reason"]
