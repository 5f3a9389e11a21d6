"""Harvest benchmark (not a test): a large corpus served by a local emulator of both APIs.

    .venv/bin/python bench/harvest.py [--articles 20000] [--trials 5000] [--batch-size 500]

The corpus is made from REAL recorded records (tests/data/real-api) re-numbered: every PubmedArticle
gets a fresh PMID and every v2 study a fresh NCT id; titles (and, for trials, conditions/intervention
names) get the topic's treatment and "depression" so that the records classify into the topic they are
served for - only one real recording is about a topic of this site.  Records are spread evenly over the
topics.  One local server runs the test suite's emulators (tests/servers.py): esearch/efetch (history
server, retstart/retmax paging), /studies (1,000 per page, nextPageToken) and Metapsy's files.

The harvester runs as `python -m harvest run` in a subprocess, exactly as `make harvest` does, pointed at
the emulator with EUTILS_BASE_URL/CTGOV_BASE_URL and HARVEST_NO_THROTTLE=1 - which the HTTP layer honours
only for loopback hosts, so the NCBI/ClinicalTrials.gov limits still apply to any real host.

Prints: requests per topic vs the floor (ceil(records/batch) + 2 for PubMed, ceil(studies/1000) for
trials), normalization throughput (parse + classify over the cached responses, in-process), files written
by a second run over unchanged data, the harvester's peak memory (max RSS of the subprocess), and the
bytes git stores when content/ and data/ are committed as the nightly job does (the raw reply cache
under data/raw/ is not committed; its size is printed beside): after the first, full harvest, and for
a night in which nothing changed.  Git bytes are the zlib-compressed loose objects a commit adds
(blobs, trees, commit), which is what a push adds to the repository before packing.

The emulator answers /studies with only the `fields` the harvester asks for, as the API does
(tests/servers.select_fields).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pytest_httpserver import HTTPServer  # noqa: E402
from servers import REAL, CtgovEmulator, EutilsEmulator, articles_in, real_studies, renumber_study  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

from harvest.classification.classify import classify  # noqa: E402
from harvest.classification.topics import load_topics  # noqa: E402
from harvest.pipeline import parse_response  # noqa: E402
from harvest.sources.rawcache import iter_cached, read_raw  # noqa: E402
from harvest.sources.sniff import sniff  # noqa: E402

PHRASES = {
    "tms": ("Repetitive transcranial magnetic stimulation in depression", "Repetitive transcranial magnetic stimulation"),
    "ketamine": ("Esketamine for treatment-resistant depression", "Esketamine"),
    "psilocybin": ("Psilocybin therapy for major depressive disorder", "Psilocybin"),
    "light-therapy": ("Bright light therapy for bipolar depression", "Bright light therapy"),
    "pgx": ("Pharmacogenomic testing to guide antidepressant choice in depression", "Pharmacogenomic testing"),
    "ect": ("Electroconvulsive therapy for treatment-resistant depression", "Electroconvulsive therapy"),
    "digital-therapeutics": ("A prescription digital therapeutic app for major depressive disorder",
                             "Digital therapeutic smartphone app"),
}
_PMID_RE = re.compile(rb'(<PMID Version="\d+">)\d+(</PMID>)')
_AID_RE = re.compile(rb'(<ArticleId IdType="pubmed">)\d+(</ArticleId>)')


def base_articles() -> list[bytes]:
    files = [p for p in REAL.rglob("*") if p.is_file() and p.suffix in (".xml", ".gz") and "openapi" not in str(p)]
    out = []
    for p in sorted(files):
        out.extend(articles_in(p.relative_to(REAL).as_posix()))
    return out


def make_article(base: bytes, pmid: int, phrase: str) -> bytes:
    pid = str(pmid).encode()
    out = _PMID_RE.sub(lambda m: m.group(1) + pid + m.group(2), base, count=1)
    out = _AID_RE.sub(lambda m: m.group(1) + pid + m.group(2), out, count=1)
    return out.replace(b"<ArticleTitle>", b"<ArticleTitle>" + phrase.encode() + b": ", 1)


def build_corpus(n_articles: int, n_trials: int, topics):
    arts, studies = base_articles(), real_studies()
    per_topic_a, per_topic_t = n_articles // len(topics), n_trials // len(topics)
    pubmed, ctgov = {}, {}
    for t_index, topic in enumerate(topics):
        title, intervention = PHRASES[topic.slug]
        pubmed[topic.pubmed_query] = [
            make_article(arts[i % len(arts)], 50_000_000 + t_index * 1_000_000 + i, title) for i in range(per_topic_a)]
        key = frozenset((k, str(v)) for k, v in topic.ctgov.items())
        ctgov[key] = [
            renumber_study(studies[i % len(studies)], f"NCT{60_000_000 + t_index * 1_000_000 + i:08d}",
                           title=f"{title}: trial {i}", conditions=["Major Depressive Disorder"],
                           interventions=[intervention])
            for i in range(per_topic_t)]
    return pubmed, ctgov


def serve_metapsy(request: Request) -> Response:
    """A Metapsy database's files from the real copy in tests/data/metapsy: /metapsy/<owner>/<name>/<ref>/<file...>."""
    parts = request.path.split("/")
    local = ROOT / "tests" / "data" / "metapsy" / parts[3] / "/".join(parts[5:])
    if len(parts) > 5 and local.is_file():
        return Response(local.read_bytes(), content_type="text/plain; charset=utf-8")
    return Response(b"not found", status=404, content_type="text/plain")


