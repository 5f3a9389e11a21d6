"""Shared test helpers: the real recorded API responses under tests/data/real-api/.

The files there are byte-identical copies of ../shared/real-api (see its PROVENANCE.md); tests
never edit them, they build faulty or hostile inputs by modifying the bytes in memory.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
REAL = TESTS / "data" / "real-api"

# Test modules import small helper modules kept next to them (sitebuild, servers, ...).
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


def real_path(rel: str) -> Path:
    return REAL / rel


def real_raw(rel: str) -> bytes:
    """A recording's bytes exactly as stored (gzip stays gzip)."""
    return (REAL / rel).read_bytes()


def real_data(rel: str) -> bytes:
    """A recording's content, gunzipped when the file is gzip."""
    data = real_raw(rel)
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@pytest.fixture
def real():
    """Access to the recordings: real.path(rel), real.raw(rel), real.data(rel)."""

    class Real:
        root = REAL
        path = staticmethod(real_path)
        raw = staticmethod(real_raw)
        data = staticmethod(real_data)

    return Real


def config_error(load, path) -> str:
    """The message of the ConfigError `load(path)` raises, which must be one line."""
    from harvest.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        load(path)
    text = str(exc.value)
    assert "\n" not in text, text
    return text
