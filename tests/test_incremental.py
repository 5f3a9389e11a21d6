"""A rebuild into an existing output after a change gives what a full build of the same content gives,
and leaves the files whose inputs did not change alone (bytes and mtimes); the search index is built in
parts (plugins/search/parts.py) and only the parts whose documents changed are rebuilt."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sitebuild import REFERENCE_DATE, UNSTABLE, build_site, derive, pelican_build, sample_records

pytestmark = pytest.mark.slow

# Small parts so that the sample site's cards fall into several Pagefind indexes.  verify: every page
# the build manifest (plugins/speedups/manifest.py) would keep unrendered is rendered anyway, and a
# page whose bytes differ from the kept file stops the build.
PARTS = {"SEARCH_INDEX": {"enabled": True, "part_size": 6}, "BUILD_MANIFEST": {"verify": True}}


def state(out: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(out).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


def indexed_urls(out: Path, folder: str) -> dict[str, str]:
    """url → indexed text of one Pagefind bundle (fragments: gzip of 'pagefind_dcd' + JSON)."""
    found = {}
    for path in (out / folder / "fragment").glob("*.pf_fragment"):
        data = json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd"):])
        found[data["url"]] = data["content"]
    return found


def revised(records: list[dict]) -> list[dict]:
    # Test alteration of a real record: PMID 28427393's title, as a later harvest might revise it, and
    # its source's update date, later than any other card's: the edition's newest record changes
    # (shown on the home page, not on card or listing pages).
    # The trial card NCT05245214 lists this publication, so its page changes too.
    title = "Revised title of the linked review"
    return [derive(r, title=title, title_html=title, updated="2026-06-01") if r["id"] == "pubmed:28427393" else r
            for r in records]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    records, editors = sample_records()
    work = tmp_path_factory.mktemp("incremental")
    out = build_site(work, records, editors=editors, reference_date=REFERENCE_DATE, settings=PARTS)
    before = state(out)
    changed = revised(records)
    build_site(work, changed, editors=editors, reference_date=REFERENCE_DATE, settings=PARTS, output=out)
    fresh = build_site(tmp_path_factory.mktemp("fresh"), changed, editors=editors,
                       reference_date=REFERENCE_DATE, settings=PARTS)
    return {"out": out, "before": before, "after": state(out), "fresh": fresh, "work": work}


def rendered(work: Path) -> set[str]:
    """The pages the last build into work/output had to render (the build manifest's record)."""
    return set(json.loads((work / "cache" / "pages-manifest.json").read_text(encoding="utf-8"))["rendered"])


def test_rebuild_is_byte_identical_to_a_full_build_of_the_same_content(builds):
    after, fresh = builds["after"], state(builds["fresh"])
    stable = sorted(k for k in after.keys() | fresh.keys() if not UNSTABLE.match(k))
    assert stable, "nothing built"
    differ = [k for k in stable if (after.get(k) or ("",))[0] != (fresh.get(k) or ("",))[0]]
    assert differ == []
    # the change itself is there, on the card, on the trial that links it, and in the search index
    assert "Revised title of the linked review" in (builds["out"] / "evidence/pubmed/28427393.html").read_text("utf-8")
    assert "Revised title of the linked review" in (builds["out"] / "evidence/ctgov/NCT05245214.html").read_text("utf-8")
    texts = {}
    for folder in ("pagefind", "pagefind-1", "pagefind-2", "pagefind-3"):
        if (builds["out"] / folder).is_dir():
            texts.update(indexed_urls(builds["out"], folder))
    assert "Revised title of the linked review" in texts["/evidence/pubmed/28427393.html"]


def test_files_whose_inputs_did_not_change_keep_bytes_and_mtimes(builds):
    before, after = builds["before"], builds["after"]
    rewritten = sorted(k for k in after if k in before and after[k][1] != before[k][1])
    # Pages that show the changed record, the downloads, feeds and listings holding it, and the one
    # search part it is in, may change; an unrelated card page and the search parts without the
    # changed cards may not.
    for untouched in ("evidence/pubmed/32525788.html",
                      "evidence/ctgov/NCT00973089.html", "downloads/record.schema.json"):
        assert untouched not in rewritten, untouched
    parts = sorted({k.split("/")[0] for k in after if k.startswith("pagefind")})
    assert len(parts) >= 3, parts  # the sample site really is split
    untouched_parts = [p for p in parts if not any(k.startswith(p + "/") for k in rewritten)]
    assert untouched_parts, f"every search part was rebuilt: {rewritten}"
    assert all(after[k] == before[k] for k in after if k.split("/")[0] in untouched_parts)
    assert "evidence/pubmed/28427393.html" in rewritten


def test_every_card_is_in_exactly_one_part_and_the_search_page_merges_them(builds):
    out = builds["out"]
    parts = sorted(p.name for p in out.iterdir() if p.name.startswith("pagefind"))
    seen: dict[str, list[str]] = {}
    for folder in parts:
        for url in indexed_urls(out, folder):
            seen.setdefault(url, []).append(folder)
    cards = {"/" + p.relative_to(out).as_posix() for p in (out / "evidence").rglob("*.html")
             if "data-pagefind-body" in p.read_text(encoding="utf-8")}
    assert cards and cards <= set(seen)
    assert all(len(where) == 1 for where in seen.values()), {u: w for u, w in seen.items() if len(w) > 1}
    search = BeautifulSoup((out / "search" / "index.html").read_text(encoding="utf-8"), "html.parser")
    merged = search.select_one("#search")["data-merge"].split()
    assert sorted(m.rstrip("/").rsplit("/", 1)[1] for m in merged) == [p for p in parts if p != "pagefind"]


def test_rebuild_renders_only_the_changed_card_the_card_linking_it_and_the_listings_showing_it(builds):
    out, pages = builds["out"], rendered(builds["work"])
    cards = {p for p in pages if p.startswith("evidence/")}
    assert cards == {"evidence/pubmed/28427393.html", "evidence/ctgov/NCT05245214.html"}
    listings = pages - cards
    showing = {p.relative_to(out).as_posix() for p in (out / "topics").rglob("index.html")
               if any(f"evidence/{c}.html" in p.read_text(encoding="utf-8")
                      for c in ("pubmed/28427393", "ctgov/NCT05245214"))}
    # Topic pages are not manifest pages (they summarise every card): rendered every build, written
    # only when changed.  A listing is rendered when it shows one of the changed cards (the trial's
    # own list item did not change, but its key holds what it links to), and no other.
    assert listings and listings == {p for p in showing if p.count("/") > 2}


def test_a_changed_template_renders_every_card_page_again(tmp_path):
    import shutil

    from sitebuild import ROOT, pelican_build

    records, editors = sample_records()
    theme = tmp_path / "theme"
    shutil.copytree(ROOT / "theme", theme)
    settings = {"THEME": str(theme), "BUILD_MANIFEST": {"verify": True}}
    out = build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE, settings=settings)
    pelican_build(tmp_path, output=out, reference_date=REFERENCE_DATE, settings=settings)
    assert rendered(tmp_path) == set()  # nothing changed: nothing rendered
    card = theme / "templates" / "card.html"
    # A comment: the pages' bytes stay the same, but only the manifest's salt can know that.
    card.write_text(card.read_text(encoding="utf-8") + "{# edited #}\n", encoding="utf-8")
    pelican_build(tmp_path, output=out, reference_date=REFERENCE_DATE, settings=settings)
    pages = {p.relative_to(out).as_posix() for p in (out / "evidence").rglob("*.html")}
    assert pages and pages <= rendered(tmp_path)


