"""Mood Evidence Atlas harvester: PubMed, ClinicalTrials.gov and Metapsy → evidence cards.

The pipeline, one package per stage, in the order data flows through it:

    sources/         the outside world → records: one package per source (fetch and parse side by
                     side), the one HTTP client, the raw reply cache, what a raw reply is (sniff)
    records/         the record: its fields and JSON Schema, dates, sanitized text, registry drift
    classification/  record → topics, by the editors' topics.toml
    cards/           record ↔ card file, citations (RIS, BibTeX), editor overrides

The commands that run it, here at the top (`python -m harvest <command>`):

    pipeline.py      `run`: fetch → cache → parse → classify → cards → report
    replay.py        `replay DIR`: the same path from the raw cache, offline
    seed.py          `seed DIR`: recorded replies with on-topic records → the raw cache
    normalize.py     `normalize PATH...`: raw files → JSON lines
    state.py, report.py, progress.py   the run's state file, report and progress line

Used by every stage: errors.py (one-line errors naming the record, file or topic) and fileio.py
(atomic writes, write-if-changed, editor TOML).  README.md lists every module.
"""
