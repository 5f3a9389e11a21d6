"""The Metapsy importer on the real psilocybin database (tests/data/metapsy, a byte copy of the files in
github.com/metapsy-project/data-depression-psiloctr), pooled and checked against an independent
computation; malformed rows; failed imports keep yesterday's meta-analysis; the live fetch."""

import csv
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from harvest.classification.topics import load_topics
from harvest.errors import ConfigError, ParseError
from harvest.sources.metapsy.parse import parse_metapsy
from harvest.sources.metapsy.pool import analyse, import_snapshot, select

ROOT = Path(__file__).resolve().parent.parent
DB = ROOT / "tests" / "data" / "metapsy" / "data-depression-psiloctr"
REPO = "metapsy-project/data-depression-psiloctr"
DATA = (DB / "data.csv").read_bytes()
SEARCH = (DB / "metadata" / "last_search.txt").read_bytes()
POOLED_STUDIES = ["Back 2024", "Carhart-Harris 2021", "Davis 2021", "Goodwin 2022", "Griffiths 2016", "Lewis 2025",
                  "Luquiens 2025", "Raison 2023", "Rieser 2025", "Rosenblat 2024", "Ross 2016", "Ross 2025",
                  "von Rotz 2023"]


def test_parser_reads_every_row_of_the_real_database():
    db = parse_metapsy(DATA, SEARCH, "data.csv")
    assert len(db.rows) == 220 and db.last_search == "2025-10-31"
    assert len({r["study"] for r in db.rows}) == 15
    back = db.rows[1]  # second data row, file line 3: Back 2024 at day 28 on the MADRS
    assert back["line"] == 3 and back["study"] == "Back 2024"
    assert back[".g"] == pytest.approx(-1.42153552640955994) and back[".g_se"] == pytest.approx(0.410986356401838)
    assert back["n_arm1"] == 15 and back["n_arm2"] == 15 and back["primary_timepoint"] is True
    assert back["dois"] == ["10.1001/jamanetworkopen.2024.49026"] and back["registration_number"] == "NCT05163496"
    raison = next(r for r in db.rows if r["study"] == "Raison 2023")
    assert raison["dois"] == ["10.1001/jama.2023.14530", "10.1001/jama.2024.0828"]


def test_one_comparison_per_study_at_the_primary_time_point():
    chosen = select(parse_metapsy(DATA, SEARCH, "data.csv").rows)
    assert sorted(r["study"] for r in chosen) == POOLED_STUDIES
    goodwin = next(r for r in chosen if r["study"] == "Goodwin 2022")
    # three arms (25, 10, 1 mg): the top dose against the bottom one, endpoint scores (imsd) before change
    assert (goodwin["multi_arm1"], goodwin["multi_arm2"], goodwin["outcome_type"]) == ("25 mg", "1 mg", "imsd")
    # Grob 2011 has its primary time point only after crossover; Krempien 2023 (a conference abstract
    # on a psilocybin analogue) has no risk-of-bias rating
    assert not {"Grob 2011", "Krempien 2023"} & {r["study"] for r in chosen}


def _independent(rows):
    """Paule-Mandel tau², Hartung-Knapp CI and prediction interval, by numpy/scipy, from the CSV text."""
    g = np.array([float(r[".g"].replace(",", ".")) for r in rows])
    v = np.array([float(r[".g_se"].replace(",", ".")) ** 2 for r in rows])
    k = len(g)

    def q(tau2):
        w = 1 / (v + tau2)
        mu = (w * g).sum() / w.sum()
        return (w * (g - mu) ** 2).sum()

    lo, hi = 0.0, 10.0
    if q(0.0) <= k - 1:
        tau2 = 0.0
    else:
        for _ in range(200):  # Q(tau²) falls as tau² grows: bisect for Q = k - 1
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if q(mid) > k - 1 else (lo, mid)
        tau2 = (lo + hi) / 2
    w = 1 / (v + tau2)
    mu = (w * g).sum() / w.sum()
    se = np.sqrt((w * (g - mu) ** 2).sum() / ((k - 1) * w.sum()))
    t = stats.t.ppf(0.975, k - 1)
    wf = 1 / v
    q_fe = (wf * (g - (wf * g).sum() / wf.sum()) ** 2).sum()
    half_pi = stats.t.ppf(0.975, k - 2) * np.sqrt(tau2 + se ** 2)
    return {"g": mu, "ci": [mu - t * se, mu + t * se], "tau2": tau2, "i2": max(0.0, (q_fe - (k - 1)) / q_fe),
            "pi": [mu - half_pi, mu + half_pi]}


