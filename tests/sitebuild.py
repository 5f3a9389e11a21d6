"""Build a real site into a temporary directory from a list of records (shared by every site test).

    out = build_site(tmp_path, records, report=..., reference_date="2025-06-01")

writes one card per record with harvest.cards.card.write_card (the harvester's own writer), the editors'
overrides as content/overrides.toml (applied by the build, as in `make build`), copies the
editor's pages and explainers from content/ (unless told not to), writes the run report(s), and runs
Pelican with the project's pelican.conf.py exactly as `make build` does (`--fatal errors`, in a
subprocess so each build starts from clean plugin state), optionally with the Pagefind index
(plugins/search, the same path as `make build`).

Records for tests come from real recordings (tests/data/real-api/, parsed with the project's parsers):
see real_records() and derive().
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "pelican.conf.py"
REAL_API = ROOT / "tests" / "data" / "real-api"


class SiteBuildError(AssertionError):
    pass


# Pagefind writes its filter and metadata files (and the entry file naming them) differently on each
# run over the same documents (upstream Pagefind/pagefind#638: fragments are stable since 1.3, the
# "filter/metadata indexes" are not), so two full builds already differ in those files alone.
UNSTABLE = re.compile(r"^pagefind(-\d+)?/(filter/.+\.pf_filter|pagefind\..+\.pf_meta|pagefind-entry\.json)$")


def real_records(*relpaths: str) -> list[dict]:
    """Records parsed from real recorded responses (paths relative to tests/data/real-api)."""
    from harvest.normalize import parse_bytes

    out = []
    for rel in relpaths:
        path = REAL_API / rel
        records, errors, _books = parse_bytes(path.read_bytes(), str(path))
        assert not errors, errors
        out.extend(records)
    return out


def derive(record: dict, new_key: str | None = None, **changes) -> dict:
    """A copy of a real record with a new PMID/NCT id and other fields changed (a test card)."""
    rec = copy.deepcopy(record)
    if new_key is not None:
        if rec["source"] == "pubmed":
            rec["pmid"] = new_key
            rec["id"] = f"pubmed:{new_key}"
        else:
            rec["nct_id"] = new_key
            rec["id"] = f"ctgov:{new_key}"
    rec.update(changes)
    return rec


def make_report(finished: str, topics, counts: dict | None = None, run_id: str | None = None,
                changes: dict | None = None, mode: str = "run") -> dict:
    """A run report in the shape the harvester writes (harvest/report.py): by default a live run
    (`harvest run`); mode="replay" is a snapshot rebuilt from recorded replies."""
    counts = counts or {}
    rid = run_id or (finished[:10] + "T" + finished[11:19].replace(":", "") + "Z")
    rows = []
    for t in topics:
        n = counts.get(t.slug, {})
        rows.append({
            "slug": t.slug, "name": t.name,
            "sources": {
                "pubmed": {"query": t.pubmed_query, "since": None, "found": n.get("pubmed", 0),
                           "new": n.get("pubmed", 0), "updated": 0, "unchanged": 0, "off_topic": 0,
                           "requests": 2, "seconds": 0.5, "error": None},
                "ctgov": {"query": dict(t.ctgov), "since": None, "found": n.get("ctgov", 0),
                          "new": n.get("ctgov", 0), "updated": 0, "unchanged": 0, "off_topic": 0,
                          "requests": 1, "seconds": 0.3, "error": None},
            },
        })
    return {
        "run_id": rid, "mode": mode, "started": finished, "finished": finished, "ok": True,
        "topics": rows,
        "totals": {"records": 0, "new": 0, "updated": 0, "unchanged": 0, "off_topic": 0,
                   "books_skipped": 0, "errors": 0},
        "changes": changes or {"new": [], "updated": [], "new_retractions": [], "status_changes": []},
    }


def build_site(
    tmp_path: Path,
    records: list[dict],
    *,
    editors: dict[str, list[dict]] | None = None,
    report: dict | None = None,
    runs: list[dict] | None = None,
    state: dict | None = None,
    reference_date: str | None = None,
    editor_content: bool = True,
    pages: dict[str, str] | None = None,
    settings: dict | None = None,
    pagefind: bool = False,
    output: Path | None = None,
    extras: dict[str, dict] | None = None,
) -> Path:
    """Build the site; returns the output directory.  Raises SiteBuildError with Pelican's log.

    extras: record id → card extras ({"history": [...]} as harvest/records/drift.py keeps them).

    editors: record id → override entries ({"action", "reason", "date", ...} as in
    content/overrides.toml), written to the temporary site's content/overrides.toml.
    """
    from harvest.cards.card import write_card

    tmp_path = Path(tmp_path)
    content = tmp_path / "content"
    data = tmp_path / "data"
    out = Path(output) if output else tmp_path / "output"
    content.mkdir(parents=True, exist_ok=True)
    (content / "evidence").mkdir(exist_ok=True)
    for rec in records:
        write_card(content, rec, extras=(extras or {}).get(rec["id"]))
    if editors:
        (content / "overrides.toml").write_text(overrides_toml(editors), encoding="utf-8")
    if editor_content:
        for sub in ("pages", "topics", "images"):
            src = ROOT / "content" / sub
            if src.is_dir():
                shutil.copytree(src, content / sub, dirs_exist_ok=True)
    for rel, text in (pages or {}).items():
        path = content / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (data / "runs").mkdir(parents=True, exist_ok=True)
    if report is not None:
        (data / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    for run in runs if runs is not None else ([report] if report else []):
        (data / "runs" / f"{run['run_id']}.json").write_text(json.dumps(run, indent=2, sort_keys=True),
                                                           encoding="utf-8")
    if state is None and report is not None and report.get("mode") == "run" and not (data / "state.json").exists():
        state = state_after(report)
    if state is not None:  # harvest/state.py's data/state.json
        (data / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    return pelican_build(tmp_path, output=out, reference_date=reference_date, settings=settings,
                         pagefind=pagefind)


def state_after(report: dict) -> dict:
    """The data/state.json a live run leaves (harvest/state.py, version 2): each topic and source that
    succeeded has its success at the run's finish; a failed one has no success yet."""
    topics = {}
    for t in report["topics"]:
        for source, entry in t["sources"].items():
            ok = not entry.get("error")
            topics.setdefault(t["slug"], {})[source] = {
                "success": report["finished"] if ok else None, "attempt": report["finished"],
                "error": None if ok else "server error"}
    return {"version": 2, "topics": topics}


