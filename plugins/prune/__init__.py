"""Remove from the output folder the files an earlier build made and this one no longer makes.

Pelican never deletes an output file, so a build into an output folder that is kept between builds
(the nightly CI keeps output/ so that the build manifest can skip unchanged pages) would go on
deploying a page whose URL is gone: a removed card, a listing page a layout change no longer makes.

Which files count as made by a build: every file a writer of this build claims, whether it wrote
it or found it unchanged and left it alone (bytes and mtime) —

- pages: Pelican's ``content_written`` (plugins/speedups sends it for a page its manifest skips too)
  and ``feed_written``;
- static files: the StaticGenerator's files (``staticfiles``);
- files plugins write themselves are claimed with ``harvest.fileio.claim(path)`` (the theme's static
  files, which plugins/speedups copies, feeds, the sitemap and robots.txt, edition.json and the chart
  SVGs, the downloads), and a plugin that keeps a
  folder in step itself (the search index's ``pagefind*/`` parts, which only it knows how to keep)
  calls ``claim_tree(folder)``: every file in that folder at the end of the build counts as made.
  A claim is a named blinker signal, as Pelican's own signals are, so a writer needs neither this
  plugin loaded before it nor loaded at all.

The mtime of a file is no evidence: a writer that finds the same bytes leaves the old mtime, so a
file unchanged tonight is as much this build's as a file written tonight.

What is deleted: only files the LAST build into this output folder made and this build did not, so
a build never deletes a file this project did not write itself: a file a user put into the output
folder (``make build -o /some/dir`` into a folder that holds other things), or one left from before
this plugin, is never in the list.  The list of the files a build made is kept per output folder
under ``CACHE_PATH`` (``output-files-<hash of the folder>.json``), as the build manifest keeps its
own; without CACHE_PATH nothing is remembered and nothing deleted.  A list whose output folder is
not this one (a hash collision, a moved folder) is ignored.  Why not "every file no writer claimed":
a writer that forgets to claim would then have its files deleted every other night, and a user's
own files in the output folder with them.  With the list, a forgotten claim only means a stale file
of that writer is not removed (tests/test_prune.py checks that a full build claims every file).

When: at ``finalized``, after every other plugin (``prune`` is last in PLUGINS, and receivers run in
connection order: the search plugin's ``finalized`` waits for its index child first).  Pelican sends
``finalized`` only when the build raised nothing; a build that logged an error without raising (no
``--fatal errors``) deletes nothing either.  Nothing outside the output folder is touched; a
folder left empty by a deletion is removed, up to the output folder.

Setting (optional)::

    PRUNE_OUTPUT = {"enabled": True, "keep": ()}

``keep``: glob patterns (``fnmatch``, relative to the output folder, ``/`` separated) of files
never deleted even when the last build made them and this one does not (an old URL kept for
links from elsewhere).  A kept file leaves the list with that build, so from then on it is treated
as a file no build made: it stays until it is removed by hand.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os

from blinker import signal
from pelican import signals
from pelican.generators import StaticGenerator

from harvest.fileio import OUTPUT_MADE, atomic_write, holds

logger = logging.getLogger(__name__)

DEFAULTS = {"enabled": True, "keep": ()}
VERSION = 1


def options(settings: dict) -> dict:
    return {**DEFAULTS, **(settings.get("PRUNE_OUTPUT") or {})}


class _Errors(logging.Handler):
    """Counts the errors logged during a build (a build that logged one deletes nothing)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.count += 1


class _Build:
    def __init__(self, pelican):
        self.settings = pelican.settings
        self.output = os.path.abspath(pelican.output_path)
        self.made: set[str] = set()
        self.trees: set[str] = set()
        self.static: list[StaticGenerator] = []
        self.runs = 0
        self.errors = _Errors()
        logging.getLogger().addHandler(self.errors)

    def rel(self, path) -> str | None:
        """The path relative to the output folder, ``/`` separated; None outside it."""
        rel = os.path.relpath(os.path.abspath(os.fspath(path)), self.output)
        if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            return None
        return rel.replace(os.sep, "/")

    def add(self, path, tree: bool = False) -> None:
        rel = self.rel(path)
        if rel is not None:
            (self.trees if tree else self.made).add(rel)

    def end(self) -> None:
        logging.getLogger().removeHandler(self.errors)


_build: _Build | None = None


def _claimed(path, tree: bool = False) -> None:
    """harvest.fileio.claim / claim_tree: a writer of this build made (or kept unchanged) the file at
    ``path``, or keeps the folder at ``path`` in step itself."""
    if _build is not None:
        _build.add(path, tree)


