"""Mood Evidence Atlas harvester.

Pipeline (one module per stage):
    topics.py        editor config (topics.toml) → Topic objects
    http.py          one requests session: base URLs, throttle, retry, key redaction
    pubmed_fetch.py  esearch/efetch generators yielding raw response bytes
    ctgov_fetch.py   /studies page generator yielding raw response bytes
    rawcache.py      every accepted response, gzip, committed under data/raw/
    pubmed_parse.py  PubMed XML bytes → records            (pure)
    ctgov_parse.py   ClinicalTrials.gov JSON bytes → records (pure)
    classify.py      record → topics                       (pure)
    overrides.py     editor overrides (content/overrides.toml)
    cards.py         record ↔ card Markdown, atomic quiet writes
    report.py        run report (data/report.json)
    pipeline.py      `harvest run`: fetch → cache → parse → classify → cards → report
    replay.py        `harvest replay DIR`: the same path from the raw cache, offline
    normalize.py     `harvest normalize PATH...`: raw files → JSON lines

One module per small job, used by every stage (and the site plugins) that does it:
    sanitize.py      harvested text: whitespace (collapse, one_line), inline HTML, the one nh3 policy
    dates.py         partial ISO dates ('2023', '2023-05', '2023-05-17'): parts, period start and end
    sniff.py         what a raw reply is (PubMed XML, ClinicalTrials.gov JSON, an E-utilities listing)
    fileio.py        atomic writes, write-if-changed, editor TOML
    errors.py        the error types: one-line messages naming the record, file or topic
"""
