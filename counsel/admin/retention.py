"""What the retention purge will erase, and why: case numbers, days and sites only, never content."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from counsel.admin import bp
from counsel.clock import today
from counsel.extensions import db
from counsel.models.site import Site
from counsel.security import settings
from counsel.services import retention


@bp.get("/retention")
def retention_overview() -> ResponseReturnValue:
    sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    return render_template("admin/retention.html", due=retention.due(settings(), today()),
                           held=retention.held_cases(), sites=sites, months=settings().retention_months,
                           months_for=lambda site: retention.months_for(settings(), site))
