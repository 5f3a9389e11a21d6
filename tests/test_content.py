"""Editor content: the explainers, the glossary and the pages, and `python -m editor check`.

These tests read the committed content under content/ (what the site will publish) and run the
content checker against copies of it with one thing broken at a time.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import markdown
import pytest
import textstat
from bs4 import BeautifulSoup

from editor import check

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content"
THEME = ROOT / "theme"
EXPLAINER_SLUGS = ("tms", "ketamine", "psilocybin", "light-therapy", "pgx", "ect", "digital-therapeutics")
SECTIONS = list(check.SECTIONS)
DISCLAIMER = check.DISCLAIMER
REQUIRED_GLOSSARY = {
    "trd", "rct", "meta-analysis", "systematic-review", "madrs", "ham-d", "response-remission",
    "nmda-receptor", "rtms", "itbs", "cyp2d6", "cyp2c19", "sad", "placebo", "open-label",
    "esketamine", "psilocybin", "pharmacogenomics", "evidence-level",
}
# Words an explainer must link to the glossary where it first uses them.
FIRST_USE_TERMS = {
    "trd": r"(?i:treatment-resistant depression)|\bTRD\b",
    "rct": r"(?i:randomi[sz]ed controlled trials?)|\bRCTs?\b",
    "meta-analysis": r"(?i)meta-analys[ie]s",
    "placebo": r"(?i)\bplacebo",
    "open-label": r"(?i)\bopen-label\b",
    "nmda-receptor": r"\bNMDA\b",
    "rtms": r"\brTMS\b|repetitive TMS",
    "itbs": r"\biTBS\b|theta-burst",
    "cyp2d6": r"\bCYP2D6\b",
    "cyp2c19": r"\bCYP2C19\b",
    "sad": r"(?i:seasonal affective disorder)|\bSAD\b",
    "esketamine": r"(?i)\besketamine\b",
    "psilocybin": r"(?i)\bpsilocybin\b",
    "pharmacogenomics": r"(?i)\bpharmacogenomics?\b",
    "mdd": r"(?i:major depressive disorder)|\bMDD\b",
    "bipolar-disorder": r"(?i)\bbipolar\b",
}
FILENAME_LINK_RE = re.compile(r"\{filename\}(?P<path>[^)#\s\"']+)(?:#(?P<anchor>[^)\s\"']+))?")


def explainer(slug: str) -> Path:
    return CONTENT / "topics" / f"{slug}.md"


def metadata(text: str) -> dict[str, str]:
    meta = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        meta[key.strip().lower()] = value.strip()
    return meta


def h2_headings(text: str) -> list[str]:
    return [
        re.sub(r"\s*\{[^}]*\}\s*$", "", m.group(1)).strip()
        for m in re.finditer(r"^## (.+)$", text, re.M)
    ]


def section_text(text: str, heading: str) -> str:
    m = re.search(rf"^## {re.escape(heading)}\s*$(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"no section {heading!r}"
    return m.group("body")


def glossary_anchors() -> set[str]:
    text = (CONTENT / "pages" / "glossary.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## .+\{#([\w-]+)\}\s*$", text, re.M))


def run_check(content: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "editor", "check", "--content", str(content), "--theme", str(THEME), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """The editor content copied to a temp dir; evidence cards linked, not copied (they can be many)."""
    dest = tmp_path / "content"
    dest.mkdir()
    for part in ("topics", "pages"):
        shutil.copytree(CONTENT / part, dest / part)
    (dest / "evidence").symlink_to(CONTENT / "evidence", target_is_directory=True)
    return dest


# -- the committed content ---------------------------------------------------------------------

def test_one_explainer_per_topic_in_the_topics_file():
    from harvest.classification.topics import load_topics

    slugs = {t.slug for t in load_topics()}
    assert set(EXPLAINER_SLUGS) <= slugs
    for slug in EXPLAINER_SLUGS:
        meta = metadata(explainer(slug).read_text(encoding="utf-8"))
        assert meta["slug"] == slug and meta["topic"] == slug
        assert meta["title"] and meta["summary"]


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_explainer_has_every_section_in_order(slug):
    assert h2_headings(explainer(slug).read_text(encoding="utf-8")) == SECTIONS


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_explainer_reading_ease_is_at_least_50(slug):
    text = explainer(slug).read_text(encoding="utf-8")
    scored = check.scored_text(text)
    # The scored text is the prose a reader sees: no Markdown, link targets, headings or sources.
    assert "{filename}" not in scored and "](" not in scored and "##" not in scored
    assert not re.search(r"\[\d+\]", scored)
    assert "Sources" not in scored and "What it is" not in scored
    assert len(scored.split()) > 600, "an explainer is a five-minute read, not a stub"
    assert textstat.flesch_reading_ease(scored) >= 50


def test_reading_ease_bar_can_fail():
    jargon = (
        "Pharmacogenomically informed antidepressant pharmacotherapy optimization necessitates "
        "comprehensive characterization of cytochrome polymorphisms, interindividual pharmacokinetic "
        "variability, and concomitant medication administration considerations."
    )
    page = "Title: x\n\n## What it is\n\n" + jargon + "\n"
    assert check.reading_ease(page) < 50


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_explainer_has_disclaimer_before_first_section_and_an_as_of_date(slug):
    text = explainer(slug).read_text(encoding="utf-8")
    meta = metadata(text)
    as_of = dt.date.fromisoformat(meta["as_of"])
    intro = text.split("\n## ", 1)[0]
    assert DISCLAIMER in " ".join(intro.split())
    access = section_text(text, "Access, cost and regulatory status")
    stated = re.search(r"As of (\d{1,2} [A-Z][a-z]+ \d{4})", access)
    assert stated, "the access section states its 'as of' date in the text"
    assert dt.datetime.strptime(stated.group(1), "%d %B %Y").date() == as_of


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_evidence_section_links_generated_summary_and_gives_no_counts(slug):
    body = section_text(explainer(slug).read_text(encoding="utf-8"), "What the evidence says so far")
    assert "(#evidence-summary)" in body
    prose = re.sub(r"\([^)]*\)|\[\d+\]", "", body)
    # Counts of studies drift as the harvest adds cards; they come from the template instead.
    assert not re.search(r"\b\d+\s+(?:\w+\s+){0,2}(?:studies|trials|reviews|meta-analyses|cards)\b", prose)


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_every_citation_has_a_source_and_every_source_is_cited(slug):
    text = explainer(slug).read_text(encoding="utf-8")
    sources = section_text(text, "Sources")
    listed = re.findall(r'<a id="(src-\d+)"></a>', sources)
    assert listed == [f"src-{i}" for i in range(1, len(listed) + 1)], "sources are numbered 1..n"
    numbers = re.findall(r"^\d+\. ", sources, re.M)
    assert len(numbers) == len(listed)
    body = text.split("\n## Sources", 1)[0]
    cited = set(re.findall(r"\[\[(\d+)\]\]\(#(src-\d+)\)", body))
    assert all(f"src-{n}" == anchor for n, anchor in cited), "[n] points at #src-n"
    assert {anchor for _n, anchor in cited} == set(listed)


@pytest.mark.parametrize(
    "path", sorted((CONTENT / "topics").glob("*.md")) + sorted((CONTENT / "pages").glob("*.md")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_filename_links_resolve_and_glossary_anchors_exist(path):
    text = path.read_text(encoding="utf-8")
    anchors = glossary_anchors()
    for m in FILENAME_LINK_RE.finditer(text):
        target = CONTENT / m.group("path").lstrip("/")
        assert target.is_file(), f"{path.name}: {m.group(0)} names a missing file"
        if m.group("path").endswith("pages/glossary.md") and m.group("anchor"):
            assert m.group("anchor") in anchors, f"{path.name}: no glossary entry #{m.group('anchor')}"


# A link a reader can follow to the record a number came from.
PRIMARY_RECORD_RE = re.compile(r"^https://(?:pubmed\.ncbi\.nlm\.nih\.gov/\d+/?|doi\.org/10\.\S+)$")
# A number in prose; digits inside names such as CT-152, PHQ-9 or CYP2D6 are not figures.
FIGURE_RE = re.compile(r"(?<![A-Za-z\d-])(?<![A-Za-z]-)\d")


def _md_html(markdown_text: str) -> BeautifulSoup:
    return BeautifulSoup(markdown.markdown(markdown_text, extensions=["extra", "attr_list", "toc"]),
                         "html.parser")


def source_links(text: str) -> dict[str, list[str]]:
    """#src-n anchor -> the URLs of that entry in the Sources list."""
    entries = _md_html(section_text(text, "Sources")).select("li")
    out = {}
    for li in entries:
        anchor = li.select_one("a[id]")
        if anchor is not None:
            out[anchor["id"]] = [a["href"] for a in li.select("a[href]")]
    return out


