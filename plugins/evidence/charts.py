"""Per-topic charts rendered at build time as SVG with pygal, plus the data for their tables.

Each chart is a pure function of a small data table; the SVG is cached under CACHE_PATH by a hash of
that table, so a rebuild with unchanged evidence draws nothing.  Output is byte-stable (pygal's
comments, one of which carries today's date, are dropped) so two builds are identical.

pygal, not matplotlib: a large build keeps both cores busy, so its CPU time sets its wall time, and
matplotlib's import (with numpy) and drawing cost far more CPU than pygal's (bench/build.py's CPU
column shows a build's total).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

from harvest.fileio import atomic_write
from harvest.records.record import DESIGNS

from .model import (PHASE_LABELS, STATUS_ORDER, design_label, designs_in_order, phase_label, status_label,
                    statuses_in_order)

# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#882255"]
_RENDER_VERSION = "7"  # bump when the drawing code changes, to invalidate cached SVGs


def stable_colors(keys: list[str], order) -> list[str]:
    """One colour per key, the same on every topic's chart: a design or status keeps the palette
    colour of its place in the site-wide order; if two keys of one chart would share a colour (there
    are more statuses than colours), the later one takes the next colour the chart has not used."""
    position = {key: i for i, key in enumerate(order)}
    used, colors = set(), []
    for n, key in enumerate(keys):
        i = position.get(key, len(position) + n)
        while PALETTE[i % len(PALETTE)] in used and len(used) < len(PALETTE):
            i += 1
        colors.append(PALETTE[i % len(PALETTE)])
        used.add(colors[-1])
    return colors


def publications_by_year(records: list[dict]) -> dict:
    """Rows = years (ascending), columns = designs (strongest first); PubMed records only."""
    counts = Counter()
    years, designs = set(), set()
    for rec in records:
        if rec.get("source") != "pubmed" or not isinstance(rec.get("year"), int):
            continue
        counts[(rec["year"], rec["design"] or "other")] += 1
        years.add(rec["year"])
        designs.add(rec["design"] or "other")
    if not counts:
        return {}
    row_keys = list(range(min(years), max(years) + 1))
    col_keys = designs_in_order(designs)
    return {
        "title": "Publications per year, by study design",
        "row_header": "Year",
        "rows": [str(y) for y in row_keys],
        "columns": [design_label(d) for d in col_keys],
        "colors": stable_colors(col_keys, DESIGNS),
        "values": [[counts[(y, d)] for d in col_keys] for y in row_keys],
        "xlabel": "Publication year",
        "ylabel": "Publications",
    }


def trials_by_phase_status(records: list[dict]) -> dict:
    """Rows = phase groups, columns = overall status; ClinicalTrials.gov records only."""
    counts = Counter()
    phases, statuses = {}, set()
    order = {key: i for i, key in enumerate(PHASE_LABELS)}
    for rec in records:
        if rec.get("source") != "ctgov":
            continue
        label = phase_label(rec.get("phases") or [])
        rank = min((order.get(p, 99) for p in rec.get("phases") or []), default=100)
        phases[label] = min(rank, phases.get(label, rank)) + len(rec.get("phases") or []) / 10
        status = rec.get("status") or "UNKNOWN"
        statuses.add(status)
        counts[(label, status)] += 1
    if not counts:
        return {}
    row_keys = sorted(phases, key=lambda p: (phases[p], p))
    col_keys = statuses_in_order(statuses)
    return {
        "title": "Registered trials by phase and recruitment status",
        "row_header": "Phase",
        "rows": row_keys,
        "columns": [status_label(s) for s in col_keys],
        "colors": stable_colors(col_keys, STATUS_ORDER),
        "values": [[counts[(p, s)] for s in col_keys] for p in row_keys],
        "xlabel": "Trials",
        "ylabel": "Phase",
    }


def describe(table: dict) -> str:
    """One-sentence text alternative for the image (the full numbers are in the table)."""
    totals = [sum(row) for row in table["values"]]
    by_col = [sum(row[i] for row in table["values"]) for i in range(len(table["columns"]))]
    parts = ", ".join(f"{name}: {n}" for name, n in zip(table["columns"], by_col) if n)
    peak = table["rows"][max(range(len(totals)), key=lambda i: (totals[i], -i))]
    return (f"{table['title']}. {sum(totals)} in total ({parts}). "
            f"Most in {table['row_header'].lower()} {peak}. The same numbers are in the table below.")


# Charts are drawn small (360 units wide, 5 in at 72 units an inch) with large type, so the text stays
# readable when a phone scales the image down to ~330 px (about 11 px type); on wide screens the image
# is shown 500 px wide (the page gives it 100 px per inch).
WIDTH_IN = 5.0
FONT_PT = 13
SMALL_PT = 12
_UNITS_PER_IN = 72
_MARGIN = 6  # around the whole image
_SPACING = 8  # pygal's gap between an axis and its labels, and between legend rows and the plot
_LEGEND_PITCH = 1.5 * SMALL_PT  # one legend row: pygal spaces rows 1.5 times the 12-unit swatch
_LEGEND_ROW_IN = _LEGEND_PITCH / _UNITS_PER_IN


def _text_units(chars: int) -> float:
    """Width of a 12-unit text, as pygal itself estimates it for its layout (0.6 em a character)."""
    return chars * 0.6 * SMALL_PT


def legend_columns(table: dict, kind: str) -> int:
    """Two legend columns when two of the longest label fit side by side, else one.

    pygal lays the legend's columns out across the plot's width, not the image's: the axis labels at
    the left (a trial chart's phase names, a publication chart's counts and its axis title) come off
    first, and a label too long for its column runs under the next column's swatch."""
    if kind == "trials":
        axis = _text_units(max(len(r) for r in table["rows"]))
    else:
        top = _nice_ticks(max(sum(row) for row in table["values"]))[-1]
        axis = _text_units(len(f"{top:,}")) + FONT_PT + _SPACING  # tick labels + the rotated axis title
    plot = WIDTH_IN * _UNITS_PER_IN - (_MARGIN + _SPACING + axis) - _MARGIN
    entry = SMALL_PT + 5 + _text_units(max(len(c) for c in table["columns"]))  # swatch, gap, text
    return 2 if 2 * entry <= plot else 1


