"""The theme's static files (``THEME_STATIC_PATHS``) reach the output only when their bytes changed.

Pelican's StaticGenerator copies them on every build with ``shutil.copyfile``, unconditionally, so
an unchanged stylesheet or script gets a new mtime each build (content static files, by contrast,
are checked first).  Once the static generator has read its context, this plugin copies the theme's
static files itself, where and as Pelican would (``THEME_STATIC_DIR``, ``IGNORE_FILES``), writing
only the files whose bytes differ, and hands the generator settings that list no theme static paths,
so its own copy finds nothing left to do.  Nothing of Pelican is patched: the generator gets its
own settings, the other generators and the templates keep the shared ones.
"""

from __future__ import annotations

import fnmatch
import logging
import os

from harvest.fileio import claim, write_if_changed

logger = logging.getLogger(__name__)


def _ignored(name: str, ignores) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in ignores)


def _files(source: str, destination: str, ignores):
    """(source file, output file) pairs, as pelican.utils.copy walks a theme static path."""
    if _ignored(os.path.basename(source), ignores):
        return
    if os.path.isfile(source):
        yield source, destination
        return
    for src_dir, subdirs, names in os.walk(source, followlinks=True):
        subdirs[:] = sorted(s for s in subdirs if not _ignored(s, ignores))
        out_dir = os.path.join(destination, os.path.relpath(src_dir, source))
        for name in sorted(names):
            path = os.path.join(src_dir, name)
            if not _ignored(name, ignores) and os.path.isfile(path):
                yield path, os.path.normpath(os.path.join(out_dir, name))


def copy_theme_static(generator) -> int:
    """static_generator_finalized: copy the changed theme static files; returns how many were written."""
    settings = generator.settings
    paths = settings.get("THEME_STATIC_PATHS") or []
    if not paths:
        return 0
    ignores = settings.get("IGNORE_FILES") or []
    base = os.path.join(os.path.abspath(generator.output_path), settings["THEME_STATIC_DIR"])
    written = 0
    for rel in paths:
        source = os.path.abspath(os.path.join(generator.theme, rel))
        # Pelican's layout: a file lands in THEME_STATIC_DIR itself, a folder's contents below it.
        destination = os.path.join(base, os.path.basename(rel)) if os.path.isfile(source) else base
        for src, dst in _files(source, destination, ignores):
            claim(dst)  # this build's output, copied or left as it was (plugins/prune)
            with open(src, "rb") as fh:
                if write_if_changed(dst, fh.read()):
                    written += 1
                    logger.info("Copying %s to %s", src, dst)
    generator.settings = {**settings, "THEME_STATIC_PATHS": []}
    return written
