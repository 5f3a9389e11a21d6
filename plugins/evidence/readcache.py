"""Keep Pelican's content cache true to everything a card is read from, not to its file alone.

With ``LOAD_CONTENT_CACHE`` Pelican hands back what its reader made of a file last time when the
file's stamp (``CHECK_MODIFIED_METHOD``) is unchanged.  A card is read from more than its file: the
editors' overrides (content/overrides.toml) are applied while it is read, its links depend on
SITEURL, and the reading code itself can change.  So at ``initialized`` the build makes a salt of
those inputs and, when it differs from the salt the cached readings were made under, removes the
readers' caches before any generator loads them: the next build after an editor's correction or a
code change reads every file again, and later builds reuse the readings.

Pelican keeps the cache under ``CACHE_PATH`` as ``<Generator>-Readers`` files (the reader caching
layer, the default); the salt sits beside them in ``READ_SALT``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os

from harvest.fileio import atomic_write, holds

from . import editorial
from .keys import manifest  # the build manifest's salt of the project's code

logger = logging.getLogger(__name__)

READ_SALT = "evidence-read-cache.salt"
# Settings that reader.read's output depends on (the rest only shape what is done with it later).
READ_SETTINGS = ("SITEURL", "PATH", "MARKDOWN", "TYPOGRIFY", "FORMATTED_FIELDS", "READERS")


def read_salt(settings: dict) -> str:
    """Digest of what a reading depends on besides the file: the overrides file's bytes, the reading
    settings and ``build_salt(settings)`` (the project's code and library versions)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(manifest.build_salt(settings).encode())
    h.update(json.dumps({k: settings.get(k) for k in READ_SETTINGS}, sort_keys=True, default=str).encode())
    try:
        with open(editorial.overrides_path(settings), "rb") as fh:
            h.update(fh.read())
    except OSError:
        h.update(b"no overrides")
    return h.hexdigest()


def check(pelican) -> None:
    """``initialized``: drop the readers' caches when they were made under other inputs."""
    settings = pelican.settings
    if not settings.get("LOAD_CONTENT_CACHE") or not settings.get("CACHE_PATH"):
        return
    salt = read_salt(settings).encode("utf-8")
    path = os.path.join(settings["CACHE_PATH"], READ_SALT)
    if holds(path, salt):
        return
    stale = glob.glob(os.path.join(glob.escape(settings["CACHE_PATH"]), "*-Readers"))
    for cache in stale:
        os.remove(cache)
    if stale:
        logger.info("content cache: %d reader cache(s) dropped (overrides, settings or code changed)", len(stale))
    atomic_write(path, salt)
