"""Per-topic charts: pygal SVGs with table alternatives, deterministic, skipped without data."""

from __future__ import annotations

import filecmp
import os
import re
import sys
from collections import Counter
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup

from harvest.classification.topics import load_topics
from harvest.records.record import DESIGN_LABELS
from sitebuild import REFERENCE_DATE, ROOT, build_site, make_report, sample_records, shown

sys.path.insert(0, str(ROOT / "plugins"))

from evidence import charts  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    records, editors = sample_records()
    report = make_report(REFERENCE_DATE + "T03:16:10Z", load_topics())
    base = tmp_path_factory.mktemp("charts")
    out = build_site(base / "a", records, editors=editors, report=report)
    visible = shown(records, editors)
    return {"out": out, "base": base, "records": visible, "editors": editors, "report": report,
            "all_records": records}


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def chart(page, chart_id):
    return page.select_one(f"figure#{chart_id}")


def table_of(figure):
    table = figure.select_one("details table")
    cols = [th.get_text(strip=True) for th in table.select("thead th")][1:-1]
    rows = {}
    for tr in table.select("tbody tr"):
        cells = [int(td.get_text()) for td in tr.select("td")]
        rows[tr.th.get_text(strip=True)] = dict(zip(cols, cells[:-1]))
        assert cells[-1] == sum(cells[:-1])
    return rows


def test_publications_chart_has_svg_alt_and_matching_table(built):
    out, records = built["out"], built["records"]
    page = soup(out / "topics/tms/index.html")
    fig = chart(page, "chart-publications-by-year")
    img = fig.img
    assert img["alt"].startswith("Publications per year, by study design.")
    assert fig["aria-labelledby"] and page.find(id=fig["aria-labelledby"])
    svg_path = (out / "topics/tms" / img["src"]).resolve()
    assert svg_path == (out / "topics/tms/publications-by-year.svg").resolve()
    root = ElementTree.parse(svg_path).getroot()
    assert root.tag.endswith("svg")
    svg_text = svg_path.read_text(encoding="utf-8")
    assert "Generated with" not in svg_text        # pygal's dated comment dropped: byte-stable
    assert "<script" not in svg_text               # nothing runs if a reader opens the SVG itself
    assert "Narrative review" in svg_text          # legend kept as text

    rows = table_of(fig)
    pubs = [r for r in records if "tms" in r["topics"] and r["source"] == "pubmed"]
    expected = Counter((str(r["year"]), DESIGN_LABELS[r["design"]]) for r in pubs)
    got = Counter({(y, d): n for y, cols in rows.items() for d, n in cols.items() if n})
    assert got == expected
    years = [int(y) for y in rows]
    assert years == list(range(min(years), max(years) + 1))  # gaps shown as zero years


def test_trials_chart_by_phase_and_status(built):
    out, records = built["out"], built["records"]
    fig = chart(soup(out / "topics/tms/index.html"), "chart-trials-by-phase-status")
    assert fig.img["src"].endswith("trials-by-phase-status.svg")
    rows = table_of(fig)
    trials = [r for r in records if "tms" in r["topics"] and r["source"] == "ctgov"]
    assert sum(sum(c.values()) for c in rows.values()) == len(trials)
    assert rows["Not applicable"]["Recruiting"] == 2
    assert rows["Not applicable"]["Withdrawn"] == 1


def test_topic_without_data_has_no_chart(built):
    out = built["out"]
    page = soup(out / "topics/pgx/index.html")
    assert page.select("figure.chart") == []
    said = " ".join(page.select_one("#charts").get_text().split())
    assert "on 1 June 2025, found no studies or trials to chart on this treatment" in said
    assert not (out / "topics/pgx/publications-by-year.svg").exists()
    # psilocybin has a trial but no publications: only the trials chart
    page = soup(out / "topics/psilocybin/index.html")
    assert [f["id"] for f in page.select("figure.chart")] == ["chart-trials-by-phase-status"]


def test_charts_are_cached_by_content(built):
    cache = built["base"] / "a" / "cache" / "evidence-charts"
    files = sorted(os.listdir(cache))
    assert files and all(f.endswith(".svg") for f in files)


def test_rebuild_from_the_chart_cache_gives_the_same_charts(built):
    """Every chart cached: the worker is stopped unused, and the charts come from the cache."""
    cache = built["base"] / "a" / "cache" / "evidence-charts"
    cached = {f: (cache / f).stat().st_mtime_ns for f in os.listdir(cache)}
    again = build_site(built["base"] / "a", built["all_records"], editors=built["editors"],
                       report=built["report"], output=built["base"] / "a-again")
    charts = sorted(p.relative_to(built["out"]) for p in built["out"].rglob("*.svg"))
    assert charts
    for rel in charts:
        assert (again / rel).read_bytes() == (built["out"] / rel).read_bytes(), rel
    assert {f: (cache / f).stat().st_mtime_ns for f in os.listdir(cache)} == cached  # nothing redrawn


