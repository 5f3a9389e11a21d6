"""The lock files (requirements/*.txt, `make lock`) cover pyproject.toml and are what is installed.

`make` installs from them with --require-hashes (CI too: .ci/run is `make test`), so the versions
the tests run — Pelican's among them — are exactly the pinned ones.  A dependency added to
pyproject.toml without `make lock` fails here instead of failing at import time on a fresh clone.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
LOCKS = {kind: ROOT / "requirements" / f"{kind}.txt" for kind in ("runtime", "test", "bench")}
_PIN_RE = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pins(path: Path) -> dict[str, str]:
    """name → version pinned for this interpreter (markers evaluated), each with its hashes."""
    out: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        m = _PIN_RE.match(line)
        if not m:
            continue
        name, pinned, marker = m.groups()
        assert lines[n + 1].strip().startswith("--hash=sha256:"), f"{path.name}: {name} has no hash"
        if marker and not Marker(marker).evaluate():
            continue
        assert canonicalize_name(name) not in out, f"{path.name}: {name} pinned twice"
        out[canonicalize_name(name)] = pinned
    return out


def requirements(kind: str) -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    extras = {"runtime": (), "test": ("test",), "bench": ("test", "bench")}[kind]
    for extra in extras:
        reqs += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return reqs


@pytest.mark.parametrize("kind", sorted(LOCKS))
def test_lock_pins_every_requirement_within_its_bounds(kind):
    locked = pins(LOCKS[kind])
    for req in requirements(kind):
        if req.marker and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in {LOCKS[kind].name}: run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), \
            f"{LOCKS[kind].name} pins {req.name}=={locked[name]}, outside {req.specifier}: run `make lock`"


def test_the_locks_agree():
    runtime, test, bench = (pins(LOCKS[k]) for k in ("runtime", "test", "bench"))
    assert {n: v for n, v in test.items() if n in runtime} == runtime
    assert {n: v for n, v in bench.items() if n in test} == test


def test_the_tests_run_on_the_locked_versions():
    for name, pinned in pins(LOCKS["test"]).items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            pytest.fail(f"{name}=={pinned} is locked but not installed: run `make .venv/.stamp-test`")
        assert installed == pinned, f"{name} {installed} is installed, the lock says {pinned}"
    assert pins(LOCKS["runtime"])["pelican"] == version("pelican")


def test_make_installs_from_the_locks_with_hashes():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes -r $(LOCK_RUNTIME)" in makefile
    assert "pip install --quiet --require-hashes -r $(LOCK_TEST)" in makefile
    assert "LOCK_RUNTIME := requirements/runtime.txt" in makefile
    assert "LOCK_TEST    := requirements/test.txt" in makefile
    assert "pip install --quiet --require-hashes -r $(LOCK_BENCH)" in makefile
