"""The atlas over many nights (issue 11): `python -m harvest run` and a Pelican build, night after night,
against the local emulators of both APIs serving real recorded records, with the nights' clock under
the test's control and PubMed's date stamps in US Eastern time.

Between nights the corpus evolves as the real services do: a record appears stamped the evening before
the last run, a trial changes status and enrollment, an article is retracted, a record leaves scope, a
night fails half-way.  Every change to a real record is named in a comment where it is made.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from harvest.cards.card import read_card_all
from harvest.classification.topics import load_topics
from servers import (KETAMINE_NCT, KETAMINE_PMID, TMS_NCT, TMS_PMID, Fault, ctgov_key, renumber_article,
                     run_cli, run_harvest, snapshot, start_emulators, topic_articles, topic_studies)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EASTERN = ZoneInfo("America/New_York")  # where NCBI stamps its dates
LATE_PMID = "90000005"
LATE_TITLE = "Accelerated theta burst stimulation for bipolar depression: a randomized trial."
OFF_TITLE = "Bone mineral density after hip arthroplasty: a cohort study."


def night(day: str) -> dt.datetime:
    """The nightly run: 03:17 UTC, which is the previous evening in US Eastern time."""
    return dt.datetime.fromisoformat(f"{day}T03:17:00+00:00")


def eastern_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(EASTERN).date()


def stamp_article(article: bytes, day: dt.date) -> bytes:
    """A real article with its DateRevised set to `day` (the test's clock, not the recording's)."""
    return re.sub(rb"<DateRevised>.*?</DateRevised>",
                  f"<DateRevised><Year>{day.year}</Year><Month>{day.month:02d}</Month>"
                  f"<Day>{day.day:02d}</Day></DateRevised>".encode(), article, count=1, flags=re.S)


def stamp_study(study: dict, day: dt.date, **status) -> dict:
    """A real study with its last-update-posted date set to `day` and status-module values changed."""
    out = copy.deepcopy(study)
    module = out["protocolSection"]["statusModule"]
    module["lastUpdatePostDateStruct"] = {"date": day.isoformat(), "type": "ACTUAL"}
    module.update(status)
    return out


class World:
    """The emulators' corpus as the test evolves it, the content and data folders, and one site build."""

    def __init__(self, httpserver, tmp: Path):
        self.topics = {t.slug: t for t in load_topics()}
        self.articles = topic_articles()
        self.studies = topic_studies()
        self.eutils, self.ctgov = start_emulators(httpserver, {}, {})
        self.tmp = tmp
        self.content, self.data = tmp / "content", tmp / "data"
        for sub in ("pages", "topics"):  # the editors' prose, as in the repository
            shutil.copytree(ROOT / "content" / sub, self.content / sub)
        # The repository's git history is what "adds nothing to main" is measured on.
        subprocess.run(["git", "init", "-q", str(tmp)], check=True)
        for key, value in (("user.email", "nights@example.org"), ("user.name", "nights")):
            subprocess.run(["git", "-C", str(tmp), "config", key, value], check=True)
        (tmp / ".gitignore").write_text("/output*/\n/cache/\n/data/raw/\n")

    def publish(self) -> None:
        """Serve the corpus as it is now (what the APIs would answer tonight)."""
        self.eutils.corpus.clear()
        self.ctgov.corpus.clear()
        for slug, arts in self.articles.items():
            self.eutils.corpus[self.topics[slug].pubmed_query] = list(arts)
        for slug, studies in self.studies.items():
            self.ctgov.corpus[ctgov_key(self.topics[slug])] = list(studies)

    def harvest(self, moment: dt.datetime):
        self.publish()
        # The two topics whose queries the emulators answer with real records (the others would only
        # add empty replies, and psilocybin's Metapsy source lives on GitHub, not in these emulators).
        return run_harvest(self.eutils, self.ctgov, self.content, self.data, "--topic", "tms", "--topic", "ketamine",
                           HARVEST_NOW=moment.isoformat().replace("+00:00", "Z"))

    def build(self, name: str, moment: dt.datetime) -> Path:
        out = self.tmp / f"output-{name}"
        settings = {"EVIDENCE_DATA_PATH": str(self.data), "CACHE_PATH": str(self.tmp / "cache"),
                    "SEARCH_INDEX": {"enabled": False}, "EVIDENCE_TODAY": moment.date().isoformat()}
        cmd = [sys.executable, "-m", "pelican", str(self.content), "-o", str(out), "-s", str(ROOT / "pelican.conf.py"),
               "--fatal", "errors", "-e"] + [f"{k}={json.dumps(v)}" for k, v in settings.items()]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return out

    def commit(self, message: str) -> dict:
        """Commit content/ and data/ (as the nightly job does); returns {path: bytes} of the blobs added."""
        subprocess.run(["git", "-C", str(self.tmp), "add", "-A", "content", "data", ".gitignore"], check=True)
        subprocess.run(["git", "-C", str(self.tmp), "commit", "-q", "--allow-empty", "-m", message], check=True)
        out = subprocess.run(["git", "-C", str(self.tmp), "show", "--name-only", "--format=", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.split()
        return {p: (self.tmp / p).read_bytes() for p in out}

    def cards(self) -> dict[str, tuple]:
        return {p.relative_to(self.content).as_posix(): read_card_all(p)
                for p in sorted(self.content.glob("evidence/*/*.md"))}


def page(out: Path, rel: str) -> BeautifulSoup:
    return BeautifulSoup((out / rel).read_text(encoding="utf-8"), "html.parser")


def text(node) -> str:
    return " ".join(node.get_text().split()) if node is not None else ""


def feed_titles(out: Path, rel: str) -> list[str]:
    soup = BeautifulSoup((out / rel).read_text(encoding="utf-8"), "xml")
    return [e.find("title").get_text() for e in soup.find_all("entry")]


def freshness_claims(out: Path) -> dict:
    """Every sentence the site makes about how fresh its data are."""
    claims = {"footer": text(page(out, "index.html").select_one("footer")),
              "home": text(page(out, "index.html").select_one("#edition"))}
    for slug in ("ketamine", "tms"):
        claims[slug] = text(page(out, f"topics/{slug}/index.html").select_one("#evidence-summary p"))
    return claims


def test_many_nights(httpserver, tmp_path):
    world = World(httpserver, tmp_path)
    ketamine, off_a, off_b = world.articles["ketamine"]
    tms_article = world.articles["tms"][0]
    tms_trial = world.studies["tms"][0]

    def serve_articles(ketamine, tms_article, *more_tms):
        """The per-topic replies: the ketamine query also returns two off-topic articles, the tms query
        also returns the ketamine review (as in servers.topic_articles)."""
        world.articles = {"ketamine": [ketamine, off_a, off_b], "tms": [tms_article, ketamine, *more_tms]}

    # --- night 1: the first harvest -------------------------------------------------------------------
    n1 = night("2026-11-23")
    before_n1 = eastern_day(n1) - dt.timedelta(days=3)
    # Test clock: every record was last revised a few days before the first night.
    ketamine, off_a, off_b, tms_article = (stamp_article(a, before_n1) for a in (ketamine, off_a, off_b, tms_article))
    serve_articles(ketamine, tms_article)
    # Test values on the real rTMS study: recruiting, 60 participants anticipated.
    tms_trial = stamp_study(tms_trial, before_n1, overallStatus="RECRUITING")
    tms_trial["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 60, "type": "ESTIMATED"}
    world.studies["tms"] = [tms_trial]
    world.studies = {slug: [s if s is tms_trial else stamp_study(s, before_n1) for s in studies]
                     for slug, studies in world.studies.items()}
    run = world.harvest(n1)
    assert run.returncode == 0, run.stderr
    first = world.cards()
    assert sorted(first) == [f"evidence/ctgov/{KETAMINE_NCT}.md", f"evidence/ctgov/{TMS_NCT}.md",
                             f"evidence/pubmed/{KETAMINE_PMID}.md", f"evidence/pubmed/{TMS_PMID}.md"]
    world.commit("night 1")

    # --- night 2: a record stamped the evening before the last run; a trial changes ----------------------
    n2 = night("2026-11-24")
    # NCBI stamps a revision made at 22:50 US Eastern on the evening of night 1 with that Eastern day,
    # which is the day *before* night 1's UTC date: a query from night 1's UTC date would miss it.
    late_moment = n1 + dt.timedelta(minutes=93)
    assert eastern_day(late_moment) < n1.date()
    late = stamp_article(renumber_article(off_b, LATE_PMID, LATE_TITLE), eastern_day(late_moment))
    serve_articles(ketamine, tms_article, late)
    # The registry moved the trial on: recruitment closed with 48 participants actually enrolled.
    changed = stamp_study(tms_trial, eastern_day(n2 - dt.timedelta(hours=12)), overallStatus="ACTIVE_NOT_RECRUITING")
    changed["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 48, "type": "ACTUAL"}
    world.studies["tms"] = [changed]
    run = world.harvest(n2)
    assert run.returncode == 0, run.stderr
    mindate = world.eutils.requests_to("esearch.fcgi")[-1]["params"]["mindate"]
    assert mindate == (n1.date() - dt.timedelta(days=3)).strftime("%Y/%m/%d")  # the overlap
    cards2 = world.cards()
    assert set(first) < set(cards2) and f"evidence/pubmed/{LATE_PMID}.md" in cards2  # nothing lost, late one found
    trial, _editor, extras = cards2[f"evidence/ctgov/{TMS_NCT}.md"]
    assert trial["status"] == "ACTIVE_NOT_RECRUITING" and trial["enrollment"] == 48
    events = {e["event"]: e for e in extras["history"]}
    assert events["status_changed"]["from"] == "RECRUITING" and events["status_changed"]["to"] == "ACTIVE_NOT_RECRUITING"
    assert (events["changed"]["from"], events["changed"]["from_type"], events["changed"]["to"],
            events["changed"]["to_type"]) == (60, "ESTIMATED", 48, "ACTUAL")
    world.commit("night 2")
    out2 = world.build("n2", n2)
    card_page = page(out2, f"evidence/ctgov/{TMS_NCT}.html")
    changes = text(card_page.select_one("#registry-changes"))
    assert "Changes in the registry" in changes
    assert "status changed from recruiting to active not recruiting" in changes
    assert "Enrollment changed from 60 participants (anticipated) to 48 participants (actual)" in changes
    tms_events = feed_titles(out2, "feeds/changes/tms.atom.xml")
    assert any(t.startswith("Status changed from recruiting to active not recruiting") for t in tms_events)
    assert any(t.startswith("Enrollment changed from 60") for t in tms_events)
    run_page = page(out2, f"changes/{json.loads((world.data / 'report.json').read_text())['run_id']}/index.html")
    assert "status changed from recruiting" in text(run_page.select_one("#events"))

    # --- night 3: nothing changed -----------------------------------------------------------------------
    n3 = night("2026-11-25")
    before = snapshot(world.content)
    run = world.harvest(n3)
    assert run.returncode == 0, run.stderr
    assert snapshot(world.content) == before  # no card written: bytes and mtimes
    added = world.commit("night 3")
    assert not [p for p in added if not p.startswith("data/")], added  # nothing under content/
    assert set(added) <= {"data/state.json", "data/report.json"} | {p for p in added if p.startswith("data/runs/")}
    stored = sum(len(zlib.compress(b)) for b in added.values())  # what git keeps of them (zlib objects)
    assert stored <= 4096, {p: len(b) for p, b in added.items()}

    # --- night 4: a retraction and a record that leaves scope ------------------------------------------
    n4 = night("2026-11-26")
    revised = eastern_day(n4 - dt.timedelta(hours=10))
    # PubMed marks the ketamine review retracted (the publication type NCBI adds to retracted articles).
    retracted = stamp_article(ketamine.replace(
        b'<PublicationType UI="D016454">Review</PublicationType>',
        b'<PublicationType UI="D016454">Review</PublicationType>'
        b'<PublicationType UI="D016441">Retracted Publication</PublicationType>'), revised)
    assert retracted != stamp_article(ketamine, revised)
    # The re-titled TMS article is revised into a title about something else entirely: it leaves scope.
    serve_articles(retracted, stamp_article(renumber_article(tms_article, TMS_PMID, OFF_TITLE), revised), late)
    run = world.harvest(n4)
    assert run.returncode == 0, run.stderr
    cards4 = world.cards()
    assert set(cards2) <= set(cards4)  # no record lost: the out-of-scope card is kept
    review, _e, review_extras = cards4[f"evidence/pubmed/{KETAMINE_PMID}.md"]
    assert review["retracted"] is True and review_extras["history"][-1]["event"] == "retracted"
    gone, _e, gone_extras = cards4[f"evidence/pubmed/{TMS_PMID}.md"]
    assert gone["topics"] == [] and gone["title"] == OFF_TITLE and gone_extras["scope"]["since"] == revised.isoformat()
    report = json.loads((world.data / "report.json").read_text())
    assert report["changes"]["out_of_scope"] == [f"pubmed:{TMS_PMID}"]
    # The history and the out-of-scope mark live in the cards: replaying the raw cache keeps them.
    before = snapshot(world.content)
    replay = run_cli("replay", [str(world.data / "raw"), "--content", str(world.content), "--data", str(world.data)])
    assert replay.returncode == 0, replay.stderr
    assert snapshot(world.content) == before
    # ... and into an empty folder, the cache's successive revisions rebuild the same history.
    fresh = tmp_path / "fresh"
    replay = run_cli("replay", [str(world.data / "raw"), "--content", str(fresh), "--data", str(tmp_path / "d2")])
    assert replay.returncode == 0, replay.stderr
    for rel in (f"evidence/ctgov/{TMS_NCT}.md", f"evidence/pubmed/{KETAMINE_PMID}.md"):
        assert read_card_all(fresh / rel)[2] == cards4[rel][2], rel
    world.commit("night 4")
    out4 = world.build("n4", n4)
    assert "Retracted" in " ".join(feed_titles(out4, "feeds/changes/ketamine.atom.xml"))
    assert "retract" in text(page(out4, f"evidence/pubmed/{KETAMINE_PMID}.html").select_one("main")).lower()
    note = text(page(out4, f"evidence/pubmed/{TMS_PMID}.html").select_one(".out-of-scope"))
    assert "no longer in the atlas" in note and "no longer matches any topic" in note
    tms_page = (out4 / "topics" / "tms" / "index.html").read_text(encoding="utf-8")
    assert f"pubmed/{TMS_PMID}.html" not in tms_page
    for feed in ("feeds/all.atom.xml", "feeds/tms.atom.xml"):
        assert f"pubmed/{TMS_PMID}" not in (out4 / feed).read_text(encoding="utf-8")
    assert f"pubmed/{TMS_PMID}" not in (out4 / "sitemap.xml").read_text(encoding="utf-8")
    assert f"pubmed:{TMS_PMID}".encode() not in gzip.decompress((out4 / "downloads" / "all.csv.gz").read_bytes())

    # --- night 5: the night fails half-way --------------------------------------------------------------
    n5 = night("2026-11-27")
    # What the registry says tonight would change a card - if the night got that far.
    world.studies["tms"] = [stamp_study(changed, eastern_day(n5 - dt.timedelta(hours=10)), overallStatus="COMPLETED")]
    before = snapshot(world.content)
    report_before = (world.data / "report.json").read_bytes()
    state_before = json.loads((world.data / "state.json").read_text())
    # PubMed answers for the first topic, then ClinicalTrials.gov and later PubMed stop answering.
    world.ctgov.fail("studies", *(Fault(status=503, body=b"Service Unavailable") for _ in range(50)))
    # (a short delay with no status is an ordinary answer, servers.Emulator._fault)
    world.eutils.fail("efetch.fcgi", *([Fault(delay=0.01)] + [Fault(status=502, body=b"Bad Gateway")] * 50))
    run = world.harvest(n5)
    assert run.returncode == 1
    assert snapshot(world.content) == before  # every card byte-identical, not even touched
    assert (world.data / "report.json").read_bytes() == report_before
    state = json.loads((world.data / "state.json").read_text())
    for slug, sources in state["topics"].items():
        for source, entry in sources.items():
            assert entry["success"] == state_before["topics"][slug][source]["success"]
            assert entry["error"] == "server error"  # the short class the site may show
    out5 = world.build("n5", n5)
    assert freshness_claims(out5) == freshness_claims(out4), "a failed night changed what the site claims"
    failed_note = text(page(out5, "topics/tms/index.html").select_one(".freshness-failed"))
    assert failed_note.startswith("The latest update attempt on 2026-11-27")
    assert "cards shown are from the harvest of 2026-11-26" in failed_note
    for path in out5.rglob("*.html"):
        assert "Service Unavailable" not in path.read_text(encoding="utf-8"), path
    world.commit("night 5")

    # --- night 6: the services are back; nothing was lost ---------------------------------------------
    n6 = night("2026-11-28")
    world.eutils.faults.clear(), world.ctgov.faults.clear()
    run = world.harvest(n6)
    assert run.returncode == 0, run.stderr
    cards6 = world.cards()
    assert set(cards4) <= set(cards6)
    trial, _e, extras = cards6[f"evidence/ctgov/{TMS_NCT}.md"]
    assert trial["status"] == "COMPLETED"  # the change that arrived on the failed night
    assert [e["event"] for e in extras["history"]] == ["status_changed", "changed", "status_changed"]
