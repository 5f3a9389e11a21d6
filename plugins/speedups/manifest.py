"""A build manifest: pages whose inputs did not change since the last build are not rendered at all.

Write-if-changed (the writer in this plugin) keeps an unchanged page's bytes and mtime, but the page
is still rendered to find out that it is unchanged, and card pages are most of a build.  So each
page rendered from one of the manifest's templates gets a key, a hash of everything it is rendered
from:

- the build salt: every file of the theme and the plugins, every other module of the project the
  build has loaded (filters and derived values come from the harvest package too), and the versions
  of Python, Pelican, Jinja and MarkupSafe;
- the site-wide context: every setting and every context value (editor pages, topics, ...) except
  the collections that hold the cards themselves (``CARD_COLLECTIONS``) and the values each nightly
  harvest changes (``NIGHTLY``: run reports, freshness), and of the values that count or date the
  cards (the edition) only the fields these pages show (``VIEWS``);
- the page: its output name, whether its URLs are relative, its template, and the values the
  generator passed for it (the card, the cards of a listing page, the facet, ...).  A card is
  hashed by what it was read from (the bytes of its file and the editors' overrides of it: the
  reader's metadata is made of nothing else) and what the evidence plugin derived for it
  (``article.ev``); a card it links to by what that card was read from.

``<CACHE_PATH>/pages-manifest.json`` keeps, for the last build into this output folder, each page's
key and the size and mtime its file had after that build.  A page whose key and file are the same
again is not rendered: the writer records it as written (Pelican's overwrite checks) and sends
``content_written`` as if it had been, so the sitemap lists it as before.

A key is only as good as its inputs are complete, so the pages it skips cannot read anything the key
leaves out: they are rendered with the card collections and nightly values of the context replaced
by a value that stops the build when a template touches it (``ManifestError``).  A template that needs a
collection gets what it needs passed by its generator, where the key sees it.  With
``BUILD_MANIFEST = {"verify": True}`` every page the manifest would skip is rendered anyway and a
difference from the file on disk stops the build (the tests build that way).

Setting (optional)::

    BUILD_MANIFEST = {"enabled": True, "templates": ("card", "listing", ...), "verify": False}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import sys
from pathlib import Path

from harvest.fileio import atomic_write

logger = logging.getLogger(__name__)

FILE = "pages-manifest.json"
# Pages from other templates (home, topic pages, Methods, ...) are a handful that show site-wide
# summaries of every card: they are rendered every time and written only when they changed.
DEFAULTS = {
    "enabled": True,
    "templates": ("card", "listing", "withdrawn", "out_of_scope"),
    "verify": False,
}
# Context values that hold every card (Pelican's and the evidence plugin's): a page that read them
# would depend on every card, so the manifest's pages may not, and the key leaves them out.
CARD_COLLECTIONS = frozenset({
    "articles", "dates", "drafts", "hidden_articles", "translations", "hidden_translations",
    "draft_translations", "period_archives", "tags", "categories", "authors", "generated_content",
    "static_content", "evidence", "evidence_by_id", "topic_data",
})
# Context values every harvest run changes (its report, the list of runs, how fresh each topic is,
# and the reference day of the time-based flags, which is the last run's finish): with them in the
# key every manifest page would be rendered again each night.  The manifest's pages may not read them
# either: what a card shows of them is in its derived values (``article.ev``: its harvest day, its
# flags), which its key holds; the footer's date comes from output/edition.json (edition.js).
NIGHTLY = frozenset({"report", "runs", "freshness", "evidence_reference_date"})
# Context values that follow from how many cards there are (plugins/search: how many cards the
# search page says it searches, and how many index parts it merges): a record a harvest adds or drops
# changes them, so with them in the key every manifest page would be rendered again whenever the set
# of cards changed, not just when one was revised.
CARD_COUNTS = frozenset({"search_cards", "search_first_cards", "search_merge"})
UNSEEN = CARD_COLLECTIONS | NIGHTLY | CARD_COUNTS
# Context values that change with the cards or every night (the edition counts the cards, dates its
# newest record and its last harvest) but of which the manifest's pages show a few fields only (the
# card's "made from a recorded reply" line and the footer's fallback text differ by kind): those
# pages see, and their keys hold, only these fields.
VIEWS = {"edition": ("kind",)}
# Set per page by Pelican's writer (output_file, SITEURL with relative URLs) or left over from the
# previous page (localsiteurl): the page's own name and relative_urls stand for them in the key.
PER_PAGE = frozenset({"localsiteurl", "output_file"})


class ManifestError(RuntimeError):
    pass


def options(settings: dict) -> dict:
    return {**DEFAULTS, **(settings.get("BUILD_MANIFEST") or {})}


class Forbidden:
    """Stands in for a card collection on a manifest page: any use of it stops the build."""

    __slots__ = ("_key",)

    def __init__(self, key: str):
        object.__setattr__(self, "_key", key)

    def _stop(self, *_args, **_kwargs):
        raise ManifestError(
            f"a page rendered from one of BUILD_MANIFEST's templates read {self._key!r} from the context; "
            "its key cannot see that (plugins/speedups/manifest.py): pass what it needs as a page value")

    def __getattr__(self, _name):
        self._stop()

    __iter__ = __len__ = __bool__ = __str__ = __getitem__ = __contains__ = __html__ = __call__ = _stop


class View(dict):
    """The fields of a context value a manifest page may read; reading another stops the build."""

    def __init__(self, key: str, value: dict, fields):
        super().__init__((f, value.get(f)) for f in fields)
        self.key = key

    def __missing__(self, name):
        raise ManifestError(
            f"a page rendered from one of BUILD_MANIFEST's templates read {self.key}.{name}; its key holds "
            f"only {sorted(self)} of it (plugins/speedups/manifest.py VIEWS)")


def _viewed(context: dict) -> dict:
    """The context with each VIEWS value cut down to its fields (dicts only; None stays None)."""
    out = dict(context)
    for key, fields in VIEWS.items():
        if isinstance(out.get(key), dict):
            out[key] = View(key, out[key], fields)
    return out


# -- hashing ----------------------------------------------------------------------------------

def _is_content(obj) -> bool:
    return hasattr(obj, "metadata") and hasattr(obj, "_content")


# A card's metadata is what plugins/evidence/reader.py makes of its file and the editors' overrides
# (``editor``, hashed as it is): these values are stood for by the file's bytes, which hash far faster
# than the values serialize.
FROM_CARD_FILE = frozenset({"record", "safe_html", "citations", "history", "scope", "source_digest"})
# Values the evidence plugin derives for a card (``article.ev``) from what the card was read from,
# its URL and SITEURL alone (plugins/evidence/__init__.py link_evidence): the key holds those
# already, and these are the card's largest values (its RIS repeats the abstract).
EV_FROM_CARD = frozenset({"ris", "bib", "bib_key", "jsonld", "bottom_line", "bottom_line_html", "cite_name"})


def _read_as(obj) -> dict:
    """What a content object was read into."""
    cached = obj.__dict__.get("_manifest_read")
    if cached is None:
        meta = obj.metadata
        path = getattr(obj, "source_path", None)
        if "record" in meta and path:
            source = meta.get("source_digest")  # the reader's hash of the card's text
            if source is None:
                with open(path, "rb") as fh:
                    source = hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
            cached = {"file": source, **{k: v for k, v in meta.items() if k not in FROM_CARD_FILE}}
        else:
            cached = {"metadata": meta, "content": obj._content}
        obj.__dict__["_manifest_read"] = cached
    return cached


def _shallow(obj) -> dict:
    """A content object inside another one's derived values (a linked card): what it was read into."""
    return {"read": _read_as(obj), "url": getattr(obj, "url", None)}