def test_downloads_make_again_only_the_gzip_members_of_changed_records(tmp_path, monkeypatch):
    import hashlib as _h
    import sys

    from harvest.cards.card import read_card_all
    from sitebuild import ROOT

    sys.path.insert(0, str(ROOT / "plugins"))
    import exports
    from exports import chunks

    entries = []
    for path in sorted((ROOT / "content" / "evidence").glob("*/*.md")):
        record = read_card_all(path)[0]  # real records, from the recordings
        entries.append((record, f"/evidence/{path.parent.name}/{path.stem}.html", None,
                        _h.sha256(json.dumps(record).encode()).hexdigest()))
    entries = exports.export_order(entries)
    sets = [("all", "All", list(range(len(entries))))]
    for t in sorted({t for e in entries for t in e[0]["topics"]}):
        sets.append((t, t, [i for i, e in enumerate(entries) if t in e[0]["topics"]]))
    settings = {"CACHE_PATH": str(tmp_path / "cache"), "SITEURL": ""}
    options = exports.settings_of({})
    out, downloads = tmp_path / "out", tmp_path / "out" / "downloads"

    def build():
        return exports.write_members(settings, str(out), str(downloads), sets, entries, options)

    build()
    files = json.loads((tmp_path / "cache" / chunks.FILE).read_text())["files"]
    assert sorted(files) == sorted(f"downloads/{n}" for names in exports.file_names(sets, options).values() for n in names)
    assert sum(len(f["members"]) for f in files.values()) > 2 * len(files)  # files really are split
    before = {p.name: p.read_bytes() for p in downloads.iterdir()}

    made = []
    real = chunks.compress
    monkeypatch.setattr(chunks, "compress", lambda data, *a, **k: made.append(data) or real(data, *a, **k))
    build()
    assert made == [] and {p.name: p.read_bytes() for p in downloads.iterdir()} == before
    # Test alteration of a real record: a revised title, as a later harvest brings it.
    record, url, card, _d = entries[3]
    changed = dict(record, title=record["title"] + " (revised)")
    entries[3] = (changed, url, card, "revised")
    build()
    holding = sum(exports.in_scope(options, fmt, name) for fmt in options["formats"]
                  for name, _label, members in sets if 3 in members)
    assert 0 < len(made) <= holding  # one member per file holding it
    assert all(b"(revised)" in m for m in made)