def unlinked_figures(text: str) -> list[str]:
    """Blocks of the evidence section that state a number without a PubMed record or DOI behind it.

    A block (paragraph or list item) counts as linked when it links straight to a PubMed record
    or a DOI, or cites a numbered source whose entry in the Sources list does."""
    sources = source_links(text)
    problems = []
    for block in _md_html(section_text(text, "What the evidence says so far")).select("p, li"):
        if block.find(["p", "ul", "ol"]):
            continue
        words = re.sub(r"\[\d+\]", "", block.get_text(" "))
        if not FIGURE_RE.search(words):
            continue
        hrefs = [a["href"] for a in block.select("a[href]")]
        urls = [h for h in hrefs if not h.startswith("#")]
        urls += [u for h in hrefs if h.startswith("#src-") for u in sources.get(h[1:], [])]
        if not any(PRIMARY_RECORD_RE.match(u) for u in urls):
            problems.append(" ".join(words.split())[:90])
    return problems


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_every_number_in_the_evidence_section_links_to_pubmed_or_a_doi(slug):
    text = explainer(slug).read_text(encoding="utf-8")
    assert FIGURE_RE.search(section_text(text, "What the evidence says so far")), \
        "the evidence section gives the headline numbers"
    assert unlinked_figures(text) == []


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_every_source_has_a_url(slug):
    text = explainer(slug).read_text(encoding="utf-8")
    links = source_links(text)
    assert links
    missing = [anchor for anchor, urls in links.items()
               if not any(u.startswith(("https://", "http://")) for u in urls)]
    assert missing == []