def _plain(obj, nested: bool = False):
    """json.dumps ``default``: a stable JSON value for what JSON cannot encode, or TypeError."""
    if _is_content(obj):
        return _shallow(obj) if nested else content_digest(obj)
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset)):
        return sorted(map(str, obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__dataclass__": type(obj).__qualname__,
                **{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}}
    if isinstance(obj, Path):
        return str(obj)
    if callable(obj) and hasattr(obj, "__qualname__"):
        # Code is in the salt; a closure's captured values come from settings, which are in the key.
        return f"{getattr(obj, '__module__', '')}.{obj.__qualname__}"
    if hasattr(obj, "name") and type(obj).__name__ in ("Category", "Tag", "Author"):
        return f"{type(obj).__name__}:{obj.name}"
    if type(obj).__repr__ is not object.__repr__:
        text = repr(obj)
        if " at 0x" not in text:  # a repr naming an address differs from run to run
            return f"{type(obj).__qualname__}:{text}"
    raise TypeError(f"no stable form for {type(obj).__qualname__}")


def _nested(obj):
    return _plain(obj, nested=True)


def _dumps(value, default=_plain, sort: bool = False) -> bytes:
    """A page's and a card's values keep their keys in insertion order (the code that builds them is
    in the salt, and sorting costs); the site-wide context, made once, is sorted (a dict filled from
    a set would otherwise change order from one run to the next)."""
    return json.dumps(value, separators=(",", ":"), default=default, sort_keys=sort).encode("utf-8")


def content_digest(obj) -> str:
    """A card (or page) object: what it was read into and what plugins derived for it.  Cached on the
    object for the build (the evidence plugin finishes ``ev`` before anything is written)."""
    cached = obj.__dict__.get("_manifest_digest")
    if cached is None:
        ev = getattr(obj, "ev", None)
        if isinstance(ev, dict):
            ev = {k: v for k, v in ev.items() if k not in EV_FROM_CARD}
        data = {"read": _read_as(obj), "ev": ev,
                "status": getattr(obj, "status", None), "url": getattr(obj, "url", None),
                "save_as": getattr(obj, "save_as", None), "template": getattr(obj, "template", None)}
        cached = hashlib.blake2b(_dumps(data, _nested), digest_size=16).hexdigest()
        obj.__dict__["_manifest_digest"] = cached
    return cached


def build_salt(settings: dict) -> str:
    """The theme's files, the plugins' and every other module of the project the build has loaded
    (filters and derived values come from the harvest package too), and the versions of the
    libraries that render them."""
    from importlib.metadata import version

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{sys.version}|{platform.machine()}|{version('pelican')}|{version('jinja2')}|"
             f"{version('markupsafe')}".encode())
    files = set()
    for root in [settings.get("THEME") or ""] + list(settings.get("PLUGIN_PATHS") or []):
        if root and os.path.isdir(root):
            for folder, dirs, names in os.walk(root):
                dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
                files.update(os.path.join(folder, n) for n in names if not n.endswith(".pyc"))
    libraries = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and not path.startswith(libraries) and "site-packages" not in path:
            files.add(path)
    for path in sorted(files):
        try:
            with open(path, "rb") as fh:
                h.update(path.encode() + b"\0" + hashlib.blake2b(fh.read()).digest())
        except OSError:
            h.update(path.encode() + b"\0?")
    return h.hexdigest()