def _colliding_records() -> list[dict]:
    """Records of many cards whose BibTeX keys collide: copies of one real PubMed record."""
    from sitebuild import PM, real_records

    review = real_records(PM.format("32525788"))[0]
    records = []
    for n in range(60):
        # Test alteration of a real record: new PMIDs, and for a third of the copies a later date (so
        # they sort apart) and every other copy on a second topic; authors, year and title are the
        # real record's, so every copy has the same BibTeX key before a/b/c... suffixes.
        record = derive(review, str(90300001 + n), topics=["tms"] + (["ketamine"] if n % 2 else []))
        if n % 3 == 0:
            record["date"] = f"{record['year']}-12-31"
        records.append(record)
    return records


def test_a_revision_that_moves_other_cards_bibtex_suffixes_rebuilds_to_a_full_builds_bytes(tmp_path):
    import hashlib as _h
    import sys

    from harvest.cards.citations import bibtex_key
    from sitebuild import ROOT

    sys.path.insert(0, str(ROOT / "plugins"))
    import exports

    def entries_of(records):
        out = [(r, f"/evidence/pubmed/{r['pmid']}.html", None, _h.sha256(json.dumps(r).encode()).hexdigest())
               for r in records]
        return exports.export_order(out)

    def build(records, where):
        entries = entries_of(records)
        sets = [("all", "All", list(range(len(entries))))]
        for t in ("tms", "ketamine"):
            sets.append((t, t, [i for i, e in enumerate(entries) if t in e[0]["topics"]]))
        settings = {"CACHE_PATH": str(where / "cache"), "SITEURL": ""}
        options = {**exports.settings_of({}), "formats": ("bib",)}
        exports.write_members(settings, str(where / "out"), str(where / "out" / "downloads"), sets, entries, options)
        return {p.name: p.read_bytes() for p in (where / "out" / "downloads").iterdir()}

    records = _colliding_records()
    assert len({bibtex_key(r) for r in records}) == 1
    build(records, tmp_path / "incremental")
    # Test alteration of a real record: the copy with the lowest PMID gets a new title, as a later
    # harvest might bring it; its key leaves the clash, so every other copy's suffix moves by one
    # letter (…a → …a for the next PMID, …b → …a, …) although their records did not change.
    first = min(records, key=lambda r: r["pmid"])
    revised = [derive(r, title="Transcranial " + r["title"]) if r is first else r for r in records]
    assert bibtex_key(revised[0]) != bibtex_key(revised[1])
    incremental = build(revised, tmp_path / "incremental")
    fresh = build(revised, tmp_path / "fresh")
    assert incremental == fresh
    for name, data in fresh.items():
        text = gzip.decompress(data).decode("utf-8")
        keys = re.findall(r"^@article\{([^,]+),", text, re.M)
        assert len(keys) == len(set(keys)), name  # unique within each file after the shift


