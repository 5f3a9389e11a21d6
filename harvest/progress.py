"""Progress: a tqdm bar per topic and source on an interactive terminal, plain log lines otherwise (CI,
cron, pipes), and a summary table at the end either way."""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

LOG = logging.getLogger("harvest")


class Progress:
    def __init__(self, stream=None, interactive: bool | None = None):
        self.stream = stream or sys.stderr
        if interactive is None:
            interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interactive = interactive

    def task(self, slug: str, source: str) -> "Task":
        return Task(self, f"{slug} {source}")


class Task:
    def __init__(self, progress: Progress, label: str):
        self.progress = progress
        self.label = label
        self.done = 0
        self.total: int | None = None
        self.bar = None
        if progress.interactive:
            self.bar = tqdm(desc=label, unit="rec", file=progress.stream, leave=True, dynamic_ncols=True)
        else:
            LOG.info("%s: started", label)

    def advance(self, records: int, total: int | None) -> None:
        self.done += records
        if total is not None and total != self.total:
            self.total = total
            if self.bar is not None:
                self.bar.total = total
                self.bar.refresh()
        if self.bar is not None:
            self.bar.update(records)
        else:
            of = f"/{self.total}" if self.total is not None else ""
            LOG.info("%s: %d%s records", self.label, self.done, of)

    def close(self, status: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(status)
            self.bar.close()
        else:
            LOG.info("%s: %s", self.label, status)


def summary_table(report: dict) -> str:
    """Fixed-width table of a run report's per-topic counts."""
    head = ("topic", "source", "found", "new", "updated", "unchanged", "off-topic", "requests", "seconds", "status")
    rows = []
    for topic in report["topics"]:
        for source, entry in topic["sources"].items():
            rows.append((topic["slug"], source, entry["found"], entry["new"], entry["updated"],
                         entry["unchanged"], entry["off_topic"], entry["requests"],
                         f"{entry['seconds']:.1f}", "FAILED" if entry["error"] else "ok"))
    t = report["totals"]
    rows.append(("total", "", t["records"], t["new"], t["updated"], t["unchanged"], t["off_topic"],
                 sum(r[7] for r in rows), "", "ok" if report["ok"] else "FAILED"))
    cells = [tuple(str(c) for c in row) for row in [head, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i < 2 or i == 9 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
