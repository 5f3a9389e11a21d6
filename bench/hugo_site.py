"""The bench's synthetic cards as a minimal Hugo site, for the Hugo + Pagefind baseline.

One page per card at the card page's own path (``evidence/<source>/<id>.html``, uglyURLs) showing
the same visible fields (title, kicker, authors, journal, design, status, year, abstract, source
links), the same four Pagefind filters and sort on the same elements as theme/templates/_card_article.html,
and paginated listings per topic and per topic x design (Hugo taxonomies ``topics`` and ``facets``,
50 to a page as EVIDENCE_PAGE_SIZE).  Pagefind then indexes the card pages only, as plugins/search
does.  The site's own CSS is copied so that a card page's transfer size compares like with like.

Used by bench/build.py; not part of the site.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from harvest.records.record import DESIGN_LABELS

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
baseURL = "/"
title = "Hugo bench"
uglyURLs = true
disableKinds = ["RSS"]
enableRobotsTXT = false
[taxonomies]
  topic = "topics"
  facet = "facets"
[pagination]
  pagerSize = 50
"""

BASEOF = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }} · {{ site.Title }}</title>
<link rel="stylesheet" href="/css/site.css">
{{ block "head" . }}{{ end }}
</head>
<body>
<header><a href="/">{{ site.Title }}</a> · <a href="/search/">Search</a></header>
<main id="main">{{ block "main" . }}{{ end }}</main>
<footer><p>Explains research evidence; not medical advice.</p></footer>
</body>
</html>
"""

SINGLE = """\
{{ define "main" }}
<nav class="breadcrumbs"><a href="/">Home</a>{{ range .Params.topics }} › <a href="/topics/{{ . | urlize }}.html">{{ . }}</a>{{ end }}</nav>
<article class="card" data-pagefind-body>
  <p class="kicker" data-pagefind-ignore>{{ .Params.kicker }}</p>
  <h1 data-pagefind-meta="title">{{ .Title }}</h1>
  <div hidden data-pagefind-ignore>
    {{ range .Params.topic_names }}<span data-pagefind-filter="topic">{{ . }}</span>{{ end }}
    <span data-pagefind-filter="design">{{ .Params.design_label }}</span>
    <span data-pagefind-filter="year">{{ .Params.year }}</span>
    <span data-pagefind-filter="status">{{ .Params.status_label }}</span>
    <span data-pagefind-sort="year">{{ .Params.year }}</span>
  </div>
  <p class="meta">{{ with .Params.authors }}{{ delimit . ", " }} · {{ end }}{{ with .Params.journal }}{{ . }} · {{ end }}{{ .Params.year }}</p>
  <p class="badges"><span class="badge">{{ .Params.design_label }}</span>{{ with .Params.status_label }} <span class="badge">{{ . }}</span>{{ end }}</p>
  <section class="abstract"><h2>Abstract</h2>{{ .Content }}</section>
