"""Downloads (gzip CSV, JSON Lines, RIS, BibTeX; JSON Schema) and each card page's own citations, of a real built site."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import jsonschema
import pytest
from bs4 import BeautifulSoup

from harvest.cards.card import write_card
from harvest.cards.citations import bibtex_key, to_bibtex, to_ris
from harvest.records.record import FIELDS
from sitebuild import CONF, ROOT, derive, real_records
from test_citations import HOSTILE_TITLE, pain_review
from test_feeds import SITEURL, extras_sites

pytestmark = pytest.mark.slow

sys.path.insert(0, str(ROOT / "plugins"))
from exports import CSV_COLUMNS, csv_row, safe_cell  # noqa: E402  (the plugin's own functions)

SCHEMA = json.loads((ROOT / "harvest" / "records" / "record.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def site():
    return extras_sites()


def read_gz(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def read_jsonl(path: Path) -> list[dict]:
    text = read_gz(path)
    assert text.endswith("\n") or not text
    return [json.loads(line) for line in text.splitlines()]


def read_csv(path):
    text = read_gz(path)
    assert not text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_schema_mirrors_record_fields():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert tuple(SCHEMA["properties"]) == FIELDS
    assert SCHEMA["required"] == list(FIELDS)
    assert SCHEMA["additionalProperties"] is False
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_json_export_validates_and_keeps_field_order(site):
    records = read_jsonl(site["pub"] / "downloads" / "all.jsonl.gz")
    assert isinstance(records, list) and len(records) == len(site["records"])
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for record in records:
        errors = [e.message for e in validator.iter_errors(record)]
        assert not errors, (record["id"], errors)
        assert tuple(record) == FIELDS
    by_id = {r["id"]: r for r in records}
    assert by_id["pubmed:32525788"]["doi"] == "10.2174/1874467213666200611142438"
    assert "pubmed:92000001" not in by_id  # hidden by the editor
    # Newest first, ties by id: the order readers see, and the same bytes every build.
    dates = [r["date"] or "" for r in records]
    assert dates == sorted(dates, reverse=True)
    served = (site["pub"] / "downloads" / "record.schema.json").read_bytes()
    assert served == (ROOT / "harvest" / "records" / "record.schema.json").read_bytes()


def test_each_topics_records_are_found_in_every_format(site):
    """Data files are site-wide, filtered by their topics column/field; citation files are per topic."""
    rows = read_csv(site["pub"] / "downloads" / "all.csv.gz")
    column = rows[0].index("topics")
    records = read_jsonl(site["pub"] / "downloads" / "all.jsonl.gz")
    for topic in site["topics"]:
        want = sorted(r["id"] for r in site["records"] if topic.slug in r["topics"])
        assert sorted(r["id"] for r in records if topic.slug in r["topics"]) == want
        assert sorted(row[0] for row in rows[1:] if topic.slug in row[column].split("; ")) == want
        ris = read_gz(site["pub"] / "downloads" / f"{topic.slug}.ris.gz")
        assert ris.count("TY  - ") == len(want)
        bib = read_gz(site["pub"] / "downloads" / f"{topic.slug}.bib.gz")
        assert len(re.findall(r"^@(article|misc)\{", bib, re.MULTILINE)) == len(want)
        # each of the topic's cards, by its own URL (the UR line of its RIS)
        urls = set(re.findall(r"^UR  - (\S+)\r$", ris, re.MULTILINE))
        assert {row[CSV_COLUMNS.index("url")] for row in rows[1:] if row[0] in want} <= urls


def test_csv_columns_rows_and_values(site):
    rows = read_csv(site["pub"] / "downloads" / "all.csv.gz")
    header, body = rows[0], rows[1:]
    assert tuple(header) == CSV_COLUMNS
    assert header[:8] == ["id", "source", "pmid", "nct_id", "doi", "pmcid", "title", "authors"]
    assert len(body) == len(site["records"])
    assert all(len(row) == len(header) for row in body)
    row = dict(zip(header, next(r for r in body if r[0] == "pubmed:32525788")))
    assert row["authors"] == "Afridi B; Khan H; Akkol EK; Aschner M"
    assert row["year"] == "2021" and row["design"] == "review" and row["evidence_level"] == "5"
    assert row["url"] == f"{SITEURL}/evidence/pubmed/32525788.html"
    assert row["abstract"].startswith("BACKGROUND: Pain is often flammable")
    trial = dict(zip(header, next(r for r in body if r[0] == "ctgov:NCT00973089")))
    assert trial["status"] == "WITHDRAWN" and trial["has_results"] == "false" and trial["pmid"] == ""
    assert read_gz(site["pub"] / "downloads" / "all.csv.gz").count("\r\n") >= len(rows)


def test_csv_neutralises_formulas_and_keeps_hostile_text(site):
    rows = read_csv(site["pub"] / "downloads" / "all.csv.gz")
    header = rows[0]
    hostile = dict(zip(header, next(r for r in rows if r[0] == site["hostile"]["id"])))
    # The title starts with "Evil =1+1": no formula prefix; the text is kept as it is.
    assert hostile["title"].startswith("Evil =1+1 <script>alert(1)</script>")
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_csv_formula_cells_get_an_apostrophe():
    assert safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert [safe_cell(v) for v in ("+1", "-1", "@SUM(A1)", "\tx", "ok", 7)] == ["'+1", "'-1", "'@SUM(A1)", "'\tx", "ok", 7]
    record = derive(pain_review(), title='=cmd|"/c calc"!A1', authors=["@Evil X", "Smith J"])
    row = csv_row(record, "/evidence/pubmed/32525788.html")
    assert row[6] == '\'=cmd|"/c calc"!A1' and row[7] == "'@Evil X; Smith J"


def test_ris_and_bibtex_downloads(site):
    """Every record is in its topics' citation files: one RIS record and one BibTeX entry each, with
    keys unique within a file (what a reference manager imports)."""
    cited = set()
    for topic in site["topics"]:
        want = {r["id"] for r in site["records"] if topic.slug in r["topics"]}
        ris = read_gz(site["pub"] / "downloads" / f"{topic.slug}.ris.gz")
        assert ris.count("TY  - ") == len(want) == ris.count("ER  - \r\n")
        bib = read_gz(site["pub"] / "downloads" / f"{topic.slug}.bib.gz")
        keys = re.findall(r"^@(?:article|misc)\{([^,]+),$", bib, re.MULTILINE)
        assert len(keys) == len(want) and len(set(keys)) == len(keys)
        cited |= want
    assert cited == {r["id"] for r in site["records"]}  # no record lacks a citation file
    hostile = read_gz(site["pub"] / "downloads" / f"{site['hostile']['topics'][0]}.bib.gz")
    assert "<script>" not in hostile and "\\textless{}script\\textgreater{}" in hostile


def card_citations(page: Path) -> dict[str, tuple[str, str]]:
    """{format: (file name, text)} of the citations a card page saves, unpacked as
    theme/static/js/cite.js unpacks them (one zlib stream in base64: RIS bytes, then BibTeX)."""
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    holder = soup.select_one(".cite[data-cite]")
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", holder["data-cite"])  # nothing HTML could read
    data = zlib.decompress(base64.b64decode(holder["data-cite"]))
    end = int(holder["data-cite-ris-bytes"])
    parts = {"ris": data[:end], "bib": data[end:]}
    out = {}
    for button in holder.select("button[data-cite-part]"):
        name = button["data-cite-file"]
        out[name.rsplit(".", 1)[1]] = (name, parts[button["data-cite-part"]].decode("utf-8"))
    return out


def test_card_citations_are_the_formatters_text_in_the_page(site):
    page = site["pub"] / "evidence" / "pubmed" / "32525788.html"
    cites = card_citations(page)
    record = next(r for r in site["records"] if r["id"] == "pubmed:32525788")
    url = f"{SITEURL}/evidence/pubmed/32525788.html"
    name, ris = cites["ris"]
    assert name == "evidence-pubmed-32525788.ris"
    # Byte for byte harvest/cards/citations.py's text, CR LF line ends included.
    assert ris == to_ris(record, url)
    assert "AU  - Afridi, B.\r\n" in ris and "DO  - 10.2174/1874467213666200611142438\r\n" in ris
    assert "PY  - 2021\r\n" in ris and f"UR  - {url}\r\n" in ris
    assert ris in read_gz(site["pub"] / "downloads" / "tms.ris.gz")  # the card's citation is the one in the downloads
    name, bib = cites["bib"]
    assert name == "evidence-pubmed-32525788.bib"
    assert bib == to_bibtex(record, bibtex_key(record), url)
    assert bib.startswith("@article{afridi2021pain,") and "doi = {10.2174/1874467213666200611142438}" in bib
    trial = card_citations(site["pub"] / "evidence" / "ctgov" / "NCT00973089.html")
    assert trial["ris"][1].startswith("TY  - ELEC")
    # no file per card: the page carries its citations
    assert not list(site["pub"].glob("evidence/*/*.ris")) and not list(site["pub"].glob("evidence/*/*.bib"))


def test_card_page_offers_its_topics_bulk_citations(site):
    """What a reader without JavaScript gets: the RIS and BibTeX of every card of the card's topics."""
    page = BeautifulSoup((site["pub"] / "evidence" / "pubmed" / "32525788.html").read_text("utf-8"), "html.parser")
    assert page.select_one(".cite[data-cite]").has_attr("hidden")  # the buttons need cite.js
    hrefs = [a["href"] for a in page.select(".cite-bulk a")]
    assert hrefs == [f"{SITEURL}/downloads/tms.ris.gz", f"{SITEURL}/downloads/tms.bib.gz", f"{SITEURL}/downloads/"]
    for href in hrefs[:2]:
        assert (site["pub"] / href.removeprefix(f"{SITEURL}/")).is_file()


