"""A card's "Why on this topic" line quotes words the classifier found in the record as harvested.
After the editors correct one of the fields it reads (here the title), the quoted words may no longer be
on the card, so the line says where they were found.

Built from the committed content/ and data/ exactly as `make build` does, plus one editors' entry."""

from __future__ import annotations

import shutil

import pytest
from bs4 import BeautifulSoup

from sitebuild import ROOT, pelican_build

pytestmark = pytest.mark.slow

FIXED = "41101490"       # a committed ketamine card whose reasons quote its title
DESIGN_ONLY = "41109417"  # corrected in a field the classifier does not read
UNTOUCHED = "38011560"

OVERRIDES = f"""
[["pubmed:{FIXED}"]]
action = "replace"
field = "title"
value = "A corrected title"
reason = "Test entry: a title correction"
date = 2026-11-22

[["pubmed:{DESIGN_ONLY}"]]
action = "replace"
field = "design"
value = "review"
reason = "Test entry: a design correction"
date = 2026-11-22
"""


def why(out, pmid: str) -> str:
    page = BeautifulSoup((out / "evidence" / "pubmed" / f"{pmid}.html").read_text(encoding="utf-8"), "html.parser")
    return " ".join(page.select_one(".why-topics").get_text(" ").split())


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("why")
    shutil.copytree(ROOT / "content", tmp / "content")
    shutil.copytree(ROOT / "data", tmp / "data")
    (tmp / "content" / "overrides.toml").write_text(OVERRIDES, encoding="utf-8")
    return pelican_build(tmp)


def test_reasons_from_a_corrected_title_say_they_come_from_the_harvested_record(out):
    line = why(out, FIXED)
    assert "title names" in line  # the reason quotes the harvested title ...
    assert "found in the record as harvested, before the editors’ correction" in line  # ... and says so


def test_other_cards_reasons_carry_no_such_note(out):
    for pmid in (DESIGN_ONLY, UNTOUCHED):
        line = why(out, pmid)
        assert line.startswith("Why on") and "as harvested" not in line