def pelican_build(tmp_path: Path, *, output: Path | None = None, reference_date: str | None = None,
                  settings: dict | None = None, pagefind: bool = False) -> Path:
    """Only the Pelican run of build_site, over what tmp_path/content and tmp_path/data hold now
    (what `make build` does after an editor changed a file)."""
    tmp_path = Path(tmp_path)
    content, data = tmp_path / "content", tmp_path / "data"
    out = Path(output) if output else tmp_path / "output"
    extra = {"EVIDENCE_DATA_PATH": str(data), "CACHE_PATH": str(tmp_path / "cache"),
             "SEARCH_INDEX": {"enabled": pagefind}}  # plugins/search runs Pagefind inside the build
    if reference_date:
        extra["EVIDENCE_REFERENCE_DATE"] = reference_date
    extra.update(settings or {})
    cmd = [sys.executable, "-m", "pelican", str(content), "-o", str(out), "-s", str(CONF),
           "--fatal", "errors", "-e"] + [f"{k}={json.dumps(v)}" for k, v in extra.items()]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SiteBuildError(f"pelican failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if pagefind and not (out / "pagefind" / "pagefind.js").exists():
        raise SiteBuildError(f"no search index in {out}:\n{proc.stdout}\n{proc.stderr}")
    return out


def copy_committed_site(tmp_path: Path) -> Path:
    """The committed content/ and data/ copied into tmp_path, for a test to edit before pelican_build."""
    tmp_path = Path(tmp_path)
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return tmp_path


def card_line(out: Path, record_id: str, selector: str) -> str:
    """The text of one element of a built card page, whitespace collapsed."""
    from bs4 import BeautifulSoup

    source, key = record_id.split(":")
    page = BeautifulSoup((Path(out) / "evidence" / source / f"{key}.html").read_text(encoding="utf-8"),
                         "html.parser")
    return " ".join(page.select_one(selector).get_text(" ").split())


def overrides_toml(editors: dict[str, list[dict]]) -> str:
    """content/overrides.toml text for {record id: [entry, ...]} (strings, numbers, booleans, lists)."""
    lines = []
    for record_id, entries in editors.items():
        for entry in entries:
            lines.append(f'[["{record_id}"]]')
            lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items()]
            lines.append("")
    return "\n".join(lines)


