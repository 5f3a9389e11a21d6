"""Take Pelican's quadratic loops out of a build with tens of thousands of cards, without patching Pelican.

Pelican tests ``article in articles`` against plain lists in places that run once per article; each
is switched off through a signal or a setting:

- ``ArticlesGenerator.generate_tags/generate_categories/generate_authors`` build each taxonomy page's
  ``dates`` with ``[a for a in self.dates if a in articles]``: one list scan per article, per term,
  even when the taxonomy pages are switched off (``*_SAVE_AS = ""``).  When a taxonomy has no pages
  and no feeds, its terms are emptied once the articles generator has finished
  (``article_generator_finalized``), so those loops have nothing to walk; the context keeps them.
- ``utils.process_translations`` ends with ``[x for x in content_list if x not in index]``.  The site
  has one language, so pelican.conf.py sets ``ARTICLE_TRANSLATION_ID = None``, which makes Pelican
  skip translation grouping altogether.

Rebuilds into an existing output/ also pay for rewriting every page: Pelican's writer opens each file
with "w", and truncating and rewriting a file that has data costs more than reading it (a file
system may flush on truncate-and-rewrite).  Pelican lets a plugin supply the writer
(``get_writer``): this one keeps Pelican's overwrite bookkeeping and buffers each page, writing it
on close only when the bytes differ, so an unchanged page keeps its bytes and its mtime.
The theme's static files, which Pelican copies on every build, get the same treatment
(theme_static.py).

Objects that live for the whole build are frozen out of the cyclic garbage collector as they are
made (``gc.freeze`` at start-up and as each card is read), so collections stop walking every card
ever read (otherwise the time they take grows with the number of cards).
Compiled templates are shared by the generators' Jinja environments instead of being compiled once
per generator.

No settings of its own.  ``register()`` is idempotent (Pelican calls it once per build in the same
process).  Tested on the lowest Pelican pyproject.toml allows as well as the locked one (Makefile:
``make test-pelican-lowest``).
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import logging
import os

import jinja2
from jinja2 import BytecodeCache
from pelican import signals, writers
from pelican.utils import get_relative_path, path_to_url, sanitised_join

from harvest.fileio import atomic_write, write_if_changed

from . import manifest, theme_static

logger = logging.getLogger(__name__)

def _drop_unwritten_taxonomies(generator) -> None:
    """Articles generator finished: forget the terms of taxonomies that write no page and no feed.

    generate_tags/categories/authors then loop over nothing instead of scanning every card per
    term; nothing they would have written is lost (an empty ``*_SAVE_AS`` writes nothing), and the
    context, which templates read, keeps its copy.
    """
    settings = generator.settings
    if not settings.get("TAG_SAVE_AS") and not settings.get("TAG_FEED_ATOM") and not settings.get("TAG_FEED_RSS"):
        generator.tags = {}
    if not settings.get("CATEGORY_SAVE_AS") and not settings.get("CATEGORY_FEED_ATOM") \
            and not settings.get("CATEGORY_FEED_RSS"):
        generator.categories = []
    if not settings.get("AUTHOR_SAVE_AS") and not settings.get("AUTHOR_FEED_ATOM") \
            and not settings.get("AUTHOR_FEED_RSS"):
        generator.authors = []


class _WriteIfChanged(io.StringIO):
    """What ``open(path, "w", encoding=...)`` gives Pelican's writer: written out on close, if new."""

    def __init__(self, path: str, encoding: str):
        super().__init__()
        self._path = path
        self._encoding = encoding

    def close(self):
        if not self.closed:
            text = self.getvalue()
            super().close()
            if os.linesep != "\n":  # text mode "w" would translate newlines
                text = text.replace("\n", os.linesep)
            write_if_changed(self._path, text.encode(self._encoding))


class IfChangedWriter(writers.Writer):
    """Pelican's writer with two differences: a page reaches the disk only when its bytes changed,
    and a page whose inputs did not change since the last build is not rendered (manifest.py).

    ``_open_w`` is where the writer checks that no page overwrites another and opens the file.  A
    file's first write (every write, in this site) is recorded as Pelican records it and buffered;
    a second write of the same file goes to Pelican's own method, so its overwrite rules (raise,
    skip, override), which differ between Pelican versions, stay Pelican's.
    """

    def __init__(self, output_path, settings=None):
        super().__init__(output_path, settings=settings)
        global _manifest
        _manifest = self.manifest = manifest.Manifest(self.settings, output_path) if settings is not None else None

    def write_file(self, name, template, context, relative_urls=False, paginated=None, template_name=None,
                   override_output=False, url=None, **kwargs):
        m = self.manifest
        if not name or m is None or not m.applies(template, kwargs) or paginated \
                or template_name in (self.settings.get("PAGINATED_TEMPLATES") or {}):
            return super().write_file(name, template, context, relative_urls, paginated, template_name,
                                      override_output, url, **kwargs)
        path = sanitised_join(self.output_path, name)
        call = {"relative_urls": relative_urls, "override_output": override_output, "url": url, "kwargs": kwargs}
        key = m.key(name, template, context, call)
        fresh = path not in self._written_files and path not in self._overridden_files
        if key is not None and fresh and m.unchanged(name, path, key):
            if m.verify:
                self._verify(name, path, template, context, relative_urls, override_output, url, kwargs)
            else:
                self._skip(name, path, context, relative_urls, override_output, kwargs)
            m.keep(name, key)
            m.skipped += 1
            return None
        local = manifest.restricted(context)
        result = super().write_file(name, template, local, relative_urls, paginated, template_name,
                                    override_output, url, **kwargs)
        if local.get("localsiteurl"):  # what Pelican's writer leaves in the shared context
            context["localsiteurl"] = local["localsiteurl"]
        if key is not None and fresh:
            m.wrote(name, path, key)
        return result

    def _skip(self, name, path, context, relative_urls, override_output, kwargs):
        """What writing the page would have left behind, without rendering it."""
        if override_output:
            self._overridden_files.add(path)
        self._written_files.add(path)
        local = dict(context)  # nothing is rendered: the card collections may stay
        local["localsiteurl"] = local.get("localsiteurl")
        if relative_urls:
            local["SITEURL"] = local["localsiteurl"] = context["localsiteurl"] = \
                path_to_url(get_relative_path(name))
        local["output_file"] = name
        local.update(kwargs)
        signals.content_written.send(path, context=local)

    def _verify(self, name, path, template, context, relative_urls, override_output, url, kwargs):
        with open(path, "rb") as fh:
            kept = fh.read()
        super().write_file(name, template, manifest.restricted(context), relative_urls, None, None,
                           override_output, url, **kwargs)
        with open(path, "rb") as fh:
            if fh.read() != kept:
                raise manifest.ManifestError(f"{name}: its inputs' key did not change, its page did")

    def _open_w(self, filename, encoding, override=False):
        if filename in self._written_files or filename in self._overridden_files:
            return super()._open_w(filename, encoding, override)
        if override:
            self._overridden_files.add(filename)
        self._written_files.add(filename)
        return _WriteIfChanged(filename, encoding or "utf-8")


