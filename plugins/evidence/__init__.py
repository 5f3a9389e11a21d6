"""Evidence plugin: reads cards fast, links them, and generates the site's own pages.

Contract with the other plugins: after the articles generator has
finished, the shared context holds

    evidence        visible card articles, newest first
    evidence_by_id  {record id: article}
    topics          list of harvest.classification.topics.Topic (EVIDENCE_TOPICS names the file; default
                    harvest/classification/topics.toml)
    report          latest run report (dict) or None
    runs            every run report, newest first
    edition         live harvest or recorded snapshot, and how fresh (plugins/evidence/edition.py)

and each card article carries .record (the normalized record), .editor (override info or None) and
.ev (derived values the card template shows: flags, links, bottom line, JSON-LD).
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import logging
import os

from pelican import signals

from harvest.classification.classify import FIELDS_READ

from . import edition, editorial, filters, model, prefetch, readcache
from .freshness import freshness, load_state
from .generator import EvidencePagesGenerator
from .reader import EvidenceReader, card_entry, content_relpath, lazy_content

logger = logging.getLogger(__name__)


def add_reader(readers):
    for ext in EvidenceReader.file_extensions:
        readers.reader_classes[ext] = EvidenceReader


def load_reports(data_path: str) -> tuple[dict | None, list[dict]]:
    report = None
    path = os.path.join(data_path, "report.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            report = json.load(fh)
    runs = []
    for run_path in sorted(glob.glob(os.path.join(data_path, "runs", "*.json"))):
        try:
            with open(run_path, encoding="utf-8") as fh:
                runs.append(json.load(fh))
        except (OSError, ValueError) as exc:
            logger.error("run report %s: %s", run_path, exc)
    runs.sort(key=lambda r: r.get("run_id") or "", reverse=True)
    return report, runs


def reference_date(settings: dict, report: dict | None) -> dt.date:
    """The 'today' that time-based flags use: pinned, else the last harvest's finish, else today."""
    pinned = settings.get("EVIDENCE_REFERENCE_DATE")
    if pinned:
        return dt.date.fromisoformat(str(pinned)[:10])
    if report and report.get("finished"):
        return dt.date.fromisoformat(report["finished"][:10])
    return dt.datetime.now(dt.timezone.utc).date()


def _harvest_dates(runs: list[dict]) -> dict:
    """record id → date of the newest run that wrote its card (new or updated)."""
    out = {}
    for run in reversed(runs):  # oldest first, so newer runs overwrite
        day = (run.get("finished") or run.get("started") or "")[:10]
        changes = run.get("changes") or {}
        for rid in (changes.get("new") or []) + (changes.get("updated") or []):
            out[rid] = day
    return out


