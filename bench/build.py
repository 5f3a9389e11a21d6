"""Build benchmark: the full site vs. stock Pelican on the same synthetic cards.

    .venv/bin/python bench/build.py [N ...]        default: 1000 5000 20000

For each N: writes N synthetic evidence cards (80 % PubMed articles, 20 % trials) with
harvest.cards.render_card into a temp dir, then in the same run

  full   the site as `make build` makes it: pelican.conf.py with every plugin and the theme, the
         repository's editor pages, and the Pagefind index (built inside the run by plugins/search);
  stock  Pelican with its `simple` theme, no plugins and default settings, on the same cards;

(plus the full site with the search index off), each several times, turn about, each into a new
output dir, and prints the median wall time, CPU seconds, peak memory (max RSS, from wait4), pages
and files written, Pagefind index size, the ratio full / stock, and what creating one file costs on
the disk right then (this VM's ext4 swings from ~40 to ~900 us per file; see bench()).  A benchmark,
not a test: nothing is asserted.

Synthetic cards are clearly never published: every title starts with "SYNTHETIC", PMIDs are in
9000000001.., NCT ids in NCT99000001.., and everything lives in temp dirs that are removed after
the last size has run (--keep to look at them).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harvest.cards import write_card  # noqa: E402
from harvest.record import DESIGNS, empty_record  # noqa: E402

BIN = Path(sys.executable).parent
PMID_BASE = 9_000_000_000  # real PMIDs are 8 digits; this range is reserved for synthetic cards
NCT_BASE = 99_000_000  # real NCT ids are NCT0xxxxxxx

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


def write_cards(content: Path, n: int) -> None:
    rng = random.Random(n)
    for i in range(1, n + 1):
        write_card(content, synthetic_record(i, rng))


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
    """Microseconds to create one small file here, now.  On this VM it ranges from ~40 to ~900 us
    (ext4 without a journal, see bench()), and every file a build writes pays it: printed so that a
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


def bench(n: int, tmp: Path, repeat: int) -> dict:
    """Benchmark N cards in `tmp`, which the caller removes once every size has run."""
    cards = tmp / "cards"
    write_cards(cards, n)

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
    plain_cmd = full_cmd + ["-e", 'SEARCH_INDEX={"enabled": false}']

    # Stock Pelican on the same cards.
    stock_content = tmp / "stock-content"
    stock_content.mkdir()
    (stock_content / "evidence").symlink_to(cards / "evidence", target_is_directory=True)
    stock_conf = tmp / "stock.conf.py"
    stock_conf.write_text(STOCK_CONF)
    stock_cmd = [str(BIN / "pelican"), str(stock_content), "-s", str(stock_conf)]

    # Interleaved repeats, each into a fresh output dir with a cold cache: this machine's file
    # system and CPU drift by +-20 % within minutes, so one run of each says little; the median
    # of runs taken turn about is what the ratio compares.
    #
    # Nothing is deleted until every size has run.  This root file system is ext4 without a
    # journal, where allocating an inode skips each free inode of the block group that was freed in
    # the last few minutes (ext4's recently_deleted(); perf showed it as 14 % of a build's samples):
    # after many deletions nearby, creating a file cost up to ~0.9 ms instead of ~0.04 ms.  Removing
    # each run's output before the next, as this script used to, kept the disk in that state and
    # charged every build per file written -- the full site writes twice as many files as stock.
    # A fresh clone, CI and `make build` into an existing output/ delete nothing first.
    runs = {"full": [], "plain": [], "stock": []}
    pages = {}
    os.sync()
    create_us = create_cost_us(tmp)
    for r in range(repeat):
        for name, cmd in (("full", full_cmd), ("stock", stock_cmd), ("plain", plain_cmd)):
            out, cache = tmp / f"out-{name}-{r}", tmp / f"cache-{name}-{r}"
            for card in cards.rglob("*.md"):  # the same warm page cache for every build
                card.read_bytes()
            os.sync()  # the last build's dirty pages are written back now, not during this one
            runs[name].append(run(cmd + ["-o", str(out), "-e", f'CACHE_PATH="{cache}"'], tmp))
            if r == 0:
                pages[name] = count_pages(out)
                pages[f"files_{name}"] = count_files(out)
                if name == "full":
                    pages["index_mb"] = dir_size_mb(out / "pagefind")
    med = {name: [statistics.median(x[i] for x in values) for i in range(3)]
           for name, values in runs.items()}
    return {
        "n": n,
        "full": med["full"][0], "full_cpu": med["full"][1], "full_mem": max(x[2] for x in runs["full"]),
        "plain": med["plain"][0], "plain_cpu": med["plain"][1],
        "stock": med["stock"][0], "stock_cpu": med["stock"][1], "stock_mem": max(x[2] for x in runs["stock"]),
        "ratios": [f / s for (f, *_), (s, *_) in zip(runs["full"], runs["stock"])],
        "pages_full": pages["full"], "pages_stock": pages["stock"], "pagefind_mb": pages["index_mb"],
        "files_full": pages["files_full"], "files_stock": pages["files_stock"], "create_us": create_us,
    }


def report(r: dict) -> None:
    n = r["n"]
    each = f"{min(r['ratios']):.2f}-{max(r['ratios']):.2f}, {len(r['ratios'])}"
    print(f"{n:>6} | {r['full']:>8.1f}s {r['plain']:>10.1f}s | {r['stock']:>6.1f}s | "
          f"{r['full'] / r['stock']:>5.2f} ({each:<17}) | {r['full_cpu']:>7.1f}/{r['stock_cpu']:<8.1f} | "
          f"{r['full_mem']:>8}/{r['stock_mem']:<9} | {r['pages_full']:>7}/{r['pages_stock']:<8} | "
          f"{r['files_full']:>7}/{r['files_stock']:<8} | {r['pagefind_mb']:>8.1f} | {r['create_us']:>9.0f}",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 5000, 20000])
    parser.add_argument("--repeat", type=int, default=None,
                        help="interleaved runs of each build, median shown (default: 15000 / N, 1 to 9)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = parser.parse_args(argv)
    head = (f"{'cards':>6} | {'full site':>9} {'(no search)':>11} | {'stock':>7} | {'ratio':>5} "
            f"{'(range, runs)':<20}| {'CPU s full/stock':>16} | {'peak MB full/stock':>18} | "
            f"{'pages full/stock':>16} | {'files full/stock':>16} | {'index MB':>8} | {'create us':>9}")
    print(head)
    print("-" * len(head))
    tmps = []
    try:
        for n in args.sizes:
            tmps.append(Path(tempfile.mkdtemp(prefix=f"bench-build-{n}-")))
            report(bench(n, tmps[-1], args.repeat or max(1, min(9, round(15000 / n)))))
    finally:
        # Only now: deleting one size's files before the next size runs would slow its creates.
        for tmp in tmps:
            if args.keep:
                print(f"kept {tmp}", file=sys.stderr)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print("full site = `make build`: pelican.conf.py, all plugins, theme and the Pagefind index; (no search) = "
          "the same with SEARCH_INDEX disabled;\nstock = Pelican, simple theme, no plugins, default settings. "
          "Times are medians of the interleaved runs (cold caches, fresh output dirs);\n"
          "ratio = median full / median stock, then the range of each run's full / stock; CPU = user + system of the build "
          "and its child processes; peak MB = largest process; files = every file written (the index's too);\n"
          "create us = microseconds to create one file in the bench dir before the runs: on this VM's ext4 (no journal)\n"
          "~40 on a quiet disk, up to ~900 within minutes of many deletions nearby, and each build pays it per file.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
