"""One HTTP client per source: base URL, identification, throttle, retries, timeouts, key redaction.

Everything that talks to PubMed or ClinicalTrials.gov goes through `Client`, so the politeness rules
live in one place:

- the request rate is enforced by requests-ratelimiter (pyrate-limiter) mounted as the session's
  transport adapter: NCBI allows 3 requests/s without an API key and 10/s with one; ClinicalTrials.gov
  publishes no limit but its robots.txt asks for one request per second, so we keep to that;
- timeouts, connection errors, 429 (Retry-After honoured), 500/502/503/504 are retried a bounded number
  of times by urllib3's `Retry` with exponential backoff; an error NCBI documents as passing that arrives
  inside a 200 body (rate limit, search backend failure: `check` raises NCBITransientError) is retried
  by the same `Retry` policy - same count, same waits - one level up, because urllib3 decides on the
  status line before the body is read;
- `NCBI_API_KEY` is read from the environment only and is redacted from every log record and every
  error message this module produces (it still goes on the wire, where NCBI needs it).

Environment (all optional):
    EUTILS_BASE_URL   default https://eutils.ncbi.nlm.nih.gov/entrez/eutils/
    CTGOV_BASE_URL    default https://clinicaltrials.gov/api/v2/
    METAPSY_BASE_URL  default https://raw.githubusercontent.com/ (Metapsy databases on GitHub)
    NCBI_API_KEY      raises the NCBI limit from 3 to 10 requests/s
    NCBI_EMAIL        sent with `tool` so NCBI can contact the maintainer
    HARVEST_RETRIES   retries per request (default 4)
    HARVEST_BACKOFF   backoff factor in seconds: waits are f, 2f, 4f, ... (default 1.0)
    HARVEST_TIMEOUT   read timeout in seconds (default 60; connect timeout is min(10, this))
    HARVEST_NO_THROTTLE=1  disables the rate limiter, but only for loopback base URLs (local mirrors,
                      tests, bench/harvest.py); it is ignored, with a warning, for any other host.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from dataclasses import dataclass, field
from itertools import takewhile
from typing import NamedTuple
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests_ratelimiter import LimiterAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from harvest.errors import CTGovError, FetchError, NCBITransientError
from harvest.records.sanitize import one_line

LOG = logging.getLogger("harvest")

DEFAULT_EUTILS_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
DEFAULT_CTGOV_BASE_URL = "https://clinicaltrials.gov/api/v2/"
DEFAULT_METAPSY_BASE_URL = "https://raw.githubusercontent.com/"
TOOL = "mood-evidence-atlas"
USER_AGENT = f"{TOOL}/0.1 (+https://github.com/; evidence harvester)"

# Requests per second.  NCBI: documented limits (NBK25497).  ClinicalTrials.gov: no published limit,
# robots.txt has Crawl-delay: 1.
NCBI_RATE = 3.0
NCBI_RATE_WITH_KEY = 10.0
CTGOV_RATE = 1.0

# E-utilities documentation: use POST for more than ~200 UIDs; URLs much beyond 2 kB are refused by
# some proxies, so long query terms go by POST as well.
MAX_GET_QUERY_CHARS = 1800

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_KEY_PARAM_RE = re.compile(r"(api_key=)[^&\s'\"]+", re.IGNORECASE)


def _env_number(environ, name: str, default: float, kind=float):
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise FetchError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise FetchError(f"{name}={raw!r} must not be negative")
    return value


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RawResponse(NamedTuple):
    """One accepted reply: kind ('esearch', 'efetch', 'studies'), the body bytes, and, for replies that
    announce it, the total number of records the query matches (used for progress only).  `parsed` is
    the parser's result when the fetcher already had to parse the reply (ClinicalTrials.gov pages, whose
    next-page token is inside the JSON), so nobody parses it twice."""

    kind: str
    body: bytes
    total: int | None = None
    parsed: object = None


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the clients, read once from the environment."""

    eutils_base_url: str = DEFAULT_EUTILS_BASE_URL
    ctgov_base_url: str = DEFAULT_CTGOV_BASE_URL
    metapsy_base_url: str = DEFAULT_METAPSY_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    email: str | None = None
    retries: int = 4
    backoff: float = 1.0
    timeout: float = 60.0
    no_throttle: bool = False

    @classmethod
    def from_env(cls, environ=None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            eutils_base_url=_with_slash(env.get("EUTILS_BASE_URL") or DEFAULT_EUTILS_BASE_URL),
            ctgov_base_url=_with_slash(env.get("CTGOV_BASE_URL") or DEFAULT_CTGOV_BASE_URL),
            metapsy_base_url=_with_slash(env.get("METAPSY_BASE_URL") or DEFAULT_METAPSY_BASE_URL),
            api_key=env.get("NCBI_API_KEY") or None,
            email=env.get("NCBI_EMAIL") or None,
            retries=_env_number(env, "HARVEST_RETRIES", 4, int),
            backoff=_env_number(env, "HARVEST_BACKOFF", 1.0),
            timeout=_env_number(env, "HARVEST_TIMEOUT", 60.0),
            no_throttle=env.get("HARVEST_NO_THROTTLE", "") not in ("", "0"),
        )

    def base_url(self, source: str) -> str:
        if source == "pubmed":
            return self.eutils_base_url
        if source == "ctgov":
            return self.ctgov_base_url
        if source == "metapsy":
            return self.metapsy_base_url
        raise ValueError(f"unknown source {source!r}")

    def rate(self, source: str) -> float | None:
        """Requests per second for a source, or None when throttling is off (loopback only)."""
        if self.no_throttle:
            if _is_loopback(self.base_url(source)):
                return None
            LOG.warning("HARVEST_NO_THROTTLE ignored for %s: only loopback hosts may be unthrottled",
                        urlsplit(self.base_url(source)).hostname)
        if source == "pubmed":
            return NCBI_RATE_WITH_KEY if self.api_key else NCBI_RATE
        return CTGOV_RATE

    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,) if self.api_key else ()


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


