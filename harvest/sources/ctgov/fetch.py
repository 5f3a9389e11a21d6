"""ClinicalTrials.gov API v2 `GET /studies`, page by page.  Fetch only.

Follows the OpenAPI spec (tests/data/real-api/ctgov-openapi/openapi-spec.yaml, v2.0.5): pageSize is
coerced down to 1,000, so we ask for 1,000; `totalCount` is only returned on the first page and only
with countTotal=true; every later page must repeat the first page's parameters (we repeat them exactly,
minus countTotal) plus `pageToken`; the last page has no `nextPageToken`.  A 400 reply carries the API's
own error text (text/plain), which ends the topic (CTGovError raised by the client).

Only the fields harvest/sources/ctgov/parse.py reads are asked for (`fields=`, FIELDS below): a whole study
object carries eligibility text, locations, contacts and posted results, several times what the card
needs.  Each page is parsed once, here, by the same parser as everywhere else (its next-page token is
inside the JSON), and the parsed page travels with the raw bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterator

from harvest.errors import CTGovError, ParseError
from harvest.sources.ctgov.parse import parse_ctgov
from harvest.sources.http import Client, RawResponse

PAGE_SIZE = 1000  # the API's maximum

# Field paths (OpenAPI `fields`: "If a piece or a field is a branch node, all descendant fields will be
# included") of everything ctgov_parse reads; test_ctgov_fetch checks the parser gives the same records
# from a study cut down to these fields as from the whole study.
FIELDS = (
    "protocolSection.identificationModule.nctId",
    "protocolSection.identificationModule.briefTitle",
    "protocolSection.identificationModule.officialTitle",
    "protocolSection.identificationModule.secondaryIdInfos",
    "protocolSection.statusModule",
    "protocolSection.sponsorCollaboratorsModule.leadSponsor",
    "protocolSection.descriptionModule.briefSummary",
    "protocolSection.conditionsModule",
    "protocolSection.designModule",
    "protocolSection.armsInterventionsModule.interventions",
    "protocolSection.outcomesModule.primaryOutcomes",
    "protocolSection.referencesModule.references",
    "protocolSection.oversightModule",
    "protocolSection.contactsLocationsModule.locations.country",
    "annotationSection.annotationModule.unpostedAnnotation",
    "derivedSection.conditionBrowseModule.meshes",
    "derivedSection.interventionBrowseModule.meshes",
    "hasResults",
)


def incremental_filter(since: dt.date) -> str:
    return f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},MAX]"


def study_params(query: dict, since: dt.date | None = None) -> dict:
    """The topic's query.* (and filter.*) parameters, plus the incremental date filter."""
    params = {str(k): str(v) for k, v in sorted(query.items())}
    if since is not None:
        extra = incremental_filter(since)
        existing = params.get("filter.advanced")
        params["filter.advanced"] = f"({existing}) AND {extra}" if existing else extra
    return params


def fetch_ctgov(client: Client, query: dict, label: str, *, since: dt.date | None = None,
                page_size: int = PAGE_SIZE) -> Iterator[RawResponse]:
    """Every study matching the topic's query (updated on/after `since`, when given), as raw pages."""
    base = study_params(query, since)
    base["format"] = "json"
    base["fields"] = ",".join(FIELDS)
    base["pageSize"] = str(max(1, min(page_size, PAGE_SIZE)))
    params = dict(base, countTotal="true")
    seen_tokens: set[str] = set()
    total = None
    page = 1
    while True:
        body = client.request("studies", params, label).body
        parsed = parse_ctgov(body, f"{label}: ClinicalTrials.gov page {page}")
        if parsed.shape != "page":
            raise ParseError(f"{label}: ClinicalTrials.gov page {page} has no 'studies' list")
        if page == 1:
            total = parsed.total_count
        token = parsed.next_page_token
        yield RawResponse("studies", body, total, parsed)
        if not token:
            return
        if not isinstance(token, str) or token in seen_tokens:
            raise CTGovError(f"{label}: ClinicalTrials.gov repeated page token {str(token)[:40]!r} on page {page}")
        seen_tokens.add(token)
        params = dict(base, pageToken=token)
        page += 1