</article>
<section><h2>Sources and citation</h2><ul>{{ range .Params.links }}<li><a href="{{ .url }}">{{ .label }}</a></li>{{ end }}</ul></section>
<p class="meta">Record id <code>{{ .Params.record_id }}</code>.</p>
{{ end }}
"""

LIST = """\
{{ define "main" }}
<h1>{{ .Title }}</h1>
{{ $pager := .Paginate .Pages }}
<ol class="cards">
{{ range $pager.Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> <span class="badge">{{ .Params.design_label }}</span> {{ .Params.year }}</li>
{{ end }}
</ol>
<nav class="pager">{{ with $pager.Prev }}<a href="{{ .URL }}">Newer</a>{{ end }} Page {{ $pager.PageNumber }} of {{ $pager.TotalPages }} {{ with $pager.Next }}<a href="{{ .URL }}">Older</a>{{ end }}</nav>
{{ end }}
"""

TERMS = """\
{{ define "main" }}
<h1>{{ .Title }}</h1>
<ul>{{ range .Data.Terms.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> ({{ .Count }})</li>{{ end }}</ul>
{{ end }}
"""

HOME = """\
{{ define "main" }}
<h1>{{ site.Title }}</h1>
<ul>{{ range site.Taxonomies.topics.Alphabetical }}<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a> ({{ .Count }})</li>{{ end }}</ul>
<h2>Latest</h2>
<ol>{{ range first 10 (where site.RegularPages "Section" "evidence") }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ol>
{{ end }}
"""

# Pagefind's stock UI, filters shown and open on a wide screen (this site's own search page, theme/static/js/search.js,
# uses Pagefind's JavaScript API instead: filters load when opened, a large index's first part first).
SEARCH_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"><title>Search · Hugo bench</title>
<link rel="stylesheet" href="/css/site.css">
<link rel="stylesheet" href="/pagefind/pagefind-ui.css">
<script src="/pagefind/pagefind-ui.js"></script>
</head>
<body>
<main><h1>Search</h1><div id="search"></div></main>
<script>
new PagefindUI({element: "#search", bundlePath: "/pagefind/", showImages: false, showSubResults: false,
                openFilters: ["topic", "design"]});
</script>
</body>
</html>
"""


def _front_matter(rec: dict, topic_names: dict[str, str]) -> dict:
    design = DESIGN_LABELS.get(rec["design"] or "other", rec["design"] or "Other")
    if rec["source"] == "ctgov":
        kicker = "Registered trial · ClinicalTrials.gov"
        status = (rec.get("status") or "Unknown status").replace("_", " ").capitalize()
        links = [{"label": f"ClinicalTrials.gov record ({rec['nct_id']})",
                  "url": f"https://clinicaltrials.gov/study/{rec['nct_id']}"}]
    else:
        kicker = "Publication · PubMed"
        status = "Retracted publication" if rec.get("retracted") else "Published article"
        links = [{"label": f"PubMed record (PMID {rec['pmid']})", "url": f"https://pubmed.ncbi.nlm.nih.gov/{rec['pmid']}/"}]
        if rec.get("doi"):
            links.append({"label": f"Full text via DOI {rec['doi']}", "url": f"https://doi.org/{rec['doi']}"})
    return {
        "title": rec["title"],
        "date": rec["date"],
        "record_id": rec["id"],
        "kicker": kicker,
        "topics": rec["topics"],
        "topic_names": [topic_names[t] for t in rec["topics"]],
        "facets": [f"{t}-{rec['design']}" for t in rec["topics"]],
        "design_label": design,
        "status_label": status,
        "year": rec["year"],
        "authors": rec.get("authors") or [],
        "journal": rec.get("journal") or "",
        "links": links,
    }


def card_file(rec: dict, topic_names: dict[str, str]) -> tuple[str, str]:
    """(path under content/, text) of one card: JSON front matter, then the abstract as Markdown."""
    source = rec["source"]
    ident = rec["pmid"] if source == "pubmed" else rec["nct_id"]
    body = "\n\n".join(f"**{html.escape(s['label'])}** {html.escape(s['text'])}" for s in rec["abstract"])
    text = json.dumps(_front_matter(rec, topic_names), ensure_ascii=False, indent=1) + "\n\n" + body + "\n"
    return f"evidence/{source}/{ident}.md", text


def write_site(dest: Path, records: Iterable[dict], topic_names: dict[str, str]) -> None:
    layouts = dest / "layouts"
    for rel, text in (("_default/baseof.html", BASEOF), ("_default/single.html", SINGLE),
                      ("_default/list.html", LIST), ("_default/terms.html", TERMS), ("index.html", HOME)):
        (layouts / rel).parent.mkdir(parents=True, exist_ok=True)
        (layouts / rel).write_text(text, encoding="utf-8")
    (dest / "hugo.toml").write_text(CONFIG, encoding="utf-8")
    static = dest / "static"
    (static / "css").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "theme" / "static" / "css" / "site.css", static / "css" / "site.css")
    (static / "search").mkdir(parents=True, exist_ok=True)
    (static / "search" / "index.html").write_text(SEARCH_PAGE, encoding="utf-8")
    for rec in records:
        write_card(dest, rec, topic_names)


def write_card(dest: Path, rec: dict, topic_names: dict[str, str]) -> None:
    rel, text = card_file(rec, topic_names)
    path = dest / "content" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