def test_downloads_are_not_copied_from_a_file_that_only_looks_unchanged(tmp_path):
    import hashlib as _h
    import os
    import sys

    from sitebuild import ROOT

    sys.path.insert(0, str(ROOT / "plugins"))
    import exports

    records = _colliding_records()
    entries = exports.export_order([(r, f"/evidence/pubmed/{r['pmid']}.html", None,
                                     _h.sha256(json.dumps(r).encode()).hexdigest()) for r in records])
    sets = [("all", "All", list(range(len(entries)))),
            ("ketamine", "ketamine", [i for i, e in enumerate(entries) if "ketamine" in e[0]["topics"]])]
    options = exports.settings_of({})

    def build(where):
        settings = {"CACHE_PATH": str(where / "cache"), "SITEURL": ""}
        exports.write_members(settings, str(where / "out"), str(where / "out" / "downloads"), sets, entries, options)
        return {p.name: p.read_bytes() for p in (where / "out" / "downloads").iterdir()}

    fresh = build(tmp_path / "fresh")
    build(tmp_path / "site")
    # A download that changed on disk while its size and mtime stayed (a backup or a CI cache put
    # back, `cp -p`): the last build's index still matches its stat, not its bytes.
    path = tmp_path / "site" / "out" / "downloads" / "ketamine.bib.gz"
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert build(tmp_path / "site") == fresh


def test_search_documents_of_unchanged_cards_are_kept_not_rendered_again(tmp_path):
    import pickle

    records, editors = sample_records()
    out = build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE, settings=PARTS)
    # Mark the kept document of an unrelated card: if the next build rendered it again, the mark
    # would be gone from the index.
    marked = 0
    for path in (tmp_path / "cache").glob("search-docs-*.pickle"):
        data = pickle.loads(path.read_bytes())
        doc = data["docs"].get("evidence/pubmed/32525788.html")
        if doc:
            data["docs"]["evidence/pubmed/32525788.html"] = (doc[0], doc[1].replace("</h1>", " Zyxkeptdoc</h1>", 1))
            path.write_bytes(pickle.dumps(data))
            marked += 1
    assert marked == 1
    build_site(tmp_path, revised(records), editors=editors, reference_date=REFERENCE_DATE, settings=PARTS,
               output=out)
    texts = {}
    for folder in out.glob("pagefind*"):
        texts.update(indexed_urls(out, folder.name))
    assert "Zyxkeptdoc" in texts["/evidence/pubmed/32525788.html"]
    assert "Revised title of the linked review" in texts["/evidence/pubmed/28427393.html"]


def test_the_content_cache_is_dropped_when_what_cards_are_read_with_changes(tmp_path):
    """Pelican's content cache knows a card's file only; the overrides and SITEURL are read into it
    too (plugins/evidence/readcache.py).  The override tests in test_overrides_build fail without it."""
    import sys

    from sitebuild import ROOT

    sys.path.insert(0, str(ROOT / "plugins"))
    from evidence import readcache

    overrides = tmp_path / "overrides.toml"
    settings = {"PATH": str(tmp_path), "SITEURL": "", "THEME": str(ROOT / "theme"), "PLUGIN_PATHS": []}
    first = readcache.read_salt(settings)
    assert readcache.read_salt(dict(settings)) == first
    assert readcache.read_salt({**settings, "SITEURL": "https://example.org"}) != first
    overrides.write_text('[["pubmed:1"]]\naction = "hide"\n', encoding="utf-8")
    assert readcache.read_salt(settings) != first


def test_a_no_change_rebuild_rewrites_none_of_the_plugins_cache_files(tmp_path):
    records, editors = sample_records()
    build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE, settings=PARTS)
    # The build manifest records which pages the last build rendered: all of them, then none.
    pelican_build(tmp_path, reference_date=REFERENCE_DATE, settings=PARTS)
    # Pelican's own content caches (*-Readers) are Pelican's to write; the plugins' files are ours.
    ours = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and not p.name.endswith("-Readers")]
    assert {"pages-manifest.json", "search-parts.json"} <= {p.name for p in ours}
    for path in ours:
        os.utime(path, ns=(1, 1))  # make a rewrite visible even within one clock tick
    pelican_build(tmp_path, reference_date=REFERENCE_DATE, settings=PARTS)
    assert [p.name for p in ours if p.stat().st_mtime_ns != 1] == []


MARKED = "evidence/pubmed/35649368.html"  # plugins/search/parts.part_of gives it part 1 of 2