def shown(records: list[dict], editors: dict[str, list[dict]] | None) -> list[dict]:
    """The records as the built site shows them: the editors' overrides applied, hidden ones left out."""
    import tempfile

    from harvest.cards.overrides import apply_overrides, load_overrides

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "overrides.toml"
        path.write_text(overrides_toml(editors or {}), encoding="utf-8")
        overrides = load_overrides(path)
    out = []
    for rec in records:
        rec, editor = apply_overrides(rec, overrides)
        if not (editor and editor["hidden"]):
            out.append(rec)
    return out


PM = "metapub/tests/fixtures/pmid_xml/{}.xml"
CT_AACT = "ctgov-aact-fixtures/spec/support/json_data/{}.json"
CT_DOWNLOAD = "ctgov-website-download/koy570-herniated_disc/ctg-studies.json"
REFERENCE_DATE = "2025-06-01"
EDITOR_CHANGE = {"field": "design", "from": "review", "to": "systematic-review",
                 "reason": "The methods describe a systematic search of three databases.", "date": "2025-05-01"}
HIDE_REASON = "A duplicate of another card on this site."


def sample_records() -> tuple[list[dict], dict]:
    """A varied set of test cards: real parsed records, plus copies with changed ids/fields.

    Returns (records, editors): editors are the override entries build_site writes to
    content/overrides.toml.  Topic 'pgx' deliberately gets no cards.
    """
    def one(rel, key=None):
        recs = real_records(rel)
        return recs if key is None else [r for r in recs if key in (r["pmid"], r["nct_id"])]

    review = one(PM.format("32525788"))[0]          # structured abstract with CONCLUSION, MeSH, DOI, PMC
    erratum = one(PM.format("35649368"))[0]         # ErratumIn correction
    sysrev = one(PM.format("38909159"))[0]          # systematic review
    observ = one(PM.format("38747095"))[0]          # observational
    plain = one(PM.format("24794070"))[0]           # review without labels
    structured = one(PM.format("33474827"))[0]
    trials = {r["nct_id"]: r for r in real_records(CT_DOWNLOAD)}
    withdrawn = one(CT_AACT.format("NCT00973089"))[0]
    with_results = one(CT_AACT.format("NCT00763412"))[0]

    records = [
        derive(review, topics=["tms"]),
        derive(erratum, topics=["tms", "ketamine"]),
        derive(sysrev, design="review", topics=["tms"]),  # design changed: the editors correct it below
        derive(observ, topics=["ketamine"]),
        derive(review, "90000001", design="meta-analysis", year=2024, date="2024-02", topics=["tms"],
               publication_types=["Journal Article", "Meta-Analysis"]),
        derive(structured, "90000002", design="rct", retracted=True,
               corrections=[{"type": "RetractionIn", "pmid": "90000099"}], topics=["tms"]),
        derive(trials["NCT03884387"], topics=["tms"]),           # completed 2019, no results: overdue
        derive(withdrawn, topics=["tms"]),                      # withdrawn, with why_stopped
        derive(trials["NCT05245214"], topics=["tms"]),           # references PMID 28427393
        derive(plain, "28427393", topics=["tms"]),              # ... which is on the site
        derive(with_results, topics=["tms"]),
        derive(plain, "90000003", linked_nct_ids=["NCT00763412", "NCT99999999"], topics=["tms"]),
        derive(trials["NCT03884387"], "NCT90000001", status="RECRUITING", enrollment=500, has_results=False,
               primary_completion_date="2027-01", topics=["tms"]),
        derive(trials["NCT03884387"], "NCT90000002", status="RECRUITING", enrollment=50, has_results=False,
               primary_completion_date="2027-01", topics=["tms"]),
        derive(trials["NCT03884387"], "NCT90000003", status="COMPLETED", has_results=False,
               primary_completion_date="2024-12", topics=["tms"]),  # completed < 12 months before ref
        derive(trials["NCT01339377"], topics=["psilocybin"]),
        derive(observ, "90000004", topics=["light-therapy"]),
        derive(plain, "92000001", topics=["tms"]),              # hidden by the editor
    ]
    for i in range(12):  # enough narrative reviews to paginate at 5 per page
        records.append(derive(plain, str(91000001 + i), year=2010 + i, date=f"{2010 + i}-0{1 + i % 9}",
                              topics=["tms"]))
    editors = {
        "pubmed:92000001": [{"action": "hide", "reason": HIDE_REASON, "date": "2025-05-02"}],
        sysrev["id"]: [{"action": "replace", "field": "design", "value": EDITOR_CHANGE["to"],
                        "reason": EDITOR_CHANGE["reason"], "date": EDITOR_CHANGE["date"]}],
    }
    return records, editors
