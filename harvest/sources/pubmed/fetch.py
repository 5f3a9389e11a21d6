"""PubMed over NCBI E-utilities: esearch on the history server, then efetch in batches.  Fetch only.

The generators yield `RawResponse`s (the reply bytes, untouched) so that the caller can keep them in the
raw cache and hand them to the pure parser; nothing here interprets an article.

- esearch runs with usehistory=y and retmax=0: the ids stay on NCBI's history server and efetch pages
  through them by WebEnv/query_key, so a topic costs 1 + ceil(hits / batch) requests.
- ESearch/EFetch cannot reach past the 10,000th record of a query, so a query with more hits is split
  into date ranges (mindate/maxdate on the Entrez date, or on the modification date for incremental
  runs) by bisection until every range holds at most 10,000.
- NCBI sometimes answers 200 with an error inside: a JSON {"error": ...} (rate limit), an <ERROR>
  element, or an esearch ErrorList.  Those become NCBIError naming the topic and NCBI's text.  The
  ones NCBI documents as passing - the over-limit reply {"error":"API rate limit exceeded"} (NBK25497)
  and a failed search backend ("Search Backend failed: ...", "temporarily unavailable") - are
  NCBITransientError and the client retries them like a 429/503; anything else (an ErrorList's
  PhraseNotFound for a bad query, an invalid id) fails the topic at once.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from typing import Iterator

from Bio import Entrez
from Bio.Entrez.Parser import CorruptedXMLError, NotXMLError

from harvest.errors import NCBIError, NCBITransientError
from harvest.sources.http import Client, RawResponse, short_line

DEFAULT_BATCH = 500
MAX_RETRIEVABLE = 10_000  # ESearch/EFetch cannot page past this for PubMed
MAX_BATCH = 10_000  # EFetch retmax ceiling
EARLIEST = dt.date(1800, 1, 1)  # before any Entrez/modification date

_ERROR_RE = re.compile(rb"<ERROR>\s*([^<]*?)\s*</ERROR>", re.IGNORECASE)
# NCBI texts of errors that pass: retried.  Everything else in an error body is taken as permanent.
_RATE_LIMIT_RE = re.compile(r"rate limit", re.IGNORECASE)
_TRANSIENT_RE = re.compile(r"backend failed|temporarily unavailable|try again later|unable to open connection"
                           r"|service unavailable|internal server error", re.IGNORECASE)


@dataclass(frozen=True)
class SearchResult:
    count: int
    webenv: str | None
    query_key: str | None


def _ncbi_error(label: str, what: str, text: str) -> NCBIError:
    message = f"{label}: NCBI error from {what}: {short_line(text)}"
    if _RATE_LIMIT_RE.search(text):
        return NCBITransientError(message, kind="rate limit")
    if _TRANSIENT_RE.search(text):
        return NCBITransientError(message, kind="server error")
    return NCBIError(message, kind="query rejected")


def check_ncbi_body(body: bytes, label: str, what: str) -> None:
    """Raise NCBIError (NCBITransientError when it passes) when a 200 reply carries NCBI's error."""
    head = body[:2048].lstrip()
    if head.startswith(b"{"):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("error"):
            raise _ncbi_error(label, what, str(doc["error"]))
    match = _ERROR_RE.search(body)
    if match and match.group(1).strip():
        raise _ncbi_error(label, what, match.group(1).decode("utf-8", "replace"))


