"""The second night: a new successful harvest that changed no card renders no card or listing page.

Card, listing, withdrawn and out-of-scope pages (the build manifest's, plugins/speedups/manifest.py)
do not carry the date of the last harvest in their bytes: their footer links where the freshness is
stated, and theme/static/js/edition.js fills in the sentence from the one small file the build
writes (output/edition.json, plugins/evidence/edition_file.py).  Otherwise every page would be new
every night and the whole site uploaded again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from sitebuild import build_site, make_report, sample_records, state_after

pytestmark = pytest.mark.slow

VERIFY = {"BUILD_MANIFEST": {"verify": True}}
NIGHT_1 = "2025-06-01T03:12:00Z"
NIGHT_2 = "2025-06-02T03:09:00Z"


def files(out: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(out).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


def rendered(work: Path) -> set[str]:
    return set(json.loads((work / "cache" / "pages-manifest.json").read_text(encoding="utf-8"))["rendered"])


def night(work: Path, records, editors, finished: str, runs: list[dict], out: Path | None = None) -> Path:
    """One nightly build as `harvest run` leaves data/: its report, every run so far, the state after it.
    The reference date is not pinned: as in production it is the last harvest's finish day."""
    report = runs[-1]
    (work / "data").mkdir(parents=True, exist_ok=True)
    (work / "data" / "state.json").write_text(json.dumps(state_after(report)), encoding="utf-8")
    return build_site(work, records, editors=editors, report=report, runs=runs, settings=VERIFY, output=out)


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    records, editors = sample_records()
    topics = load_topics()
    work = tmp_path_factory.mktemp("nights")
    # Night 1 wrote every card; night 2 found nothing new or revised (an ordinary night).
    first = make_report(NIGHT_1, topics, changes={"new": [r["id"] for r in records], "updated": [],
                                                   "new_retractions": [], "status_changes": []})
    out = night(work, records, editors, NIGHT_1, [first])
    before = files(out)
    rendered_first = rendered(work)
    second = make_report(NIGHT_2, topics)
    night(work, records, editors, NIGHT_2, [first, second], out=out)
    return {"out": out, "work": work, "before": before, "after": files(out), "rendered_first": rendered_first}


def test_a_second_night_without_changed_cards_renders_no_card_or_listing_page(nights):
    assert any(p.startswith("evidence/") for p in nights["rendered_first"])  # the first night did render them
    assert rendered(nights["work"]) == set()
    before, after = nights["before"], nights["after"]
    cards = [k for k in after if k.startswith("evidence/") and k.endswith(".html")]
    assert cards and all(after[k] == before[k] for k in cards)  # bytes and mtimes kept


def test_the_new_harvest_date_is_in_the_edition_file(nights):
    out = nights["out"]
    edition = json.loads((out / "edition.json").read_text(encoding="utf-8"))
    assert edition["kind"] == "live"
    assert edition["last_harvest"] == NIGHT_2[:10]
    assert edition["newest"] == NIGHT_2
    assert nights["before"]["edition.json"] != nights["after"]["edition.json"]
    # and on the pages rendered every build anyway
    home = BeautifulSoup((out / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert f"Last successful harvest: {NIGHT_2[:10]}." in " ".join(home.select_one("footer").get_text().split())


def test_a_card_page_footer_links_the_freshness_instead_of_carrying_the_date(nights):
    out = nights["out"]
    for rel in ("evidence/pubmed/32525788.html", "topics/tms/design/review/index.html"):
        html = (out / rel).read_text(encoding="utf-8")
        assert NIGHT_2[:10] not in html, rel  # (the card's own "Harvested on" is night 1's: it was written then)
        footer = BeautifulSoup(html, "html.parser").select_one("footer.site-footer")
        assert NIGHT_1[:10] not in str(footer) and "<time" not in str(footer), rel
        holder = footer.select_one("[data-edition]")
        assert holder is not None, rel
        link = holder.select_one("a")
        assert link["href"].endswith("methods/#edition-h"), rel
        assert " ".join(holder.get_text().split()) == "How fresh the data are: harvest status.", rel
        assert "Last successful harvest" not in footer.get_text(), rel


def test_manifest_pages_cannot_read_what_a_night_changes():
    """Their key holds neither the run reports, the freshness nor the last harvest's date, so a
    template reading one stops the build instead of showing last night's value for ever."""
    import sys

    import jinja2

    from sitebuild import ROOT

    sys.path.insert(0, str(ROOT / "plugins"))
    from speedups import manifest

    def context(day: str) -> dict:
        return {"SITENAME": "Atlas", "report": {"finished": f"{day}T03:00:00Z"}, "runs": [{"run_id": day}],
                "freshness": {"site": {"newest": f"{day}T03:00:00Z"}}, "evidence_reference_date": day,
                "edition": {"kind": "live", "made": day, "last_harvest": day, "records": 3}}

    assert manifest.chrome_digest(context("2025-06-01")) == manifest.chrome_digest(context("2025-06-02"))
    env = jinja2.Environment()
    page = manifest.restricted(context("2025-06-02"))
    assert env.from_string("{{ edition.kind }}").render(page) == "live"
    for source, name in (("{{ edition.last_harvest }}", "edition.last_harvest"), ("{{ edition.made }}", "edition.made"),
                         ("{{ report.finished }}", "'report'"), ("{{ freshness.site }}", "'freshness'"),
                         ("{% for r in runs %}{% endfor %}", "'runs'"),
                         ("{{ evidence_reference_date }}", "'evidence_reference_date'")):
        with pytest.raises(manifest.ManifestError, match=name):
            env.from_string(source).render(page)


def test_edition_file_is_checked_sorted_and_written_only_when_it_changes(tmp_path):
    import sys

    from sitebuild import ROOT

    sys.path.insert(0, str(ROOT / "plugins"))
    from evidence import edition_file

    edition = {"kind": "live", "made": "2025-06-02", "last_harvest": "2025-06-02", "records": 3}
    site = {"newest": NIGHT_2, "age_days": 0, "stale": False, "failed_topics": []}
    context = {"edition": edition, "freshness": {"site": site}}
    assert edition_file.write(str(tmp_path), context, "data") is True
    path = tmp_path / "edition.json"
    first = path.read_bytes()
    assert first == (json.dumps(json.loads(first), sort_keys=True, separators=(",", ":")) + "\n").encode()
    assert json.loads(first) == {"kind": "live", "made": "2025-06-02", "last_harvest": "2025-06-02",
                                 "newest": NIGHT_2, "age_days": 0, "stale": False}
    mtime = path.stat().st_mtime_ns
    assert edition_file.write(str(tmp_path), context, "data") is False and path.stat().st_mtime_ns == mtime
    # Values of another shape than the harvester writes (data/state.json, data/report.json): one line
    # naming the file, nothing written.
    for bad, where in (({**site, "newest": "2025-06-02T03:09:00Z<b>"}, "state.json"),
                       ({**site, "age_days": "3"}, "state.json")):
        with pytest.raises(edition_file.EditionFileError, match=where) as exc:
            edition_file.payload(edition, bad, "data")
        assert "\n" not in str(exc.value)
    with pytest.raises(edition_file.EditionFileError, match="report.json"):
        edition_file.payload({**edition, "made": "2025-13-01"}, site, "data")