def _legend_in(table: dict, kind: str) -> float:
    """Height of the legend band below the axes, in inches."""
    legend_rows = -(-len(table["columns"]) // legend_columns(table, kind))
    return 0.3 + _LEGEND_ROW_IN * legend_rows


def figsize(table: dict, kind: str) -> tuple[float, float]:
    """Figure size in inches; the page gives the <img> the same aspect ratio (100 px per inch)."""
    legend = _legend_in(table, kind)
    if kind == "trials":
        return WIDTH_IN, round(max(2.2, 0.5 * len(table["rows"]) + 1.1) + legend, 2)
    return WIDTH_IN, round(3.0 + legend, 2)


def _cache_file(table: dict, kind: str, cache_dir: str | None) -> str | None:
    if not cache_dir:
        return None
    key = hashlib.sha256(json.dumps([_RENDER_VERSION, kind, table], sort_keys=True).encode()).hexdigest()
    return os.path.join(cache_dir, f"{key}.svg")


def cached_svg(table: dict, kind: str, cache_dir: str | None) -> bytes | None:
    cached = _cache_file(table, kind, cache_dir)
    try:
        with open(cached, "rb") as fh:
            return fh.read()
    except (TypeError, FileNotFoundError):
        return None


def render_svg(table: dict, kind: str, cache_dir: str | None) -> bytes:
    data = cached_svg(table, kind, cache_dir)
    if data is None:
        data = _draw(table, kind)
        cached = _cache_file(table, kind, cache_dir)
        if cached:
            atomic_write(cached, data)
    return data


def warm_up() -> None:
    """Import the drawing code while Pelican reads cards."""
    import pygal  # noqa: F401


def worker(conn, parent_end) -> None:
    """Chart worker, a child forked before the cards are read: warm up, then wait for
    ``(jobs, cache_dir)``, draw every (file, table, kind) and send back ``{file: svg}``, or an error
    text the parent turns into a failed build.  With nothing to draw the parent stops it."""
    parent_end.close()  # so that recv() sees EOF if the parent goes away
    try:
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - drawing raises the same error, with the chart that hit it
            pass
        jobs, cache_dir = conn.recv()
        conn.send({file: render_svg(table, kind, cache_dir) for file, table, kind in jobs})
    except EOFError:
        pass
    except BaseException as exc:  # noqa: BLE001 - the parent reports it and fails the build
        conn.send(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _nice_ticks(top: int) -> list[int]:
    """Integer ticks on a round step, at most about 5 of them, from 0 past the largest value."""
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10**4,
                            2 * 10**4, 5 * 10**4, 10**5, 10**6, 10**7) if top / s <= 5)
    return list(range(0, top + step, step)) if top else [0, 1]


