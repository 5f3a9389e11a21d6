"""Local emulators of E-utilities and ClinicalTrials.gov API v2 that serve REAL recorded bodies.

Built on pytest-httpserver (werkzeug in a thread).  Everything served comes from tests/data/real-api/
(copies of ../shared/real-api, bytes unchanged):

- E-utilities replies reuse the status line and headers recorded in the biocommons/eutils vcrpy
  cassettes (X-RateLimit-Limit 3 without a key, 10 with one).  esearch bodies are the recorded pubmed
  esearch body with Count/RetMax/WebEnv/QueryKey values set for the emulated query (retmax=0, so the
  IdList is empty, as NCBI answers).  efetch bodies are REAL <PubmedArticle> elements cut out of real
  efetch/baseline files, concatenated inside the real PubmedArticleSet envelope (prolog + DOCTYPE) of the
  recorded efetch cassette - exactly how NCBI batches articles.
- No real ClinicalTrials.gov /studies *page* was ever recorded (see PROVENANCE.md), so pages are built
  by putting REAL study objects (AACT fixtures, website download) into the wrapper the OpenAPI spec
  defines (components.schemas.PagedStudies: {"studies": [...], "nextPageToken": str, "totalCount": int};
  ctgov-openapi/openapi-spec.yaml), with the spec's rules: totalCount only on the first page and only
  with countTotal=true, no nextPageToken on the last page.  A 400 reply is text/plain (the spec's
  errorMessage schema).

Faults are injected per endpoint as a queue consumed before normal answers: a status (with headers such
as Retry-After), a slow reply (client timeout), a connection reset, or a replacement body (truncated XML,
NCBI error body, malformed JSON) - replacement bodies are made by the tests from real recorded bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

import logging

# The emulated servers' access log prints request URLs, API key included; it is the *server's* log (NCBI
# keeps its own), not the harvester's, so it is silenced here to keep captured logs about the harvester.
logging.getLogger("werkzeug").setLevel(logging.ERROR)

REAL = Path(__file__).parent / "data" / "real-api"
CASSETTES = REAL / "biocommons-eutils" / "tests" / "data" / "cassettes"
AACT = REAL / "ctgov-aact-fixtures" / "spec" / "support" / "json_data"
WEBSITE_DOWNLOAD = REAL / "ctgov-website-download" / "koy570-herniated_disc" / "ctg-studies.json"

# Hop-by-hop or encoding headers that described the original transfer, not the body we serve.
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "connection", "keep-alive",
                 "set-cookie"}
_ARTICLE_RE = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.S)
_PMID_RE = re.compile(rb'<PMID Version="\d+">(\d+)</PMID>')


def real_bytes(rel: str) -> bytes:
    """Bytes of a real recording (gunzipped when the recording is a .gz file)."""
    data = (REAL / rel).read_bytes()
    return gzip.decompress(data) if rel.endswith(".gz") else data


def cassette(name: str) -> list[dict]:
    """The interactions of a vcrpy cassette: [{"request": {...}, "status", "headers", "body"}]."""
    doc = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    out = []
    for item in doc["interactions"]:
        resp = item["response"]
        headers = [(k, v) for k, values in resp["headers"].items() for v in values
                   if k.lower() not in _DROP_HEADERS]
        body = resp["body"]["string"]
        out.append({"request": item["request"], "status": resp["status"]["code"], "headers": headers,
                    "body": body.encode("utf-8") if isinstance(body, str) else body})
    return out


def articles_in(rel: str) -> list[bytes]:
    """Every real <PubmedArticle> element of a recorded efetch/baseline file."""
    return _ARTICLE_RE.findall(real_bytes(rel))


def pmid_of(article: bytes) -> str:
    return _PMID_RE.search(article).group(1).decode()


_REVISED_RE = re.compile(rb"<DateRevised>\s*<Year>(\d{4})</Year>\s*<Month>(\d{1,2})</Month>\s*<Day>(\d{1,2})</Day>")
_ENTREZ_RE = re.compile(rb'<PubMedPubDate PubStatus="entrez">\s*<Year>(\d{4})</Year>\s*<Month>(\d{1,2})</Month>\s*<Day>(\d{1,2})</Day>')


def article_date(article: bytes, datetype: str) -> str:
    """The article's modification (DateRevised) or Entrez date as YYYY/MM/DD, as E-utilities compares."""
    match = (_ENTREZ_RE.search(article) if datetype == "edat" else None) or _REVISED_RE.search(article)
    if not match:
        return "0000/00/00"
    y, m, d = (g.decode() for g in match.groups())
    return f"{y}/{int(m):02d}/{int(d):02d}"


