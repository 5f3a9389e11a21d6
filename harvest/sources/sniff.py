"""What a raw response body is, by its first significant bytes (not its file name or URL).

Every reader of raw responses (normalize, replay, seed, the benchmarks) asks here, so a file is
taken for the same kind everywhere.
"""

from __future__ import annotations

import re

_ROOT_RE = re.compile(rb"<([A-Za-z][\w.-]*)[\s>/]")
RECORD_ROOTS = {b"PubmedArticleSet", b"MedlineCitationSet"}
LISTING_ROOTS = {b"eSearchResult", b"ePostResult", b"eInfoResult", b"eLinkResult", b"eSpellResult",
                 b"eSummaryResult", b"eGQueryResult"}


def sniff(data: bytes) -> str | None:
    """'pubmed', 'ctgov', 'listing' (an E-utilities reply without records) or None (unknown)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return "ctgov"
    if head[:1] == b"<":
        for match in _ROOT_RE.finditer(head):
            name = match.group(1)
            if name in LISTING_ROOTS:
                return "listing"
            return "pubmed"  # the first element is the root: a record set, or let the parser name what is wrong
        return "pubmed"
    return None