# --- redaction -------------------------------------------------------------------------------------

_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a value that must never appear in logs or messages (the NCBI API key)."""
    if value:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Remove API keys from text: any `api_key=...` parameter and every registered secret value."""
    text = _KEY_PARAM_RE.sub(r"\1REDACTED", text)
    for secret in _SECRETS:
        text = text.replace(secret, "REDACTED")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a log record so neither its message nor its traceback carries an API key.

    Filters on a logger only see records created on that very logger, so `install_redaction` puts one
    on every logger the HTTP stack writes to (and on the CLI's handler as a last line of defence).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; keep the record
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        return True


_FILTER = RedactingFilter()
_LOGGERS = (
    "harvest",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "requests_ratelimiter",
    "requests_ratelimiter.requests_ratelimiter",
    "pyrate_limiter",
)


def install_redaction(*handlers: logging.Handler) -> None:
    names = set(_LOGGERS) | {
        name for name in logging.Logger.manager.loggerDict
        if name.split(".")[0] in {"harvest", "urllib3", "requests", "requests_ratelimiter", "pyrate_limiter"}
    }
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


# --- retry policy ----------------------------------------------------------------------------------

class PoliteRetry(Retry):
    """urllib3 Retry whose first retry also waits.

    Stock urllib3 retries the first failure immediately, which would bypass the rate limiter (retries
    happen inside the adapter, after the limiter let the request through).  Here the n-th consecutive
    retry waits backoff_factor * 2**(n-1); a Retry-After header, when present, wins (urllib3 handles
    that before consulting the backoff).
    """

    def get_backoff_time(self) -> float:
        errors = len(list(takewhile(lambda h: h.redirect_location is None, reversed(self.history))))
        if errors < 1:
            return 0.0
        return float(max(0.0, min(self.backoff_max, self.backoff_factor * (2 ** (errors - 1)))))


def make_retry(settings: Settings) -> Retry:
    return PoliteRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        redirect=3,
        status_forcelist=RETRY_STATUSES,
        # E-utilities POSTs (long terms) are reads; retrying them is safe.
        allowed_methods=frozenset({"GET", "POST"}),
        backoff_factor=settings.backoff,
        backoff_max=60.0,
        respect_retry_after_header=True,
        retry_after_max=120,
        # Hand back the last response instead of raising, so the error names the status and body.
        raise_on_status=False,
    )


def make_session(source: str, settings: Settings | None = None) -> requests.Session:
    """The one place sessions are made: throttle + retry adapter mounted on the source's base URL."""
    settings = settings or Settings.from_env()
    register_secret(settings.api_key)
    install_redaction()
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    rate = settings.rate(source)
    retry = make_retry(settings)
    if rate is None:
        adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    else:
        # burst = 1/rate makes the window one request long: requests are evenly spaced (e.g. 333 ms
        # apart without a key) rather than allowed in bursts of three.
        adapter = LimiterAdapter(per_second=rate, burst=1.0 / rate, per_host=True, max_retries=retry)
    base = settings.base_url(source)
    split = urlsplit(base)
    session.mount(f"{split.scheme}://{split.netloc}/", adapter)
    return session