def filter_by_date(articles: list[bytes], params: dict) -> list[bytes]:
    datetype = params.get("datetype", "pdat")
    lo, hi = params.get("mindate", "0000/00/00"), params.get("maxdate", "9999/99/99")
    return [a for a in articles if lo <= article_date(a, datetype) <= hi]


def article_set(articles: list[bytes]) -> bytes:
    """A PubmedArticleSet reply: the recorded efetch envelope around real article elements."""
    body = cassette("test_efetch")[0]["body"]
    start = body.index(b"<PubmedArticleSet>") + len(b"<PubmedArticleSet>")
    return body[:start] + b"\n" + b"\n".join(articles) + b"\n</PubmedArticleSet>\n"


def esearch_body(count: int, webenv: str, query_key: str = "1") -> bytes:
    """The recorded pubmed esearch reply with this query's Count/WebEnv/QueryKey (retmax=0)."""
    body = cassette("test_esearchresult")[1]["body"]
    body = re.sub(rb"<Count>\d+</Count>", b"<Count>%d</Count>" % count, body, count=1)
    body = re.sub(rb"<RetMax>\d+</RetMax>", b"<RetMax>0</RetMax>", body, count=1)
    body = re.sub(rb"<QueryKey>\d+</QueryKey>", b"<QueryKey>" + query_key.encode() + b"</QueryKey>", body)
    body = re.sub(rb"<WebEnv>[^<]*</WebEnv>", b"<WebEnv>" + webenv.encode() + b"</WebEnv>", body)
    body = re.sub(rb"<IdList>.*?</IdList>", b"<IdList/>", body, flags=re.S)
    return body


def real_studies() -> list[dict]:
    """Real v2 study objects: the six AACT single-study fixtures and the 100-study website download."""
    studies = [json.loads(p.read_bytes()) for p in sorted(AACT.glob("NCT*.json"))]
    return studies + json.loads(WEBSITE_DOWNLOAD.read_bytes())


def nct_of(study: dict) -> str:
    return study["protocolSection"]["identificationModule"]["nctId"]


_SINCE_RE = re.compile(r"AREA\[LastUpdatePostDate\]RANGE\[(\d{4}-\d{2}-\d{2}),MAX\]")


def last_update(study: dict) -> str:
    return study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]


def select_fields(study: dict, paths: list[str]) -> dict:
    """The study cut down to `fields` the way the OpenAPI spec describes it: each dotted path keeps that
    node with all its descendants; a path through a list applies to every element of the list."""
    def pick(node, parts):
        if not parts:
            return node
        if isinstance(node, list):
            items = [pick(item, parts) for item in node]
            return [i for i in items if i is not None]
        if isinstance(node, dict) and parts[0] in node:
            inner = pick(node[parts[0]], parts[1:])
            return None if inner is None else {parts[0]: inner}
        return None

    def merge(a, b):
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for k, v in b.items():
                out[k] = merge(out[k], v) if k in out else v
            return out
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            return [merge(x, y) for x, y in zip(a, b)]
        return b

    out: dict = {}
    for path in paths:
        got = pick(study, path.split("."))
        if got is not None:
            out = merge(out, got)
    return out


def studies_page(studies: list[dict], next_token: str | None = None, total: int | None = None) -> bytes:
    """The OpenAPI PagedStudies wrapper around real study objects (see module docstring)."""
    page: dict = {"studies": studies}
    if total is not None:
        page["totalCount"] = total
    if next_token:
        page["nextPageToken"] = next_token
    return json.dumps(page, ensure_ascii=False).encode("utf-8")


# --- faults ------------------------------------------------------------------------------------------

@dataclass
class Fault:
    status: int | None = None
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0
    reset: bool = False
    content_type: str = "text/plain"


