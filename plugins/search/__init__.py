"""Build the Pagefind search index inside the Pelican run, on the second core.

Run after Pelican, Pagefind adds a large share to a big build, and starting it once the card pages
were written saves little: card pages are most of the build.  So the index is built from its own
input, in parallel with the whole writing phase:

- as soon as every generator has read its content (``all_generators_finalized``: the cards, the
  editor's pages and the evidence plugin's topic data), a forked child renders one small search
  document per card with theme/templates/search_doc.html — which includes the same
  ``_card_article.html`` partial as the card page, so the index holds exactly what the page shows —
  at the card page's own path under a temp dir, and one per topic explainer, glossary entry and the
  Methods page (plugins/search/pages.py, theme/templates/search_page_doc.html); then it runs
  Pagefind on that dir (result URLs follow from the paths, so they are the pages' URLs) and copies
  the index to output/pagefind/;
- meanwhile the parent writes the site; ``finalized`` waits for the child and fails the build
  (``--fatal errors``) if Pagefind failed.

Listing pages are not indexed: they repeat card titles and add index size, not answers.  Pagefind
refuses to write an empty index, so a site without cards gets none.

The index is built in parts of at most ``part_size`` cards, each by its own Pagefind run, and only
the parts whose documents changed are rebuilt (plugins/search/parts.py); the search page merges them.
A part's Pagefind run starts as soon as its documents are written, beside the next part's documents
and the parent's writing; one run at a time.

Setting (optional)::

    SEARCH_INDEX = {"enabled": True, "part_size": 5000, "keep_documents": None}

``keep_documents``: a folder that keeps the documents Pagefind read (``site-<k>/`` per part) after
the build, to see what the index holds or time Pagefind on them alone (bench/build.py); the output
is the same with or without it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor

from pelican import signals
from pelican.generators import ArticlesGenerator

from harvest.fileio import claim_tree, mirror_tree

from . import pages, parts

logger = logging.getLogger(__name__)

# part_size: most cards in one Pagefind index (plugins/search/parts.py); Pagefind's memory grows with
# the cards in an index, so a part bounds one run's memory.
DEFAULTS = {"enabled": True, "part_size": 5000, "keep_documents": None}
_children: dict[int, tuple[multiprocessing.Process, object, str]] = {}  # id(settings) → child


def options(settings: dict) -> dict:
    return {**DEFAULTS, **(settings.get("SEARCH_INDEX") or {})}


def _pagefind_command() -> list[str]:
    """The binary the pagefind[bin] wheel ships, run directly: ``python -m pagefind`` would start an
    interpreter only to exec it.  Falls back to that when the wheel's layout is not the expected one."""
    try:
        from pagefind_bin import get_executable

        return [str(get_executable())]
    except Exception:  # noqa: BLE001 - any surprise: let pagefind's own launcher find it
        return [sys.executable, "-m", "pagefind"]


# Pagefind runs a <dt> straight into its <dd> ("Evidence levelLevel 5 of 5"), and a <dd> into the
# next <dt>: the documents it reads separate them as a sentence would.  Only the search document
# changes; the page keeps its definition list.
_DT_END = re.compile(r"\s*</dt>")
_DD_END = re.compile(r"(?<![.!?\s])\s*</dd>")


def sentences(html: str) -> str:
    return _DD_END.sub(". </dd>", _DT_END.sub(": </dt>", html))


