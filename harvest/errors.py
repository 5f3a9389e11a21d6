"""Exception hierarchy.  Every message is one line and names the record, file or topic it is about."""


class HarvestError(Exception):
    """Base class for everything the harvester raises on purpose."""


class ParseError(HarvestError):
    """A response or file could not be parsed (truncated XML, malformed JSON, wrong shape)."""


class CardError(HarvestError):
    """A record cannot become a card (invalid id) or a card file cannot be read back."""


class ConfigError(HarvestError):
    """topics.toml or overrides.toml is invalid."""


class FetchError(HarvestError):
    """A request failed after its retries (timeout, connection error, HTTP status)."""


class NCBIError(FetchError):
    """NCBI answered 200 but the body carries an error (JSON "error", <ERROR>, esearch ErrorList)."""


class CTGovError(FetchError):
    """ClinicalTrials.gov refused a request (e.g. 400 with its own error text)."""