def reset_connection(request: Request) -> None:
    """Abort the TCP connection with an RST (SO_LINGER 0), as a peer resetting it would."""
    sock = request.environ.get("werkzeug.socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Emulator:
    """Common machinery: one pytest-httpserver, a request log, per-path fault queues."""

    def __init__(self, server: HTTPServer, prefix: str):
        self.server = server
        self.prefix = prefix
        self.faults: dict[str, deque] = {}
        self.log: list[dict] = []  # {"path", "method", "params", "time"}
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.server.url_for(self.prefix)

    def fail(self, endpoint: str, *faults: Fault) -> None:
        self.faults.setdefault(endpoint, deque()).extend(faults)

    def requests_to(self, endpoint: str) -> list[dict]:
        return [r for r in self.log if r["path"].endswith(endpoint)]

    def _record(self, request: Request) -> dict:
        params = request.args.to_dict(flat=True)
        params.update(request.form.to_dict(flat=True))
        entry = {"path": request.path, "method": request.method, "params": params, "time": time.monotonic()}
        with self.lock:
            self.log.append(entry)
        return entry

    def _fault(self, endpoint: str, request: Request) -> Response | None:
        queue = self.faults.get(endpoint)
        if not queue:
            return None
        fault = queue.popleft()
        if fault.reset:
            reset_connection(request)
            return Response(b"", status=500)
        if fault.delay:
            time.sleep(fault.delay)
            if fault.status is None and fault.body is None:
                return None  # a slow but otherwise normal answer
        return Response(fault.body or b"", status=fault.status or 200, headers=fault.headers,
                        content_type=fault.content_type)


class EutilsEmulator(Emulator):
    """esearch.fcgi + efetch.fcgi for db=pubmed.  `corpus` maps an exact term to real article elements."""

    def __init__(self, server: HTTPServer, corpus: dict[str, list[bytes]] | None = None,
                 prefix: str = "/entrez/eutils/", date_filter=None):
        super().__init__(server, prefix)
        self.corpus = corpus or {}
        self.history: dict[tuple[str, str], list[bytes]] = {}
        self.date_filter = date_filter  # callable(articles, params) -> articles within mindate..maxdate
        for endpoint in ("esearch.fcgi", "efetch.fcgi"):
            server.expect_request(prefix + endpoint).respond_with_handler(self._handler(endpoint))

    def _headers(self, request: Request) -> list:
        params = {**request.args.to_dict(), **request.form.to_dict()}
        recorded = cassette("test_esearchresult")[1] if params.get("api_key") else cassette("test_esearch")[0]
        return recorded["headers"]

    def _handler(self, endpoint):
        def handle(request: Request) -> Response:
            entry = self._record(request)
            faulty = self._fault(endpoint, request)
            if faulty is not None:
                return faulty
            params = entry["params"]
            if endpoint == "esearch.fcgi":
                articles = list(self.corpus.get(params.get("term", ""), []))
                if params.get("mindate"):
                    articles = (self.date_filter or filter_by_date)(articles, params)
                webenv = "MCID_" + hashlib.sha1(repr((params.get("term"), params.get("mindate"),
                                                      params.get("maxdate"))).encode()).hexdigest()[:24]
                self.history[(webenv, "1")] = articles
                body = esearch_body(len(articles), webenv)
            else:
                articles = self.history.get((params.get("WebEnv"), params.get("query_key")))
                if articles is None:
                    body = b'{"error":"Unknown WebEnv"}'  # never reached by a correct client
                else:
                    start, size = int(params.get("retstart", 0)), int(params.get("retmax", 20))
                    body = article_set(articles[start:start + size])
            return Response(body, status=200, headers=self._headers(request))

        return handle


class CtgovEmulator(Emulator):
    """GET /studies.  `corpus` maps a frozenset of the query's query.*/filter.* params to real studies."""

    def __init__(self, server: HTTPServer, corpus: dict[frozenset, list[dict]] | None = None,
                 prefix: str = "/api/v2/"):
        super().__init__(server, prefix)
        self.corpus = corpus or {}
        self.tokens: dict[str, tuple[dict, int]] = {}
        self.violations: list[str] = []
        server.expect_request(prefix + "studies").respond_with_handler(self._handle)

    @staticmethod
    def _query(params: dict) -> dict:
        return {k: v for k, v in params.items() if k.startswith(("query.", "filter.", "postFilter.", "format", "fields"))}

    def _handle(self, request: Request) -> Response:
        entry = self._record(request)
        faulty = self._fault("studies", request)
        if faulty is not None:
            return faulty
        params = entry["params"]
        query = self._query(params)
        size = min(int(params.get("pageSize") or 10), 1000)
        token = params.get("pageToken")
        if token:
            first, offset = self.tokens.get(token, (None, None))
            if first is None:
                return Response(f"Invalid page token {token}", status=400, content_type="text/plain")
            if first != query:
                self.violations.append(f"page params differ from first page: {query} != {first}")
        else:
            offset = 0
        wanted = {k: v for k, v in query.items() if k.startswith(("query.", "filter."))}
        since = None
        advanced = wanted.get("filter.advanced", "")
        match = _SINCE_RE.search(advanced)
        if match:
            since = match.group(1)
            rest = _SINCE_RE.sub("", advanced).strip()
            rest = re.sub(r"^\((.*)\) AND$", r"\1", rest).strip()
            if rest:
                wanted["filter.advanced"] = rest
            else:
                del wanted["filter.advanced"]
        studies = self.corpus.get(frozenset(wanted.items()), [])
        if since:
            studies = [s for s in studies if last_update(s) >= since]
        page = studies[offset:offset + size]
        if params.get("fields"):
            paths = [p for p in re.split(r"[,|]", params["fields"]) if p]
            page = [select_fields(study, paths) for study in page]
        next_token = None
        if offset + size < len(studies):
            next_token = hashlib.sha1(f"{sorted(query.items())}{offset + size}".encode()).hexdigest()[:16]
            self.tokens[next_token] = (query, offset + size)
        total = len(studies) if (not token and params.get("countTotal") == "true") else None
        return Response(studies_page(page, next_token, total), status=200, content_type="application/json")


# --- test-time variants of real records ----------------------------------------------------------------
# Only one real recording (PMID 38011560, ketamine) is about a topic of this site and no recorded trial
# is, so tests and the benchmark derive on-topic records from real ones by changing field VALUES in the
# real bytes/objects (PMID / NCT id re-numbered, title, conditions, interventions); shapes stay as recorded.

def renumber_article(article: bytes, pmid: str, title: str | None = None) -> bytes:
    """A real <PubmedArticle> with its PMID (and optionally its ArticleTitle) replaced."""
    out = re.sub(rb'(<PMID Version="\d+">)\d+(</PMID>)', lambda m: m.group(1) + pmid.encode() + m.group(2), article, count=1)
    out = re.sub(rb'(<ArticleId IdType="pubmed">)\d+(</ArticleId>)', lambda m: m.group(1) + pmid.encode() + m.group(2), out, count=1)
    if title is not None:
        out = re.sub(rb"<ArticleTitle>.*?</ArticleTitle>", lambda m: b"<ArticleTitle>" + title.encode() + b"</ArticleTitle>", out, count=1, flags=re.S)
    return out


def renumber_study(study: dict, nct: str, *, title: str | None = None, conditions: list[str] | None = None,
                   interventions: list[str] | None = None) -> dict:
    """A deep copy of a real v2 study with its NCT id (and optionally title/conditions/intervention names)
    replaced."""
    out = json.loads(json.dumps(study))
    proto = out["protocolSection"]
    proto["identificationModule"]["nctId"] = nct
    if title is not None:
        proto["identificationModule"]["briefTitle"] = title
        proto["identificationModule"].pop("officialTitle", None)
    if conditions is not None:
        proto.setdefault("conditionsModule", {})["conditions"] = conditions
        proto["conditionsModule"].pop("keywords", None)
    if interventions is not None:
        arms = proto.get("armsInterventionsModule", {})
        for item, name in zip(arms.get("interventions", []), interventions):
            item["name"] = name
            item.pop("otherNames", None)
            item.pop("description", None)
    return out


# --- harness for end-to-end runs -------------------------------------------------------------------------

import os
import subprocess
import sys

ROOT = Path(__file__).resolve().parent.parent
FAKE_KEY = "FAKE-NCBI-KEY-7f3a9c1e5b2d4068"  # recognizable; must never reach a file, log line or message
EMAIL = "atlas-tests@example.org"

KETAMINE_PMID = "38011560"  # the one real recording about a topic (ketamine)
OFF_TOPIC_FILE = "biopython-sdist-1.88/Tests/Entrez/pubmed1.xml"  # 2 real articles, no topic
TMS_PMID = "90000001"
TMS_TITLE = "Repetitive transcranial magnetic stimulation for treatment-resistant depression."
KETAMINE_NCT = "NCT90000001"
TMS_NCT = "NCT90000002"
OFF_TOPIC_NCT = "NCT00763412"  # real, cystic-fibrosis diabetes trial


def topic_articles() -> dict[str, list[bytes]]:
    """PubMed articles per topic slug: real ketamine article + 2 real off-topic articles for `ketamine`;
    a re-titled real article and the ketamine article again (returned by two queries) for `tms`."""
    ketamine = articles_in(f"metapub/tests/fixtures/pmid_xml/{KETAMINE_PMID}.xml")[0]
    off = articles_in(OFF_TOPIC_FILE)
    tms = renumber_article(off[0], TMS_PMID, TMS_TITLE)
    return {"ketamine": [ketamine, *off], "tms": [tms, ketamine]}


def topic_studies() -> dict[str, list[dict]]:
    studies = {nct_of(s): s for s in real_studies()}
    base = studies["NCT02210780"]
    ket = renumber_study(base, KETAMINE_NCT, title="Esketamine for Treatment-Resistant Depression",
                         conditions=["Treatment Resistant Depression"], interventions=["Esketamine", "Placebo"])
    tms = renumber_study(studies["NCT04207047"], TMS_NCT, title="rTMS for Major Depressive Disorder",
                         conditions=["Major Depressive Disorder"],
                         interventions=["Repetitive transcranial magnetic stimulation"])
    return {"ketamine": [ket, studies[OFF_TOPIC_NCT]], "tms": [tms]}


def ctgov_key(topic) -> frozenset:
    return frozenset((k, str(v)) for k, v in topic.ctgov.items())


def start_emulators(httpserver, articles=None, studies=None):
    """Emulators for both APIs on one local server, loaded with the per-topic corpora."""
    from harvest.classification.topics import load_topics

    topics = {t.slug: t for t in load_topics()}
    articles = topic_articles() if articles is None else articles
    studies = topic_studies() if studies is None else studies
    eutils = EutilsEmulator(httpserver, {topics[s].pubmed_query: a for s, a in articles.items()})
    ctgov = CtgovEmulator(httpserver, {ctgov_key(topics[s]): v for s, v in studies.items()})
    return eutils, ctgov


def harvest_env(eutils, ctgov, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCBI_", "HARVEST_", "EUTILS_", "CTGOV_", "METAPSY_"))}
    env.update(EUTILS_BASE_URL=eutils.base_url, CTGOV_BASE_URL=ctgov.base_url, NCBI_API_KEY=FAKE_KEY,
               NCBI_EMAIL=EMAIL, HARVEST_NO_THROTTLE="1", HARVEST_RETRIES="2", HARVEST_BACKOFF="0.05",
               HARVEST_TIMEOUT="2", PYTHONPATH=str(ROOT))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(command: str, args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harvest", command, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def run_harvest(eutils, ctgov, content: Path, data: Path, *args, **env_extra) -> subprocess.CompletedProcess:
    return run_cli("run", ["--content", str(content), "--data", str(data), *args],
                   harvest_env(eutils, ctgov, **env_extra))


def snapshot(*dirs: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under the directories."""
    out = {}
    for d in dirs:
        for p in sorted(Path(d).rglob("*")):
            if p.is_file():
                out[str(p)] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def cards(content: Path) -> list[str]:
    return sorted(p.relative_to(content).as_posix() for p in Path(content).glob("evidence/*/*.md"))


def assert_no_key(*texts: str, dirs: tuple = ()) -> None:
    for text in texts:
        assert FAKE_KEY not in text
    for d in dirs:
        for p in Path(d).rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                assert FAKE_KEY.encode() not in data, p