def start_server(pubmed: dict, ctgov: dict) -> tuple[HTTPServer, EutilsEmulator, CtgovEmulator]:
    """The test suite's emulators of both APIs (tests/servers.py), plus Metapsy's files, on one local server.

    Re-numbered copies keep their real DateRevised, so an incremental esearch (mindate = the last run)
    finds nothing, as for a night in which nothing was revised.
    """
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    eutils = EutilsEmulator(server, pubmed, prefix="/eutils/")
    trials = CtgovEmulator(server, ctgov, prefix="/ctgov/")
    server.expect_request(re.compile(r"^/metapsy/")).respond_with_handler(serve_metapsy)
    return server, eutils, trials


def harvest(env, content: Path, data: Path, *args) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "harvest", "run", "--content", str(content), "--data", str(data), *args],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, run


class GitBytes:
    """A git repository over the bench's content/ and data/, committed as the nightly job commits."""

    def __init__(self, root: Path):
        self.root = root
        self._git("init", "-q")
        (root / ".gitignore").write_text("/data/raw/*\n!/data/raw/recorded/\n")

    def _git(self, *args) -> str:
        return subprocess.run(["git", "-C", str(self.root), "-c", "user.name=bench", "-c", "user.email=b@example.org",
                               *args], capture_output=True, text=True, check=True).stdout

    def _objects(self) -> int:
        objects = self.root / ".git" / "objects"
        return sum(p.stat().st_size for p in objects.glob("??/*"))

    def commit(self, message: str) -> tuple[int, int]:
        """(bytes of the loose objects the commit added, files it changed)."""
        before = self._objects()
        self._git("add", "-A", ".")
        self._git("commit", "-q", "--allow-empty", "-m", message)
        files = [line for line in self._git("show", "--name-only", "--format=", "HEAD").splitlines() if line]
        if os.environ.get("BENCH_SHOW_FILES"):
            print("\n".join(files[:20]))
        return self._objects() - before, len(files)


def files_state(*dirs: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for d in dirs for p in Path(d).rglob("*") if p.is_file()}