def test_pooled_estimate_matches_an_independent_computation():
    doc = analyse(parse_metapsy(DATA, SEARCH, "data.csv"), REPO, "psilocybin")
    lines = {s["study"]: s["line"] for s in doc["studies"]}
    text_rows = list(csv.DictReader(DATA.decode("utf-8").splitlines(), delimiter=";"))
    rows = [text_rows[lines[study] - 2] for study in POOLED_STUDIES]  # file line 2 is the first data row
    assert [r["study"] for r in rows] == POOLED_STUDIES
    expect = _independent(rows)
    p = doc["pooled"]
    assert p["k"] == 13
    assert p["g"] == pytest.approx(expect["g"], abs=1e-3)
    assert p["ci"] == pytest.approx(expect["ci"], abs=1e-3)
    assert p["pi"] == pytest.approx(expect["pi"], abs=1e-3)
    assert p["tau2"] == pytest.approx(expect["tau2"], abs=1e-3)
    assert p["i2"] == pytest.approx(expect["i2"], abs=1e-3)
    assert p["n"] == sum(int(r["n_arm1"]) + int(r["n_arm2"]) if r["n_arm1"] != "NA"
                         else int(r["n_change_arm1"]) + int(r["n_change_arm2"]) for r in rows)
    assert sum(s["weight"] for s in doc["studies"]) == pytest.approx(1.0, abs=1e-3)


def test_committed_meta_analysis_is_what_the_importer_makes():
    doc = import_snapshot(DATA, SEARCH, REPO, "psilocybin", "psilocybin")
    committed = json.loads((ROOT / "data" / "meta" / "psilocybin.json").read_text(encoding="utf-8"))
    assert committed == doc
    assert committed["source"]["last_search"] == "2025-10-31"
    assert committed["source"]["zenodo_doi"] == "10.5281/zenodo.15714852"


def _alter(line: int, column: str, value: str) -> bytes:
    """The real data.csv with one cell of one file line replaced (the test's deliberate damage)."""
    text = DATA.decode("utf-8").split("\n")
    header = next(csv.reader([text[0]], delimiter=";"))
    cells = next(csv.reader([text[line - 1]], delimiter=";"))
    cells[header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="").writerow(cells)
    text[line - 1] = out.getvalue()
    return "\n".join(text).encode("utf-8")


@pytest.mark.parametrize("column, value, problem", [
    (".g", "abc", ".g 'abc' is not a number"),
    (".g_se", "0", ".g_se must be positive"),
    ("rob", "Medium", "rob must be one of Low, Some concerns, High or NA"),
    ("n_arm1", "15,5", "n_arm1 '15,5' is not a whole number"),
])
def test_malformed_row_gets_one_line_naming_the_row(column, value, problem):
    with pytest.raises(ParseError) as err:
        import_snapshot(_alter(3, column, value), SEARCH, REPO, "psilocybin", "psilocybin " + REPO)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"psilocybin {REPO} data.csv: row 3 (Back 2024): {problem}")


def test_row_with_missing_fields_and_bad_search_date_are_refused():
    lines = DATA.decode("utf-8").split("\n")
    lines[9] = ";".join(lines[9].split(";")[:20])  # file line 10 cut short
    with pytest.raises(ParseError, match=r"^x: row 10 \(Carhart-Harris 2021\): 20 fields, the header has 70$"):
        parse_metapsy("\n".join(lines).encode(), SEARCH, "x")
    with pytest.raises(ParseError, match="last search date must be one YYYY-MM-DD line"):
        parse_metapsy(DATA, b"last October\n", "x", "last_search.txt")
    with pytest.raises(ParseError, match="missing column"):
        parse_metapsy(b"study;year\nA;2020\n", SEARCH, "x")