# -- receivers ---------------------------------------------------------------------------------

def _start(pelican) -> None:
    global _build
    if _build is not None:
        _build.end()
    _build = _Build(pelican)


def _run_starts(pelican):
    """Each run of the generators (``pelican --autoreload`` runs them again in the same process)."""
    if _build is None or _build.runs:
        _start(pelican)
    _build.runs += 1
    return None  # no generator


def _content_written(path, context=None, **_kwargs) -> None:
    _claimed(path)


def _static_finalized(generator) -> None:
    if _build is not None:
        _build.static.append(generator)


def _claim_static(build: _Build, generator: StaticGenerator) -> None:
    """The static files StaticGenerator.generate_output copies.  The theme's static files are claimed
    by plugins/speedups/theme_static.py, which copies them itself."""
    for static in generator.context.get("staticfiles") or []:
        build.add(os.path.join(generator.output_path, static.save_as))


def _list_file(cache: str, output: str) -> str:
    tag = hashlib.blake2b(output.encode("utf-8"), digest_size=8).hexdigest()
    return os.path.join(cache, f"output-files-{tag}.json")


def _load(path: str, output: str) -> set[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("output") != output:
        return set()
    return {f for f in data.get("files") or [] if isinstance(f, str)}


def _inside(path: str, root: str) -> bool:
    """The file's folder, symlinks resolved, is the output folder or inside it."""
    real_root = os.path.realpath(root)
    folder = os.path.realpath(os.path.dirname(path))
    return folder == real_root or folder.startswith(real_root + os.sep)


def _remove(build: _Build, stale: list[str]) -> int:
    removed = 0
    folders = set()
    for rel in stale:
        if rel.startswith("/") or ".." in rel.split("/"):
            continue
        path = os.path.join(build.output, *rel.split("/"))
        if not _inside(path, build.output) or not (os.path.islink(path) or os.path.isfile(path)):
            continue  # gone already, or no longer a file: not this build's to decide
        os.unlink(path)
        logger.debug("prune: removed %s", rel)
        removed += 1
        folders.add(os.path.dirname(path))
    real_root = os.path.realpath(build.output)
    for folder in sorted(folders, key=len, reverse=True):
        while os.path.realpath(folder) != real_root and _inside(folder, build.output):
            try:
                os.rmdir(folder)  # only when empty
            except OSError:
                break
            folder = os.path.dirname(folder)
    return removed


def _finalized(pelican) -> None:
    global _build
    build, _build = _build, None
    if build is None:
        return
    build.end()
    opts = options(pelican.settings)
    if not opts["enabled"]:
        return
    if build.errors.count:
        logger.warning("prune: the build logged %d error(s): no output file removed", build.errors.count)
        return
    cache = pelican.settings.get("CACHE_PATH")
    if not cache:
        logger.debug("prune: no CACHE_PATH, so no list of the files a build made: nothing removed")
        return
    for generator in build.static:
        _claim_static(build, generator)
    made = set(build.made)
    trees = sorted(build.trees)
    for tree in trees:
        root = os.path.join(build.output, *tree.split("/"))
        for folder, _dirs, files in os.walk(root):
            for name in files:
                rel = build.rel(os.path.join(folder, name))
                if rel is not None:
                    made.add(rel)
    listed = _list_file(cache, build.output)
    before = _load(listed, build.output)
    keep = tuple(opts["keep"] or ())
    stale = sorted(
        rel for rel in before - made
        if not any(rel == t or rel.startswith(t + "/") for t in trees)
        and not any(fnmatch.fnmatch(rel, pattern) for pattern in keep)
    )
    removed = _remove(build, stale)
    data = json.dumps({"version": VERSION, "output": build.output, "files": sorted(made)},
                      indent=0, sort_keys=True).encode("utf-8") + b"\n"
    if not holds(listed, data):  # a no-change build writes nothing
        atomic_write(listed, data)
    logger.info("prune: %d output file(s) an earlier build made and this one did not were removed", removed)


def register():
    # Connected in PLUGINS order: prune last, so its ``finalized`` runs after every other writer's.
    signals.initialized.connect(_start)
    signals.get_generators.connect(_run_starts)
    signals.content_written.connect(_content_written)
    signals.feed_written.connect(_content_written)
    signals.static_generator_finalized.connect(_static_finalized)
    signal(OUTPUT_MADE).connect(_claimed)
    signals.finalized.connect(_finalized)
