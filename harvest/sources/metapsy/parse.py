"""A Metapsy database (the Metapsy data standard) → comparison rows.  Pure: bytes in, values out.

A Metapsy meta-analytic research domain (github.com/metapsy-project/data-*) ships `data.csv`, one
row per comparison, outcome and time point, with the effect size already computed by the
maintainers (`.g`, `.g_se`: Hedges' g and its standard error), the arm sizes, the Cochrane RoB 2
domain ratings (`d1`-`d5`, overall `rob`), the paper's DOI and the trial's registration number; and
`metadata/last_search.txt`, the date of the database's last literature search.  The maintainers
write the file with R's `write.csv2` (semicolon separator, decimal comma, `NA` for missing); a file
with comma separators and decimal points is read as well.

A row that cannot be used raises ParseError naming the file, the line and the study, so one bad
row stops the import and the previous import stays in place (see harvest/sources/metapsy/pool.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass

from harvest.errors import ParseError

# Columns every database in the standard has and the atlas needs.
REQUIRED = ("study", "condition_arm1", "condition_arm2", "multi_arm1", "multi_arm2", "outcome_type",
            "instrument", "time_weeks", "n_arm1", "n_arm2", ".g", ".g_se", "rob", "doi",
            "registration_number")
# Columns used when present (the psilocybin database has them; the standard does not require them).
OPTIONAL = ("primary_instrument", "primary_timepoint", "post_crossover", "n_change_arm1",
            "n_change_arm2", "totaln_arm1", "totaln_arm2", "year", "design", "d1", "d2", "d3", "d4",
            "d5", "diagnosis")
TEXT = ("study", "condition_arm1", "condition_arm2", "multi_arm1", "multi_arm2", "outcome_type",
        "instrument", "rob", "doi", "registration_number", "design", "d1", "d2", "d3", "d4", "d5",
        "diagnosis")
NUMBERS = ("time_weeks", ".g", ".g_se")
COUNTS = ("n_arm1", "n_arm2", "n_change_arm1", "n_change_arm2", "totaln_arm1", "totaln_arm2", "year")
FLAGS = ("primary_instrument", "primary_timepoint", "post_crossover")
ROB_LEVELS = ("Low", "Some concerns", "High")
MISSING = {"", "NA", "N/A", "NaN", "nan"}
_DOI_RE = re.compile(r"10\.\d{4,9}/\S+")
_DATE_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*$")


@dataclass(frozen=True)
class Database:
    rows: list[dict]  # one dict per data row, in file order, each with its file line as "line"
    last_search: str  # ISO date of the last literature search


def parse_last_search(body: bytes, name: str) -> str:
    text = _text(body, name)
    m = _DATE_RE.match(text)
    if not m:
        raise ParseError(f"{name}: last search date must be one YYYY-MM-DD line, got {text.strip()[:40]!r}")
    try:
        dt.date.fromisoformat(m.group(1))
    except ValueError:
        raise ParseError(f"{name}: last search date {m.group(1)!r} is not a calendar date") from None
    return m.group(1)


def parse_metapsy(data: bytes, last_search: bytes, name: str, search_name: str | None = None) -> Database:
    """Parse data.csv and last_search.txt; ParseError (one line, naming the row) on anything unusable."""
    text = _text(data, name)
    header = text.split("\n", 1)[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        columns = [c.strip() for c in next(reader)]
    except StopIteration:
        raise ParseError(f"{name}: empty file") from None
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ParseError(f"{name}: not a Metapsy database: missing column(s) {', '.join(missing)}")
    index = {c: i for i, c in enumerate(columns)}
    rows = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        where = f"{name}: row {line}"
        study = cells[index["study"]].strip() if index["study"] < len(cells) else ""
        if study:
            where += f" ({study})"
        if len(cells) != len(columns):
            raise ParseError(f"{where}: {len(cells)} fields, the header has {len(columns)}")
        rows.append(_row(cells, index, sep, where, line))
    if not rows:
        raise ParseError(f"{name}: no data rows")
    return Database(rows=rows, last_search=parse_last_search(last_search, search_name or name))


def _row(cells, index, sep, where, line) -> dict:
    def cell(col):
        i = index.get(col)
        if i is None:
            return None
        value = cells[i].strip()
        return None if value in MISSING else value

    row = {"line": line}
    for col in TEXT:
        row[col] = cell(col)
    if not row["study"]:
        raise ParseError(f"{where}: study is empty")
    for col in NUMBERS:
        row[col] = _number(cell(col), col, sep, where)
    for col in COUNTS:
        value = _number(cell(col), col, sep, where)
        if value is not None and (value < 0 or value != int(value)):
            raise ParseError(f"{where}: {col} {cell(col)!r} is not a whole number")
        row[col] = None if value is None else int(value)
    for col in FLAGS:
        value = cell(col)
        if value not in (None, "0", "1"):
            raise ParseError(f"{where}: {col} must be 0, 1 or NA, got {value!r}")
        row[col] = None if value is None else value == "1"
    if (row[".g"] is None) != (row[".g_se"] is None):
        raise ParseError(f"{where}: .g and .g_se must both be given or both be NA")
    if row[".g_se"] is not None and not row[".g_se"] > 0:
        raise ParseError(f"{where}: .g_se must be positive, got {cell('.g_se')!r}")
    for col in ("rob", "d1", "d2", "d3", "d4", "d5"):
        if row[col] is not None and row[col] not in ROB_LEVELS:
            raise ParseError(f"{where}: {col} must be one of {', '.join(ROB_LEVELS)} or NA, got {row[col]!r}")
    row["dois"] = sorted({m.group(0).rstrip(".;,").lower() for m in _DOI_RE.finditer(row["doi"] or "")})
    return row


def _number(value, col, sep, where):
    if value is None:
        return None
    text = value.replace(",", ".") if sep == ";" else value
    try:
        number = float(text)
    except ValueError:
        raise ParseError(f"{where}: {col} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ParseError(f"{where}: {col} {value!r} is not a finite number")
    return number


def _text(body: bytes, name: str) -> str:
    try:
        return body.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