_INTERACTIVE_ONLY = ("script", "desc", "title")


def _static_image(root):
    """pygal's XML filter: keep what the page's <img> shows.  Drops pygal's comments (one carries
    today's date, which would change the file every day), its <script> (its config for the tooltip
    JavaScript; a script would also run if a reader opened the SVG itself), the <desc> and <title>
    texts those tooltips read (the numbers are in the page's table) and the root's empty id."""
    for parent in list(root.iter()):
        for child in list(parent):
            # Comments have a non-string tag in both lxml and ElementTree, which pygal may use.
            if not isinstance(child.tag, str) or child.tag.rpartition("}")[2] in _INTERACTIVE_ONLY:
                parent.remove(child)
    root.attrib.pop("id", None)
    return root


def _style(colors: list[str]):
    from pygal.style import Style

    return Style(
        background="#fff", plot_background="#fff", foreground="#222", foreground_strong="#222",
        foreground_subtle="#d9d9d9", colors=tuple(colors), font_family="sans-serif",
        label_font_size=SMALL_PT, major_label_font_size=SMALL_PT, legend_font_size=SMALL_PT,
        title_font_size=FONT_PT, value_font_size=SMALL_PT, value_label_font_size=SMALL_PT,
        tooltip_font_size=SMALL_PT,
        opacity="1", opacity_hover="1", stroke_opacity="1", stroke_opacity_hover="1", transition="none",
        guide_stroke_dasharray="none", major_guide_stroke_dasharray="none",
        guide_stroke_color="#d9d9d9", major_guide_stroke_color="#222",
    )


def _draw(table: dict, kind: str) -> bytes:
    # Imported here, not at module level: only the chart worker loads pygal.
    import pygal

    rows, cols, values = table["rows"], table["columns"], table["values"]
    horizontal = kind == "trials"
    width, height = (round(v * _UNITS_PER_IN) for v in figsize(table, kind))
    ticks = _nice_ticks(max(sum(row) for row in values))
    # pygal reserves the legend's rows below the plot from the given height, but counts
    # len // columns rows (one short when the last row is not full) and ends the last row 2 units
    # past the bottom edge: reserve those itself, plus the margin.
    columns = legend_columns(table, kind)
    missing_rows = -(-len(cols) // columns) - len(cols) // columns
    bottom = _MARGIN + _SPACING + _LEGEND_PITCH * missing_rows
    chart = (pygal.HorizontalStackedBar if horizontal else pygal.StackedBar)(
        width=width, height=height, style=_style(table.get("colors") or PALETTE), js=[],
        disable_xml_declaration=True, no_prefix=True,
        margin=_MARGIN, margin_bottom=bottom, spacing=_SPACING,
        # Below the axes, not beside them: a side legend would take half of a phone-width chart.
        legend_at_bottom=True, legend_at_bottom_columns=columns, legend_box_size=SMALL_PT,
        truncate_legend=-1, truncate_label=-1,
        x_title=table["xlabel"], y_title=None if horizontal else table["ylabel"],
        # Whole numbers on round steps; only the zero line is drawn dark.
        range=(0, ticks[-1]), y_labels=ticks, y_labels_major=[0], value_formatter=lambda v: f"{v:,.0f}",
        show_x_guides=False, show_y_guides=True,
        # The narrow year axis labels at most ~5 years, on round steps, so labels never collide.
        show_minor_x_labels=horizontal,
    )
    if horizontal:
        rows, values = rows[::-1], values[::-1]  # pygal draws the first row at the bottom
    chart.x_labels = rows
    if not horizontal:
        step = next((n for n in (1, 2, 5, 10, 20, 50) if len(rows) / n <= 5), 100)
        chart.x_labels_major = [y for y in rows if int(y) % step == 0] or rows[:1]
    for j, col in enumerate(cols):
        chart.add(col, [row[j] or None for row in values])  # None: no zero-height segment
    chart.add_xml_filter(_static_image)
    return chart.render(is_unicode=True).encode("utf-8")