def chrome_digest(context: dict) -> str:
    """The site-wide context, card collections aside (TypeError: something in it has no stable form)."""
    values = {k: v for k, v in _viewed(context).items() if k not in UNSEEN and k not in PER_PAGE}
    return hashlib.blake2b(_dumps(values, sort=True), digest_size=16).hexdigest()


# -- the manifest -----------------------------------------------------------------------------

class Manifest:
    """One build's view: the last build's entries, and this build's as pages are written."""

    def __init__(self, settings: dict, output_path: str):
        opts = options(settings)
        self.enabled = bool(opts["enabled"])
        self.templates = frozenset(opts["templates"])
        self.verify = bool(opts["verify"])
        cache = settings.get("CACHE_PATH")
        self.path = os.path.join(cache, FILE) if cache else None
        self.output = os.path.abspath(output_path)
        self.salt = build_salt(settings) if self.enabled else ""
        self.old: dict[str, list] = {}
        self.was_rendered: list[str] = []
        self.new: dict[str, list] = {}
        self._chrome: tuple | None = None
        self.skipped = 0
        self.rendered: list[str] = []
        if self.enabled and self.path:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    data = json.load(fh)
                self.was_rendered = data.get("rendered") or []
                if data.get("output") == self.output and data.get("salt") == self.salt:
                    self.old = data.get("pages") or {}
            except (OSError, ValueError):
                pass

    def applies(self, template, kwargs) -> bool:
        return self.enabled and getattr(template, "name", None) is not None and \
            template.name.rsplit(".", 1)[0] in self.templates

    def chrome(self, context: dict) -> str | None:
        """Digest of the site-wide context (None: something in it has no stable form, so no page is
        skipped this build).  Made once per context and set of keys: the context is complete when
        writing starts."""
        marker = (id(context), len(context))  # values are only added to a context
        if self._chrome and self._chrome[0] == marker:
            return self._chrome[1]
        try:
            digest = chrome_digest(context)
        except (TypeError, ValueError) as exc:
            logger.warning("build manifest: every page is rendered (site context: %s)", exc)
            digest = None
        self._chrome = (marker, digest)
        return digest

    def key(self, name: str, template, context: dict, call: dict) -> str | None:
        chrome = self.chrome(context)
        if chrome is None:
            return None
        try:
            page = _dumps({"name": name, "template": template.name, "call": call})
        except (TypeError, ValueError) as exc:
            logger.debug("build manifest: %s rendered every time (%s)", name, exc)
            return None
        return hashlib.blake2b(self.salt.encode() + chrome.encode() + page, digest_size=16).hexdigest()

    def unchanged(self, rel: str, path: str, key: str) -> bool:
        entry = self.old.get(rel)
        if not entry or entry[0] != key:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        return [st.st_size, st.st_mtime_ns] == entry[1:]

    def keep(self, rel: str, key: str) -> None:
        self.new[rel] = self.old[rel]

    def wrote(self, rel: str, path: str, key: str) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        self.new[rel] = [key, st.st_size, st.st_mtime_ns]
        self.rendered.append(rel)

    def save(self) -> None:
        if not (self.enabled and self.path):
            return
        if self.new == self.old and self.rendered == self.was_rendered == []:  # a no-change build writes nothing
            return
        # "rendered": which pages the last build had to render (for the curious, and the tests).
        data = json.dumps({"output": self.output, "salt": self.salt, "pages": self.new,
                           "rendered": sorted(self.rendered)}, sort_keys=True, separators=(",", ":"))
        atomic_write(self.path, data.encode("utf-8"))
        logger.info("build manifest: %d page(s) rendered, %d unchanged and not rendered",
                    len(self.rendered), self.skipped)


def restricted(context: dict) -> dict:
    """The context a manifest page is rendered with: card collections and nightly values replaced by
    ``Forbidden``, the VIEWS values cut down to their fields."""
    out = _viewed(context)
    for key in UNSEEN.intersection(out):
        out[key] = Forbidden(key)
    return out
