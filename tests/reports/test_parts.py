"""The pure parts of reporting: layering, rounding, the dimension rule, charts and exports."""

from __future__ import annotations

import ast
from datetime import date

import pytest

from counsel.reporting import charts, exports
from counsel.reporting.periods import quarter
from counsel.reporting.report import Report, Shown, SiteRef, Table, _averages, _number, _with_share
from counsel.reporting.suppression import Cell, Grid, Rule, Status, primary, protect
from counsel.reporting.tables import CASE_TABLES, DimensionError, check_dimensions
from counsel.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "counsel" / "reporting"


def imported(path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_reporting_can_never_decrypt():
    for path in [*PACKAGE.rglob("*.py"), *(PROJECT_ROOT / "counsel" / "reports").rglob("*.py")]:
        for name in imported(path):
            assert not name.startswith(("counsel.crypto", "counsel.vault", "cryptography")), (path, name)


def test_suppression_periods_and_charts_are_pure():
    for module in ("suppression.py", "periods.py", "charts.py"):
        for name in imported(PACKAGE / module):
            assert not name.startswith(("flask", "sqlalchemy", "counsel")), (module, name)


def test_rounding_half_up_never_to_zero():
    rule = Rule(10, 5)
    assert [rule.publish(v) for v in (0, 1, 2, 3, 12, 13, 17, 18)] == [0, 5, 5, 5, 10, 15, 15, 20]
    assert Rule(5).publish(13) == 13 and Rule(5, 1).publish(13) == 13


def test_no_table_crosses_more_than_two_identifying_dimensions():
    for spec in CASE_TABLES:
        check_dimensions(spec.dimensions)
    check_dimensions(("age_band", "country"))
    with pytest.raises(DimensionError):
        check_dimensions(("age_band", "country", "language"))


def test_small_counts_and_the_zeros_beside_a_small_total_are_marked():
    # one column of three categories: 2, 0, 0 with total 2 (small), and a second of 7, 0, 9.
    cells = {(0, 0): 2, (1, 0): 0, (2, 0): 0, (3, 0): 2, (0, 1): 7, (1, 1): 0, (2, 1): 9, (3, 1): 16}
    cells |= {(i, 2): cells[(i, 0)] + cells[(i, 1)] for i in range(4)}
    grid = Grid(3, 2, {pos: Cell(v, v) for pos, v in cells.items()}, total_col=True)
    status = primary(grid, Rule(5))
    assert status[(0, 0)] is Status.SMALL and status[(3, 0)] is Status.SMALL
    assert status[(2, 0)] is Status.SMALL  # a zero beside a small total shows "<5" too
    assert status[(1, 0)] is Status.SHOWN and status[(1, 2)] is Status.SHOWN  # a row of zeros stays zeros
    outcome = protect(grid, Rule(5))
    assert outcome.complete and outcome.status[(0, 1)] is Status.HIDDEN


def test_shares_only_over_a_published_base_of_ten():
    assert _with_share(Shown("3", 3), Shown("9", 9), "de").share == ""
    assert _with_share(Shown("3", 3), Shown("×", None, Status.HIDDEN), "de").share == ""
    assert _with_share(Shown("3", 3), Shown("12", 12), "en").share == "25%"


def test_charts_escape_labels_and_use_no_style_attribute():
    svg = charts.bars("Age <b>", ["<script>x</script>", "18–26"], [None, 12], ["<5", "12"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "style=" not in svg
    assert svg.count("<rect") == 1 and "&lt;5" in svg
    line = charts.lines("Months", ["Jan", "Feb", "Mar", "Apr"], [5, None, 7, 8])
    assert line.count("<polyline") == 1 and line.count("<circle") == 3 and "style=" not in line


def test_exports_defuse_formulas():
    table = Table("t", "Title", "people", False, ["DO"], [("=HYPERLINK(1)", [Shown("7", 7)])], None, "")
    report = Report(quarter(2025, 2), [SiteRef(1, "DO", "Dortmund")], "team", Rule(5), False, Shown("0", 0))
    report.cases = [table]
    text = exports.to_csv(report).decode("utf-8-sig")
    assert "'=HYPERLINK(1),7" in text and "\n=" not in text
    assert exports.to_xlsx(report)[:2] == b"PK"


def test_a_period_never_reaches_below_a_month():
    assert quarter(2025, 2).token == "2025-Q2" and date(2025, 4, 1) in quarter(2025, 2).months


def test_funder_hours_never_round_a_counselling_to_none():
    assert _number(12, Rule(10, 5), hours=True, locale="de").number == 5  # 12 minutes: one hour, to base 5
    assert _number(0, Rule(10, 5), hours=True, locale="de").number == 0
    assert _number(150, Rule(5), hours=True, locale="en").text == "2.5"


def test_averages_only_over_a_published_base_of_ten():
    def table(table_id: str, rows: list[list[Shown]], total: list[Shown] | None = None) -> Table:
        return Table(table_id, "", "people", False, ["DO"], [(str(n), cells) for n, cells in enumerate(rows)],
                     ("", total) if total else None, "")

    cases = table("cases", [[Shown("2", 2)], [Shown("7", 7)]], total=[Shown("9", 9)])
    activity = table("activity", [[Shown("40", 40)], [Shown("30,0", 30.0)]])
    small = _averages([cases, activity], ["DO"], "de")
    assert small is not None and small.rows[0][1][0].number is None  # 9 active cases: no average
    assert small.rows[1][1][0].number == 45.0  # 40 consultations: 45 minutes each
    cases = table("cases", [[Shown("3", 3)], [Shown("7", 7)]], total=[Shown("10", 10)])
    assert _averages([cases, activity], ["DO"], "de").rows[0][1][0].number == 4.0
