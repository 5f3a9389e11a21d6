"""A Metapsy database from its public GitHub repository (raw file URLs).  Fetch only.

Two files make one snapshot: `data.csv` (the comparisons) and `metadata/last_search.txt` (the date of
the database's last literature search).  Both are taken from the branch the Metapsy project
publishes on; the bytes go to the raw cache untouched and to the pure parser
(harvest/sources/metapsy/parse.py).  `METAPSY_BASE_URL` points the client at a mirror or a test server.
"""

from __future__ import annotations

from typing import Iterator

from harvest.errors import ConfigError
from harvest.sources.http import Client, RawResponse
from harvest.sources.metapsy.pool import METAPSY_RE, REF
FILES = (("metapsy-data", "data.csv"), ("metapsy-search", "metadata/last_search.txt"))


def fetch_metapsy(client: Client, repo: str, label: str, ref: str = REF) -> Iterator[RawResponse]:
    """The database's data.csv, then its last_search.txt, as raw replies."""
    if not METAPSY_RE.match(repo):
        raise ConfigError(f"{label}: metapsy repository {repo!r} is not owner/name")
    for kind, path in FILES:
        yield RawResponse(kind, client.request(f"{repo}/{ref}/{path}", {}, label).body)
