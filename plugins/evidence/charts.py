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
_RENDER_VERSION = "4"  # bump when the drawing code changes, to invalidate cached SVGs


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
_LEGEND_ROW_IN = 0.3


def legend_columns(table: dict) -> int:
    """Two legend columns fit the width when the labels are short, else one."""
    return 2 if max(len(c) for c in table["columns"]) <= 22 else 1


def figsize(table: dict, kind: str) -> tuple[float, float]:
    """Figure size in inches; the page gives the <img> the same aspect ratio (100 px per inch)."""
    legend_rows = -(-len(table["columns"]) // legend_columns(table))
    legend = 0.35 + _LEGEND_ROW_IN * legend_rows
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


def render_all(jobs: list[tuple[str, dict, str]], cache_dir: str | None, conn) -> None:
    """Chart worker (a forked child): draw every (file, table, kind), send {file: svg} or an error text."""
    try:
        conn.send({file: render_svg(table, kind, cache_dir) for file, table, kind in jobs})
    except BaseException as exc:  # noqa: BLE001 - the parent reports it and fails the build
        conn.send(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _draw(table: dict, kind: str) -> bytes:
    import matplotlib  # imported here: builds whose charts are all cached never pay for it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
        fig, ax = plt.subplots(figsize=figsize(table, kind), layout="constrained")
        base = [0] * len(rows)
        positions = list(range(len(rows)))
        for j, col in enumerate(cols):
            series = [row[j] for row in values]
            colour = PALETTE[j % len(PALETTE)]
            # Zero-height segments draw nothing but cost matplotlib a patch each (most of a
            # chart's time over decades x designs); the legend entry comes from the label.
            keep = [i for i, v in enumerate(series) if v] or [0]
            at, size, start = ([positions[i] for i in keep], [series[i] for i in keep],
                               [base[i] for i in keep])
            if horizontal:
                ax.barh(at, size, left=start, color=colour, label=col, height=0.6)
            else:
                ax.bar(at, size, bottom=start, color=colour, label=col, width=0.8)
            base = [b + v for b, v in zip(base, series)]
        if horizontal:
            ax.set_yticks(positions, rows)
            ax.invert_yaxis()
            ax.set_xlabel(table["xlabel"])
            ax.xaxis.get_major_locator().set_params(integer=True, nbins=5)
        else:
            # Label at most ~5 years (the chart is narrow), on round steps, so labels never collide.
            step = next((n for n in (1, 2, 5, 10, 20, 50) if len(rows) / n <= 5), 100)
            first = next((i for i, y in enumerate(rows) if int(y) % step == 0), 0)
            ax.set_xticks(positions[first::step], rows[first::step])
            ax.set_xlabel(table["xlabel"])
            ax.set_ylabel(table["ylabel"])
            ax.yaxis.get_major_locator().set_params(integer=True, nbins=5)
        # Below the axes, not beside them: a side legend would take half of a phone-width chart.
        fig.legend(loc="outside lower center", ncols=legend_columns(table), frameon=False,
                   handlelength=1.0, columnspacing=1.2)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
    return buf.getvalue()
