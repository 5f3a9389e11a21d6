"""A build into an existing output folder removes the files an earlier build made and this one no longer
makes (plugins/prune), and nothing else: not an unchanged file, not a file a user put there, nothing
after a failed build."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sitebuild import CONF, REFERENCE_DATE, ROOT, SiteBuildError, build_site, pelican_build, sample_records

pytestmark = pytest.mark.slow

# The only card of topic psilocybin (a real ClinicalTrials.gov record): deleting its file removes its
# page and the topic's listing of it.
GONE = "ctgov:NCT01339377"
GONE_CARD = Path("content/evidence/ctgov/NCT01339377.md")
GONE_PAGE = "evidence/ctgov/NCT01339377.html"


# Pagefind names its files by hashes of bytes it writes differently from run to run over the same
# documents (tests/test_incremental.py UNSTABLE): two full builds agree on how many, not on the names.
PAGEFIND_HASH = re.compile(r"^(pagefind(?:-\d+)?/.*?)(?:[._][0-9a-f]{6,})(\.pf_\w+)$")


def names(files) -> list[str]:
    return sorted(PAGEFIND_HASH.sub(r"\1#\2", rel) for rel in files)


def state(out: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(out).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


def made_list(work: Path) -> Path:
    found = list((work / "cache").glob("output-files-*.json"))
    assert len(found) == 1, found
    return found[0]


def first_build(work: Path) -> Path:
    records, editors = sample_records()
    return build_site(work, records, editors=editors, reference_date=REFERENCE_DATE, pagefind=True)


def rebuild(work: Path, out: Path) -> Path:
    return pelican_build(work, output=out, reference_date=REFERENCE_DATE, pagefind=True)


def fresh_build(work: Path, tmp: Path) -> dict:
    """What a full build of work's content now makes, in a folder of its own."""
    for sub in ("content", "data"):
        shutil.copytree(work / sub, tmp / sub)
    return state(pelican_build(tmp, reference_date=REFERENCE_DATE, pagefind=True))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("prune")
    out = first_build(work)
    return work, out, state(out)


def test_a_page_whose_url_is_gone_is_removed_and_everything_else_kept(tmp_path_factory):
    work = tmp_path_factory.mktemp("gone")
    out = first_build(work)
    before = state(out)
    assert GONE_PAGE in before
    (work / GONE_CARD).unlink()
    rebuild(work, out)
    after = state(out)
    fresh = fresh_build(work, tmp_path_factory.mktemp("gone-fresh"))
    assert GONE_PAGE not in after
    # Exactly the files a full build of the same content makes: the card page and every listing page
    # that only that card fed are gone, nothing else is.
    assert names(after) == names(fresh)
    removed = sorted(set(before) - set(after))
    assert GONE_PAGE in removed and len(removed) < len(before) // 4
    # Files whose bytes did not change were not touched.
    same = [rel for rel in after if rel in before and after[rel][0] == before[rel][0]]
    assert len(same) > len(after) // 2
    assert [rel for rel in same if after[rel][1] != before[rel][1]] == []
    assert after["evidence/pubmed/28427393.html"] == before["evidence/pubmed/28427393.html"]


def test_a_build_with_nothing_changed_removes_nothing_and_writes_no_list(site, tmp_path):
    work, out, _first = site
    listed = made_list(work)
    kept = listed.stat().st_mtime_ns
    before = state(out)
    rebuild(work, out)
    after = state(out)
    assert after == before
    for rel in ("edition.json", "feeds/all.atom.xml", "feeds/tms.atom.xml", "sitemap.xml", "robots.txt",
                "downloads/all.csv.gz", "downloads/tms.ris.gz", "downloads/record.schema.json",
                "pagefind/pagefind.js", "pagefind/pagefind-entry.json", "theme/css/site.css", "404.html",
                "index.html", "evidence/pubmed/28427393.html"):
        assert rel in after, rel
    # The build's list of what it made: every file in the output folder, and not rewritten when the
    # same again (a no-change build writes nothing).
    data = json.loads(listed.read_text(encoding="utf-8"))
    assert data["output"] == str(out) and sorted(data["files"]) == sorted(after)
    assert listed.stat().st_mtime_ns == kept


def test_a_file_no_build_wrote_is_left_alone(tmp_path_factory):
    work = tmp_path_factory.mktemp("user")
    out = first_build(work)
    mine = {"CNAME": "atlas.example.org\n", "evidence/ctgov/notes.txt": "kept by hand\n",
            "topics/psilocybin/all/mine.html": "<p>mine</p>\n"}
    for rel, text in mine.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text, encoding="utf-8")
    (work / GONE_CARD).unlink()
    rebuild(work, out)
    assert not (out / GONE_PAGE).exists()  # the build did remove what it no longer makes
    for rel, text in mine.items():
        assert (out / rel).read_text(encoding="utf-8") == text


def test_a_failed_build_removes_nothing(tmp_path_factory):
    work = tmp_path_factory.mktemp("failed")
    out = first_build(work)
    (work / GONE_CARD).unlink()
    overrides = work / "content" / "overrides.toml"
    good = overrides.read_text(encoding="utf-8")
    overrides.write_text(f'[["{GONE}"]]\naction = "replace"\nfield = "colour"\nvalue = "x"\n'
                         'reason = "x"\ndate = 2026-11-22\n', encoding="utf-8")
    before = state(out)
    with pytest.raises(SiteBuildError, match="cannot replace unknown field 'colour'"):
        rebuild(work, out)
    assert state(out) == before
    # The list of the last good build is still there: the next good build removes the page.
    overrides.write_text(good, encoding="utf-8")
    rebuild(work, out)
    assert not (out / GONE_PAGE).exists()


def test_a_build_that_logged_an_error_removes_nothing(tmp_path_factory):
    # Without --fatal errors Pelican goes on after an error (here: a page whose date it cannot read)
    # and sends `finalized`: the build is still not one to delete files after.
    work = tmp_path_factory.mktemp("logged")
    out = first_build(work)
    (work / GONE_CARD).unlink()
    broken = work / "content" / "pages" / "broken.md"
    broken.write_text("Title: Broken\nDate: not a date\n\nText.\n", encoding="utf-8")
    extra = {"EVIDENCE_DATA_PATH": str(work / "data"), "CACHE_PATH": str(work / "cache"),
             "SEARCH_INDEX": {"enabled": True}, "EVIDENCE_REFERENCE_DATE": REFERENCE_DATE}
    proc = subprocess.run([sys.executable, "-m", "pelican", str(work / "content"), "-o", str(out), "-s", str(CONF),
                           "-e", *[f"{k}={json.dumps(v)}" for k, v in extra.items()]],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "ERROR" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert (out / GONE_PAGE).exists()
    broken.unlink()
    rebuild(work, out)
    assert not (out / GONE_PAGE).exists()


def test_a_file_matching_keep_stays_when_the_build_no_longer_makes_it(tmp_path_factory):
    work = tmp_path_factory.mktemp("keep")
    out = first_build(work)
    other_card, other_page = Path("content/evidence/pubmed/28427393.md"), "evidence/pubmed/28427393.html"
    (work / GONE_CARD).unlink()
    (work / other_card).unlink()
    pelican_build(work, output=out, reference_date=REFERENCE_DATE, pagefind=True,
                  settings={"PRUNE_OUTPUT": {"keep": ["evidence/ctgov/*"]}})
    assert (out / GONE_PAGE).exists() and not (out / other_page).exists()
