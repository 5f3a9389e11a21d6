"""Read part of the evidence cards in a forked child while Pelican reads the rest.

Pelican reads content files one after another on one core, and while it does the second core has
nothing to do (the search index and the charts need the cards first).  Reading a card — parse its
JSON lines, sanitize its markup, make its RIS and BibTeX — depends on that file alone, so when the
articles generator is created a child is forked that runs the same ``reader.card_entry`` on the
later share of the card files and pipes the results back in batches.  When Pelican asks the reader
for one of those cards, the reader takes the child's result instead of reading the file itself
(``take``); an error the child met is raised in the reader, exactly as if it had met it there.

Anything unexpected (the child dies, a result cannot be sent) only costs speed: the reader reads the
card itself.  Small sites are not worth a fork, and with Pelican's content cache on, files served from
the cache are never read, so neither case starts a child.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue

logger = logging.getLogger(__name__)

# Setting EVIDENCE_PREFETCH (optional), merged over these:
#   min_cards  fewer card files than this: no child (reading them is quicker than forking)
#   share      the fraction of the cards the child reads, from the end of Pelican's reading order
#              (more than half: the parent also builds Pelican's Article object for every card)
DEFAULTS = {"min_cards": 200, "share": 0.55}
_BATCH = 64

_active: dict[str, "_Prefetch"] = {}  # absolute card path → the prefetch that will deliver it


class _Prefetch:
    def __init__(self, paths: list[str], work):
        # A multiprocessing Queue, not a bare pipe: the child's put() hands batches to a feeder
        # thread, so the child keeps reading while the parent is still busy with its own share.
        context = multiprocessing.get_context("fork")
        self.queue = context.Queue()
        self.child = context.Process(target=_run, args=(paths, work, self.queue), daemon=True)
        self.child.start()
        self.ready: dict[str, tuple[bool, object]] = {}
        self.done = False

    def take(self, path: str):
        while path not in self.ready and not self.done:
            try:
                batch = self.queue.get(timeout=1.0)
            except queue.Empty:
                if self.child.is_alive():
                    continue
                batch = None  # died without its end marker
            except Exception:  # noqa: BLE001 - a batch that cannot be unpickled: read it here
                batch = None
            if batch is None:
                self.done = True
                break
            self.ready.update(batch)
        return self.ready.pop(path, None)

    def close(self) -> None:
        self.done = True
        if self.child.is_alive():
            self.child.terminate()
        self.child.join()
        self.queue.close()
        self.queue.cancel_join_thread()


def _run(paths: list[str], work, out) -> None:
    """Child: run ``work`` on every path; put [(path, (ok, result or exception))] batches, then None."""
    batch = []
    for path in paths:
        try:
            batch.append((path, (True, work(path))))
        except Exception as exc:  # noqa: BLE001 - handed to the reader, which reports it
            try:
                pickle.dumps(exc)
            except Exception:  # noqa: BLE001 - e.g. an exception holding an open file
                exc = ValueError(f"{type(exc).__name__}: {exc}")
            batch.append((path, (False, exc)))
        if len(batch) >= _BATCH:
            out.put(batch)
            batch = []
    out.put(batch)
    out.put(None)


def options(settings: dict) -> dict:
    return {**DEFAULTS, **(settings.get("EVIDENCE_PREFETCH") or {})}


def start(paths: list[str], work, min_cards: int, share: float) -> None:
    """Fork a child that runs ``work(path)`` on the last ``share`` of ``paths`` (absolute paths)."""
    stop()
    theirs = paths[len(paths) - round(len(paths) * min(max(share, 0.0), 1.0)):]
    if len(paths) < min_cards or not theirs:
        return
    prefetch = _Prefetch(theirs, work)
    for path in theirs:
        _active[path] = prefetch
    logger.debug("prefetch: a child reads %d of %d cards", len(theirs), len(paths))


def take(path: str):
    """The child's (ok, value) for this card, or None when the caller must read it itself."""
    prefetch = _active.pop(path, None)
    return prefetch.take(path) if prefetch is not None else None


def stop() -> None:
    """Drop whatever was not taken and end the child (the articles generator has finished)."""
    for prefetch in {id(p): p for p in _active.values()}.values():
        prefetch.close()
    _active.clear()


def card_paths(generator) -> list[str]:
    """The card files the articles generator is about to read, in the order it will read them."""
    files = generator.get_files(generator.settings["ARTICLE_PATHS"],
                                exclude=generator.settings["ARTICLE_EXCLUDES"])
    return [os.path.abspath(os.path.join(generator.path, f)) for f in files
            if f.replace(os.sep, "/").startswith("evidence/") and f.endswith(".md")]
