"""Exception hierarchy.  Every message is one line and names the record, file or topic it is about.

Each error also carries a short public class (`kind`): what the site may say about a failed harvest
("could not reach PubMed", "PubMed's rate limit") without quoting exception text.  The full message stays
in the run report.
"""

# The error classes the site shows, and the plain words it uses for each (see harvest/freshness.py).
ERROR_KINDS = ("network", "rate limit", "server error", "bad reply", "query rejected")


class HarvestError(Exception):
    """Base class for everything the harvester raises on purpose."""

    default_kind = "bad reply"

    def __init__(self, message: str = "", *, kind: str | None = None):
        super().__init__(message)
        self.kind = kind or self.default_kind


class ParseError(HarvestError):
    """A response or file could not be parsed (truncated XML, malformed JSON, wrong shape)."""


class CardError(HarvestError):
    """A record cannot become a card (invalid id) or a card file cannot be read back."""


class ConfigError(HarvestError):
    """topics.toml or overrides.toml is invalid."""


class FetchError(HarvestError):
    """A request failed after its retries (timeout, connection error, HTTP status)."""

    default_kind = "server error"


class NCBIError(FetchError):
    """NCBI answered 200 but the body carries an error (JSON "error", <ERROR>, esearch ErrorList)."""

    default_kind = "bad reply"


class NCBITransientError(NCBIError):
    """An error in a 200 body that NCBI documents as passing (rate limit, search backend failure):
    retried with the same bounded backoff as a 429 or 503."""


class CTGovError(FetchError):
    """ClinicalTrials.gov refused a request (e.g. 400 with its own error text)."""

    default_kind = "query rejected"
