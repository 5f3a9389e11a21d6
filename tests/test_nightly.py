"""The nightly steps (.ci/nightly-*.sh, called by .github/workflows/nightly.yml) in temporary git
repositories, night after night, with local API emulators serving real recorded records, a real
Pelican build and a local stand-in for the Pages deploy.

Each job of the workflow starts from a fresh checkout, so here each step runs in its own clone of a
bare "origin": harvest (bundles its changes) → commit (applies and pushes them) → build (the pushed
commit) → deploy (only when the build succeeded) → verdict (red when the harvest failed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from servers import (KETAMINE_NCT, KETAMINE_PMID, TMS_PMID, Fault, articles_in, harvest_env, renumber_article,
                     start_emulators, topic_articles)

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".ci"
NEW_TMS_PMID = "90000002"

pytestmark = pytest.mark.slow


def git(cwd, *args, check=True) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout


@pytest.fixture
def origin(tmp_path):
    """A bare repository holding the nightly's working set: the scripts, the editor content without
    cards, and data/ with one shipped recording under data/raw/recorded."""
    seed = tmp_path / "seed"
    shutil.copytree(CI, seed / ".ci")
    for sub in ("pages", "topics"):
        shutil.copytree(ROOT / "content" / sub, seed / "content" / sub)
    shutil.copy(ROOT / "content" / "overrides.toml", seed / "content" / "overrides.toml")
    (seed / "content" / "evidence").mkdir()
    (seed / "content" / "evidence" / ".gitkeep").write_text("")
    recorded = next((ROOT / "data" / "raw" / "recorded").rglob("*.gz"))
    target = seed / "data" / "raw" / "recorded" / recorded.name
    target.parent.mkdir(parents=True)
    shutil.copy(recorded, target)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "seed")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "origin", "main")
    return bare


class Night:
    """One nightly run: every step in its own fresh clone, as the workflow's jobs are."""

    def __init__(self, tmp_path: Path, origin: Path, apis, n: int):
        self.base = tmp_path / f"night{n}"
        self.base.mkdir()
        self.origin = origin
        self.apis = apis
        self.bundle = self.base / "bundle"

    def clone(self, name: str, ref: str | None = None) -> Path:
        path = self.base / name
        git(self.base, "clone", "-q", str(self.origin), str(path))
        if ref:
            git(path, "checkout", "-q", ref)
        return path

    def run(self, script: str, cwd: Path, *args, env=None) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(cwd / ".ci" / script), *map(str, args)], cwd=cwd,
                              capture_output=True, text=True, env=env or os.environ.copy(), timeout=300)

    def harvest(self, raw_cache: Path) -> subprocess.CompletedProcess:
        work = self.clone("harvest")
        # The Actions cache restores the raw replies of earlier nights (never committed).
        if raw_cache.exists():
            shutil.copytree(raw_cache, work / "data" / "raw", dirs_exist_ok=True)
        eutils, ctgov = self.apis
        # --full: the emulators' records keep their real (old) dates, which an incremental query's
        # date window would leave out; what is tested here is the nightly around the harvester.
        env = harvest_env(eutils, ctgov, NIGHTLY_HARVEST=f"{sys.executable} -m harvest run --full "
                                                      "--topic ketamine --topic tms")
        done = self.run("nightly-harvest.sh", work, self.bundle, env=env)
        shutil.copytree(work / "data" / "raw", raw_cache, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("recorded"))
        return done

    def commit(self) -> subprocess.CompletedProcess:
        return self.run("nightly-commit.sh", self.clone("commit"), self.bundle)

    def build(self, sha: str) -> tuple[subprocess.CompletedProcess, Path]:
        work = self.clone("build", sha)
        settings = {"EVIDENCE_DATA_PATH": str(work / "data"), "CACHE_PATH": str(work / "cache"),
                    "SEARCH_INDEX": {"enabled": False}}
        # The script runs $NIGHTLY_BUILD unquoted (word splitting, no quote removal): no spaces inside
        # a setting, and JSON's quotes reach Pelican as they are.
        command = (f"{sys.executable} -m pelican content -o output -s {ROOT / 'pelican.conf.py'} --fatal errors -e "
                   + " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in settings.items()))
        env = {**os.environ, "NIGHTLY_BUILD": command, "PYTHONPATH": str(ROOT)}
        return self.run("nightly-build.sh", work, env=env), work / "output"

    def deploy(self, site: Path, live: Path) -> subprocess.CompletedProcess:
        return self.run("nightly-deploy-local.sh", self.clone("deploy"), site, live)

    def verdict(self, status: str, *results: str) -> subprocess.CompletedProcess:
        return self.run("nightly-verdict.sh", self.clone("verdict"), status, *results)


def origin_files(origin: Path, prefix: str) -> dict[str, bytes]:
    names = git(origin, "ls-tree", "-r", "--name-only", "main", "--", prefix).split()
    return {n: subprocess.run(["git", "show", f"main:{n}"], cwd=origin, capture_output=True).stdout
            for n in names}


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def nightly(night: Night, raw_cache: Path, live: Path):
    """The workflow's job graph: harvest → commit → build → deploy (needs build) → verdict."""
    harvest = night.harvest(raw_cache)
    assert harvest.returncode == 0, harvest.stderr  # the bundle is made even when topics failed
    status = (night.bundle / "harvest-status").read_text().strip()
    commit = night.commit()
    assert commit.returncode == 0, commit.stderr
    sha = commit.stdout.strip().splitlines()[-1].removeprefix("sha=")
    build, site = night.build(sha)
    results = ["success", "success", "success" if build.returncode == 0 else "failure"]
    if build.returncode == 0:
        deploy = night.deploy(site, live)
        assert deploy.returncode == 0, deploy.stderr
        results.append("success")
    else:
        results.append("skipped")
    verdict = night.verdict(status, *results)
    return {"status": status, "sha": sha, "build": build, "verdict": verdict, "commit": commit}


def test_nights_commit_what_succeeded_deploy_only_good_builds_and_end_red_on_failure(tmp_path, origin, httpserver):
    articles = topic_articles()
    raw_cache, live = tmp_path / "actions-cache" / "raw", tmp_path / "pages" / "site"

    # Night 1: both topics harvested, committed, built and deployed; the run is green.
    apis = start_emulators(httpserver, articles=articles)
    first = nightly(Night(tmp_path, origin, apis, 1), raw_cache, live)
    assert first["status"] == "0" and first["verdict"].returncode == 0, first["verdict"].stderr
    cards1 = origin_files(origin, "content/evidence")
    assert {f"content/evidence/pubmed/{KETAMINE_PMID}.md", f"content/evidence/pubmed/{TMS_PMID}.md",
            f"content/evidence/ctgov/{KETAMINE_NCT}.md"} <= set(cards1)
    assert "data/report.json" in origin_files(origin, "data")
    # the raw reply cache is not committed; the shipped recording is untouched
    raw = origin_files(origin, "data/raw")
    assert list(raw) == [n for n in raw if n.startswith("data/raw/recorded/")] and len(raw) == 1
    assert any(raw_cache.rglob("*.gz"))  # ... it went to the (stand-in) Actions cache instead
    assert (live / f"evidence/pubmed/{TMS_PMID}.html").exists()

    # Night 2: PubMed fails for the first topic (ketamine: three 503s exhaust its retries) while tms
    # gets a new article.  tms is committed and deployed, ketamine keeps yesterday's cards, run red.
    httpserver.clear()
    new_tms = renumber_article(articles_in("biopython-sdist-1.88/Tests/Entrez/pubmed1.xml")[1], NEW_TMS_PMID,
                               "Transcranial magnetic stimulation for major depression: a randomized trial.")
    apis = start_emulators(httpserver, articles={**articles, "tms": articles["tms"] + [new_tms]})
    apis[0].fail("esearch.fcgi", *(Fault(status=503, body=b"Service unavailable") for _ in range(3)))
    second = nightly(Night(tmp_path, origin, apis, 2), raw_cache, live)
    assert second["status"] != "0"
    assert second["verdict"].returncode != 0 and "harvest failed" in second["verdict"].stderr
    cards2 = origin_files(origin, "content/evidence")
    assert f"content/evidence/pubmed/{NEW_TMS_PMID}.md" in cards2  # the topic that succeeded
    for name, data in cards1.items():
        assert cards2[name] == data, name  # the failed topic's cards (and the unchanged rest)
    assert (live / f"evidence/pubmed/{NEW_TMS_PMID}.html").exists()

    # Night 3: nothing changed: no card is committed, the run is green.
    httpserver.clear()
    apis = start_emulators(httpserver, articles={**articles, "tms": articles["tms"] + [new_tms]})
    before = git(origin, "rev-parse", "main").strip()
    third = nightly(Night(tmp_path, origin, apis, 3), raw_cache, live)
    assert third["status"] == "0" and third["verdict"].returncode == 0
    changed = git(origin, "diff", "--name-only", before, "main").split()
    assert not [n for n in changed if not n.startswith("data/") or n.startswith("data/raw/")], changed
    assert origin_files(origin, "content/evidence") == cards2

    # Night 4: an editor pushed a broken content/overrides.toml: the build fails, nothing is
    # deployed (the live site stays byte for byte as it was) and the run is red.
    editor = tmp_path / "editor"
    git(tmp_path, "clone", "-q", str(origin), str(editor))
    (editor / "content" / "overrides.toml").write_text('[["pubmed:90000001"]]\naction = "hide"\n')
    git(editor, "commit", "-q", "-am", "editor: hide a card")
    git(editor, "push", "-q", "origin", "main")
    live_before = tree(live)
    httpserver.clear()
    apis = start_emulators(httpserver, articles={**articles, "tms": articles["tms"] + [new_tms]})
    fourth = nightly(Night(tmp_path, origin, apis, 4), raw_cache, live)
    assert fourth["build"].returncode != 0
    assert "overrides.toml:1: pubmed:90000001 entry 1: reason is required" in fourth["build"].stderr
    assert tree(live) == live_before
    assert fourth["verdict"].returncode != 0 and "failure" in fourth["verdict"].stderr


def test_a_no_change_night_commits_nothing(tmp_path, origin):
    """The commit step with an empty bundle pushes nothing and names the commit to build."""
    night = Night(tmp_path, origin, None, 1)
    night.bundle.mkdir()
    (night.bundle / "data.patch").write_bytes(b"")
    (night.bundle / "harvest-status").write_text("0\n")
    head = git(origin, "rev-parse", "main").strip()
    done = night.commit()
    assert done.returncode == 0, done.stderr
    assert "nothing to commit" in done.stdout and done.stdout.strip().endswith(f"sha={head}")
    assert git(origin, "rev-parse", "main").strip() == head


def test_the_deploy_stand_in_refuses_a_site_without_a_home_page(tmp_path, origin):
    night = Night(tmp_path, origin, None, 1)
    live = tmp_path / "live"
    live.mkdir()
    (live / "index.html").write_text("yesterday")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = night.deploy(empty, live)
    assert done.returncode != 0 and (live / "index.html").read_text() == "yesterday"


# --- the workflow files ------------------------------------------------------------------------------

def workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))