def normalization(data: Path, topics) -> None:
    """Parse + classify every cached response in this process (the harvester's own CPU work)."""
    parse_s = classify_s = 0.0
    count = 0
    for path in iter_cached(data / "raw"):
        body = read_raw(path)
        kind = sniff(body)
        if kind not in ("pubmed", "ctgov"):
            continue
        start = time.perf_counter()
        records, _books, _errors = parse_response(kind, body, path.name)
        middle = time.perf_counter()
        for record in records:
            classify(record, topics)
        parse_s += middle - start
        classify_s += time.perf_counter() - middle
        count += len(records)
    total = parse_s + classify_s
    print(f"\nnormalization: {count} records in {total:.2f} s = {count / total:,.0f} records/s "
          f"(parse {parse_s:.2f} s, classify against {len(topics)} topics {classify_s:.2f} s)")
    per_20k = 20_000 * total / count
    print(f"  → {per_20k:.1f} s per 20,000 records (target ≤ 10 s: {'met' if per_20k <= 10 else 'MISSED'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    topics = load_topics()
    t0 = time.perf_counter()
    pubmed, ctgov = build_corpus(args.articles, args.trials, topics)
    print(f"corpus: {args.articles} articles + {args.trials} trials re-numbered from real recordings "
          f"({time.perf_counter() - t0:.1f} s to build)")
    server, _eutils, _trials = start_server(pubmed, ctgov)
    base = f"http://127.0.0.1:{server.port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCBI_", "HARVEST_", "METAPSY_"))}
    env.update(EUTILS_BASE_URL=f"{base}/eutils/", CTGOV_BASE_URL=f"{base}/ctgov/", HARVEST_NO_THROTTLE="1",
               METAPSY_BASE_URL=f"{base}/metapsy/",
               NCBI_EMAIL="bench@example.org", PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="harvest-bench-") as tmp:
        content, data = Path(tmp, "content"), Path(tmp, "data")
        seconds, run = harvest(env, content, data, "--batch-size", str(args.batch_size))
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if run.returncode != 0:
            print(run.stderr[-3000:])
            return 1
        git = GitBytes(Path(tmp))
        first_bytes, first_files = git.commit("first harvest")
        raw_bytes = sum(p.stat().st_size for p in (data / "raw").rglob("*") if p.is_file())
        report = json.loads((data / "report.json").read_text())
        cards = report["totals"]["new"]
        print(f"\ngit-tracked bytes the first, full harvest adds: {first_bytes:,} B in git objects for {first_files} "
              f"files ({cards:,} cards: {first_bytes / max(cards, 1):,.0f} B per card; at that rate a 25,000-record "
              f"harvest adds {first_bytes / max(cards, 1) * 25_000 / 1e6:,.1f} MB); the raw reply cache, not "
              f"committed, is {raw_bytes:,} B")
        print(f"\nfirst run (full corpus): {seconds:.1f} s wall, exit {run.returncode}, "
              f"{report['totals']['new']} cards written, {len(server.log)} HTTP requests")
        print(f"\n{'topic':<14}{'source':<8}{'records':>8}{'requests':>10}{'floor':>7}")
        made = floor = 0
        for topic in report["topics"]:
            for source, entry in topic["sources"].items():
                n = entry["found"]
                f = math.ceil(n / args.batch_size) + 2 if source == "pubmed" else math.ceil(n / 1000)
                made, floor = made + entry["requests"], floor + f
                print(f"{topic['slug']:<14}{source:<8}{n:>8}{entry['requests']:>10}{f:>7}")
        print(f"{'total':<22}{'':>8}{made:>10}{floor:>7}   ({'at or below' if made <= floor else 'ABOVE'} the floor)")

        before = files_state(content, data / "raw")
        seconds2, run2 = harvest(env, content, data, "--full", "--batch-size", str(args.batch_size))
        after = files_state(content, data / "raw")
        changed_cards = sum(1 for p, m in after.items() if p.startswith(str(content)) and before.get(p) != m)
        changed_raw = sum(1 for p, m in after.items() if not p.startswith(str(content)) and before.get(p) != m)
        report2 = json.loads((data / "report.json").read_text())
        print(f"\nsecond run, unchanged data (--full, same replies): {seconds2:.1f} s, exit {run2.returncode}; "
              f"files written: {changed_cards} cards, {changed_raw} raw-cache files "
              f"(report: {report2['totals']['unchanged']} unchanged, {report2['totals']['new']} new, "
              f"{report2['totals']['updated']} updated)")
        git.commit("second run")
        seconds3, run3 = harvest(env, content, data, "--batch-size", str(args.batch_size))
        after3 = files_state(content, data / "raw")
        changed3 = sum(1 for p, m in after3.items() if after.get(p) != m)
        print(f"third run, incremental (asks only for records revised since the last success minus the overlap): "
              f"{seconds3:.1f} s; files written: {changed3} (cards + raw cache)")
        night_bytes, night_files = git.commit("a night with no change")
        print(f"git-tracked bytes a no-change night adds: {night_bytes:,} B in git objects "
              f"({night_files} files changed: the run record, data/state.json and data/report.json)")
        peak_kb = max(peak_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        server.stop()
        normalization(data, topics)
        print(f"\npeak memory of the harvester (max RSS of `python -m harvest run`): {peak_kb / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
