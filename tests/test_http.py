"""harvest.sources.http: settings from the environment, identification, throttle, POST for long lists, redaction."""

import logging

import pytest
from urllib3.exceptions import ProtocolError

from harvest.errors import FetchError
from harvest.sources.http import (
    DEFAULT_CTGOV_BASE_URL, DEFAULT_EUTILS_BASE_URL, Client, RedactingFilter, Settings, make_retry, redact,
    register_secret,
)
from harvest.sources.pubmed.fetch import esearch
from servers import EMAIL, FAKE_KEY, EutilsEmulator, articles_in, assert_no_key

TERM = "ketamine AND depression"


@pytest.fixture
def eutils(httpserver):
    arts = articles_in("metapub/tests/fixtures/pmid_xml/38011560.xml")
    return EutilsEmulator(httpserver, {TERM: arts})


def settings_for(emulator, **kw):
    base = dict(eutils_base_url=emulator.base_url, api_key=FAKE_KEY, email=EMAIL, retries=2, backoff=0.01,
                timeout=2.0, no_throttle=True)
    base.update(kw)
    return Settings(**base)


def test_settings_defaults_without_environment():
    s = Settings.from_env({})
    assert s.eutils_base_url == DEFAULT_EUTILS_BASE_URL == "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
    assert s.ctgov_base_url == DEFAULT_CTGOV_BASE_URL == "https://clinicaltrials.gov/api/v2/"
    assert s.api_key is None and s.email is None
    assert s.rate("pubmed") == 3.0 and s.rate("ctgov") == 1.0


def test_settings_from_environment():
    s = Settings.from_env({"EUTILS_BASE_URL": "http://mirror.example/eutils", "CTGOV_BASE_URL": "http://m/ct",
                           "NCBI_API_KEY": FAKE_KEY, "NCBI_EMAIL": EMAIL, "HARVEST_RETRIES": "7"})
    assert s.eutils_base_url == "http://mirror.example/eutils/"  # joined with paths, so a slash is added
    assert s.ctgov_base_url == "http://m/ct/"
    assert s.rate("pubmed") == 10.0  # with a key
    assert s.retries == 7
    assert FAKE_KEY not in repr(s)
    with pytest.raises(FetchError, match="HARVEST_TIMEOUT"):
        Settings.from_env({"HARVEST_TIMEOUT": "soon"})


def test_no_throttle_is_refused_for_non_loopback_hosts(caplog):
    real = Settings(no_throttle=True)
    with caplog.at_level(logging.WARNING, logger="harvest"):
        assert real.rate("pubmed") == 3.0
    assert "ignored" in caplog.text
    assert Settings(eutils_base_url="http://127.0.0.1:9/", no_throttle=True).rate("pubmed") is None
    assert Settings(ctgov_base_url="http://localhost:9/", no_throttle=True).rate("ctgov") is None


def test_identifies_itself_and_sends_key_on_the_wire(eutils):
    client = Client("pubmed", settings_for(eutils))
    result, body = esearch(client, TERM, "ketamine")
    assert result.count == 1 and result.webenv.startswith("MCID_") and result.query_key == "1"
    sent = eutils.log[-1]["params"]
    assert sent["tool"] == "mood-evidence-atlas" and sent["email"] == EMAIL
    assert sent["api_key"] == FAKE_KEY  # NCBI needs it on the wire...
    assert sent["usehistory"] == "y" and sent["term"] == TERM
    assert eutils.log[-1]["method"] == "GET"
    assert client.requests == 1


def test_rate_limit_spaces_requests_without_key(eutils):
    client = Client("pubmed", settings_for(eutils, api_key=None, no_throttle=False))
    for _ in range(4):
        esearch(client, TERM, "ketamine")
    times = [r["time"] for r in eutils.log[-4:]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.30, gaps  # 3 requests/s, evenly spaced


def test_rate_limit_with_key_is_ten_per_second(eutils):
    client = Client("pubmed", settings_for(eutils, no_throttle=False))
    for _ in range(5):
        esearch(client, TERM, "ketamine")
    times = [r["time"] for r in eutils.log[-5:]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.09, gaps
    # Faster than the no-key limit: the limiter is set to NCBI's 10 requests/s with a key (3 without).
    # Said as the configured rate, not a wall-clock bound, which a busy machine would break.
    assert settings_for(eutils, no_throttle=False).rate("pubmed") == 10
    assert settings_for(eutils, api_key=None, no_throttle=False).rate("pubmed") == 3


def test_retry_policy_is_bounded_and_covers_the_documented_statuses():
    retry = make_retry(Settings(retries=3, backoff=0.5))
    assert retry.total == 3 and retry.respect_retry_after_header
    assert {429, 500, 502, 503, 504} <= set(retry.status_forcelist)
    assert {"GET", "POST"} <= set(retry.allowed_methods)
    retry = retry.increment(method="GET", url="/x", error=ProtocolError("Connection reset by peer"))
    assert retry.get_backoff_time() == 0.5  # the first retry waits too (rate limiter is not consulted)


def test_redaction_of_messages_and_log_records():
    register_secret(FAKE_KEY)
    assert FAKE_KEY not in redact(f"GET /x?db=pubmed&api_key={FAKE_KEY}&term=y")
    assert "api_key=REDACTED" in redact("url?api_key=somethingelse")
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1,
                               '%s "%s %s"', ("http://h", "GET", f"/e?api_key={FAKE_KEY}"), None)
    RedactingFilter().filter(record)
    assert FAKE_KEY not in record.getMessage()


def test_key_never_in_logs_or_errors_when_a_request_fails(caplog, httpserver):
    # A port nobody listens on: the connection error message normally quotes the whole URL.
    settings = Settings(eutils_base_url="http://127.0.0.1:9/entrez/eutils/", api_key=FAKE_KEY, retries=1,
                        backoff=0.01, timeout=1, no_throttle=True)
    client = Client("pubmed", settings)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(FetchError) as info:
            esearch(client, TERM, "ketamine")
    message = str(info.value)
    assert message.startswith("ketamine: pubmed esearch.fcgi: connection failed")
    assert "\n" not in message
    assert "api_key=REDACTED" in caplog.text  # the URL was logged, with the key removed
    assert_no_key(message, caplog.text, repr(info.value), str(info.value.__cause__))
