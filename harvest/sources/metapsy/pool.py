"""A topic's living meta-analysis: a Metapsy database pooled at harvest time, kept as data/meta/<slug>.json.

Which comparisons are pooled (the rule the Methods page states):

1. rows at the study's primary time point (`primary_timepoint` = 1) on its primary instrument
   (`primary_instrument` = 1), before any crossover (`post_crossover` not 1), with a continuous
   outcome (`outcome_type` msd, imsd or change), a maintainers' Hedges' g and an overall risk-of-bias
   rating (the maintainers rate every full report; an unrated row is a conference abstract);
2. one comparison per study: the study's top arm against its bottom arm — the arm that is never the
   comparator against the arm that is never the treatment (in a three-arm dose study, 25 mg vs 1 mg,
   not 10 mg vs 1 mg);
3. of several rows for that comparison, endpoint scores (msd) before imputed endpoint scores (imsd)
   before change scores, then the first in the file.

Effects are pooled with statsmodels' `combine_effects`: random effects, Paule-Mandel between-study
variance, 95% confidence interval on the t distribution with k - 1 degrees of freedom and the
Hartung-Knapp-Sidik-Jonkman scale (statsmodels' "random effect wls"), so a small k gives the wide
interval it should.  The 95% prediction interval — where the effect of a new, similar study would
fall — is mean ± t(k - 2) * sqrt(tau² + SE²) (Higgins, Thompson & Spiegelhalter 2009), reported
when k >= 3.  Participants are the arm sizes of the pooled comparisons.

The JSON is written only when its bytes change (numbers rounded to 4 decimals, keys in a fixed
order), so a run on an unchanged database writes nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harvest.fileio import atomic_write, holds
from harvest.sources.metapsy.parse import Database

CONTINUOUS = ("msd", "imsd", "change")
GITHUB = "https://github.com/"
RAW_BASE = "https://raw.githubusercontent.com/"
REF = "master"  # the branch the Metapsy project publishes on
# A Metapsy database's GitHub repository, owner/name: what a topic's `metapsy` key must give.
METAPSY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+$")
# What the ODC-By 1.0 licence asks of reusers; the Metapsy databases all carry it.
LICENCE = {"name": "Open Data Commons Attribution License 1.0",
           "url": "https://opendatacommons.org/licenses/by/1-0/"}
# Known Zenodo DOIs of database versions (the repository's readme badge); shown with the attribution.
ZENODO = {"metapsy-project/data-depression-psiloctr": "10.5281/zenodo.15714852"}
SCHEMA_VERSION = 1


def _arm(row: dict, n: int) -> tuple:
    return (row[f"condition_arm{n}"] or "", row[f"multi_arm{n}"] or "")


def select(rows: list[dict]) -> list[dict]:
    """The pooled comparisons, one per study, in the order the studies first appear in the file."""
    eligible = [r for r in rows
                if r.get("primary_timepoint") is not False and r.get("primary_instrument") is not False
                and r.get("post_crossover") is not True and r["outcome_type"] in CONTINUOUS
                and r[".g"] is not None and r["rob"] is not None]
    by_study: dict[str, list[dict]] = {}
    for row in eligible:
        by_study.setdefault(row["study"], []).append(row)
    chosen = []
    for study, found in by_study.items():
        treated = {_arm(r, 1) for r in found}
        compared = {_arm(r, 2) for r in found}
        top = [r for r in found if _arm(r, 1) not in compared] or found
        best = [r for r in top if _arm(r, 2) not in treated] or top
        best.sort(key=lambda r: (CONTINUOUS.index(r["outcome_type"]), r["line"]))
        chosen.append(best[0])
    return chosen


def participants(row: dict) -> int | None:
    for a, b in (("n_arm1", "n_arm2"), ("n_change_arm1", "n_change_arm2"), ("totaln_arm1", "totaln_arm2")):
        if row.get(a) is not None and row.get(b) is not None:
            return row[a] + row[b]
    return None


def pool(chosen: list[dict]) -> dict:
    """Random-effects pooled Hedges' g of the chosen comparisons (statsmodels)."""
    import numpy as np
    from scipy import stats
    from statsmodels.stats.meta_analysis import combine_effects

    k = len(chosen)
    g = np.array([r[".g"] for r in chosen])
    var = np.array([r[".g_se"] ** 2 for r in chosen])
    if k < 2:
        raise ValueError("a meta-analysis needs at least two studies")
    res = combine_effects(g, var, method_re="iterated", use_t=True)
    _fe, _re, _fe_wls, re_wls = res.conf_int(alpha=0.05, use_t=True)
    mean = float(res.mean_effect_re)
    se = float(res.sd_eff_w_re_hksj)
    tau2 = float(res.tau2)
    pi = None
    if k >= 3:
        half = float(stats.t.ppf(0.975, k - 2)) * float(np.sqrt(tau2 + se ** 2))
        pi = [mean - half, mean + half]
    weights = [float(w) for w in res.weights_rel_re]
    return {
        "g": mean, "se": se, "ci": [float(re_wls[0]), float(re_wls[1])], "pi": pi,
        "tau2": tau2, "i2": float(res.i2), "q": float(res.q), "k": k,
        "weights": weights,
    }