def test_hostile_title_stays_inside_its_citation(site):
    page = site["pub"] / "evidence" / "pubmed" / f"{site['hostile']['pmid']}.html"
    html = page.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html  # escaped everywhere
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.select("script:not([src]):not([type='application/ld+json'])")  # no planted script element
    ris = card_citations(page)["ris"][1]
    title = " ".join(site["hostile"]["title"].split())
    assert title.startswith(HOSTILE_TITLE)
    assert f"TI  - {title}\r\n" in ris and ris.count("ER  - ") == 1  # the title cannot end the record
    assert ris == to_ris(site["hostile"], f"{SITEURL}/evidence/pubmed/{site['hostile']['pmid']}.html")


def test_downloads_are_deterministic(site):
    """The JSON Lines downloads carry no URLs of this build, and gzip no name or time: two builds give
    the same bytes."""
    for name in ("all.jsonl.gz", "record.schema.json"):
        assert (site["dev"] / "downloads" / name).read_bytes() == (site["pub"] / "downloads" / name).read_bytes()
    head = (site["pub"] / "downloads" / "all.csv.gz").read_bytes()[:10]
    assert head[:4] == b"\x1f\x8b\x08\x00" and head[4:8] == b"\0\0\0\0"  # no FNAME flag, mtime 0


