"""A card's "Why on this topic" line quotes words the classifier found in the record as harvested.
After the editors correct one of the fields it reads (here the title), the quoted words may no longer be
on the card, so the line says where they were found.

Built from the committed content/ and data/ exactly as `make build` does, plus two editors' entries."""

from __future__ import annotations

import pytest

from sitebuild import card_line, copy_committed_site, overrides_toml, pelican_build

pytestmark = pytest.mark.slow

FIXED = "pubmed:41101490"        # a committed ketamine card whose reasons quote its title
DESIGN_ONLY = "pubmed:41109417"  # corrected in a field the classifier does not read
UNTOUCHED = "pubmed:38011560"

EDITORS = {
    FIXED: [{"action": "replace", "field": "title", "value": "A corrected title",
             "reason": "Test entry: a title correction", "date": "2026-11-22"}],
    DESIGN_ONLY: [{"action": "replace", "field": "design", "value": "review",
                   "reason": "Test entry: a design correction", "date": "2026-11-22"}],
}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    tmp = copy_committed_site(tmp_path_factory.mktemp("why"))
    (tmp / "content" / "overrides.toml").write_text(overrides_toml(EDITORS), encoding="utf-8")
    return pelican_build(tmp)


def test_reasons_from_a_corrected_title_say_they_come_from_the_harvested_record(out):
    line = card_line(out, FIXED, ".why-topics")
    assert "title names" in line  # the reason quotes the harvested title ...
    assert "found in the record as harvested, before the editors’ correction" in line  # ... and says so


def test_other_cards_reasons_carry_no_such_note(out):
    for record_id in (DESIGN_ONLY, UNTOUCHED):
        line = card_line(out, record_id, ".why-topics")
        assert line.startswith("Why on") and "as harvested" not in line