def parse_esearch(body: bytes, label: str) -> SearchResult:
    """Count/WebEnv/QueryKey of an esearch XML reply; ErrorList entries are errors.

    Bio.Entrez's parser reads the reply (with the eSearch DTD Biopython ships, so offline); it is
    not validating, so an element NCBI adds later does not break a harvest.
    """
    check_ncbi_body(body, label, "esearch")
    try:
        doc = Entrez.read(io.BytesIO(body), validate=False)
    except (CorruptedXMLError, NotXMLError, RuntimeError, ValueError) as exc:
        raise NCBIError(f"{label}: esearch reply is not a valid eSearchResult ({short_line(str(exc))})") from None
    if not isinstance(doc, dict) or "Count" not in doc:
        raise NCBIError(f"{label}: esearch reply has no Count")
    errors = doc.get("ErrorList") or {}
    text = "; ".join(f"{kind}: {', '.join(map(str, values))}" for kind, values in errors.items() if values)
    if text:
        raise NCBIError(f"{label}: NCBI error from esearch: {short_line(text)}", kind="query rejected")
    try:
        count = int(str(doc["Count"]).strip())
    except ValueError:
        raise NCBIError(f"{label}: esearch reply has no Count") from None
    webenv = str(doc.get("WebEnv") or "").strip() or None
    query_key = str(doc.get("QueryKey") or "").strip() or None
    if count and not (webenv and query_key):
        raise NCBIError(f"{label}: esearch found {count} records but returned no WebEnv/QueryKey")
    return SearchResult(count, webenv, query_key)


def _ncbi_date(day: dt.date) -> str:
    return day.strftime("%Y/%m/%d")


def esearch(client: Client, term: str, label: str, *, datetype: str | None = None,
            mindate: dt.date | None = None, maxdate: dt.date | None = None) -> tuple[SearchResult, bytes]:
    params = {"db": "pubmed", "term": term, "usehistory": "y", "retmax": "0", "retmode": "xml"}
    if mindate or maxdate:
        params.update(datetype=datetype or "edat", mindate=_ncbi_date(mindate or EARLIEST),
                      maxdate=_ncbi_date(maxdate or dt.date.today()))
    body = client.request("esearch.fcgi", params, label,
                          check=lambda b: check_ncbi_body(b, label, "esearch")).body
    return parse_esearch(body, label), body


def efetch_history(client: Client, result: SearchResult, label: str, batch: int = DEFAULT_BATCH) -> Iterator[RawResponse]:
    """efetch every record of one (≤ 10,000) search from the history server, `batch` per request."""
    batch = max(1, min(batch, MAX_BATCH))
    for start in range(0, min(result.count, MAX_RETRIEVABLE), batch):
        params = {"db": "pubmed", "query_key": result.query_key, "WebEnv": result.webenv,
                  "retstart": str(start), "retmax": str(batch), "retmode": "xml"}
        what = f"efetch (records {start + 1}-{min(start + batch, result.count)})"
        body = client.request("efetch.fcgi", params, label, check=lambda b: check_ncbi_body(b, label, what)).body
        yield RawResponse("efetch", body, result.count)


def fetch_pubmed(client: Client, term: str, label: str, *, since: dt.date | None = None,
                 batch: int = DEFAULT_BATCH, today: dt.date | None = None) -> Iterator[RawResponse]:
    """Every PubMed record matching `term` (entered or revised on/after `since`, when given).

    Yields the esearch replies and then the efetch batches, as raw bytes.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if since is not None:
        # Incremental: the modification date covers both newly entered and revised records.
        yield from _fetch_range(client, term, label, "mdat", since, today, batch)
        return
    result, body = esearch(client, term, label)
    yield RawResponse("esearch", body, result.count)
    if result.count <= MAX_RETRIEVABLE:
        yield from efetch_history(client, result, label, batch)
        return
    yield from _fetch_range(client, term, label, "edat", EARLIEST, today, batch)


def _fetch_range(client, term, label, datetype, lo: dt.date, hi: dt.date, batch) -> Iterator[RawResponse]:
    result, body = esearch(client, term, label, datetype=datetype, mindate=lo, maxdate=hi)
    yield RawResponse("esearch", body, result.count)
    if result.count <= MAX_RETRIEVABLE:
        yield from efetch_history(client, result, label, batch)
        return
    if lo >= hi:
        raise NCBIError(f"{label}: {result.count} records share the {datetype} {lo.isoformat()}; "
                        f"PubMed cannot page past {MAX_RETRIEVABLE} - narrow the topic query")
    mid = lo + (hi - lo) // 2
    yield from _fetch_range(client, term, label, datetype, lo, mid, batch)
    yield from _fetch_range(client, term, label, datetype, mid + dt.timedelta(days=1), hi, batch)