def test_a_number_without_a_primary_record_is_caught():
    text = explainer("ect").read_text(encoding="utf-8")
    evidence = section_text(text, "What the evidence says so far")
    # An invented sentence: a figure cited to nothing, then one cited to a source without a DOI.
    bad = text.replace(evidence, evidence + "\nIn one clinic, 87% of people got better.\n\n"
                       "A guideline gave it 3 stars [[1]](#src-1).\n\n")
    bad = re.sub(r'(<a id="src-1"></a>[^\n]*(?:\n   [^\n]*)*)',
                 lambda m: re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)), bad, count=1)
    caught = unlinked_figures(bad)
    assert any("87%" in c for c in caught) and any("3 stars" in c for c in caught), caught
    assert "src-1" in [a for a, urls in source_links(bad).items() if not urls]


def test_glossary_has_the_required_entries_as_anchored_h2s():
    assert REQUIRED_GLOSSARY <= glossary_anchors()
    text = (CONTENT / "pages" / "glossary.md").read_text(encoding="utf-8")
    html = markdown.markdown(text.split("\n\n", 1)[1], extensions=["extra", "attr_list", "toc"])
    ids = {h["id"] for h in BeautifulSoup(html, "html.parser").find_all("h2")}
    assert REQUIRED_GLOSSARY <= ids


@pytest.mark.parametrize("slug", EXPLAINER_SLUGS)
def test_terms_are_linked_to_the_glossary_on_first_use(slug):
    text = explainer(slug).read_text(encoding="utf-8")
    body = text.split("\n## Sources", 1)[0].split("\n\n", 1)[1].replace(DISCLAIMER, "")
    soup = BeautifulSoup(markdown.markdown(body, extensions=["extra", "attr_list", "toc"]), "html.parser")
    unlinked = []
    for anchor, pattern in FIRST_USE_TERMS.items():
        for node in soup.find_all(string=re.compile(pattern)):
            if node.find_parent(["h2", "h3"]):
                continue
            link = node.find_parent("a")
            if not (link and link.get("href", "").endswith(f"pages/glossary.md#{anchor}")):
                unlinked.append(f"{anchor}: first use {str(node).strip()[:60]!r} is not linked")
            break
    assert not unlinked


@pytest.mark.parametrize("name", ["about.md", "home.md"])
def test_about_and_home_carry_the_disclaimer(name):
    text = (CONTENT / "pages" / name).read_text(encoding="utf-8")
    assert DISCLAIMER in " ".join(text.split())


@pytest.mark.parametrize("name", ["about.md", "home.md"])
def test_about_and_home_link_every_explainer(name):
    text = (CONTENT / "pages" / name).read_text(encoding="utf-8")
    slugs = sorted(p.stem for p in (CONTENT / "topics").glob("*.md"))
    assert set(EXPLAINER_SLUGS) <= set(slugs)
    missing = [slug for slug in slugs if f"{{filename}}/topics/{slug}.md" not in text]
    assert missing == []
    assert "five" not in text.lower()