def triggers(doc: dict) -> dict:
    return doc.get("on", doc.get(True))  # PyYAML reads the key `on` as the boolean true


def steps_text(job: dict) -> str:
    return "\n".join(str(s.get("run", "")) + " " + str(s.get("uses", "")) for s in job["steps"])


def test_ci_runs_the_suite_on_every_push_and_pull_request_read_only():
    doc = workflow("ci.yml")
    assert set(triggers(doc)) == {"push", "pull_request"}
    assert doc["permissions"] == {"contents": "read"}
    (job,) = doc["jobs"].values()
    assert job["container"]["image"].startswith("debian:")  # Debian's Chromium for the browser tests
    assert "--shm-size" in job["container"]["options"]  # Docker's 64 MB default is too small for Chromium
    assert "bash .ci/run" in steps_text(job)


def test_nightly_jobs_have_least_privilege_and_a_failed_build_deploys_nothing():
    doc = workflow("nightly.yml")
    assert doc["permissions"] == {}
    jobs = doc["jobs"]
    assert {name: job.get("permissions") for name, job in jobs.items()} == {
        "harvest": {"contents": "read"},
        "commit": {"contents": "write"},
        "build": {"contents": "read"},
        "deploy": {"pages": "write", "id-token": "write"},
        "verdict": {"contents": "read"},
    }
    assert jobs["commit"]["needs"] == "harvest" and jobs["build"]["needs"] == "commit"
    assert jobs["deploy"]["needs"] == "build" and "if" not in jobs["deploy"]  # only after a good build
    assert jobs["verdict"]["if"] == "always()"
    for name, job in jobs.items():
        assert not any(s.get("continue-on-error") for s in job["steps"]), name
    assert "nightly-harvest.sh" in steps_text(jobs["harvest"])
    assert "nightly-commit.sh" in steps_text(jobs["commit"])
    assert "nightly-build.sh" in steps_text(jobs["build"])
    assert "--shm-size" in jobs["build"]["container"]["options"]  # room for the search documents at scale
    assert "nightly-verdict.sh" in steps_text(jobs["verdict"])
    assert "deploy-pages" in steps_text(jobs["deploy"])
    # only the commit job gets a token that can push; the others check out without keeping one
    for name in ("harvest", "build", "verdict"):
        checkout = next(s for s in jobs[name]["steps"] if str(s.get("uses", "")).startswith("actions/checkout"))
        assert checkout["with"]["persist-credentials"] is False, name