def test_downloads_are_site_wide_data_and_per_topic_citations(site):
    """Each record once per format: CSV and JSON Lines for the whole site, RIS and BibTeX per topic
    (an empty topic's files too, so links to them keep working), all gzip-compressed, and nothing else."""
    names = sorted(p.name for p in (site["pub"] / "downloads").iterdir())
    want = ["all.csv.gz", "all.jsonl.gz", "index.html", "record.schema.json"]
    want += [f"{t.slug}{suffix}" for t in site["topics"] for suffix in (".ris.gz", ".bib.gz")]
    assert names == sorted(want)


def test_scope_setting_merges_per_format_and_refuses_unknown_values():
    from exports import DEFAULTS, file_names, settings_of

    # the keys that came before the scope still work, with the default scope
    options = settings_of({"EVIDENCE_EXPORTS": {"formats": ("csv", "ris"), "compresslevel": 1}})
    assert options["compresslevel"] == 1 and options["scope"] == DEFAULTS["scope"]
    options = settings_of({"EVIDENCE_EXPORTS": {"scope": {"csv": "both"}}})
    sets = [("all", "All topics", [0]), ("tms", "TMS", [0])]
    assert file_names(sets, options) == {"csv": ["all.csv.gz", "tms.csv.gz"], "jsonl": ["all.jsonl.gz"],
                                         "ris": ["tms.ris.gz"], "bib": ["tms.bib.gz"]}
    with pytest.raises(ValueError, match=r"^EVIDENCE_EXPORTS: scope of 'bib' is 'topics', not one of site, topic, both$"):
        settings_of({"EVIDENCE_EXPORTS": {"scope": {"bib": "topics"}}})


@pytest.mark.parametrize("formats,line", [
    (["csv", "xlsx"], "ERROR: EVIDENCE_EXPORTS: unknown format 'xlsx' (known: csv, jsonl, ris, bib)"),
    ("csv", "ERROR: EVIDENCE_EXPORTS: formats is 'csv', not a list of formats (known: csv, jsonl, ris, bib)"),
])
def test_a_bad_exports_setting_stops_the_build_with_one_line_naming_it(tmp_path, formats, line):
    content = tmp_path / "content"
    (content / "evidence").mkdir(parents=True)
    write_card(content, real_records("metapub/tests/fixtures/pmid_xml/24794070.xml")[0])
    setting = json.dumps({"formats": formats})
    proc = subprocess.run([sys.executable, "-m", "pelican", str(content), "-o", str(tmp_path / "out"),
                           "-s", str(CONF), "--fatal", "errors", "-e", f"EVIDENCE_EXPORTS={setting}",
                           f"CACHE_PATH={json.dumps(str(tmp_path / 'cache'))}"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [line]
    assert not (tmp_path / "out").exists()
