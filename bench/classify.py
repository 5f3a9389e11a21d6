"""Classifier evaluation: per-topic precision and recall against records labelled by reading.

    .venv/bin/python bench/classify.py

The labels are tests/data/classify-labels.tsv (its header states the labelling rules); the records
are real: PubMed articles from an efetch reply, ClinicalTrials.gov studies from a website JSON
download (both under tests/data/real-api, read with the harvester's own parsers) and PubMed records
flattened to CSV by a public project (tests/data/dev-records: title, abstract and author keywords,
no MeSH headings).  Prints one row per topic — positives in the set, true and false positives,
false negatives, precision, recall and the target — then every disagreement with the classifier's
reasons and the label's.  tests/test_classify.py runs the same evaluation and fails when a topic
misses its target: precision and recall >= 0.97 where the set has >= 20 positives, otherwise no
false positive.
"""

from __future__ import annotations

import ast
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harvest.classification.classify import explain  # noqa: E402
from harvest.classification.topics import load_topics  # noqa: E402
from harvest.normalize import parse_bytes  # noqa: E402
from harvest.records.record import ordered  # noqa: E402

DATA = ROOT / "tests" / "data"
LABELS = DATA / "classify-labels.tsv"
DEV_CSV = DATA / "dev-records" / "pubmed_results_20250813_00-00-08.csv"
RECORDINGS = (
    DATA / "real-api" / "psynamic-webapp" / "test" / "test_data" / "abstract_test.xml",
    DATA / "real-api" / "ctgov-website-download" / "UserZetsu-dtx-analysis" / "data" / "ctg-studies.json",
)
MIN_POSITIVES = 20
TARGET = 0.97


def read_labels(path: Path = LABELS) -> dict[str, tuple[list[str], str]]:
    """id → (expected slugs, reason).  A malformed line is an error naming the file and line."""
    labels: dict[str, tuple[list[str], str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0] or not parts[2].strip():
            raise ValueError(f"{path}:{lineno}: expected 'id<TAB>slugs<TAB>reason'")
        rid, slugs, reason = parts
        if rid in labels:
            raise ValueError(f"{path}:{lineno}: {rid} labelled twice")
        labels[rid] = ([] if slugs.strip() == "-" else slugs.split()), reason
    return labels


def dev_records(path: Path = DEV_CSV) -> list[dict]:
    """The dev-records CSV as normalized records (the fields it has: title, abstract, keywords)."""
    csv.field_size_limit(sys.maxsize)
    out = []
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            try:
                keywords = ast.literal_eval(row["keywords"]) if row["keywords"].strip() else []
            except (ValueError, SyntaxError):
                raise ValueError(f"{path}:{n}: keywords is not a list: {row['keywords'][:60]!r}") from None
            pmid = row["pubmed_id"]
            abstract = [{"label": None, "text": row["abstract"], "html": None}] if row["abstract"].strip() else []
            out.append(
                ordered(
                    {
                        "id": f"pubmed:{pmid}",
                        "source": "pubmed",
                        "pmid": pmid,
                        "title": row["title"],
                        "abstract": abstract,
                        "keywords": [k for k in keywords if isinstance(k, str)],
                    }
                )
            )
    return out


def eval_records() -> list[dict]:
    records = dev_records()
    for path in RECORDINGS:
        parsed, errors, _books = parse_bytes(path.read_bytes(), str(path.relative_to(ROOT)))
        if errors:
            raise ValueError(errors[0])
        records.extend(parsed)
    return records


@dataclass
class TopicScore:
    slug: str
    positives: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None

    @property
    def meets_target(self) -> bool:
        if self.positives >= MIN_POSITIVES:
            return (self.precision or 0) >= TARGET and (self.recall or 0) >= TARGET
        return self.fp == 0


@dataclass
class Evaluation:
    size: int
    topics: list[TopicScore]
    disagreements: list[dict] = field(default_factory=list)


def evaluate(topics=None) -> Evaluation:
    topics = load_topics() if topics is None else topics
    labels = read_labels()
    records = {r["id"]: r for r in eval_records()}
    missing = sorted(set(labels) - set(records))
    if missing:
        raise ValueError(f"{LABELS}: labelled but not in the set: {', '.join(missing[:5])}")
    unlabelled = sorted(set(records) - set(labels))
    if unlabelled:
        raise ValueError(f"{LABELS}: records without a label: {', '.join(unlabelled[:5])}")
    scores = {t.slug: TopicScore(t.slug) for t in topics}
    result = Evaluation(size=len(labels), topics=list(scores.values()))
    for rid, (expected, reason) in labels.items():
        verdicts = explain(records[rid], topics)
        got = [v["slug"] for v in verdicts if v["match"]]
        for slug in expected:
            if slug not in scores:
                raise ValueError(f"{LABELS}: {rid}: unknown topic {slug!r}")
            scores[slug].positives += 1
        for v in verdicts:
            s = scores[v["slug"]]
            want, have = v["slug"] in expected, v["match"]
            s.tp += want and have
            s.fp += have and not want
            s.fn += want and not have
            if want != have:
                result.disagreements.append(
                    {
                        "id": rid,
                        "topic": v["slug"],
                        "kind": "false positive" if have else "false negative",
                        "title": records[rid]["title"],
                        "label": reason,
                        "classifier": f"treatment {v['treatment']} {v['treatment_reasons']}; "
                        f"mood disorder {v['scope']} {v['scope_reasons']}",
                        "got": got,
                    }
                )
    return result


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def table(ev: Evaluation) -> str:
    lines = [
        f"{'topic':22} {'positives':>9} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}  target",
    ]
    for s in ev.topics:
        target = f">= {TARGET}" if s.positives >= MIN_POSITIVES else "no FP"
        ok = "met" if s.meets_target else "MISSED"
        lines.append(
            f"{s.slug:22} {s.positives:9d} {s.tp:4d} {s.fp:4d} {s.fn:4d} {_fmt(s.precision):>9} "
            f"{_fmt(s.recall):>7}  {target} ({ok})"
        )
    return "\n".join(lines)


def main() -> int:
    ev = evaluate()
    print(f"Evaluation set: {ev.size} records labelled by reading ({LABELS.relative_to(ROOT)})\n")
    print(table(ev))
    print(f"\nDisagreements: {len(ev.disagreements)}")
    for d in ev.disagreements:
        print(f"- {d['id']} [{d['topic']}] {d['kind']}: {d['title'][:110]}")
        print(f"    label: {d['label']}")
        print(f"    classifier: {d['classifier']}")
    return 0 if all(s.meets_target for s in ev.topics) else 1


if __name__ == "__main__":
    sys.exit(main())
