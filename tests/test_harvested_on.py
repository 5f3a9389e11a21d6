"""A card's harvest day comes only from a run report that lists the card: a committed card that no
run report lists shows no day at all, not the latest run's (which would say it was harvested last
night, and every night after).

Built from the committed content/ and a copy of data/ exactly as `make build` does."""

from __future__ import annotations

import json

import pytest

from sitebuild import card_line, copy_committed_site, pelican_build

pytestmark = pytest.mark.slow

UNLISTED = "ctgov:NCT04770285"
LISTED = "ctgov:NCT04524598"


def said(out, record_id: str) -> str:
    return card_line(out, record_id, ".harvested")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = copy_committed_site(tmp_path_factory.mktemp("unlisted"))
    report = json.loads((tmp / "data" / "report.json").read_text(encoding="utf-8"))
    assert UNLISTED in report["changes"]["new"] and LISTED in report["changes"]["new"]
    # Edited: the committed run report (the only one) with one committed card taken out of its list
    # of new cards, as if that card had been written by a run whose report is no longer kept.
    report["changes"]["new"].remove(UNLISTED)
    for path in (tmp / "data" / "report.json", tmp / "data" / "runs" / f"{report['run_id']}.json"):
        path.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    return {"out": pelican_build(tmp), "day": report["finished"][:10]}


def test_a_listed_card_shows_the_day_of_the_run_that_wrote_it(site):
    assert f"Made on {site['day']} from a recorded reply" in said(site["out"], LISTED)


def test_a_card_no_run_report_lists_shows_no_harvest_day(site):
    line = said(site["out"], UNLISTED)
    assert site["day"] not in line
    assert "Made on" not in line and "Harvested on" not in line
    assert f"Record id {UNLISTED}" in line
