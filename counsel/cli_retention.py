"""`counsel retention ...` and `counsel keys case-secrets`: thin commands over the erasure services."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from counsel.cli_common import fail, settings
from counsel.clock import today
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.services import accounts, erasure, retention
from counsel.services import keys as key_service

retention_group = AppGroup("retention", help="Erase closed cases at the end of their retention period "
                                          "(run daily by a timer).")


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list the case numbers that would be erased.")
def retention_purge(dry_run: bool) -> None:
    """Erase every closed case whose retention period has ended and that no legal hold keeps."""
    policy = settings()
    if dry_run:
        waiting = retention.due(policy, today())
        for item in waiting:
            click.echo(f"{item.number}  {item.site:<6} closed {item.closed_on}  kept {item.months} months, "
                       f"due since {item.due_since}")
        click.echo(f"{len(waiting)} cases would be erased.")
        return
    erased = retention.purge(policy, today())
    for number in erased:
        click.echo(f"erased {number}")
    click.echo(f"{len(erased)} cases erased.")


@retention_group.command("site")
@click.argument("code")
@click.argument("months", type=click.IntRange(min=0), required=False)
def retention_site(code: str, months: int | None) -> None:
    """Keep a site's closed cases MONTHS after closing, if longer than the installation does; no MONTHS: as it does."""
    try:
        site = accounts.site_by_code(code)
        retention.set_site_months(site, months)
    except CounselError as exc:
        db.session.rollback()
        fail(exc.message)
    db.session.commit()
    click.echo(f"{site.code}: closed cases are kept {retention.months_for(settings(), site)} months.")


@retention_group.command("reapply")
def retention_reapply() -> None:
    """Erase the cases a restored database still holds although the key store records their erasure."""
    numbers = erasure.reapply_recorded_erasures()
    for number in numbers:
        click.echo(f"erased {number}")
    click.echo(f"{len(numbers)} recorded erasures re-applied.")


@click.command("case-secrets")
@with_appcontext
def keys_case_secrets() -> None:
    """Give every case from before the key store its secret there (`counsel setup` does it too)."""
    done = key_service.give_cases_secrets(current_app.extensions["counsel.vault"])
    click.echo(f"{done} cases given their secret in the key store.")