def analyse(db: Database, repo: str, topic_slug: str) -> dict:
    """The committed document of a topic's meta-analysis (no timestamps: same input, same bytes)."""
    chosen = select(db.rows)
    pooled = pool(chosen)
    weights = pooled.pop("weights")
    n_total = 0
    studies = []
    for row, weight in zip(chosen, weights):
        n = participants(row)
        n_total += n or 0
        se = row[".g_se"]
        studies.append({
            "study": row["study"],
            "year": row.get("year"),
            "line": row["line"],
            "comparison": _comparison(row),
            "instrument": row["instrument"],
            "outcome_type": row["outcome_type"],
            "time_weeks": row["time_weeks"],
            "n": n,
            "g": row[".g"],
            "se": se,
            "ci": [row[".g"] - 1.959964 * se, row[".g"] + 1.959964 * se],
            "weight": weight,
            "rob": {d: row.get(d) for d in ("d1", "d2", "d3", "d4", "d5", "rob")},
            "dois": row["dois"],
            "registration": row["registration_number"],
        })
    all_studies = sorted({r["study"] for r in db.rows})
    doc = {
        "schema": SCHEMA_VERSION,
        "topic": topic_slug,
        "source": {
            "repository": repo,
            "url": GITHUB + repo,
            "data_url": f"{RAW_BASE}{repo}/{REF}/data.csv",
            "zenodo_doi": ZENODO.get(repo),
            "licence": LICENCE,
            "last_search": db.last_search,
            "studies_in_database": len(all_studies),
            "rows_in_database": len(db.rows),
        },
        "model": {
            "effect": "Hedges' g",
            "method": "random effects, Paule-Mandel tau², Hartung-Knapp-Sidik-Jonkman 95% CI",
            "library": "statsmodels.stats.meta_analysis.combine_effects",
        },
        "pooled": dict(pooled, n=n_total),
        "studies": studies,
    }
    return _rounded(doc)


def _comparison(row: dict) -> str:
    def arm(n):
        cond, multi = _arm(row, n)
        return f"{cond} {multi}".strip()
    return f"{arm(1)} vs {arm(2)}"


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def meta_path(data_dir: Path, slug: str) -> Path:
    return Path(data_dir) / "meta" / f"{slug}.json"


def write_meta(data_dir: Path, slug: str, doc: dict) -> bool:
    """Write data/meta/<slug>.json when its bytes differ; True when written."""
    body = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    path = meta_path(data_dir, slug)
    if holds(path, body):
        return False
    atomic_write(path, body)
    return True


# --- import: raw bytes → committed JSON (shared by `harvest run` and `harvest replay`) ----------------

def import_snapshot(data: bytes, last_search: bytes, repo: str, slug: str, name: str) -> dict:
    """Parse and pool one snapshot; ParseError (one line naming the file and row) when unusable."""
    from harvest.errors import ParseError
    from harvest.sources.metapsy.parse import parse_metapsy

    db = parse_metapsy(data, last_search, f"{name} data.csv", f"{name} last_search.txt")
    try:
        return analyse(db, repo, slug)
    except ValueError as exc:
        raise ParseError(f"{name}: cannot pool: {exc}") from None


def cache_dir_name(repo: str) -> str:
    """The raw cache keeps a database's files under its repository name (data/raw/metapsy/<run>/<name>/)."""
    return repo.split("/", 1)[1]


def snapshot_kind(rel: str) -> str | None:
    """'data' or 'search' for a raw-cache file of a Metapsy database (a path with a 'metapsy' folder)."""
    parts = rel.split("/")
    if "metapsy" not in parts[:-1]:
        return None
    name = parts[-1].removesuffix(".gz")
    if name.endswith(".csv"):
        return "data"
    if name.endswith(".txt"):
        return "search"
    return None


def latest_snapshot(files: list[tuple[str, Path]], repo: str) -> tuple[Path | None, Path | None]:
    """The newest cached data.csv and last_search.txt of a database.

    Files from live runs (data/raw/metapsy/<run id>/...) sort by run id; the shipped recording
    (data/raw/recorded/metapsy/...) counts as older than any live run.  A body already in the cache
    is not stored again, so the newest stored file of a kind is the newest content fetched.
    """
    folder = cache_dir_name(repo)
    best: dict[str, tuple[tuple, Path]] = {}
    for rel, path in files:
        kind = snapshot_kind(rel)
        if kind is None or rel.split("/")[-2] != folder:
            continue
        key = (0 if rel.startswith("recorded/") else 1, rel)
        if kind not in best or key > best[kind][0]:
            best[kind] = (key, path)
    return (best.get("data", (None, None))[1], best.get("search", (None, None))[1])