@pytest.mark.parametrize("one_more_part", [False, True], ids=["same-parts", "one-more-search-part"])
def test_a_new_or_deleted_card_renders_no_unrelated_card_page_again(tmp_path, one_more_part):
    """A nightly harvest adds records and drops others far more often than it revises one: the other
    cards' pages must not be rendered again because the number of cards (or of search parts) changed."""
    records, editors = sample_records()
    arriving = "pubmed:38909159"  # a systematic review no other card links to
    others = [r for r in records if r["id"] != arriving]
    assert len(others) == len(records) - 1
    settings = PARTS
    if one_more_part:
        # Parts exactly as large as the searchable cards without it: its arrival makes a second part.
        probe = build_site(tmp_path / "probe", others, editors=editors, reference_date=REFERENCE_DATE,
                           settings=PARTS)
        page = BeautifulSoup((probe / "search" / "index.html").read_text(encoding="utf-8"), "html.parser")
        size = int(page.select_one("#search")["data-cards"])
        settings = {**PARTS, "SEARCH_INDEX": {"enabled": True, "part_size": size}}
    out = build_site(tmp_path, others, editors=editors, reference_date=REFERENCE_DATE, settings=settings)
    if one_more_part:
        assert sorted(p.name for p in out.glob("pagefind*")) == ["pagefind"]
    # Mark an unrelated card's kept search document: if it were rendered again, the mark would be gone
    # from the index (its page, too, must not be rendered again).  This card moves from part 0 to part 1
    # when a second part comes.
    marked = 0
    for path in (tmp_path / "cache").glob("search-docs-*.pickle"):
        data = pickle.loads(path.read_bytes())
        doc = data["docs"].get(MARKED)
        if doc:
            data["docs"][MARKED] = (doc[0], doc[1].replace("</h1>", " Zyxkeptdoc</h1>", 1))
            path.write_bytes(pickle.dumps(data))
            marked += 1
    assert marked == 1
    # A later night's harvest brings the record (verify mode: every page kept unrendered is checked
    # against what rendering it gives).
    build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE, settings=settings, output=out)
    cards = {p for p in rendered(tmp_path) if p.startswith("evidence/")}
    assert cards == {"evidence/pubmed/38909159.html"}
    if one_more_part:
        assert sorted(p.name for p in out.glob("pagefind*")) == ["pagefind", "pagefind-1"]
    texts = {}
    for folder in out.glob("pagefind*"):
        texts.update(indexed_urls(out, folder.name))
    assert "Zyxkeptdoc" in texts["/" + MARKED]
    assert "/evidence/pubmed/38909159.html" in texts
    # ... and the night after, it is gone again (the harvester deletes the card file of a record it drops).
    (tmp_path / "content/evidence/pubmed/38909159.md").unlink()
    pelican_build(tmp_path, output=out, reference_date=REFERENCE_DATE, settings=settings)
    assert {p for p in rendered(tmp_path) if p.startswith("evidence/")} == set()
    assert not (out / "evidence/pubmed/38909159.html").exists()
    kept_files = sorted(p.name for p in (tmp_path / "cache").glob("search-docs-*"))
    assert kept_files == (["search-docs-0.pickle"] if one_more_part else
                          [f"search-docs-{k}.pickle" for k in range(len(kept_files))])


def test_parts_of_a_few_cards_each_never_leave_a_part_empty(tmp_path):
    """One card per part on average: by hash some parts would get none, and Pagefind fails on an empty
    folder.  The build uses fewer parts instead, and still indexes every card once."""
    records, editors = sample_records()
    out = build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE,
                     settings={**PARTS, "SEARCH_INDEX": {"enabled": True, "part_size": 1}})
    folders = sorted(p.name for p in out.glob("pagefind*"))
    assert len(folders) > 1
    seen: dict[str, list[str]] = {}
    for folder in folders:
        urls = indexed_urls(out, folder)
        assert urls, f"{folder} is empty"
        for url in urls:
            seen.setdefault(url, []).append(folder)
    cards = {"/" + p.relative_to(out).as_posix() for p in (out / "evidence").rglob("*.html")
             if "data-pagefind-body" in p.read_text(encoding="utf-8")}
    assert cards <= set(seen) and all(len(where) == 1 for where in seen.values())
    search = BeautifulSoup((out / "search" / "index.html").read_text(encoding="utf-8"), "html.parser")
    merged = search.select_one("#search")["data-merge"].split()
    assert sorted(m.rstrip("/").rsplit("/", 1)[1] for m in merged) == [f for f in folders if f != "pagefind"]
