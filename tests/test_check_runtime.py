"""`make check` is an editor tool of the runtime install: it needs no test-only package, and it lists
every problem of content/overrides.toml (one line each, exit status 1)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

from conftest import ROOT
from test_overrides import with_override_problems


def runtime_lacks():
    """Import names of the `test` extra (pyproject.toml) that the runtime install does not have."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {re.split(r"[<>=\[ ;]", d)[0].lower() for d in project["dependencies"]}
    test = {re.split(r"[<>=\[ ;]", d)[0].lower() for d in project["optional-dependencies"]["test"]}
    assert "textstat" in runtime and "beautifulsoup4" in runtime
    return sorted(test - runtime)


# Runs `python -m editor check` with every test-only distribution made unimportable.
BLOCKER = """
import importlib.abc, sys
from importlib.metadata import packages_distributions
dists = {d.lower() for d in sys.argv[1].split(",")}
blocked = {top for top, owners in packages_distributions().items() if {o.lower() for o in owners} & dists}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is a test-only package")
sys.meta_path.insert(0, Block())
from editor.__main__ import main
sys.exit(main(["check", "--content", sys.argv[2], "--theme", sys.argv[3]]))
"""


def run_check(content):
    return subprocess.run([sys.executable, "-c", BLOCKER, ",".join(runtime_lacks()), str(content),
                           str(ROOT / "theme")],
                          cwd=ROOT, capture_output=True, text=True)


def test_check_needs_no_test_package_and_passes_on_the_shipped_content():
    assert "playwright" in runtime_lacks() and "pytest" in runtime_lacks()
    proc = run_check(ROOT / "content")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_lists_every_override_problem(tmp_path):
    content = tmp_path / "content"
    for sub in ("pages", "topics"):
        shutil.copytree(ROOT / "content" / sub, content / sub)
    _path, problems = with_override_problems(content)
    proc = run_check(content)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == problems