# --- client ----------------------------------------------------------------------------------------

def short_line(text: str, limit: int = 300) -> str:
    """One line of at most `limit` characters, for an error message quoting a reply."""
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Response:
    """What the fetch layer needs from an HTTP reply."""

    status: int
    body: bytes
    headers: dict


class Client:
    """Requests to one source, with identification, request counting and one-line errors."""

    def __init__(self, source: str, settings: Settings | None = None, session: requests.Session | None = None):
        self.source = source
        self.settings = settings or Settings.from_env()
        self.base_url = self.settings.base_url(source)
        self.session = session or make_session(source, self.settings)
        self.requests = 0
        self.timeout = (min(10.0, self.settings.timeout), self.settings.timeout)

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _identify(self, params: dict) -> dict:
        if self.source != "pubmed":
            return dict(params)
        out = dict(params)
        out["tool"] = TOOL
        if self.settings.email:
            out["email"] = self.settings.email
        if self.settings.api_key:
            out["api_key"] = self.settings.api_key
        return out

    def request(self, path: str, params: dict, label: str, *, check=None) -> Response:
        """GET (or POST for long queries) `path` under the base URL.

        Returns the final 2xx response.  Anything else, after retries, raises FetchError (CTGovError for a
        ClinicalTrials.gov 400) with one redacted line that names `label` (the topic).  `check(body)`
        may raise an error for a 200 body; an NCBITransientError is retried (bounded, with backoff) and
        re-raised when the retries are spent, any other error is raised at once.
        """
        url = urljoin(self.base_url, path)
        retry = make_retry(self.settings)
        while True:
            reply = self._send(url, path, params, label)
            if check is None:
                return reply
            try:
                check(reply.body)
            except NCBITransientError as exc:
                try:
                    retry = retry.increment("GET", url)
                except MaxRetryError:
                    raise type(exc)(f"{exc} (after {self.settings.retries} retries)", kind=exc.kind) from None
                LOG.info("%s: %s; retrying", label, redact(str(exc)))
                retry.sleep()
                continue
            return reply

    def _send(self, url: str, path: str, params: dict, label: str) -> Response:
        wire = self._identify(params)
        post = len(urlencode(wire)) > MAX_GET_QUERY_CHARS
        what = f"{label}: {self.source} {path}"
        self.requests += 1
        LOG.debug("%s %s %s", "POST" if post else "GET", path, redact(urlencode(wire)))
        try:
            if post:
                reply = self.session.post(url, data=wire, timeout=self.timeout)
            else:
                reply = self.session.get(url, params=wire, timeout=self.timeout)
        except requests.exceptions.Timeout as exc:
            raise FetchError(redact(f"{what}: timed out after {self.settings.retries} retries ({_reason(exc)})"),
                             kind="network") from None
        except requests.exceptions.ConnectionError as exc:
            raise FetchError(redact(f"{what}: connection failed after {self.settings.retries} retries ({_reason(exc)})"),
                             kind="network") from None
        except requests.exceptions.RequestException as exc:
            raise FetchError(redact(f"{what}: request failed: {_reason(exc)}"), kind="network") from None
        body = reply.content
        if 200 <= reply.status_code < 300:
            return Response(reply.status_code, body, dict(reply.headers))
        text = short_line(body.decode("utf-8", "replace")) or reply.reason or ""
        if self.source == "ctgov" and reply.status_code == 400:
            raise CTGovError(redact(f"{what}: ClinicalTrials.gov rejected the request (400): {text}"))
        retried = " after retries" if reply.status_code in RETRY_STATUSES else ""
        kind = ("rate limit" if reply.status_code == 429 else
                "server error" if reply.status_code >= 500 else "query rejected")
        raise FetchError(redact(f"{what}: HTTP {reply.status_code}{retried}: {text}"), kind=kind)


def _reason(exc: Exception) -> str:
    """The innermost useful cause of a requests exception, on one line, without the URL."""
    cause = exc
    while True:
        inner = getattr(cause, "reason", None) or (cause.args[0] if cause.args and isinstance(cause.args[0], Exception) else None)
        if inner is None or inner is cause:
            break
        cause = inner
    text = str(cause)
    # urllib3 prefixes "HTTPConnectionPool(host=..., port=...): Max retries exceeded with url: /...?..."
    text = re.sub(r"with url: \S+", "", text)
    return short_line(redact(f"{type(cause).__name__}: {text}"), 200)
