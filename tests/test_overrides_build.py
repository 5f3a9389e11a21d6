"""Editor overrides take effect at build time: edit content/overrides.toml, run only Pelican, see it.

One temporary site of real records is built three times with nothing but Pelican in between, the
way `make build` runs after an editor edits the file: without overrides, with a hide, a pin and a
replace, and with the overrides removed again.  The HTML, feeds, exports, sitemap and search index
must change as the Methods of the editors promise, and come back byte for byte when the overrides go.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup

from sitebuild import (CONF, REFERENCE_DATE, ROOT, SiteBuildError, build_site, derive, pelican_build,
                       real_records)

pytestmark = pytest.mark.slow

PM = "metapub/tests/fixtures/pmid_xml/{}.xml"
HIDE = "pubmed:38747095"
PIN = "pubmed:24794070"
FIX = "pubmed:32525788"
NEW_TITLE = "Corrected title: <b>not</b> markup"

OVERRIDES = f"""
[["{HIDE}"]]
action = "hide"
reason = "Reports the same cohort as another card"
date = 2026-11-20

[["{PIN}"]]
action = "pin"
reason = "The review the explainer builds on"
date = 2026-11-21

[["{FIX}"]]
action = "replace"
field = "title"
value = "{NEW_TITLE}"
reason = "The journal corrected the title"
date = 2026-11-22
"""


def records():
    recs = []
    for pmid in ("32525788", "38909159", "38747095", "24794070", "33474827"):
        recs += real_records(PM.format(pmid))
    # Every card in one topic (the test does not exercise classification); the pinned review is the
    # oldest of them, so only the pin can put it first.
    return [derive(r, topics=["tms"]) for r in recs]


def snapshot(out):
    """rel path → bytes of everything a reader or a crawler can fetch."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def soup(out, rel):
    return BeautifulSoup((out / rel).read_text(encoding="utf-8"), "html.parser")


def search_index(snap):
    """url → (title, content) from a snapshot's Pagefind fragment files (gzip: 'pagefind_dcd' + JSON)."""
    found = {}
    for rel, raw in snap.items():
        if rel.startswith("pagefind/fragment/") and rel.endswith(".pf_fragment"):
            data = json.loads(gzip.decompress(raw)[len(b"pagefind_dcd"):])
            found[data["url"]] = (data["meta"]["title"], data["content"])
    return found


def listing_ids(out, rel):
    return [a["href"].rsplit("/", 1)[-1].removesuffix(".html")
            for a in soup(out, rel).select("ol.ev-list a.ev-title")]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    base = tmp_path_factory.mktemp("overrides-build")
    out = build_site(base, records(), reference_date=REFERENCE_DATE, pagefind=True)
    before = snapshot(out)
    overrides = base / "content" / "overrides.toml"
    overrides.write_text(OVERRIDES, encoding="utf-8")
    pelican_build(base, output=out, reference_date=REFERENCE_DATE, pagefind=True)
    during = snapshot(out)
    overrides.unlink()
    pelican_build(base, output=out, reference_date=REFERENCE_DATE, pagefind=True)
    after = snapshot(out)
    return {"base": base, "out": out, "before": before, "during": during, "after": after}


def text(snap, rel):
    raw = snap[rel]
    return (gzip.decompress(raw) if rel.endswith(".gz") else raw).decode("utf-8")


def site_files(snap):
    """Everything but Pagefind's own files, some of which vary run to run (their names carry hashes)."""
    return {rel: raw for rel, raw in snap.items() if not rel.startswith("pagefind/")}


def test_removing_the_overrides_brings_every_file_back(builds):
    before, during, after = builds["before"], builds["during"], builds["after"]
    assert site_files(after) == site_files(before)
    assert search_index(after) == search_index(before)
    assert site_files(during) != site_files(before)


def test_hide_takes_the_card_off_everything_but_keeps_a_withdrawn_page(builds):
    before, during = builds["before"], builds["during"]
    pmid = HIDE.split(":")[1]
    page = BeautifulSoup(text(during, f"evidence/pubmed/{pmid}.html"), "html.parser")
    assert page.h1.get_text() == "Withdrawn from the atlas"
    assert "Reports the same cohort as another card" in page.main.get_text()
    assert "2026-11-20" in page.main.get_text()
    for rel in ("index.html", "topics/tms/index.html", "topics/tms/all/index.html",
                "topics/tms/all/level/index.html", "feeds/all.atom.xml", "feeds/tms.atom.xml",
                "downloads/all.jsonl.gz", "downloads/all.csv.gz", "downloads/tms.ris.gz",
                "downloads/tms.bib.gz", "sitemap.xml"):
        assert pmid in text(before, rel), rel  # it was there without the override
        assert pmid not in text(during, rel), rel
    # every page of the built site drops it (the sitemap lists the pages this build wrote; a facet
    # page that only the hidden card filled is not written any more)
    for loc in re.findall(r"<loc>([^<]+)</loc>", text(during, "sitemap.xml")):
        rel = loc.lstrip("/")
        rel = rel + "index.html" if rel.endswith("/") or not rel else rel
        assert f"pubmed/{pmid}.html" not in text(during, rel), rel
    # the search index: gone with the override, back without it; a search finds the corrected title
    assert f"/evidence/pubmed/{pmid}.html" in search_index(before)
    index = search_index(during)
    assert f"/evidence/pubmed/{pmid}.html" not in index
    assert index[f"/evidence/pubmed/{FIX.split(':')[1]}.html"][0] == NEW_TITLE


