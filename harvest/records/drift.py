"""What changed in a record between two harvests, kept in its card (`Ev_history`, `Ev_scope`).

Registries change under our feet: a trial's enrollment is cut, its primary outcome swapped, its
completion date moved.  When a re-fetched record differs from its card in a tracked value, the card
keeps a dated entry old → new, so the site can show "Changes in the registry" and the feeds can list
the events.  The entries live in the card (not in the raw cache), so a replay keeps them.

Events (`event`):
    changed             a trial's enrollment (with its type), primary outcome measures, primary
                        completion date or lead sponsor changed (`field`, `from`, `to`)
    status_changed      a trial's overall status changed (`from`, `to`)
    results_posted      a trial posted results on ClinicalTrials.gov
    publication_linked  a trial's registry entry lists a new PubMed reference (`to`: the PMID)
    retracted           PubMed now marks the article retracted

Each entry is dated with the source's own revision date of the new value (ClinicalTrials.gov's last
update posted, PubMed's date revised), else the harvest day, so the same replies give the same card.
A value the old card did not know (null or empty: a field the harvester did not read yet) is not a
change.  `scope` says since when and why a record that had a card matches no topic any more.
"""

from __future__ import annotations

TRACKED = ("primary_outcomes", "primary_completion_date", "sponsor")


def _known(value) -> bool:
    return value not in (None, [], "")


def events(old: dict | None, new: dict, day: str) -> list[dict]:
    """History entries for the change old → new (both records as written to cards)."""
    if old is None:
        return []
    when = (new.get("updated") or day)[:10]
    out: list[dict] = []
    if new.get("source") == "ctgov":
        if _known(old.get("status")) and old.get("status") != new.get("status"):
            out.append({"date": when, "event": "status_changed", "from": old["status"], "to": new.get("status")})
        if _known(old.get("enrollment")) and (old.get("enrollment"), old.get("enrollment_type")) != (
                new.get("enrollment"), new.get("enrollment_type")):
            # A type that was unknown before is not a change of type.
            if old.get("enrollment") != new.get("enrollment") or _known(old.get("enrollment_type")):
                out.append({"date": when, "event": "changed", "field": "enrollment",
                            "from": old["enrollment"], "from_type": old.get("enrollment_type"),
                            "to": new.get("enrollment"), "to_type": new.get("enrollment_type")})
        for field in TRACKED:
            if _known(old.get(field)) and old.get(field) != new.get(field):
                out.append({"date": when, "event": "changed", "field": field, "from": old[field],
                            "to": new.get(field)})
        if old.get("has_results") is False and new.get("has_results") is True:
            out.append({"date": when, "event": "results_posted"})
        for pmid in new.get("linked_pmids") or []:
            if pmid not in (old.get("linked_pmids") or []):
                out.append({"date": when, "event": "publication_linked", "to": pmid})
    elif old.get("retracted") is False and new.get("retracted") is True:
        out.append({"date": when, "event": "retracted"})
    return out


def merged(history: list | None, new_events: list[dict]) -> list[dict]:
    out = list(history or [])
    for entry in new_events:
        if entry not in out:
            out.append(entry)
    return out


SCOPE_REASON = {
    "pubmed": "Its latest PubMed record no longer matches any topic of the atlas: its title, MeSH headings, "
              "keywords and abstract no longer name one of the treatments together with a mood disorder.",
    "ctgov": "Its latest ClinicalTrials.gov record no longer matches any topic of the atlas: its title, "
             "interventions, conditions, keywords and summary no longer name one of the treatments together "
             "with a mood disorder.",
}


def scope(record: dict, day: str) -> dict:
    return {"since": (record.get("updated") or day)[:10], "reason": SCOPE_REASON[record["source"]]}
