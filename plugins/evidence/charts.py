"""Per-topic charts rendered at build time as SVG with matplotlib, plus the data for their tables.

Each chart is a pure function of a small data table; the SVG is cached under CACHE_PATH by a hash of
that table, so a rebuild with unchanged evidence does not start matplotlib at all.  Output is made
byte-stable (fixed hash salt, no date metadata, text kept as text) so two builds are identical.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter

from harvest.fileio import atomic_write

from .model import PHASE_LABELS, design_label, designs_in_order, phase_label, status_label, statuses_in_order

# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#882255"]
_RENDER_VERSION = "5"  # bump when the drawing code changes, to invalidate cached SVGs


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


# Charts are drawn small (5 in wide) with large type, so the text stays readable when a phone scales
# the image down to ~330 px (about 11 px type); on wide screens the image is shown 500 px wide.
WIDTH_IN = 5.0
FONT_PT = 13
SMALL_PT = 12
_LEGEND_ROW_IN = 0.25  # one legend row at 12 pt with matplotlib's 0.5 em spacing is 0.24 in


def legend_columns(table: dict) -> int:
    """Two legend columns fit the width when the labels are short, else one."""
    return 2 if max(len(c) for c in table["columns"]) <= 22 else 1


def _legend_in(table: dict) -> float:
    """Height of the legend band below the axes, in inches."""
    legend_rows = -(-len(table["columns"]) // legend_columns(table))
    return 0.3 + _LEGEND_ROW_IN * legend_rows


def figsize(table: dict, kind: str) -> tuple[float, float]:
    """Figure size in inches; the page gives the <img> the same aspect ratio (100 px per inch)."""
    legend = _legend_in(table)
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
    """Import the drawing code and load the font: half a second, spent while Pelican reads cards."""
    _text_width_in(["0"], SMALL_PT)
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.collections  # noqa: F401
    import matplotlib.figure  # noqa: F401


def worker(conn, parent_end) -> None:
    """Chart worker, a child forked before the cards are read: warm up, then wait for
    ``(jobs, cache_dir)``, draw every (file, table, kind) and send back ``{file: svg}``, or an error
    text the parent turns into a failed build.  With nothing to draw the parent stops it."""
    parent_end.close()  # so that recv() sees EOF if the parent goes away
    # Before numpy loads: bar charts need no linear algebra, and OpenBLAS's thread pool spins on the
    # core Pelican is using -- the worker took 0.55 s of CPU with one thread against 0.75 s without.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
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


# Layout is computed here, not by matplotlib's constrained layout: that draws every figure twice and
# measured 40 % of a chart's time.  Margins follow from the type sizes and the longest tick label.
_PAD_IN = 0.12
_TICK_IN = (3.5 + 3.5) / 72  # tick length + tick label pad (matplotlib defaults, in points)
_AXIS_LABEL_IN = (FONT_PT * 1.2 + 4) / 72  # axis label line + its labelpad


def _text_width_in(texts, size_pt: float) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family="sans-serif", size=size_pt)
    return max((text_to_path.get_text_width_height_descent(t, prop, ismath=False)[0] for t in texts),
               default=0.0) / 72


def _nice_ticks(top: int) -> list[int]:
    """Integer ticks on a round step, at most about 5 of them, from 0 past the largest value."""
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10**4,
                            2 * 10**4, 5 * 10**4, 10**5, 10**6, 10**7) if top / s <= 5)
    return list(range(0, top + step, step)) if top else [0, 1]


def _draw(table: dict, kind: str) -> bytes:
    # Imported here, not at module level: the parent process never loads matplotlib, only the chart
    # worker does (ahead, in warm_up, while Pelican reads cards; when every chart is cached the
    # worker is stopped, import or not).  No pyplot: no global figure manager to clean.
    import matplotlib
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    rc = {
        "svg.hashsalt": "mood-evidence-atlas",
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.size": FONT_PT,
        "axes.labelsize": FONT_PT,
        "xtick.labelsize": SMALL_PT,
        "ytick.labelsize": SMALL_PT,
        "legend.fontsize": SMALL_PT,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(rc):
        rows, cols, values = table["rows"], table["columns"], table["values"]
        horizontal = kind == "trials"
        width, height = figsize(table, kind)
        totals = [sum(row) for row in values]
        ticks = _nice_ticks(max(totals))
        tick_labels = [f"{t:,}" for t in ticks]

        # Margins in inches: the legend band at the bottom (as figsize reserves it), then the
        # category axis and the value axis with their labels.
        legend_in = _legend_in(table)
        label_in = SMALL_PT / 72 + _TICK_IN + _AXIS_LABEL_IN  # tick labels + axis label
        if horizontal:
            left = _text_width_in(rows, SMALL_PT) + _TICK_IN + _PAD_IN
        else:
            left = _text_width_in(tick_labels, SMALL_PT) + _TICK_IN + _AXIS_LABEL_IN + _PAD_IN
        right = _text_width_in(tick_labels[-1:], SMALL_PT) / 2 + _PAD_IN if horizontal else 0.3
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=left / width, right=1 - right / width,
                            bottom=(legend_in + label_in) / height, top=1 - 0.2 / height)
        ax = fig.add_subplot()

        # Stacked bars as one PolyCollection per column: the same rectangles as ax.bar, without an
        # artist (and its limit bookkeeping) per bar.  Zero-height segments are not drawn at all.
        half = 0.3 if horizontal else 0.4
        base = [0] * len(rows)
        for j, col in enumerate(cols):
            boxes = []
            for i, row in enumerate(values):
                low, high = base[i], base[i] + row[j]
                if row[j]:
                    boxes.append([(low, i - half), (high, i - half), (high, i + half), (low, i + half)]
                                 if horizontal else
                                 [(i - half, low), (i + half, low), (i + half, high), (i - half, high)])
                base[i] = high
            ax.add_collection(PolyCollection(boxes, facecolors=PALETTE[j % len(PALETTE)],
                                             edgecolors="none", label=col))
        positions = list(range(len(rows)))
        if horizontal:
            ax.set_ylim(len(rows) - 0.5, -0.5)  # first phase at the top
            ax.set_yticks(positions, rows)
            ax.set_xlim(0, ticks[-1])
            ax.set_xticks(ticks, tick_labels)
            ax.set_xlabel(table["xlabel"])
        else:
            # Label at most ~5 years (the chart is narrow), on round steps, so labels never collide.
            step = next((n for n in (1, 2, 5, 10, 20, 50) if len(rows) / n <= 5), 100)
            first = next((i for i, y in enumerate(rows) if int(y) % step == 0), 0)
            ax.set_xlim(-0.6, len(rows) - 0.4)
            ax.set_xticks(positions[first::step], rows[first::step])
            ax.set_ylim(0, ticks[-1])
            ax.set_yticks(ticks, tick_labels)
            ax.set_xlabel(table["xlabel"])
            ax.set_ylabel(table["ylabel"])
        # Below the axes, not beside them: a side legend would take half of a phone-width chart.
        fig.legend(loc="lower center", bbox_to_anchor=(0.5, 0.05 / height), ncols=legend_columns(table),
                   frameon=False, handlelength=1.0, columnspacing=1.2)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