def test_pin_puts_the_card_first_marked_with_the_reason(builds):
    before, during = builds["before"], builds["during"]
    pmid = PIN.split(":")[1]
    for rel in ("topics/tms/all/index.html", "topics/tms/all/level/index.html",
                "topics/tms/design/review/index.html"):
        b = BeautifulSoup(text(before, rel), "html.parser")
        first_before = b.select_one("ol.ev-list a.ev-title")["href"]
        assert not first_before.endswith(f"/{pmid}.html"), rel
        d = BeautifulSoup(text(during, rel), "html.parser")
        first = d.select_one("ol.ev-list li")
        assert first.select_one("a.ev-title")["href"].endswith(f"/{pmid}.html"), rel
        assert "Pinned by the editors" in first.get_text() and "The review the explainer builds on" in first.get_text()
        assert len(d.select(".flag-pinned")) == 1, rel
    topic = BeautifulSoup(text(during, "topics/tms/index.html"), "html.parser")
    assert topic.select_one("#all-evidence ol.ev-list a.ev-title")["href"].endswith(f"/{pmid}.html")
    card = BeautifulSoup(text(during, f"evidence/pubmed/{pmid}.html"), "html.parser")
    note = card.select_one(".pinned-note").get_text(" ", strip=True)
    assert "Pinned by the editors" in note and "2026-11-21" in note and "The review the explainer builds on" in note


def test_replace_shows_the_corrected_value_with_the_note_beside_it(builds):
    before, during = builds["before"], builds["during"]
    pmid = FIX.split(":")[1]
    rel = f"evidence/pubmed/{pmid}.html"
    card = BeautifulSoup(text(during, rel), "html.parser")
    original = BeautifulSoup(text(before, rel), "html.parser").h1.get_text()
    assert card.h1.get_text() == NEW_TITLE  # escaped: shown as text, not markup
    assert card.h1.b is None
    # the browser tab and a search engine's snippet show the correction too, not the source's title
    assert card.title.get_text().startswith(NEW_TITLE + " · ")
    assert NEW_TITLE in card.select_one('meta[name="description"]')["content"]
    note = card.h1.find_next_sibling()
    assert "correction" in note.get("class", []) or note.get("id") == "correction"
    words = note.get_text(" ", strip=True)
    assert "Corrected by the editors" in words and "The journal corrected the title" in words
    assert "2026-11-22" in words and original in words  # what the source says stays readable
    # feeds and exports carry the corrected value
    assert "Corrected title: &lt;b&gt;not&lt;/b&gt; markup" in text(during, "feeds/tms.atom.xml")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text(during, "downloads/all.csv.gz")))}
    assert rows[FIX]["title"] == NEW_TITLE
    jsonl = [json.loads(line) for line in text(during, "downloads/all.jsonl.gz").splitlines()]
    assert {r["id"]: r for r in jsonl}[FIX]["title"] == NEW_TITLE
    assert NEW_TITLE not in text(before, "downloads/all.jsonl.gz")


def test_a_broken_overrides_file_fails_the_build_with_one_line(tmp_path):
    build_site(tmp_path, records()[:1], reference_date=REFERENCE_DATE)
    path = tmp_path / "content" / "overrides.toml"
    path.write_text(f'# editors\n\n[["{FIX}"]]\naction = "replace"\nfield = "colour"\nvalue = "x"\n'
                    'reason = "x"\ndate = 2026-11-22\n', encoding="utf-8")
    with pytest.raises(SiteBuildError) as exc:
        pelican_build(tmp_path)
    assert f"ERROR: {path}:3: {FIX} entry 1: cannot replace unknown field 'colour'" in str(exc.value)
    # what `make build` prints: that line and nothing else on stderr
    proc = subprocess.run([sys.executable, "-m", "pelican", str(tmp_path / "content"), "-o", str(tmp_path / "o"),
                           "-s", str(CONF), "--fatal", "errors"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [f"ERROR: {path}:3: {FIX} entry 1: cannot replace unknown field 'colour'"]
    path.write_text('[["pubmed:1"]\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pelican", str(tmp_path / "content"), "-o", str(tmp_path / "o"),
                           "-s", str(CONF), "--fatal", "errors"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith(f"ERROR: {path}:1: invalid TOML: ")
    assert len(proc.stderr.strip().splitlines()) == 1
