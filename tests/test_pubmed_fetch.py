"""harvest.sources.pubmed.fetch against real E-utilities bodies: history-server batching, incremental dates,
date-range splitting past 10,000 hits, and NCBI errors hidden in 200 replies."""

import datetime as dt
import math

import pytest
from werkzeug.wrappers import Response

from harvest.errors import NCBIError
from harvest.sources.http import Client, Settings
from harvest.sources.pubmed.fetch import EARLIEST, check_ncbi_body, fetch_pubmed, parse_esearch
from harvest.sources.pubmed.parse import parse_pubmed
from servers import (FAKE_KEY, EutilsEmulator, article_set, articles_in, cassette, esearch_body, pmid_of,
                     real_bytes)

TERM = '"Depression"[mh] AND therapy'
TODAY = dt.date(2025, 6, 30)


def client_for(emulator):
    return Client("pubmed", Settings(eutils_base_url=emulator.base_url, api_key=FAKE_KEY, retries=1,
                                     backoff=0.01, timeout=2, no_throttle=True))


@pytest.fixture
def corpus():
    return articles_in("net-synergy-pubmedparser/data/pubmed21n1004.xml.gz")  # 88 real articles


def test_real_esearch_with_history_is_read():
    result = parse_esearch(real_bytes("biopython-sdist-1.88/Tests/Entrez/esearch2.xml"), "tms")
    assert (result.count, result.webenv, result.query_key) == (42249, "MCID_6927d6e7fee3e90f880ec190", "1")
    recorded = cassette("test_esearch")[0]["body"]
    assert parse_esearch(recorded, "tms").webenv == "MCID_66198254cf40a865a76b5e71"


def test_esearch_error_list_names_topic_and_ncbi_text():
    with pytest.raises(NCBIError) as info:
        parse_esearch(real_bytes("biopython-sdist-1.88/Tests/Entrez/esearch8.xml"), "psilocybin")
    assert str(info.value) == "psilocybin: NCBI error from esearch: PhraseNotFound: abcXYZ"


def test_error_element_in_200_body():
    with pytest.raises(NCBIError, match=r"^pgx: NCBI error from epost: Invalid db name specified: nothing$"):
        check_ncbi_body(real_bytes("biopython-sdist-1.88/Tests/Entrez/epost2.xml"), "pgx", "epost")
    check_ncbi_body(real_bytes("biopython-sdist-1.88/Tests/Entrez/espell.xml"), "pgx", "espell")  # empty <ERROR/>
    check_ncbi_body(real_bytes("biopython-sdist-1.88/Tests/Entrez/epost1.xml"), "pgx", "epost")


def test_json_error_in_200_body():
    body = real_bytes("astrocite-esummary/packages/astrocite-eutils/src/__tests__/fixtures/pubmed.json")
    with pytest.raises(NCBIError) as info:
        check_ncbi_body(body, "tms", "esummary")
    assert str(info.value) == "tms: NCBI error from esummary: Invalid uid whoopsthisisanerror at position=49"


def test_batches_from_history_server(httpserver, corpus):
    eutils = EutilsEmulator(httpserver, {TERM: corpus})
    client = client_for(eutils)
    replies = list(fetch_pubmed(client, TERM, "tms", batch=25, today=TODAY))
    assert [r.kind for r in replies] == ["esearch"] + ["efetch"] * 4
    assert client.requests == 1 + math.ceil(88 / 25)  # the floor: one esearch, then full batches
    search = eutils.requests_to("esearch.fcgi")[0]["params"]
    assert search["usehistory"] == "y" and search["retmax"] == "0" and "mindate" not in search
    fetches = [r["params"] for r in eutils.requests_to("efetch.fcgi")]
    assert [f["retstart"] for f in fetches] == ["0", "25", "50", "75"]
    assert all(f["retmax"] == "25" and f["WebEnv"].startswith("MCID_") and f["query_key"] == "1" for f in fetches)
    pmids = [r["pmid"] for reply in replies[1:] for r in parse_pubmed(reply.body, "x").records]
    assert pmids == [pmid_of(a) for a in corpus]


def test_incremental_asks_for_records_revised_since(httpserver, corpus):
    eutils = EutilsEmulator(httpserver, {TERM: corpus})
    client = client_for(eutils)
    replies = list(fetch_pubmed(client, TERM, "tms", since=dt.date(2020, 1, 1), today=TODAY))
    params = eutils.requests_to("esearch.fcgi")[0]["params"]
    assert (params["datetype"], params["mindate"], params["maxdate"]) == ("mdat", "2020/01/01", "2025/06/30")
    got = {r["pmid"] for reply in replies if reply.kind == "efetch" for r in parse_pubmed(reply.body, "x").records}
    assert got and len(got) < len(corpus)  # only the revised ones (the emulator filters on DateRevised)


def test_more_than_10000_hits_are_split_by_date(httpserver):
    # Count for a date range is proportional to its length: 25,000 over the whole span, so halves hold
    # 12,500 (still too many) and quarters 6,250.  efetch answers with the real (empty) article-set
    # envelope; what matters is which requests the client makes.
    span = (TODAY - EARLIEST).days + 1
    ranges = []

    def esearch(request):
        p = request.args
        if "mindate" in p:
            lo = dt.datetime.strptime(p["mindate"], "%Y/%m/%d").date()
            hi = dt.datetime.strptime(p["maxdate"], "%Y/%m/%d").date()
            count = round(25_000 * ((hi - lo).days + 1) / span)
            ranges.append((lo, hi, count, p["datetype"]))
        else:
            count = 25_000
        return Response(esearch_body(count, f"MCID_{len(ranges)}"), content_type="text/xml")

    fetched = []

    def efetch(request):
        fetched.append((request.args["WebEnv"], int(request.args["retstart"])))
        return Response(article_set([]), content_type="text/xml")

    httpserver.expect_request("/eutils/esearch.fcgi").respond_with_handler(esearch)
    httpserver.expect_request("/eutils/efetch.fcgi").respond_with_handler(efetch)
    client = Client("pubmed", Settings(eutils_base_url=httpserver.url_for("/eutils/"), no_throttle=True))
    replies = list(fetch_pubmed(client, TERM, "light-therapy", batch=5000, today=TODAY))
    leaves = [r for r in ranges if r[2] <= 10_000]
    assert len(leaves) == 4 and all(r[3] == "edat" for r in ranges)
    assert leaves[0][0] == EARLIEST and leaves[-1][1] == TODAY
    for a, b in zip(leaves, leaves[1:]):
        assert b[0] == a[1] + dt.timedelta(days=1)  # no gap, no overlap
    assert sum(r[2] for r in leaves) == pytest.approx(25_000, abs=2)
    assert all(start < 10_000 for _env, start in fetched)
    assert len(fetched) == sum(math.ceil(r[2] / 5000) for r in leaves)
    assert sum(1 for r in replies if r.kind == "esearch") == 1 + len(ranges)


def test_too_many_hits_on_one_day_is_an_error(httpserver):
    httpserver.expect_request("/eutils/esearch.fcgi").respond_with_handler(
        lambda request: Response(esearch_body(20_000, "MCID_x"), content_type="text/xml"))
    client = Client("pubmed", Settings(eutils_base_url=httpserver.url_for("/eutils/"), no_throttle=True))
    with pytest.raises(NCBIError, match="^ketamine: 20000 records share the mdat 2025-06-30"):
        list(fetch_pubmed(client, TERM, "ketamine", since=TODAY, today=TODAY))