def link_evidence(generator):
    """articles generator finished: attach derived values and publish the shared context keys."""
    from harvest.classification.topics import load_topics

    settings = generator.settings
    context = generator.context
    report, runs = load_reports(settings.get("EVIDENCE_DATA_PATH") or "data")
    ref = reference_date(settings, report)

    cards = [a for a in generator.articles if hasattr(a, "record")]
    cards.sort(key=lambda a: model.newest_key(a.record))
    by_id = {a.record["id"]: a for a in cards}

    # Links in both directions, each with its grade (model.LINK_GRADES): a PubMed record names
    # trials in its DataBank list (or only in its abstract), a trial names publications in its
    # references (typed RESULT, BACKGROUND or DERIVED); either side is enough to link both cards,
    # and the strongest grade either side gives is the link's grade.
    grades: dict[tuple[str, str], set] = {}
    for art in cards:
        rec = art.record
        if rec["source"] == "pubmed":
            for nct in rec["linked_nct_ids"]:
                grades.setdefault((nct, rec["pmid"]), set()).add("databank")
            for nct in rec.get("mentioned_nct_ids") or []:
                grades.setdefault((nct, rec["pmid"]), set()).add("mention")
        else:
            typed = {r["pmid"]: r.get("type") for r in (rec.get("registry") or {}).get("references") or []}
            for pmid in rec["linked_pmids"]:
                grade = model.link_grade_of_reference(typed.get(pmid), rec.get("status"))
                grades.setdefault((rec["nct_id"], pmid), set()).add(grade)
    trials_of: dict[str, list] = {}
    pubs_of: dict[str, list] = {}
    for (nct, pmid), found in grades.items():
        grade = model.best_grade(found)
        trials_of.setdefault(f"pubmed:{pmid}", []).append((nct, grade))
        pubs_of.setdefault(f"ctgov:{nct}", []).append((pmid, grade))

    def graded(items, key):
        return sorted(items, key=lambda i: (list(model.LINK_GRADES).index(i[1]), key(i[0])))

    topics = load_topics(settings.get("EVIDENCE_TOPICS") or None)
    # A card's harvest day is the day of a run report that lists it as written.  A card no kept
    # report lists has none: the latest run's day would claim it was harvested that night, and
    # every night after.
    harvested = _harvest_dates(runs)
    state = load_state(settings.get("EVIDENCE_DATA_PATH") or "data")  # read once: edition and freshness
    this_edition = edition.edition(report, state, [a.record for a in cards])
    # A snapshot's records are recorded copies: a trial's results are judged overdue only as far as
    # its copy shows (model.reporting, recorded=True).
    recorded = this_edition["kind"] == "snapshot"
    for art in cards:
        rec = art.record
        linked_trials = [{"id": n, "article": by_id.get(f"ctgov:{n}"), "grade": g,
                          "grade_text": model.LINK_GRADE_SHORT[g], "grade_long": model.LINK_GRADES[g]}
                         for n, g in graded(trials_of.get(rec["id"], []), lambda n: n)]
        linked_pubs = [{"id": p, "article": by_id.get(f"pubmed:{p}"), "grade": g,
                        "grade_text": model.LINK_GRADE_SHORT[g], "grade_long": model.LINK_GRADES[g]}
                       for p, g in graded(pubs_of.get(rec["id"], []), lambda p: (len(p), p))]
        results_pmids = [p["id"] for p in linked_pubs if model.is_results_grade(p["grade"])]
        lvl = model.evidence_level(rec, bool(results_pmids))
        reporting = model.reporting(rec, results_pmids, ref, recorded)
        registration = model.registration_timing(rec)
        drift = model.registry_drift(rec, getattr(art, "history", None))
        bottom = model.bottom_line(rec)
        corrected = editorial.corrected(art.editor)
        cite = art.citations  # made by the reader (plugins/evidence/reader.py: card_entry)
        art.ev = {
            "level": lvl,
            "level_word": model.LEVEL_WORDS.get(lvl, "") if lvl else "",
            "level_label": model.level_label(lvl),
            "design_label": model.design_label(rec["design"]),
            "status_label": model.status_label(rec["status"]),
            "phase_label": model.phase_label(rec["phases"]) if rec["phases"] else "",
            "bottom_line": bottom,
            "bottom_line_html": art.safe_html["abstract"][rec["abstract"].index(bottom)] if bottom else None,
            "notices": model.notices(rec),
            "reporting": reporting,
            "reporting_text": model.reporting_text(reporting),
            "overdue": bool(reporting and reporting["overdue"]),
            "rule": model.RULES.get((reporting or {}).get("rule") or ""),
            "in_gap": model.in_dissemination_gap(rec, bool(results_pmids), ref, recorded),
            "registration": registration,
            "registration_text": model.REGISTRATION_TEXT.get(registration or "", ""),
            "enrollment_text": model.enrollment_text(rec, drift["planned_enrollment"]),
            "completion_moved_from": drift["completion_moved_from"],
            "stopped": rec["status"] in model.STOPPED_STATUSES,
            "linked_trials": linked_trials,
            "linked_publications": linked_pubs,
            "harvested_on": harvested.get(rec["id"]),
            "jsonld": filters.jsonld(rec, art, settings.get("SITEURL") or ""),
            "topic_names": [{"slug": t.slug, "name": t.name} for t in topics if t.slug in rec["topics"]],
            "ris": cite["ris"],
            "bib_key": cite["bib_key"],
            "bib": cite["bib"],
            # The name the card's page saves its citation under (theme/templates/_card_cite.html).
            "cite_name": art.url.removesuffix(".html").strip("/").replace("/", "-"),
            "pinned": editorial.pin_note(art.editor),
            "corrected": corrected,
            # The topic reasons were found when the card was harvested, in the source's wording.
            "reasons_predate_correction": bool(FIELDS_READ.intersection(corrected)),
        }

    context["evidence"] = cards
    context["evidence_by_id"] = by_id
    context["topics"] = topics
    context["report"] = report
    context["runs"] = runs
    context["edition"] = this_edition
    context["evidence_reference_date"] = ref
    context["freshness"] = freshness(state, settings, report, topics)


def add_filters(generator):
    env = getattr(generator, "env", None)
    if env is not None:
        env.filters.update(filters.FILTERS)
        env.globals.update(filters.GLOBALS)


def start_prefetch(generator):
    """articles generator created: a child starts reading the later share of the cards."""
    paths = prefetch.card_paths(generator)
    if generator.settings.get("LOAD_CONTENT_CACHE"):
        # Cards served from Pelican's content cache are never read: the child reads the cards the
        # cache does not hold (all of them when it is cold).  Membership, not the file stamps:
        # checking those here would read every card once more, and the few changed cards that the
        # cache holds are read by the parent.
        cached = getattr(generator.readers, "_cache", None) or {}
        paths = [p for p in paths if p not in cached]
    siteurl = generator.settings.get("SITEURL") or ""
    base = generator.settings["PATH"]

    overrides = editorial.current()

    def work(path):
        return card_entry(path, content_relpath(path, base), siteurl, overrides)

    opts = prefetch.options(generator.settings)
    prefetch.start(paths, work, opts["min_cards"], opts["share"])


def stop_prefetch(generator):
    prefetch.stop()


def get_generators(pelican):
    return EvidencePagesGenerator


def register():
    signals.initialized.connect(editorial.load)
    signals.initialized.connect(readcache.check)
    signals.readers_init.connect(add_reader)
    signals.content_object_init.connect(lazy_content)
    signals.generator_init.connect(add_filters)
    signals.article_generator_init.connect(start_prefetch)
    signals.article_generator_pretaxonomy.connect(stop_prefetch)
    signals.article_generator_finalized.connect(link_evidence)
    signals.get_generators.connect(get_generators)
