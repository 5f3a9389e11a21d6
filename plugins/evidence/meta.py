"""A topic's living meta-analysis on its page: the committed data/meta/<slug>.json, joined to the cards.

The numbers come from the harvester (harvest/sources/metapsy/pool.py pools the Metapsy database with statsmodels);
this module only reads them, links each study to the atlas's own cards (by DOI and registration
number) or to doi.org and the trial registry, counts what the atlas has found since the database's
last search, and draws the forest plot as a self-contained SVG (hand-built: pygal has no forest plot).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from html import escape
from urllib.parse import quote

from harvest.records.dates import period_end

from . import model

logger = logging.getLogger(__name__)

ROB_MARKS = {  # RoB 2 judgement → (symbol, colour, words, css); symbols keep the plot readable without colour
    "Low": ("+", "#1a7f37", "low risk of bias", "low"),
    "Some concerns": ("?", "#9a6700", "some concerns", "some"),
    "High": ("−", "#c62828", "high risk of bias", "high"),
    None: ("·", "#6e7781", "not rated", "na"),
}
ROB_DOMAINS = (
    ("d1", "D1", "Randomization process"),
    ("d2", "D2", "Deviations from intended interventions"),
    ("d3", "D3", "Missing outcome data"),
    ("d4", "D4", "Measurement of the outcome"),
    ("d5", "D5", "Selection of the reported result"),
    ("rob", "All", "Overall"),
)
ARM_LABELS = {  # the Metapsy psilocybin database's arm codes (metadata/variable_description.json)
    "psil": "psilocybin", "psil-mbsr": "psilocybin with mindfulness-based stress reduction",
    "psil-d": "deuterated psilocybin analogue", "wl": "waiting list", "ncn": "niacin placebo",
    "pcb": "placebo", "mbsr": "mindfulness-based stress reduction", "esc": "escitalopram",
}
INSTRUMENTS = {"madrs": "MADRS", "qids-sr": "QIDS-SR", "grid-ham-d": "GRID-HAM-D", "bdi": "BDI",
               "bdi-ii": "BDI-II", "hads-d": "HADS-D", "ham-d": "HAM-D"}


def load(data_path: str, slug: str) -> dict | None:
    path = os.path.join(data_path, "meta", f"{slug}.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        doc["pooled"]["g"], doc["studies"]  # the keys the page needs
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.error("meta-analysis %s: unreadable (%s)", path, exc)
        return None
    return doc


def fmt(value: float) -> str:
    """Two decimals with a real minus sign, as effect sizes are printed in papers."""
    text = f"{value:.2f}"
    return text.replace("-", "−") if value < 0 else text


def _arm_text(comparison: str) -> str:
    parts = []
    for arm in comparison.split(" vs "):
        code, _, dose = arm.partition(" ")
        parts.append((ARM_LABELS.get(code, code) + (f" {dose}" if dose else "")).strip())
    return " vs ".join(parts)


def _registry_url(reg: str) -> str:
    if reg.upper().startswith("NCT"):
        return f"https://clinicaltrials.gov/study/{quote(reg.upper())}"
    return f"https://trialsearch.who.int/Trial2.aspx?TrialID={quote(reg, safe='')}"


def view(doc: dict, cards: list, by_id: dict, siteurl: str, slug: str) -> dict:
    """What the template shows: pooled figures, linked studies, the staleness meter, the SVG."""
    by_doi = {}
    for art in by_id.values():
        doi = (art.record.get("doi") or "").lower()
        if doi:
            by_doi.setdefault(doi, art)
    known_dois = set()
    known_regs = set()
    studies = []
    for s in doc["studies"]:
        dois = s.get("dois") or []
        known_dois.update(dois)
        reg = (s.get("registration") or "").strip()
        if reg:
            known_regs.add(reg.upper())
        paper = next((by_doi[d] for d in dois if d in by_doi), None)
        trial = by_id.get(f"ctgov:{reg.upper()}") if reg else None
        studies.append(dict(
            s,
            g_text=fmt(s["g"]), ci_text=f"{fmt(s['ci'][0])} to {fmt(s['ci'][1])}",
            weight_text=f"{s['weight'] * 100:.1f}%",
            comparison_text=_arm_text(s["comparison"]),
            instrument_text=INSTRUMENTS.get(s["instrument"] or "", (s["instrument"] or "").upper()),
            paper=paper, doi_url=f"https://doi.org/{quote(dois[0], safe='/')}" if dois else None, doi=dois[0] if dois else None,
            trial=trial, registry_url=_registry_url(reg) if reg else None,
            rob_marks=[{"key": key, "short": short, "domain": name, "value": s["rob"].get(key),
                        "symbol": ROB_MARKS.get(s["rob"].get(key), ROB_MARKS[None])[0],
                        "words": ROB_MARKS.get(s["rob"].get(key), ROB_MARKS[None])[2],
                        "css": ROB_MARKS.get(s["rob"].get(key), ROB_MARKS[None])[3]}
                       for key, short, name in ROB_DOMAINS],
        ))
    last = doc["source"]["last_search"]
    newer_reports = sorted(
        (a for a in cards if a.record["source"] == "pubmed" and a.record["design"] == "rct"
         and not a.record.get("retracted") and (a.record.get("date") or "") > last
         and (a.record.get("doi") or "").lower() not in known_dois),
        key=lambda a: model.newest_key(a.record))
    newer_trials = sorted(
        (a for a in cards if a.record["source"] == "ctgov" and a.record["status"] == "COMPLETED"
         and a.record["nct_id"].upper() not in known_regs
         and (period_end(a.record.get("primary_completion_date")) or dt.date.min).isoformat() > last),
        key=lambda a: model.newest_key(a.record))
    p = doc["pooled"]
    return {
        "doc": doc,
        "source": doc["source"],
        "pooled": p,
        "g_text": fmt(p["g"]),
        "ci_text": f"{fmt(p['ci'][0])} to {fmt(p['ci'][1])}",
        "pi_text": f"{fmt(p['pi'][0])} to {fmt(p['pi'][1])}" if p.get("pi") else None,
        "i2_text": f"{p['i2'] * 100:.0f}%",
        "tau2_text": f"{p['tau2']:.2f}",
        "studies": studies,
        "newer_reports": newer_reports,
        "newer_trials": newer_trials,
        "rob_domains": ROB_DOMAINS,
        "rob_marks": [{"value": k, "symbol": v[0], "words": v[2]} for k, v in ROB_MARKS.items() if k],
        "svg_file": f"topics/{slug}/forest.svg",
        "svg": forest_svg(doc, studies),
        "svg_size": forest_size(len(studies)),
        "alt": (f"Forest plot of {p['k']} studies: pooled Hedges' g {fmt(p['g'])}, 95% confidence interval "
                f"{fmt(p['ci'][0])} to {fmt(p['ci'][1])}; the same numbers are in the table below."),
    }


# -- forest plot -----------------------------------------------------------------------------------

ROW = 24
LABEL_W = 190
PLOT_X0, PLOT_X1 = 190, 440
TEXT_X = 456
ROB_X0 = 650
ROB_STEP = 19
WIDTH = ROB_X0 + ROB_STEP * len(ROB_DOMAINS) + 6
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""


def _ticks(lo: float, hi: float) -> list[float]:
    step = 0.5 if hi - lo <= 4 else 1.0
    start = int(lo / step) * step
    if start > lo:
        start -= step
    out, v = [start], start
    while v < hi - 1e-9:
        v += step
        out.append(round(v, 2))
    return out


def forest_size(n: int) -> tuple[int, int]:
    """Width and height of the forest plot of n studies (the SVG's own viewBox)."""
    return WIDTH, 2 * ROW + n * ROW + ROW // 2 + ROW + 3 * ROW + 4


def forest_svg(doc: dict, studies: list[dict]) -> bytes:
    """The forest plot as SVG bytes: squares sized by weight, CI whiskers, pooled diamond with the
    prediction interval as a line through it, RoB 2 marks per domain.  Deterministic."""
    p = doc["pooled"]
    lows = [s["ci"][0] for s in studies] + [p["ci"][0]] + ([p["pi"][0]] if p.get("pi") else [])
    highs = [s["ci"][1] for s in studies] + [p["ci"][1]] + ([p["pi"][1]] if p.get("pi") else [])
    ticks = _ticks(min(min(lows), 0.0), max(max(highs), 0.0))
    lo, hi = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return round(PLOT_X0 + (v - lo) / (hi - lo) * (PLOT_X1 - PLOT_X0), 1)

    top = 2 * ROW
    n = len(studies)
    pooled_y = top + n * ROW + ROW // 2
    axis_y = pooled_y + ROW
    height = forest_size(n)[1]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" {FONT} font-size="12">',
           f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
           f'<text x="0" y="{ROW}" font-weight="bold">Study</text>',
           f'<text x="{TEXT_X}" y="{ROW}" font-weight="bold">g [95% CI]</text>']
    for i, (_key, short, _name) in enumerate(ROB_DOMAINS):
        out.append(f'<text x="{ROB_X0 + i * ROB_STEP + 8}" y="{ROW}" text-anchor="middle" font-size="10" '
                   f'font-weight="bold">{short}</text>')
    out.append(f'<line x1="{x(0)}" y1="{top - 8}" x2="{x(0)}" y2="{axis_y}" stroke="#57606a" stroke-width="1"/>')
    max_w = max(s["weight"] for s in studies) or 1
    for i, s in enumerate(studies):
        y = top + i * ROW + ROW // 2
        label = escape(s["study"])
        out.append(f'<text x="0" y="{y + 4}">{label}</text>')
        out.append(f'<line x1="{x(s["ci"][0])}" y1="{y}" x2="{x(s["ci"][1])}" y2="{y}" stroke="#24292f" '
                   f'stroke-width="1.5"/>')
        size = round(4 + 8 * (s["weight"] / max_w) ** 0.5, 1)
        out.append(f'<rect x="{round(x(s["g"]) - size / 2, 1)}" y="{round(y - size / 2, 1)}" width="{size}" '
                   f'height="{size}" fill="#0b5cad"/>')
        out.append(f'<text x="{TEXT_X}" y="{y + 4}">{escape(s["g_text"])} [{escape(fmt(s["ci"][0]))}, '
                   f'{escape(fmt(s["ci"][1]))}]</text>')
        for j, mark in enumerate(s["rob_marks"]):
            symbol, colour, _words, _css = ROB_MARKS.get(mark["value"], ROB_MARKS[None])
            cx = ROB_X0 + j * ROB_STEP + 8
            out.append(f'<circle cx="{cx}" cy="{y}" r="7.5" fill="{colour}"/>'
                       f'<text x="{cx}" y="{y + 4}" text-anchor="middle" fill="#fff" font-weight="bold" '
                       f'font-size="11">{symbol}</text>')
    # Pooled effect: diamond over the confidence interval, prediction interval as a line through it.
    y = pooled_y
    if p.get("pi"):
        out.append(f'<line x1="{x(p["pi"][0])}" y1="{y}" x2="{x(p["pi"][1])}" y2="{y}" stroke="#8250df" '
                   f'stroke-width="2"/>')
    out.append(f'<polygon points="{x(p["ci"][0])},{y} {x(p["g"])},{y - 8} {x(p["ci"][1])},{y} '
               f'{x(p["g"])},{y + 8}" fill="#24292f"/>')
    out.append(f'<text x="0" y="{y + 4}" font-weight="bold">Pooled (k = {p["k"]}, n = {p["n"]})</text>')
    out.append(f'<text x="{TEXT_X}" y="{y + 4}" font-weight="bold">{escape(fmt(p["g"]))} '
               f'[{escape(fmt(p["ci"][0]))}, {escape(fmt(p["ci"][1]))}]</text>')
    # Axis with ticks and the direction of benefit.
    out.append(f'<line x1="{PLOT_X0}" y1="{axis_y}" x2="{PLOT_X1}" y2="{axis_y}" stroke="#57606a"/>')
    for t in ticks:
        out.append(f'<line x1="{x(t)}" y1="{axis_y}" x2="{x(t)}" y2="{axis_y + 4}" stroke="#57606a"/>'
                   f'<text x="{x(t)}" y="{axis_y + 16}" text-anchor="middle" font-size="10">{f"{t:g}".replace("-", "−")}</text>')
    # Metapsy effects are arm 1 minus arm 2 on a symptom scale: below zero, fewer symptoms in arm 1.
    out.append(f'<text x="{x(0) - 4}" y="{axis_y + 32}" text-anchor="end" font-size="11">← favours treatment</text>')
    out.append(f'<text x="{x(0) + 4}" y="{axis_y + 32}" font-size="11">favours control →</text>')
    out.append(f'<text x="0" y="{axis_y + 50}" font-size="10">Line through the diamond: 95% prediction '
               f'interval. Marks: + low risk of bias, ? some concerns, − high (RoB 2).</text>')
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode("utf-8")