def test_two_builds_are_identical(built):
    """Same cards → byte-identical site (a fresh build without any cache)."""
    again = build_site(built["base"] / "b", built["all_records"], editors=built["editors"],
                       report=built["report"])
    cmp = filecmp.dircmp(built["out"], again)
    diffs = []

    def collect(d, prefix=""):
        diffs.extend(prefix + f for f in d.diff_files + d.left_only + d.right_only)
        for name, sub in d.subdirs.items():
            collect(sub, prefix + name + "/")

    collect(cmp)
    # filecmp's shallow compare uses size+mtime; compare bytes for the files it deemed equal too
    for path in built["out"].rglob("*"):
        if path.is_file():
            other = again / path.relative_to(built["out"])
            if other.exists() and path.read_bytes() != other.read_bytes():
                diffs.append(str(path.relative_to(built["out"])))
    assert sorted(set(diffs)) == []


def _legend_fits(svg: bytes) -> tuple[float, float]:
    """(bottom of the lowest legend swatch, the image's height), in SVG units."""
    text = svg.decode("utf-8")
    height = float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', text).group(1))
    top = float(re.search(r'translate\(([\d.]+), ([\d.]+)\)" class="legends"', text).group(2))
    legends = text.split('class="legends"', 1)[1]
    swatches = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', legends)
    bottom = max(float(y) + float(h) for y, h in swatches)
    return top + bottom, height


@pytest.mark.parametrize("kind", ["publications", "trials"])
@pytest.mark.parametrize("n_columns", [1, 2, 3, 5, 10])
@pytest.mark.parametrize("long_labels", [False, True], ids=["2-col-legend", "1-col-legend"])
def test_every_legend_row_is_inside_the_image(kind, n_columns, long_labels):
    """pygal counts one legend row too few when the last row is not full, and ends the last row
    past the bottom edge; charts.py reserves the difference, or a legend entry would be cut off."""
    labels = [("A much longer label, too long for two " if long_labels else "Label ") + str(i) for i in range(n_columns)]
    rows = ["2019", "2020", "2021"] if kind == "publications" else ["Phase 1", "Phase 2", "No phase given"]
    table = {"title": "t", "row_header": "r", "rows": rows, "columns": labels,
             "values": [[(i + j) % 4 for j in range(n_columns)] for i in range(len(rows))],
             "xlabel": "x", "ylabel": "y"}
    assert charts.legend_columns(table, kind) == (1 if long_labels else 2)
    bottom, height = _legend_fits(charts._draw(table, kind))
    assert bottom <= height, f"legend ends at {bottom}, image is {height} high"


def legend_colors(svg_path) -> dict[str, str]:
    """Legend label → the fill its swatch gets from the SVG's own stylesheet."""
    text = svg_path.read_text(encoding="utf-8")
    fills = dict(re.findall(r"\.(color-\d+),[^{]*\{[^}]*fill:(#[0-9A-Fa-f]{6})", text))
    entries = re.findall(r'<rect [^>]*class="(color-\d+) reactive"/><text [^>]*>([^<]*)</text>',
                         text.split('class="legends"', 1)[1])
    return {label: fills[cls] for cls, label in entries}


def test_a_design_or_status_has_one_colour_on_every_topic(built):
    """Readers compare topics: "Meta-analysis" must not be blue on one page and orange on the next."""
    out = built["out"]
    for name in ("publications-by-year.svg", "trials-by-phase-status.svg"):
        seen = {}
        charts_found = sorted(out.glob(f"topics/*/{name}"))
        assert len(charts_found) >= 2, name
        for path in charts_found:
            colors = legend_colors(path)
            assert colors and len(set(colors.values())) == len(colors), (path, colors)  # distinct in a chart
            for label, color in colors.items():
                assert seen.setdefault(label, color) == color, (path, label, color, seen[label])


def test_stable_colors_keep_the_site_wide_colour_and_never_repeat_within_a_chart():
    order = [f"k{i}" for i in range(14)]
    assert charts.stable_colors(["k2", "k9"], order) == [charts.PALETTE[2], charts.PALETTE[9]]
    # k10 would wrap onto k0's colour; in the same chart it takes the next free one instead
    assert charts.stable_colors(["k0", "k10"], order) == [charts.PALETTE[0], charts.PALETTE[1]]
    assert charts.stable_colors(["k10"], order) == [charts.PALETTE[0]]
