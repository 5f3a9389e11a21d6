"""`harvest seed` + `harvest replay` reproduce the shipped content from the real recordings."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "data" / "real-api"


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harvest", *args], cwd=cwd, capture_output=True, text=True)


def test_seed_selects_on_topic_recordings_and_replay_reproduces_shipped_cards(tmp_path):
    raw = tmp_path / "raw"
    done = run("seed", str(REAL), "--raw", str(raw))
    assert done.returncode == 0, done.stderr
    seeded = sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*.gz"))
    shipped = sorted(p.relative_to(ROOT / "data" / "raw").as_posix() for p in (ROOT / "data" / "raw").rglob("*.gz"))
    assert seeded == shipped
    for rel in seeded:
        assert (raw / rel).read_bytes() == (ROOT / "data" / "raw" / rel).read_bytes()

    content = tmp_path / "content"
    (content).mkdir()
    (content / "overrides.toml").write_bytes((ROOT / "content" / "overrides.toml").read_bytes())
    done = run("replay", str(raw), "--content", str(content), "--data", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    # the living meta-analyses (data/meta/) come from the seeded Metapsy snapshots the same way
    made = sorted(p.relative_to(tmp_path / "data").as_posix() for p in (tmp_path / "data").rglob("meta/*.json"))
    assert made == sorted(p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data" / "meta").glob("*.json"))
    for rel in made:
        assert (tmp_path / "data" / rel).read_bytes() == (ROOT / "data" / rel).read_bytes()
    made = sorted(p.relative_to(content).as_posix() for p in (content / "evidence").rglob("*.md"))
    committed = sorted(p.relative_to(ROOT / "content").as_posix() for p in (ROOT / "content" / "evidence").rglob("*.md"))
    assert made == committed and made
    for rel in made:
        assert (content / rel).read_bytes() == (ROOT / "content" / rel).read_bytes()


def test_seed_rejects_missing_folder(tmp_path):
    done = run("seed", str(tmp_path / "nope"), "--raw", str(tmp_path / "raw"))
    assert done.returncode == 2
    assert "nope: not a directory" in done.stderr
