"""harvest.sources.ctgov.fetch against real study objects in the OpenAPI /studies page wrapper."""

import datetime as dt
import json

import pytest

from harvest.errors import CTGovError, ParseError
from harvest.sources.ctgov.fetch import fetch_ctgov, incremental_filter, study_params
from harvest.sources.ctgov.parse import parse_ctgov
from harvest.sources.http import Client, Settings
from servers import CtgovEmulator, Fault, last_update, nct_of, real_studies, studies_page

QUERY = {"query.intr": "ketamine OR esketamine", "query.cond": "depression"}


@pytest.fixture
def studies():
    return real_studies()  # 106 real v2 study objects


@pytest.fixture
def ctgov(httpserver, studies):
    return CtgovEmulator(httpserver, {frozenset(QUERY.items()): studies})


def client_for(emulator):
    return Client("ctgov", Settings(ctgov_base_url=emulator.base_url, retries=1, backoff=0.01, timeout=2,
                                    no_throttle=True))


def test_follows_page_tokens_repeating_first_page_params(ctgov, studies):
    client = client_for(ctgov)
    pages = list(fetch_ctgov(client, QUERY, "ketamine", page_size=40))
    assert len(pages) == 3 and client.requests == 3
    first, *later = [r["params"] for r in ctgov.log]
    assert first["countTotal"] == "true" and "pageToken" not in first
    assert first["pageSize"] == "40" and first["query.intr"] == QUERY["query.intr"]
    for params in later:
        assert "countTotal" not in params and params["pageToken"]
        assert {k: v for k, v in params.items() if k != "pageToken"} == {
            k: v for k, v in first.items() if k != "countTotal"}
    assert ctgov.violations == []
    parsed = [parse_ctgov(p.body, f"page {n}") for n, p in enumerate(pages, 1)]
    assert parsed[0].total_count == 106 and pages[0].total == 106
    assert parsed[-1].next_page_token is None
    assert [r["nct_id"] for page in parsed for r in page.records] == [nct_of(s) for s in studies]


def test_default_page_size_is_the_api_maximum(ctgov):
    list(fetch_ctgov(client_for(ctgov), QUERY, "ketamine"))
    assert ctgov.log[0]["params"]["pageSize"] == "1000" and len(ctgov.log) == 1


def test_incremental_filter_on_last_update_post_date(ctgov, studies):
    since = dt.date(2022, 1, 1)
    pages = list(fetch_ctgov(client_for(ctgov), QUERY, "ketamine", since=since))
    assert ctgov.log[0]["params"]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2022-01-01,MAX]"
    got = [r["nct_id"] for p in pages for r in parse_ctgov(p.body, "p").records]
    assert got == [nct_of(s) for s in studies if last_update(s) >= "2022-01-01"]
    assert 0 < len(got) < len(studies)


def test_incremental_filter_combines_with_an_existing_advanced_filter():
    params = study_params({"query.intr": "psilocybin", "filter.advanced": "AREA[Phase]PHASE2"}, dt.date(2024, 5, 1))
    assert params["filter.advanced"] == f"(AREA[Phase]PHASE2) AND {incremental_filter(dt.date(2024, 5, 1))}"


def test_400_ends_the_topic_with_the_api_error_text(ctgov):
    # The spec says a 400 carries a text/plain errorMessage; no real one was recorded, so the text is ours.
    ctgov.fail("studies", Fault(status=400, body=b"unknown parameter: query.bogus"))
    with pytest.raises(CTGovError) as info:
        list(fetch_ctgov(client_for(ctgov), QUERY, "tms"))
    assert str(info.value) == ("tms: ctgov studies: ClinicalTrials.gov rejected the request (400): "
                               "unknown parameter: query.bogus")


def test_malformed_json_page_is_a_parse_error(ctgov, studies):
    body = studies_page(studies[:3], None, 3)
    ctgov.fail("studies", Fault(status=200, body=body[: len(body) // 2], content_type="application/json"))
    with pytest.raises(ParseError, match=r"^pgx: ClinicalTrials.gov page 1: malformed JSON"):
        list(fetch_ctgov(client_for(ctgov), QUERY, "pgx"))


def test_a_repeated_page_token_stops_the_loop(ctgov, studies):
    looping = studies_page(studies[:2], "abracadabra")  # the spec's own example token, served twice
    ctgov.fail("studies", Fault(status=200, body=looping, content_type="application/json"),
               Fault(status=200, body=looping, content_type="application/json"))
    with pytest.raises(CTGovError, match="repeated page token"):
        list(fetch_ctgov(client_for(ctgov), QUERY, "tms"))


def test_fields_asked_for_are_all_the_parser_reads():
    """Every real study parses to the same record whole and cut down to the fetcher's FIELDS (as the API
    cuts it), and the cut-down page is much smaller than the whole one."""
    import json

    from harvest.sources.ctgov.fetch import FIELDS
    from harvest.sources.ctgov.parse import parse_ctgov
    from servers import real_studies, select_fields

    studies = real_studies()
    whole = json.dumps({"studies": studies}).encode()
    cut = json.dumps({"studies": [select_fields(s, list(FIELDS)) for s in studies]}).encode()
    assert parse_ctgov(cut, "cut").records == parse_ctgov(whole, "whole").records
    assert any(r["sponsor"] and r["primary_outcomes"] and r["enrollment_type"]
               for r in parse_ctgov(cut, "cut").records)
    assert len(cut) < len(whole) / 2


def test_pages_ask_only_for_the_parsers_fields(ctgov, studies):
    from harvest.sources.ctgov.fetch import FIELDS

    client = Client("ctgov", Settings(ctgov_base_url=ctgov.base_url, no_throttle=True, retries=0))
    pages = list(fetch_ctgov(client, QUERY, "tms", page_size=40))
    assert all(r["params"]["fields"] == ",".join(FIELDS) for r in ctgov.log)
    assert all(page.parsed is not None and page.parsed.records for page in pages)
