"""The report's tables as CSV and XLSX: the same published cells as on screen, nothing more.

Numbers go out as numbers, suppressed cells as their marks ("<5", "×"). Any text that a
spreadsheet could read as a formula (a site's name, a heading, a label) is defused with a
leading apostrophe, and the XLSX writes every text as a string cell, never as a formula. The
files carry no day either: the XLSX loses its creation and change times.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from counsel.reporting.report import Report, Shown, Table
from counsel.reporting.suppression import Status

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CORE_PROPERTIES = "docProps/core.xml"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
TIMESTAMP = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>")


def _safe(value: Any) -> Any:
    """Defuse text a spreadsheet would run as a formula; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cells(row: list[Any]) -> list[Any]:
    return [_safe(value) for value in row]


def _value(cell: Shown) -> Any:
    return cell.number if cell.number is not None else cell.text


def legend(report: Report) -> list[str]:
    """The rules a reader needs to read the figures."""
    rule = report.rule
    lines = [
        str(_l("<%(k)s: fewer than %(k)s people (for consultations and hours: with fewer than %(k)s people).",
               k=rule.min_cell)),
        str(_l("×: hidden so that no small figure can be worked out from the totals.")),
        str(_l("Only cases that consented to being counted in statistics are included.")),
    ]
    if report.partial:
        lines.append(str(_l("This report shows some of your sites: there, <%(k)s can also stand for 0.",
                            k=rule.min_cell)))
    if any(cell.status is Status.UNSUMMED for table in report.tables for _, cells in table.rows for cell in cells):
        lines.append(str(_l("…: not summed, because a site in the sum is not shown.")))
    if rule.rounding > 1:
        lines.append(str(_l("Figures are rounded to multiples of %(base)s; totals are rounded on their own.",
                            base=rule.rounding)))
    return lines


def _heading(report: Report) -> list[list[Any]]:
    return [
        [str(_l("Anonymised statistics"))],
        [str(_l("Period")), report.period.token],
        [str(_l("Sites")), ", ".join(site.name for site in report.sites)],
        [str(_l("Rules")), str(_l("for funders")) if report.audience == "funder" else str(_l("for the team"))],
        [str(_l("Cases left out for lack of consent")), _value(report.excluded)],
        *([line] for line in legend(report)),
    ]


def _too_few(report: Report) -> list[str]:
    return [str(_l("Fewer than %(k)s people in all: no figures are shown, so that no one can be recognised.",
                   k=report.rule.min_cell))]


def _rows(table: Table) -> Iterator[list[Any]]:
    yield [table.title]
    if table.multi:
        yield [str(_l("Several answers per person or consultation: the rows do not add up to the total."))]
    if table.withheld:
        yield [str(_l("Withheld: this table could not be published without revealing a small figure."))]
        return
    yield ["", *table.columns]
    for label, cells in table.rows:
        yield [label, *(_value(cell) for cell in cells)]
    if table.total is not None:
        label, cells = table.total
        yield [label, *(_value(cell) for cell in cells)]


def to_csv(report: Report) -> bytes:
    """Every table one after the other, separated by a blank line (UTF-8 with BOM, for spreadsheets)."""
    rows = [*_heading(report), *([_too_few(report)] if report.too_few else [])]
    for table in report.tables:
        rows += [[], *_rows(table)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(_cells(row) for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def _text(sheet: Worksheet, value: Any) -> Any:
    """A str as a string cell: openpyxl would store "=…" as a formula and "#N/A" as an error."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"
    return cell


def _append(sheet: Worksheet, row: list[Any]) -> None:
    sheet.append([_text(sheet, value) for value in _cells(row)])


def to_xlsx(report: Report) -> bytes:
    """A sheet about the report, then one sheet per table."""
    book = Workbook()
    about = book.worksheets[0]
    about.title = str(_l("Report"))[:31]
    for row in _heading(report):
        _append(about, row)
    about["A1"].font = Font(bold=True, size=14)
    about.column_dimensions["A"].width = 40
    if report.too_few:
        _append(about, _too_few(report))
    for table in report.tables:
        sheet = book.create_sheet(table.id[:31])
        for row in _rows(table):
            _append(sheet, row)
        sheet["A1"].font = Font(bold=True)
        sheet.column_dimensions["A"].width = 42
    written = io.BytesIO()
    book.save(written)
    book.close()
    return _without_timestamps(written.getvalue())


def _without_timestamps(xlsx: bytes) -> bytes:
    """Drop the file's creation and change times, and the zip entries' own: no day leaves the
    service, not even the export's."""
    buffer = io.BytesIO()
    with ZipFile(io.BytesIO(xlsx)) as source, ZipFile(buffer, "w", ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == CORE_PROPERTIES:
                data = TIMESTAMP.sub(b"", data)
            target.writestr(ZipInfo(item.filename, date_time=ZIP_EPOCH), data, compress_type=ZIP_DEFLATED)
    return buffer.getvalue()
