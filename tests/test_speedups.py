"""plugins/speedups changes how fast a build is, never what it writes."""

import filecmp
import os
import sys
from pathlib import Path

from sitebuild import ROOT, build_site, sample_records

sys.path.insert(0, str(ROOT / "plugins"))

import speedups  # noqa: E402
from pelican import utils  # noqa: E402


class Item:
    """Stands in for a Pelican Content: compared by identity, grouped by slug, lang says original."""

    def __init__(self, slug, lang, in_default_lang):
        self.slug, self.lang, self.in_default_lang = slug, lang, in_default_lang
        self.source_path = f"{slug}.{lang}.md"
        self.metadata = {"translation": "false" if in_default_lang else "true"}


def test_fast_process_translations_matches_pelicans_own():
    def items():
        return [Item(f"s{i % 7}", f"l{i % 5}" if i % 3 else "fr", bool(i % 3)) for i in range(40)]

    theirs_in, ours_in = items(), items()
    original = utils.process_translations  # site builds run in subprocesses: never patched here
    assert original is not speedups._fast_process_translations
    t_index, t_trans = original(theirs_in, "slug")
    o_index, o_trans = speedups._fast_process_translations(ours_in, "slug")
    key = lambda xs: [(x.slug, x.lang) for x in xs]  # noqa: E731
    assert key(o_index) == key(t_index)
    assert key(o_trans) == key(t_trans)
    assert [key(x.translations) for x in ours_in] == [key(x.translations) for x in theirs_in]


def test_member_list_answers_membership_like_a_list():
    a, b, c = Item("a", "en", True), Item("b", "en", True), Item("c", "en", True)
    members = speedups.MemberList([a, b])
    assert a in members and b in members and c not in members
    assert list(members) == [a, b]


def test_site_with_and_without_speedups_is_byte_identical(tmp_path):
    records, editors = sample_records()
    fast = build_site(tmp_path / "fast", records, editors=editors, reference_date="2025-06-01")
    plugins = ["evidence", "feeds", "exports", "seo"]
    stock = build_site(tmp_path / "stock", records, editors=editors, reference_date="2025-06-01",
                       settings={"PLUGINS": plugins})
    fast_files = sorted(p.relative_to(fast) for p in fast.rglob("*") if p.is_file())
    stock_files = sorted(p.relative_to(stock) for p in stock.rglob("*") if p.is_file())
    assert fast_files == stock_files
    _, mismatch, errors = filecmp.cmpfiles(fast, stock, [str(p) for p in fast_files], shallow=False)
    assert not mismatch and not errors, mismatch[:10]


def test_rebuild_into_existing_output_keeps_unchanged_pages_untouched(tmp_path):
    records, editors = sample_records()
    out = build_site(tmp_path, records, editors=editors, reference_date="2025-06-01")
    page = out / "evidence" / "pubmed" / "32525788.html"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}
    os.utime(page, ns=(1, 1))  # make a rewrite visible even within one clock tick
    build_site(tmp_path, records, editors=editors, reference_date="2025-06-01", output=out)
    assert page.stat().st_mtime_ns == 1
    changed = [p for p, t in before.items() if p != page and p.stat().st_mtime_ns != t]
    assert changed == []
