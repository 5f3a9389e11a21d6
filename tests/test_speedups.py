"""plugins/speedups changes how fast a build is, never what it writes."""

import filecmp
import os
import shutil
import sys
from pathlib import Path

from sitebuild import ROOT, build_site, pelican_build, sample_records

sys.path.insert(0, str(ROOT / "plugins"))

import speedups  # noqa: E402
from pelican import utils  # noqa: E402


class Generator:
    """Stands in for ArticlesGenerator after reading: its settings and taxonomy terms."""

    def __init__(self, **settings):
        self.settings = {"TAG_SAVE_AS": "", "CATEGORY_SAVE_AS": "", "AUTHOR_SAVE_AS": "", **settings}
        self.tags = {"t": ["a"]}
        self.categories = [("c", ["a"])]
        self.authors = [("x", ["a"])]


def test_taxonomies_without_pages_or_feeds_are_emptied():
    gen = Generator()
    speedups._drop_unwritten_taxonomies(gen)
    assert (gen.tags, gen.categories, gen.authors) == ({}, [], [])


def test_taxonomies_that_write_something_are_kept():
    for setting in ("TAG_SAVE_AS", "TAG_FEED_ATOM", "CATEGORY_SAVE_AS", "CATEGORY_FEED_RSS", "AUTHOR_SAVE_AS"):
        gen = Generator(**{setting: "x/{slug}.html"})
        speedups._drop_unwritten_taxonomies(gen)
        kept = {"TAG": gen.tags, "CATEGORY": gen.categories, "AUTHOR": gen.authors}[setting.split("_")[0]]
        assert kept, setting


def test_speedups_patch_nothing_in_pelican():
    """The plugin works through signals and settings: Pelican's own functions stay Pelican's."""
    import pelican
    from pelican import generators, writers

    speedups.register()
    assert "open" not in vars(writers)
    assert generators.process_translations is utils.process_translations
    assert generators.ArticlesGenerator.generate_tags.__module__ == "pelican.generators"
    assert pelican.signals.get_writer.has_receivers_for(pelican.signals.get_writer)


def test_writer_keeps_pelicans_overwrite_rules(tmp_path):
    """A second write of one file is refused exactly as Pelican's own writer refuses it."""
    from pelican import writers

    def second_write(cls):
        w = cls(str(tmp_path), settings={})
        w._open_w(str(tmp_path / "a.html"), "utf-8").close()
        try:
            w._open_w(str(tmp_path / "a.html"), "utf-8").close()
        except Exception as exc:  # noqa: BLE001 - the type differs between Pelican versions
            return type(exc)
        return None

    theirs = second_write(writers.Writer)
    assert theirs is not None and second_write(speedups.IfChangedWriter) is theirs


def test_writer_leaves_an_unchanged_file_alone(tmp_path):
    target = tmp_path / "page.html"
    target.write_text("<p>same</p>", encoding="utf-8")
    os.utime(target, ns=(1, 1))
    w = speedups.IfChangedWriter(str(tmp_path), settings={})
    with w._open_w(str(target), "utf-8") as fh:
        fh.write("<p>same</p>")
    assert target.stat().st_mtime_ns == 1
    w = speedups.IfChangedWriter(str(tmp_path), settings={})
    with w._open_w(str(target), "utf-8") as fh:
        fh.write("<p>new</p>")
    assert target.read_text(encoding="utf-8") == "<p>new</p>"


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


def test_manifest_pages_cannot_read_the_card_collections():
    """A page the manifest may skip is rendered without the context values that hold every card: its
    key cannot see them, so a template reading one stops the build instead of going stale."""
    import jinja2
    import pytest

    from speedups import manifest

    env = jinja2.Environment()
    context = manifest.restricted({"evidence": ["a card"], "SITENAME": "Atlas"})
    assert env.from_string("{{ SITENAME }}").render(context) == "Atlas"
    for source in ("{{ evidence|length }}", "{% for a in evidence %}{% endfor %}", "{{ evidence }}",
                   "{% if evidence %}x{% endif %}", "{{ evidence.0 }}"):
        with pytest.raises(manifest.ManifestError, match="'evidence'"):
            env.from_string(source).render(context)


def test_theme_static_files_are_copied_only_when_their_bytes_changed(tmp_path):
    # A copy of the project's theme, so that the test can change one of its static files.
    theme = tmp_path / "theme"
    shutil.copytree(ROOT / "theme", theme)
    records, _editors = sample_records()
    settings = {"THEME": str(theme)}
    out = build_site(tmp_path, records[:3], editor_content=False, settings=settings)
    css, js = out / "theme" / "css" / "site.css", out / "theme" / "js" / "cite.js"
    assert css.read_bytes() == (theme / "static" / "css" / "site.css").read_bytes()
    for path in (css, js):
        os.utime(path, ns=(1, 1))  # make a rewrite visible even within one clock tick
    pelican_build(tmp_path, settings=settings)
    assert (css.stat().st_mtime_ns, js.stat().st_mtime_ns) == (1, 1)
    changed = (theme / "static" / "css" / "site.css").read_bytes() + b"\n.changed-by-the-test { }\n"
    (theme / "static" / "css" / "site.css").write_bytes(changed)
    pelican_build(tmp_path, settings=settings)
    assert css.read_bytes() == changed
    assert js.stat().st_mtime_ns == 1
