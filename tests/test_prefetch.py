"""plugins/evidence/prefetch: a forked child reads part of the cards while Pelican reads the rest.

It may change how fast cards are read, never what the site says, and it must not swallow an error.
"""

import os
import re
import sys
import time

import pytest

from harvest.errors import CardError
from sitebuild import REFERENCE_DATE, ROOT, SiteBuildError, build_site, sample_records

sys.path.insert(0, str(ROOT / "plugins"))

from evidence import prefetch  # noqa: E402

OFF = {"EVIDENCE_PREFETCH": {"min_cards": 10**9}}
HALF = {"EVIDENCE_PREFETCH": {"min_cards": 1, "share": 0.5}}
ALL_IN_CHILD = {"EVIDENCE_PREFETCH": {"min_cards": 1, "share": 1.0}}
BAD_CARD = {"evidence/pubmed/99999999.md": "Title: Broken\nEv_id: not json\n\nBody.\n"}


@pytest.fixture(autouse=True)
def no_leftover_child():
    yield
    prefetch.stop()


def tagged(path):
    return path, os.getpid()


def test_child_reads_the_later_share_and_hands_it_over():
    paths = [f"/cards/{i}.md" for i in range(10)]
    prefetch.start(paths, tagged, min_cards=1, share=0.5)
    got = [prefetch.take(p) for p in paths]
    assert got[:5] == [None] * 5  # the parent's share: it reads those itself
    pids = {value[1] for ok, value in got[5:]}
    assert all(ok for ok, _ in got[5:]) and [value[0] for _, value in got[5:]] == paths[5:]
    assert len(pids) == 1 and os.getpid() not in pids  # read in another process
    assert prefetch.take(paths[7]) is None  # each result is handed over once


def test_small_sites_fork_nothing():
    paths = [f"/cards/{i}.md" for i in range(5)]
    prefetch.start(paths, tagged, min_cards=200, share=1.0)
    assert [prefetch.take(p) for p in paths] == [None] * 5


class Unpicklable(Exception):
    def __init__(self):
        super().__init__("holds a lock")
        self.lock = __import__("threading").Lock()


def failing(path):
    if path.endswith("1.md"):
        raise CardError(f"{path}:2: bad JSON for id")
    if path.endswith("2.md"):
        raise Unpicklable()
    return path


def test_errors_come_back_to_the_reader_as_exceptions():
    paths = [f"/cards/{i}.md" for i in range(4)]
    prefetch.start(paths, failing, min_cards=1, share=1.0)
    ok0, v0 = prefetch.take(paths[0])
    ok1, v1 = prefetch.take(paths[1])
    ok2, v2 = prefetch.take(paths[2])
    assert (ok0, v0) == (True, paths[0])
    assert not ok1 and isinstance(v1, CardError) and str(v1) == "/cards/1.md:2: bad JSON for id"
    assert not ok2 and isinstance(v2, ValueError) and "Unpicklable: holds a lock" in str(v2)


def dies(path):
    if path.endswith("3.md"):
        os._exit(3)
    return path


def test_a_dead_child_only_costs_time():
    paths = [f"/cards/{i}.md" for i in range(6)]
    prefetch.start(paths, dies, min_cards=1, share=1.0)
    started = time.monotonic()
    # Nothing was sent before the child died (results go in batches): the reader reads them all.
    assert [prefetch.take(p) for p in paths] == [None] * 6
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_site_is_byte_identical_whoever_reads_the_cards(tmp_path):
    records, editors = sample_records()

    def files(out):
        return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    alone = files(build_site(tmp_path / "alone", records, editors=editors, reference_date=REFERENCE_DATE,
                             settings=OFF))
    assert any(name.startswith("evidence/") for name in alone)
    for name, setting in (("half", HALF), ("child", ALL_IN_CHILD)):
        out = build_site(tmp_path / name, records, editors=editors, reference_date=REFERENCE_DATE,
                         settings=setting)
        assert files(out) == alone, name


@pytest.mark.slow
def test_a_bad_card_read_by_the_child_fails_the_build_naming_it(tmp_path):
    records, editors = sample_records()
    errors = {}
    for name, setting in (("alone", OFF), ("child", ALL_IN_CHILD)):
        with pytest.raises(SiteBuildError) as failed:
            build_site(tmp_path / name, records, editors=editors, pages=BAD_CARD, settings=setting)
        # Pelican's log is wrapped at 80 columns with the source location on the right: unwrap it.
        found = re.search(r"ERROR\s+(evidence card .*?)\n\s*(?:\[|ERROR|CRITICAL)", str(failed.value), re.S)
        assert found, str(failed.value)[-2000:]
        errors[name] = " ".join(re.sub(r"\s\S+\.py:\d+\s", " ", found.group(1)).split())
    assert "evidence/pubmed/99999999.md" in errors["child"] and "bad JSON for id" in errors["child"]
    assert errors["child"] == errors["alone"]