_manifest: manifest.Manifest | None = None  # this build's, made with its writer


def _get_writer(_pelican):
    return IfChangedWriter


def _save_manifest(*_args):
    global _manifest
    if _manifest is not None:
        _manifest.save()
        _manifest = None


def _freeze_heap(*_args):
    """Move every object alive now out of the cyclic garbage collector's sight (gc.freeze).

    A build keeps what it reads until it ends, and each collection of the oldest generation walks
    all of it, so the time collections take grows with the number of cards.  Frozen objects are
    still freed by reference counting; only reference cycles among them (Pelican makes few) stay
    until the process ends.  It also spares the forked workers copy-on-write of pages that a
    collection would otherwise touch.
    """
    gc.freeze()


class _SharedBytecode(BytecodeCache):
    """Compiled templates shared by every generator's Jinja environment, and kept between builds.

    Pelican gives each generator its own environment, so base.html and the macros were compiled once
    per generator that renders a page; and each build compiled the whole theme again.  Compiled
    code is kept in memory for the build and on disk under CACHE_PATH for the next one.  The bucket key is the
    template's name and file and its checksum the source (Jinja checks it, and its magic the Python
    and Jinja versions, on every load), so an edited template is compiled again; the folder is named
    after JINJA_ENVIRONMENT, whose options (autoescape, trim_blocks, ...) change compiled code.
    All environments get the same settings, filters and globals (JINJA_ENVIRONMENT, the evidence
    plugin), which compiled code relies on.
    """

    def __init__(self):
        self.code: dict[str, bytes] = {}
        self.disk: str | None = None

    def _file(self, key: str) -> str:
        return os.path.join(self.disk, f"{key}.cache")

    def load_bytecode(self, bucket):
        data = self.code.get(bucket.key)
        if data is None and self.disk:
            try:
                with open(self._file(bucket.key), "rb") as fh:
                    data = fh.read()
            except OSError:
                data = None
        if data is not None:
            bucket.bytecode_from_string(data)  # resets the bucket when the source changed

    def dump_bytecode(self, bucket):
        data = bucket.bytecode_to_string()
        self.code[bucket.key] = data
        if self.disk:
            try:
                atomic_write(self._file(bucket.key), data)
            except OSError as exc:  # a read-only cache costs compile time, not the build
                logger.debug("speedups: template cache not written: %s", exc)


_bytecode = _SharedBytecode()


def _share_compiled_templates(generator):
    env = getattr(generator, "env", None)
    if env is not None and env.bytecode_cache is None:
        env.bytecode_cache = _bytecode


def _start_build(*_args):
    """A build starts: a process that builds again (``pelican --autoreload``) first lets the
    collector free what the previous build left in reference cycles, then freezes what is alive
    (the imported modules).  Nothing is unfrozen at the end of a build: the process exits, and a
    full collection on the way out would walk every card again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _bytecode.code.clear()  # a rebuild loads each template again, checking its source
    settings = getattr(_args[0], "settings", None) if _args else None
    cache = (settings or {}).get("CACHE_PATH")
    if cache:
        options = json.dumps(settings.get("JINJA_ENVIRONMENT") or {}, sort_keys=True, default=repr)
        tag = hashlib.sha256(f"{jinja2.__version__}|{options}".encode()).hexdigest()[:16]
        _bytecode.disk = os.path.join(cache, f"jinja-{tag}")
    else:
        _bytecode.disk = None


def register():
    # Signals are per process and receivers weak refs kept alive by these module-level functions;
    # connecting the same function again is a no-op, so a second register() changes nothing.
    signals.initialized.connect(_start_build)
    signals.generator_init.connect(_share_compiled_templates)
    signals.article_generator_preread.connect(_freeze_heap)  # each card so far, as reading goes on
    signals.article_generator_pretaxonomy.connect(_freeze_heap)  # the last one
    signals.article_generator_finalized.connect(_drop_unwritten_taxonomies)
    signals.get_writer.connect(_get_writer)
    signals.static_generator_finalized.connect(theme_static.copy_theme_static)
    signals.finalized.connect(_save_manifest)