def _write(site: str, rel: str, html: str) -> bytes:
    """Write one search document; returns its SHA-256, which is all the part's key needs of it (the
    documents themselves are not kept: at tens of thousands of cards they would fill the child's memory)."""
    path = os.path.join(site, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = html.encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(data)
    return hashlib.sha256(data).digest()


def _done_with(site: str, keep: str | None) -> None:
    """A part's documents once Pagefind has read them (or its index was kept as it was): gone, so a
    memory-backed temp dir holds about two parts at a time, or moved into ``keep_documents``."""
    if keep:
        shutil.move(site, os.path.join(keep, os.path.basename(site)))
    else:
        shutil.rmtree(site, ignore_errors=True)


def _run_part(command: list[str], workdir: str, output: str, k: int, keep: str | None) -> tuple[int, str]:
    """Index part k's documents with Pagefind and mirror the index into the output; (exit code, last line)."""
    # Pagefind writes to the temp dir and the part is mirrored into the output: Pagefind itself leaves
    # every earlier build's files behind under their old hashes, and it rewrites files that did not
    # change.
    staged = os.path.join(workdir, f"index-{k}")
    run = subprocess.run(
        [*command, "--site", os.path.join(workdir, f"site-{k}"), "--glob", "**/*.html",
         "--output-path", staged, "--silent"],
        capture_output=True, text=True,
    )
    _done_with(os.path.join(workdir, f"site-{k}"), keep)
    if run.returncode != 0:
        lines = (run.stdout + run.stderr).strip().splitlines()
        return run.returncode, lines[-1] if lines else ""
    mirror_tree(staged, os.path.join(output, parts.folder(k)))
    shutil.rmtree(staged, ignore_errors=True)
    return 0, ""


def _index(generator: ArticlesGenerator, cards: list, n_parts: int, workdir: str, output: str, conn,
           keep: str | None = None) -> None:
    """Child process: render the search documents part by part, and start Pagefind on a changed part
    as soon as its documents are written, then report (exit code, last output)."""
    pool = None
    try:
        template = generator.get_template("search_doc")
        # The build manifest's keys; imported here, not when this plugin is loaded: the evidence
        # plugin may come later in PLUGINS, and it is loaded by the time cards are indexed.
        from evidence.keys import manifest
        # A card's document is rendered only when its key changed (parts.DocCache); like a page the
        # build manifest may skip, it is rendered without the context's card collections.
        try:
            salt = f"{manifest.build_salt(generator.settings)}|{manifest.chrome_digest(generator.context)}"
        except (TypeError, ValueError):
            salt = None
        cache = generator.settings.get("CACHE_PATH")
        before = parts.load(cache, output)
        kept = parts.DocCache(cache if salt else None, output, salt or "", n_parts, len(before))
        context = manifest.restricted(generator.context)
        by_part: list[list] = [[] for _ in range(n_parts)]
        for article in cards:
            by_part[parts.part_of(article.record["id"], n_parts)].append(article)

        command = _pagefind_command()
        index_salt = f"{_pagefind_version(command)}|{n_parts}"
        after: dict[str, str] = {}
        # A part's Pagefind run need not wait for the other parts' documents, so it runs on a thread
        # while this one renders the next part's.  One run at a time: a run holds its part in memory,
        # and Pagefind already uses more than one core (two runs at once on two cores were slower).
        pool = ThreadPoolExecutor(max_workers=1)
        runs: dict[int, Future] = {}
        for k, members in enumerate(by_part):
            docs: dict[str, bytes] = {}
            site = os.path.join(workdir, f"site-{k}")
            if k == 0:  # part 0 also holds the explainers, glossary entries and Methods
                page_template = generator.get_template("search_page_doc")
                for doc in pages.page_docs(generator.context):
                    html = sentences(page_template.render({**generator.context, "doc": doc}))
                    docs[doc.save_as] = _write(site, doc.save_as, html)
            old, new = kept.load(k, (a.save_as for a in members)), {}
            for article in members:
                key = manifest.content_digest(article) if salt else None
                hit = old.get(article.save_as)
                if hit and hit[0] == key:
                    html = hit[1]
                else:
                    html = sentences(template.render({**context, "article": article}))
                new[article.save_as] = (key, html)
                docs[article.save_as] = _write(site, article.save_as, html)
            kept.save(k, new, old)
            del old, new
            after[str(k)] = parts.digest(docs, index_salt)
            if before.get(str(k)) == after[str(k)] and parts.intact(output, k):
                _done_with(site, keep)
                continue  # same documents, same Pagefind: its files stay as they are
            runs[k] = pool.submit(_run_part, command, workdir, output, k, keep)
        kept.commit()  # the documents are good whatever Pagefind makes of them
        failed = next(((code, last) for code, last in (runs[k].result() for k in sorted(runs)) if code), None)
        if failed:
            parts.save(cache, output, {})  # nothing known about the output any more
            conn.send(failed)
            return
        # Parts of an earlier build with more parts than this one.
        k = n_parts
        while os.path.isdir(os.path.join(output, parts.folder(k))):
            shutil.rmtree(os.path.join(output, parts.folder(k)))
            k += 1
        parts.save(cache, output, after)
        conn.send((0, f"{len(runs)} of {n_parts} part(s) indexed"))
    except BaseException as exc:  # noqa: BLE001 - anything the child hits must reach the parent
        conn.send((1, f"{type(exc).__name__}: {exc}"))
    finally:
        if pool is not None:  # after a failed part, the parts still queued are not run
            pool.shutdown(wait=True, cancel_futures=True)
        conn.close()


def _pagefind_version(command: list[str]) -> str:
    """What the index format depends on besides the documents: a new Pagefind rebuilds every part."""
    try:
        return subprocess.run([*command, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


# A generous size for one card's search document: real ones are a few KB.
DOC_BYTES = 32 * 1024


def scratch_parent(part_cards: int, shm: str = "/dev/shm") -> str | None:
    """Where the documents are written for Pagefind: memory-backed when the machine has room there
    for two parts (one being indexed while the next is written), as these thousands of small files
    live only until Pagefind has read them; else the system's temp dir (None).  A container's
    /dev/shm is often small (64 MB by default), and a full one would fail the build."""
    try:
        free = os.statvfs(shm)
    except OSError:
        return None
    if not os.access(shm, os.W_OK) or free.f_bavail * free.f_frsize < 2 * part_cards * DOC_BYTES:
        return None
    return shm


def start(generators):
    articles = next((g for g in generators if isinstance(g, ArticlesGenerator)), None)
    if articles is None or not options(articles.settings)["enabled"]:
        return
    cards = [a for a in articles.context.get("evidence") or [] if getattr(a, "ev", None)]
    if not cards:
        logger.info("search: no evidence cards, no search index")
        return
    settings = options(articles.settings)
    keep = settings["keep_documents"]
    if keep:
        shutil.rmtree(keep, ignore_errors=True)  # no earlier build's documents among this one's
        os.makedirs(keep)
    workdir = tempfile.mkdtemp(prefix="atlas-search-", dir=scratch_parent(min(len(cards), settings["part_size"])))
    # The search page (written by the parent while the child indexes) merges the other parts.
    n_parts = parts.count([a.record["id"] for a in cards], settings["part_size"])
    for k in range(n_parts):  # the child keeps each part's folder in step (mirror_tree)
        claim_tree(os.path.join(articles.output_path, parts.folder(k)))
    articles.context["search_merge"] = parts.bundle_paths(n_parts)
    # The search page searches the first part first and says how many cards that is (search.js).
    articles.context["search_cards"] = len(cards)
    articles.context["search_first_cards"] = sum(1 for a in cards if parts.part_of(a.record["id"], n_parts) == 0)
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_index, args=(articles, cards, n_parts, workdir, articles.output_path, send, keep), daemon=True)
    child.start()
    send.close()
    _children[id(articles.settings)] = (child, receive, workdir)


def finish(pelican):
    child, receive, workdir = _children.pop(id(pelican.settings), (None, None, None))
    if child is None:
        return
    try:
        code, last = receive.recv() if receive.poll(None) else (1, "no report from the indexer")
    except EOFError:
        code, last = 1, f"the indexer died (exit {child.exitcode})"
    child.join()
    shutil.rmtree(workdir, ignore_errors=True)
    if code != 0:
        logger.error("search: pagefind failed (exit %s) indexing %s: %s", code, pelican.output_path, last)
    else:
        logger.info("search: pagefind index written to %s", os.path.join(pelican.output_path, "pagefind"))


def register():
    signals.all_generators_finalized.connect(start)
    signals.finalized.connect(finish)
