"""The Pagefind index built inside the Pelican run (plugins/search), read back from its own files.

The index is built from separate search documents, not from the card pages, so these tests check
what readers rely on: that a search finds exactly the text the card page shows, for every card, and
that a failed index fails the build instead of shipping a site whose search is broken.
"""

import gzip
import json
import re

import pytest
from bs4 import BeautifulSoup

from sitebuild import REFERENCE_DATE, SiteBuildError, build_site, sample_records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    records, editors = sample_records()
    out = build_site(tmp_path_factory.mktemp("search"), records, editors=editors,
                     reference_date=REFERENCE_DATE, pagefind=True)
    return {"out": out, "records": records, "editors": editors}


def fragments(out):
    """url → indexed text, from Pagefind's fragment files (gzip: 'pagefind_dcd' + JSON)."""
    found = {}
    for path in (out / "pagefind" / "fragment").glob("*.pf_fragment"):
        raw = gzip.decompress(path.read_bytes())
        assert raw.startswith(b"pagefind_dcd")
        data = json.loads(raw[len(b"pagefind_dcd"):])
        found[data["url"]] = data
    return found


def letters(text):
    """The text's letters and digits only: Pagefind adds full stops after headings and drops the
    space between a <dt> and its <dd>; neither changes what a search can match."""
    return "".join(re.findall(r"\w", text))


def shown_text(page_path):
    """What the card page shows inside its searchable article, minus what it marks as not indexed."""
    soup = BeautifulSoup(page_path.read_text(encoding="utf-8"), "html.parser")
    body = soup.select_one("[data-pagefind-body]")
    for ignored in body.select("[data-pagefind-ignore]"):
        ignored.decompose()
    return body.get_text(" ")


def test_every_card_is_indexed_with_exactly_the_text_its_page_shows(site):
    out = site["out"]
    pages = sorted(p for p in (out / "evidence").rglob("*.html")
                   if "data-pagefind-body" in p.read_text(encoding="utf-8"))  # not withdrawn cards
    indexed = fragments(out)
    assert len(pages) >= 10
    cards = sorted(url for url in indexed if url.startswith("/evidence/"))
    assert cards == sorted("/" + str(p.relative_to(out)) for p in pages)
    for page in pages:
        entry = indexed["/" + str(page.relative_to(out))]
        assert letters(entry["content"]) == letters(shown_text(page)), page.name
        assert entry["meta"]["title"] == BeautifulSoup(page.read_text(encoding="utf-8"),
                                                        "html.parser").h1.get_text()


def test_cards_ask_pagefind_for_no_sort_order(site):
    """The search page sorts by relevance only; a sort costs about 2 bytes per page in the metadata
    file every first search downloads (a tenth of it at 5,000 cards)."""
    out = site["out"]
    pages = list((out / "evidence").rglob("*.html"))
    assert pages
    assert not [p.name for p in pages if "data-pagefind-sort" in p.read_text(encoding="utf-8")]


def test_a_failed_index_fails_the_build_with_one_clear_line(tmp_path):
    records, editors = sample_records()
    out = tmp_path / "output"
    out.mkdir()
    (out / "pagefind").write_text("a file where Pagefind must write its index folder\n")
    with pytest.raises(SiteBuildError) as failed:
        build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE, pagefind=True,
                   output=out)
    log = " ".join(str(failed.value).split())
    assert "search: pagefind failed" in log


def test_search_listed_before_evidence_still_indexes_every_card(tmp_path, site):
    """The index starts once every generator has read its content, so PLUGINS order cannot leave
    it without cards (it once shipped a site whose search found nothing)."""
    records, editors = sample_records()
    plugins = ["speedups", "search", "evidence", "feeds", "exports", "seo"]
    out = build_site(tmp_path, records, editors=editors, reference_date=REFERENCE_DATE, pagefind=True,
                     settings={"PLUGINS": plugins})
    assert sorted(fragments(out)) == sorted(fragments(site["out"]))


def test_a_rebuild_into_the_same_output_leaves_exactly_the_new_index(tmp_path):
    """Pagefind alone keeps every earlier build's files under their old hashes, so a card removed
    from the site stayed findable in the index of a rebuilt output/.  The index must be the new one."""
    records, editors = sample_records()
    out = tmp_path / "output"
    build_site(tmp_path / "first", records, editors=editors, reference_date=REFERENCE_DATE, pagefind=True,
               output=out)
    gone = records[0]
    before = fragments(out)
    assert any(gone["id"].split(":")[-1] in url for url in before)

    build_site(tmp_path / "second", records[1:], editors=editors, reference_date=REFERENCE_DATE,
               pagefind=True, output=out)
    fresh = build_site(tmp_path / "fresh", records[1:], editors=editors, reference_date=REFERENCE_DATE,
                       pagefind=True)
    after = fragments(out)
    assert sorted(after) == sorted(fragments(fresh))
    assert not any(gone["id"].split(":")[-1] in url for url in after)
    assert len(list((out / "pagefind").glob("pagefind.*.pf_meta"))) == 1

    def kinds(root):  # Pagefind's file names carry content hashes, and some of its files vary run to run
        return sorted((p.parent.name, p.suffix) for p in (root / "pagefind").rglob("*") if p.is_file())

    assert kinds(out) == kinds(fresh)