def test_home_figures_link_to_their_primary_sources():
    text = (CONTENT / "pages" / "home.md").read_text(encoding="utf-8")
    assert "ScienceDirect" not in text
    # Each paragraph that states a figure links straight to where the figure comes from.
    for block in _md_html(text.split("\n\n", 1)[1]).select("p"):
        if FIGURE_RE.search(block.get_text()):
            assert [a for a in block.select("a[href^='https://']")], block.get_text()[:80]


def test_home_intro_is_hidden_and_pages_have_their_slugs():
    for name, slug in [("home.md", "home-intro"), ("about.md", "about"), ("methods.md", "methods"),
                       ("glossary.md", "glossary")]:
        meta = metadata((CONTENT / "pages" / name).read_text(encoding="utf-8"))
        assert meta["slug"] == slug
    assert metadata((CONTENT / "pages" / "home.md").read_text(encoding="utf-8"))["status"] == "hidden"


# -- python -m editor check ----------------------------------------------------------------------

def test_check_passes_on_the_committed_content():
    result = run_check(CONTENT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("section", ["Safety and side effects", "Open questions"])
def test_check_reports_a_missing_section_by_file_and_name(content_copy, section):
    path = content_copy / "topics" / "psilocybin.md"
    text = path.read_text(encoding="utf-8")
    body = section_text(text, section)
    path.write_text(text.replace(f"## {section}\n{body}", ""), encoding="utf-8")
    assert f"## {section}" not in path.read_text(encoding="utf-8")

    result = run_check(content_copy)
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert any("psilocybin.md" in line and f'missing section "## {section}"' in line for line in lines), lines
    # Nothing else is wrong, so nothing else is reported about the other files.
    assert all("psilocybin.md" in line for line in lines), lines


def test_check_reports_sections_out_of_order(content_copy):
    path = content_copy / "topics" / "tms.md"
    text = path.read_text(encoding="utf-8")
    a, b = "## What it is", "## How it is thought to work"
    path.write_text(text.replace(a, "@@A@@").replace(b, a).replace("@@A@@", b), encoding="utf-8")
    assert check.main(["--content", str(content_copy), "--theme", str(THEME)]) == 1
    problems = [p.message for p in check.check_content(content_copy, theme_dir=THEME)]
    assert any("out of order" in m for m in problems), problems


def test_check_reports_broken_card_and_glossary_links(content_copy, capsys):
    path = content_copy / "topics" / "light-therapy.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("glossary.md#lux", "glossary.md#no-such-term", 1)
    text = text.replace("## Open questions\n", "## Open questions\n\nSee [a card]({filename}/evidence/pubmed/1.md).\n", 1)
    path.write_text(text, encoding="utf-8")

    assert check.main(["--content", str(content_copy), "--theme", str(THEME)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any("light-therapy.md" in l and "#no-such-term" in l for l in out), out
    assert any("light-therapy.md" in l and "/evidence/pubmed/1.md" in l for l in out), out


def test_check_reports_low_reading_ease_missing_disclaimer_and_as_of(content_copy, capsys):
    path = content_copy / "topics" / "pgx.md"
    text = path.read_text(encoding="utf-8")
    dense = (
        "Pharmacogenomically informed antidepressant pharmacotherapy optimization necessitates "
        "comprehensive characterization of cytochrome polymorphisms and interindividual variability. "
    )
    text = text.replace(DISCLAIMER, "Read carefully.")
    text = text.replace("As of 30 November 2026, ", "")
    text = text.replace("## What it is\n", "## What it is\n\n" + dense * 60 + "\n", 1)
    path.write_text(text, encoding="utf-8")

    assert check.main(["--content", str(content_copy), "--theme", str(THEME)]) == 1
    out = [l for l in capsys.readouterr().out.splitlines() if "pgx.md" in l]
    assert any("reading ease" in l and "below 50" in l for l in out), out
    assert any("missing disclaimer" in l for l in out), out
    assert any("as of" in l for l in out), out


def test_check_reports_an_uncited_source_and_a_dangling_citation(content_copy, capsys):
    path = content_copy / "topics" / "ketamine.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("[[9]](#src-9)", "")
    text = text.replace("## Open questions\n", "## Open questions\n\nA claim [[99]](#src-99).\n", 1)
    path.write_text(text, encoding="utf-8")

    assert check.main(["--content", str(content_copy), "--theme", str(THEME)]) == 1
    out = [l for l in capsys.readouterr().out.splitlines() if "ketamine.md" in l]
    assert any("#src-9" in l and "never cited" in l for l in out), out
    assert any("#src-99" in l and "broken link" in l for l in out), out


def test_check_missing_content_folder_is_one_clear_line(tmp_path):
    result = run_check(tmp_path / "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"{tmp_path / 'nope'}: content folder not found"]