def test_topics_file_validates_the_metapsy_key(tmp_path):
    text = (ROOT / "harvest" / "classification" / "topics.toml").read_text(encoding="utf-8")
    assert [t.metapsy for t in load_topics() if t.slug == "psilocybin"] == [REPO]
    bad = tmp_path / "topics.toml"
    bad.write_text(text.replace(f'metapsy = "{REPO}"', 'metapsy = "https://github.com/x"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"topic 'psilocybin': metapsy must be a GitHub repository as owner/name"):
        load_topics(bad)


# -- replay and the live fetch ------------------------------------------------------------------------

def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "harvest", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)


def _raw_with_recorded(tmp_path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw", raw)
    return raw


def test_replay_writes_the_meta_analysis_and_a_bad_newer_snapshot_keeps_it(tmp_path):
    raw, data, content = _raw_with_recorded(tmp_path), tmp_path / "data", tmp_path / "content"
    content.mkdir()
    shutil.copy(ROOT / "content" / "overrides.toml", content)
    done = run("replay", str(raw), "--content", str(content), "--data", str(data))
    assert done.returncode == 0, done.stderr
    meta = data / "meta" / "psilocybin.json"
    assert meta.read_bytes() == (ROOT / "data" / "meta" / "psilocybin.json").read_bytes()
    before = meta.stat().st_mtime_ns
    # A later live run cached a damaged data.csv (row 7's effect size replaced by text).
    live = raw / "metapsy" / "2026-12-01T031500Z" / "data-depression-psiloctr"
    live.mkdir(parents=True)
    (live / "0001-metapsy-data-0123456789ab.csv.gz").write_bytes(gzip.compress(_alter(7, ".g", "n/a?"), mtime=0))
    done = run("replay", str(raw), "--content", str(content), "--data", str(data))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert errors == [f"harvest: ERROR: psilocybin {REPO} data.csv: row 7 (Carhart-Harris 2021): .g 'n/a?' "
                      "is not a number; its meta-analysis was left as it was"]
    assert meta.read_bytes() == (ROOT / "data" / "meta" / "psilocybin.json").read_bytes()
    assert meta.stat().st_mtime_ns == before


@pytest.fixture
def github(httpserver):
    """A local stand-in for raw.githubusercontent.com serving the real files."""
    base = f"/{REPO}/master/"
    httpserver.expect_request(base + "metadata/last_search.txt").respond_with_data(SEARCH, content_type="text/plain")
    return httpserver, base


def _harvest_psilocybin(apis, github_server, content, data):
    from servers import run_harvest

    eutils, ctgov = apis
    return run_harvest(eutils, ctgov, content, data, "--topic", "psilocybin",
                       METAPSY_BASE_URL=github_server.url_for("/"))


@pytest.fixture
def apis(httpserver):
    from servers import start_emulators

    return start_emulators(httpserver)


def test_live_run_fetches_caches_and_pools_the_database(apis, github, tmp_path):
    server, base = github
    server.expect_request(base + "data.csv").respond_with_data(DATA, content_type="text/plain")
    content, data = tmp_path / "content", tmp_path / "data"
    run1 = _harvest_psilocybin(apis, server, content, data)
    assert run1.returncode == 0, run1.stderr
    meta = data / "meta" / "psilocybin.json"
    assert meta.read_bytes() == (ROOT / "data" / "meta" / "psilocybin.json").read_bytes()
    cached = sorted(p.relative_to(data / "raw").as_posix() for p in (data / "raw" / "metapsy").rglob("*.gz"))
    assert [p.split("/", 2)[2] for p in cached] == [
        "data-depression-psiloctr/0001-metapsy-data-" + hashlib.sha256(DATA).hexdigest()[:12] + ".csv.gz",
        "data-depression-psiloctr/0002-metapsy-search-" + hashlib.sha256(SEARCH).hexdigest()[:12] + ".txt.gz"]
    report = json.loads((data / "report.json").read_text())
    src = report["topics"][0]["sources"]["metapsy"]
    assert src["found"] == 220 and src["updated"] == 1 and src["error"] is None
    stamp = meta.stat().st_mtime_ns
    run2 = _harvest_psilocybin(apis, server, content, data)
    assert run2.returncode == 0, run2.stderr
    assert meta.stat().st_mtime_ns == stamp  # unchanged database: nothing written


@pytest.mark.parametrize("failure", ["http", "malformed"])
def test_failed_live_import_keeps_yesterdays_data(apis, github, tmp_path, failure):
    server, base = github
    content, data = tmp_path / "content", tmp_path / "data"
    (data / "meta").mkdir(parents=True)
    yesterday = data / "meta" / "psilocybin.json"
    yesterday.write_bytes((ROOT / "data" / "meta" / "psilocybin.json").read_bytes())
    if failure == "http":
        server.expect_request(base + "data.csv").respond_with_data("Not Found", status=404)
    else:
        server.expect_request(base + "data.csv").respond_with_data(_alter(12, ".g_se", "-1"))
    done = _harvest_psilocybin(apis, server, content, data)
    assert done.returncode == 1
    assert yesterday.read_bytes() == (ROOT / "data" / "meta" / "psilocybin.json").read_bytes()
    assert not list((data / "raw").rglob("*metapsy*")) or not list((data / "raw" / "metapsy").rglob("*.gz"))
    expected = ("HTTP 404" if failure == "http" else
                f"psilocybin {REPO} data.csv: row 12 (Carhart-Harris 2021): .g_se must be positive")
    assert expected in done.stderr
    assert "psilocybin: topic failed; its cards and raw cache were left unchanged" in done.stderr
