"""Quality checks over a whole built site (the `make build` settings, with Pagefind):

every internal href/src resolves to a file in output/ (and every #fragment to an id on its page),
every HTML page parses without a single HTML5 parse error, every feed parses with feedparser, and
every JSON download validates against the record schema.
"""

from __future__ import annotations

import gzip
import json
import posixpath
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import html5lib
import jsonschema
import pytest
from bs4 import BeautifulSoup

from sitebuild import ROOT
from test_feeds import extras_sites

pytestmark = pytest.mark.slow

URL_ATTRS = {"a": "href", "link": "href", "script": "src", "img": "src", "source": "src",
             "iframe": "src", "form": "action", "use": "href", "image": "href"}


@pytest.fixture(scope="module")
def out() -> Path:
    return extras_sites()["dev"]


def html_pages(out: Path) -> list[Path]:
    # Pagefind's own bundle (pagefind/) is not ours to check.
    return sorted(p for p in out.rglob("*.html") if not p.relative_to(out).as_posix().startswith("pagefind/"))


@lru_cache(maxsize=None)
def ids_of(path: Path) -> frozenset[str]:
    page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return frozenset(el["id"] for el in page.find_all(id=True)) | frozenset(
        a["name"] for a in page.find_all("a", attrs={"name": True}))


def resolve(out: Path, page: Path, url: str) -> tuple[Path, str] | None:
    """The file an internal URL points to (and its fragment), or None for external/special URLs."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith(("mailto:", "data:", "javascript:")):
        return None
    page_url = "/" + page.relative_to(out).as_posix()
    path = unquote(parts.path)
    if not path:
        target = page_url
    elif path.startswith("/"):
        target = path
    else:
        target = posixpath.join(posixpath.dirname(page_url), path)
    normal = posixpath.normpath(target)
    if target.endswith("/"):
        normal = normal.rstrip("/") + "/index.html"
    elif normal == "/":
        normal = "/index.html"
    return out / normal.lstrip("/"), parts.fragment


def test_every_internal_link_resolves(out):
    pages = html_pages(out)
    assert len(pages) > 40
    broken = []
    checked = 0
    for page in pages:
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag, attr in URL_ATTRS.items():
            for el in soup.find_all(tag):
                url = el.get(attr) or el.get("xlink:href")
                if not url:
                    continue
                hit = resolve(out, page, url)
                if hit is None:
                    continue
                target, fragment = hit
                checked += 1
                where = f"{page.relative_to(out)}: <{tag} {attr}={url!r}>"
                if not target.resolve().is_relative_to(out.resolve()):
                    broken.append(f"{where} leaves the site")
                elif not target.is_file():
                    broken.append(f"{where} -> missing {target.relative_to(out)}")
                elif fragment and target.suffix == ".html" and fragment not in ids_of(target):
                    broken.append(f"{where} -> no id {fragment!r} in {target.relative_to(out)}")
    assert checked > 500
    assert not broken, "\n".join(broken[:50])


def test_every_page_parses_as_valid_html5(out):
    failures = []
    for page in html_pages(out):
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            parser.parse(page.read_bytes(), likely_encoding="utf-8")
        except html5lib.html5parser.ParseError as exc:
            failures.append(f"{page.relative_to(out)}: {exc}")
    assert not failures, "\n".join(failures[:30])


def test_the_crawler_catches_breakage(out, tmp_path):
    """The checks above can fail: a dead link and a stray end tag are reported."""
    page = tmp_path / "x" / "index.html"
    page.parent.mkdir()
    page.write_text('<!DOCTYPE html><html lang="en"><head><title>t</title></head>'
                    '<body><a href="../nowhere/">x</a></p></body></html>', encoding="utf-8")
    target, _ = resolve(tmp_path, page, "../nowhere/")
    assert target == tmp_path / "nowhere" / "index.html" and not target.exists()
    with pytest.raises(html5lib.html5parser.ParseError):
        html5lib.HTMLParser(strict=True).parse(page.read_bytes())
    assert resolve(out, out / "index.html", "https://pubmed.ncbi.nlm.nih.gov/1/") is None
    assert resolve(out, out / "changes" / "index.html", "../feeds/all.atom.xml")[0] == out / "feeds" / "all.atom.xml"


def test_every_feed_parses(out):
    feeds = sorted((out / "feeds").glob("*.atom.xml"))
    assert len(feeds) == 1 + len(extras_sites()["topics"])
    for path in feeds:
        feed = feedparser.parse(path.read_bytes())
        assert not feed.bozo, f"{path.name}: {feed.get('bozo_exception')}"
        assert feed.version == "atom10"


def test_every_json_download_validates(out):
    schema = json.loads((ROOT / "harvest" / "records" / "record.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert json.loads((out / "downloads" / "record.schema.json").read_text(encoding="utf-8")) == schema
    downloads = sorted((out / "downloads").glob("*.jsonl.gz"))
    assert [p.name for p in downloads] == ["all.jsonl.gz"]  # site-wide only: the topics field says which
    for path in downloads:
        data = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()]
        for record in data:
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, (path.name, record.get("id"), errors)
