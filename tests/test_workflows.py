"""Every GitHub Actions workflow passes actionlint (the binary comes with the test packages)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    exe = shutil.which("actionlint", path=os.path.dirname(sys.executable)) or shutil.which("actionlint")
    assert exe, "actionlint is missing: it is one of the test packages (make .venv/.stamp-test)"
    return exe


def lint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint(), "-no-color", *map(str, files)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_every_workflow_passes_actionlint():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {f.name for f in files} >= {"ci.yml", "nightly.yml"}
    done = lint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    # What the check above would catch: an undefined job output and an action on a retired runtime.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v2\n      - run: echo ${{ needs.nope.outputs.x }}\n")
    done = lint(bad)
    assert done.returncode != 0 and "needs.nope" in done.stdout


def test_the_nightly_build_starts_from_the_last_nights_output_and_cache():
    # The build manifest skips only pages whose file is still in output/, and plugins/prune removes
    # only what the list in cache/ says the last build made: the two are kept, and restored, together.
    import yaml

    doc = yaml.safe_load((WORKFLOWS / "nightly.yml").read_text(encoding="utf-8"))
    steps = doc["jobs"]["build"]["steps"]
    build = next(i for i, s in enumerate(steps) if "nightly-build.sh" in (s.get("run") or ""))
    cached = [(i, s) for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/cache@")]
    assert len(cached) == 1, cached
    i, step = cached[0]
    assert i < build
    assert set(step["with"]["path"].split()) == {"cache", "output"}
    assert step["with"]["key"] == "build-cache-${{ github.run_id }}"
    assert step["with"]["restore-keys"] == "build-cache-"
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "output"
