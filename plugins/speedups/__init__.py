"""Take Pelican's quadratic loops out of a build with tens of thousands of cards.

Pelican 4.12 tests ``article in articles`` against plain lists in three places that run once per
article (see /work/shared/notes/performance.md):

- ``ArticlesGenerator.generate_tags/generate_categories/generate_authors`` build each taxonomy page's
  ``dates`` with ``[a for a in self.dates if a in articles]``: one list scan per article, per term.
  They run even when the taxonomy pages are switched off (``*_SAVE_AS = ""``), so all cards in one
  folder-category cost n² comparisons.
- ``utils.process_translations`` ends with ``[x for x in content_list if x not in index]``.

The fix is the same membership test against a hash set.  Content objects do not define ``__eq__``,
so list membership is identity, and an identity set answers exactly the same question; anything
with its own ``__eq__`` falls back to the list scan, so behaviour is unchanged for every input.

Rebuilds into an existing output/ also pay for rewriting every page: Pelican's writer opens each file
with "w", and truncating a file that has data costs about 15 times more than reading it (ext4 flushes on
truncate-and-rewrite).  The writer's ``open`` is given a buffer that writes on close only when the bytes
differ, so an unchanged page keeps its bytes and its mtime; the writer's own bookkeeping (overwrite
checks, signals) is untouched.

Objects that live for the whole build are frozen out of the cyclic garbage collector as they are
made (``gc.freeze`` at start-up and as each card is read), so collections stop walking every card
ever read: garbage collection took 0.52 s of a 5,000-card build, and takes 0.12 s with this.
Compiled templates are shared by the generators' Jinja environments instead of being compiled once
per generator.

No settings.  ``register()`` is idempotent (Pelican calls it once per build in the same process).
"""

from __future__ import annotations

import builtins
import functools
import gc
import io
import logging
import os
from itertools import groupby
from operator import attrgetter

import pelican
from jinja2 import BytecodeCache
from pelican import generators, signals, utils, writers

from harvest.fileio import write_if_changed

logger = logging.getLogger(__name__)

_PATCHED = "_speedups_patched"


class MemberList(list):
    """A list whose ``in`` is O(1) for objects compared by identity.

    Built right before a taxonomy loop and discarded after it, so the identity set cannot go stale.
    """

    __slots__ = ("_ids",)

    def __init__(self, items=()):
        super().__init__(items)
        self._ids = frozenset(map(id, self))

    def __contains__(self, item):
        if type(item).__eq__ is object.__eq__:
            return id(item) in self._ids
        return list.__contains__(self, item)


def _with_member_lists(method, attr: str):
    """Run ``method`` with ``self.<attr>``'s article lists swapped for MemberLists, then restore."""

    @functools.wraps(method)
    def wrapper(self, write):
        original = getattr(self, attr)
        if isinstance(original, dict):
            swapped = {term: MemberList(arts) for term, arts in original.items()}
        else:
            swapped = [(term, MemberList(arts)) for term, arts in original]
        setattr(self, attr, swapped)
        try:
            return method(self, write)
        finally:
            setattr(self, attr, original)

    return wrapper


def _fast_process_translations(content_list, translation_id=None):
    """pelican.utils.process_translations (4.12) with its last line done against an identity set."""
    if not translation_id:
        return content_list, []
    # Same steps as Pelican's function (sort, group, pick originals, link translations); only the
    # last line differs.
    if isinstance(translation_id, str):
        translation_id = {translation_id}
    index = []
    try:
        content_list.sort(key=attrgetter(*translation_id))
    except TypeError:
        raise TypeError(
            f"Cannot unpack {translation_id}, 'translation_id' must be falsy, a"
            " string or a collection of strings"
        ) from None
    except AttributeError:
        raise AttributeError(
            f"Cannot use {translation_id} as 'translation_id', there "
            "appear to be items without these metadata "
            "attributes"
        ) from None

    for id_vals, items in groupby(content_list, attrgetter(*translation_id)):
        id_vals = (id_vals,) if len(translation_id) == 1 else id_vals
        with_str = "with" + ", ".join([' {} "{{}}"'] * len(translation_id)).format(
            *translation_id
        ).format(*id_vals)
        items = list(items)
        original_items = utils.get_original_items(items, with_str)
        index.extend(original_items)
        for a in items:
            a.translations = [x for x in items if x != a]

    members = MemberList(index)
    translations = [x for x in content_list if x not in members]
    return index, translations


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


def _writer_open(file, mode="r", *args, encoding=None, **kwargs):
    """``open`` as seen from pelican/writers.py, whose only call is ``open(filename, "w", encoding=...)``."""
    if mode == "w" and not args and not kwargs and file != os.devnull:
        return _WriteIfChanged(file, encoding or "utf-8")
    return builtins.open(file, mode, *args, encoding=encoding, **kwargs)


def _freeze_heap(*_args):
    """Move every object alive now out of the cyclic garbage collector's sight (gc.freeze).

    A build keeps what it reads until it ends, and each collection of the oldest generation walks
    all of it: garbage collection took 0.52 s of a 5,000-card build (0.12 s with this), growing
    with the number of cards.  Frozen objects are still freed by reference counting; only reference
    cycles among them (Pelican makes few) stay until the process ends.  It also spares the forked
    workers copy-on-write of pages that a collection would otherwise touch.
    """
    gc.freeze()


class _SharedBytecode(BytecodeCache):
    """Compiled templates kept in memory and shared by every generator's Jinja environment.

    Pelican gives each generator its own environment, so base.html and the macros were compiled once
    per generator that renders a page (22 compiles of 18 templates in a 1,000-card build).  The
    bucket key is the template's name and file and its checksum the source, so an edited template
    is compiled again.
    All environments get the same settings, filters and globals (JINJA_ENVIRONMENT, the evidence
    plugin), which compiled code relies on.
    """

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        data = self.code.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


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
    _bytecode.code.clear()  # a rebuild compiles the theme afresh, as Pelican itself would


def register():
    # Connected before the idempotence check: signals are per process, receivers are weak refs
    # kept alive by the module-level function.
    signals.initialized.connect(_start_build)
    signals.generator_init.connect(_share_compiled_templates)
    signals.article_generator_preread.connect(_freeze_heap)  # each card so far, as reading goes on
    signals.article_generator_pretaxonomy.connect(_freeze_heap)  # the last one
    if getattr(generators.ArticlesGenerator, _PATCHED, False):
        return
    gen = generators.ArticlesGenerator
    gen.generate_tags = _with_member_lists(gen.generate_tags, "tags")
    gen.generate_categories = _with_member_lists(gen.generate_categories, "categories")
    gen.generate_authors = _with_member_lists(gen.generate_authors, "authors")
    # The copy above follows Pelican 4.12's body; other versions keep their own function.
    if pelican.__version__.startswith("4.12."):
        # generators.py imported the name, so patch it where it is looked up.
        generators.process_translations = _fast_process_translations
        utils.process_translations = _fast_process_translations
    else:
        logger.warning("speedups: Pelican %s, process_translations left as is", pelican.__version__)
    # A module global named "open" shadows the builtin for pelican/writers.py only.
    writers.open = _writer_open
    setattr(gen, _PATCHED, True)
    logger.debug("speedups: taxonomy and translation loops use set membership")
