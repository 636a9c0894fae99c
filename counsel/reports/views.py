"""Anonymised statistics for supervisors: choose a period and sites, read tables and charts, export.

Only the supervisor role gets in, and only for the sites she supervises. Every look and every
export is recorded in the audit trail with the period, the sites and the rule set, never a
figure. Nothing here reads a case: the figures come from counsel.reporting, which cannot decrypt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from counsel import audit
from counsel.access import reads_statistics, report_site_ids
from counsel.clock import today
from counsel.extensions import db
from counsel.models.site import Site
from counsel.reporting import exports, periods
from counsel.reporting.periods import Period, PeriodError
from counsel.reporting.report import Report, SiteRef, chart_of, make
from counsel.reporting.suppression import Rule
from counsel.reports.forms import RUN, ReportForm
from counsel.security import admit, settings

bp = Blueprint("reports", __name__, url_prefix="/reports")
bp.before_request(admit(reads_statistics))

AUDIENCES = ("team", "funder")
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
KIND_LABELS = {"quarter": _l("Quarters"), "month": _l("Months"), "year": _l("Years")}


@dataclass(frozen=True)
class Selection:
    period: Period
    sites: list[SiteRef]
    audience: str

    def args(self, **extra: str) -> dict[str, Any]:
        """The query string that asks for this selection again (for export and print links)."""
        return {"period": self.period.token, "sites": [site.id for site in self.sites],
                "audience": self.audience, **extra}


def rule_for(audience: str) -> Rule:
    """The team's rule, or the stricter funders' rule set by the installation."""
    config = settings()
    if audience == "funder":
        return Rule(config.funder_min_cell, config.funder_rounding)
    # She can also export the funders' tables, whose marks tell of each "×" here whether it is
    # below their k: the team's protection allows for that.
    return Rule(config.report_min_cell, band=config.funder_min_cell)


def _supervised() -> list[Site]:
    ids = report_site_ids(current_user)
    return list(db.session.scalars(select(Site).where(Site.id.in_(ids)).order_by(Site.id)))


def _form(sites: list[Site]) -> ReportForm:
    form = ReportForm(request.args)
    offered = periods.recent(today())
    form.period.choices = {str(KIND_LABELS[kind]): [SelectChoice(p.token, period_label(p)) for p in found]
                           for kind, found in offered.items()}
    chosen = [SelectChoice(RUN, _("A run of whole months (below)"))]
    form.period.choices[str(_l("Chosen freely"))] = chosen
    form.sites.choices = [SelectChoice(site.id, site.name) for site in sites]
    token = request.args.get("period", "")
    if not token:
        form.period.data = periods.last_complete_quarter(today()).token
    elif ".." in token and not request.args.get("start"):  # a run named by its token, as in links
        form.period.data = RUN
        form.start.data, form.end.data = token.split("..", 1)
    elif not any(p.token == token for found in offered.values() for p in found):
        try:  # a month or year further back than the list offers: show it as chosen
            chosen.insert(0, SelectChoice(token, period_label(periods.parse(token))))
        except PeriodError:
            pass  # refused with a message when the form is read
    if not request.args.getlist("sites"):
        form.sites.data = [site.id for site in sites]
    return form


def _selection(form: ReportForm, sites: list[Site], default_audience: str = "team") -> Selection | None:
    """Read the chosen period and sites; refuse sites she does not supervise outright."""
    if not form.validate():
        for field in (form.start, form.end):
            if field.errors:  # not a month: never echo it (it may be a day, finer than statistics go)
                field.data, field.raw_data = None, []
        return None
    allowed = {site.id: site for site in sites}
    wanted = set(form.sites.data or [])
    if not wanted <= set(allowed):
        abort(403)
    if not wanted:
        form.sites.errors = [_("Choose at least one site.")]
        return None
    try:
        if form.period.data == RUN:
            if not (form.start.data and form.end.data):
                raise PeriodError("incomplete run")
            period = periods.parse(f"{form.start.data}..{form.end.data}")
        else:
            period = periods.parse(form.period.data or "")
    except PeriodError:
        form.period.errors = [_("Choose a month, a quarter, a year, or a run of whole months that ends after "
                                "it starts (at most ten years).")]
        return None
    audience = request.args.get("audience", default_audience)
    if audience not in AUDIENCES:
        abort(400)
    chosen = [SiteRef(site.id, site.code, site.name) for site in sites if site.id in wanted]
    return Selection(period, chosen, audience)


def _make(selection: Selection, scope: list[Site]) -> Report:
    """Protect the report over every site she supervises, then show the chosen ones."""
    floor = rule_for("team") if selection.audience == "funder" else None
    return make(selection.period, selection.sites, [SiteRef(s.id, s.code, s.name) for s in scope],
                selection.audience, rule_for(selection.audience), today(), str(get_locale() or "de"), floor)


def period_label(period: Period) -> str:
    if period.kind == "month":
        return str(format_date(period.start, "MMMM yyyy"))
    if period.kind == "quarter":
        return str(_("Quarter %(number)s %(year)s", number=(period.start.month - 1) // 3 + 1, year=period.start.year))
    if period.kind == "year":
        return str(period.start.year)
    return f"{format_date(period.start, 'MMM yyyy')} – {format_date(period.end, 'MMM yyyy')}"


def _render(template: str, form: ReportForm | None, selection: Selection | None, report: Report | None,
            status: int = 200) -> ResponseReturnValue:
    charted = {table.id: chart for table in (report.tables if report else []) if (chart := chart_of(table))}
    legend = exports.legend(report) if report else []
    return render_template(template, form=form, selection=selection, report=report, charts=charted,
                           legend=legend, period_label=period_label(selection.period) if selection else ""), status


@bp.get("/")
def index() -> ResponseReturnValue:
    sites = _supervised()
    form = _form(sites)
    selection = _selection(form, sites)
    if selection is None:
        return _render("reports/index.html", form, None, None, 400)
    report = _make(selection, sites)
    audit.record("report_viewed", actor=current_user, detail=report.detail)
    db.session.commit()
    return _render("reports/index.html", form, selection, report)


@bp.get("/print")
def printable() -> ResponseReturnValue:
    """The report to print or save as PDF from the browser; funders' rules unless the team's are asked for."""
    sites = _supervised()
    form = _form(sites)
    selection = _selection(form, sites, default_audience="funder")
    if selection is None:
        return _render("reports/index.html", form, None, None, 400)
    report = _make(selection, sites)
    audit.record("report_viewed", actor=current_user, detail=f"{report.detail} view=print")
    db.session.commit()
    return _render("reports/print.html", None, selection, report)


@bp.get("/export.<fmt>")
def export(fmt: str) -> ResponseReturnValue:
    if fmt not in FORMATS:
        abort(404)
    sites = _supervised()
    form = _form(sites)
    selection = _selection(form, sites)
    if selection is None:
        return _render("reports/index.html", form, None, None, 400)
    report = _make(selection, sites)
    body = exports.to_csv(report) if fmt == "csv" else exports.to_xlsx(report)
    audit.record("report_exported", actor=current_user, detail=f"{report.detail} format={fmt}")
    db.session.commit()
    name = f"statistics-{report.period.token.replace('..', '_')}-{report.audience}.{fmt}"
    return Response(body, mimetype=FORMATS[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


def export_url(selection: Selection, fmt: str, audience: str) -> str:
    args = selection.args(audience=audience)
    return url_for("reports.export", fmt=fmt, **args)


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {"export_url": export_url, "print_url": lambda s, audience="funder": url_for(
        "reports.printable", **s.args(audience=audience))}
