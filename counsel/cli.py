"""The `counsel` command: Flask's CLI over the app factory, with thin commands over the services."""

from __future__ import annotations

import sys
import uuid

import click
from flask import current_app
from flask.cli import FlaskGroup
from flask_migrate import upgrade
from sqlalchemy import select

from counsel import audit, create_app
from counsel.audit import OPERATOR
from counsel.cli_backup import backup_group
from counsel.cli_common import fail, keyring, settings
from counsel.cli_privacy import privacy_group
from counsel.cli_retention import keys_case_secrets, retention_group
from counsel.crypto import CryptoError, KeyRing
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.change_request import ChangeRequest
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.reporting import facts
from counsel.services import accounts, two_person
from counsel.services import demo as demo_service
from counsel.services import keys as key_service
from counsel.settings import SettingsError, load


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False, load_dotenv=False)
def cli() -> None:
    """counsel: confidential case management for counselling services."""


cli.add_command(backup_group)


cli.add_command(retention_group)
cli.add_command(privacy_group)


def main() -> None:
    """Run the command line; a start-up refusal prints its reason, not a traceback."""
    try:
        cli()
    except (SettingsError, CryptoError) as exc:
        fail(exc)


# --- keys -----------------------------------------------------------------------------------

@cli.group()
def keys() -> None:
    """Master keys: create, inspect, rotate, retire."""


keys.add_command(keys_case_secrets)


@keys.command("init", with_appcontext=False)
@click.option("--if-missing", is_flag=True, help="Do nothing when the key file exists.")
def keys_init(if_missing: bool) -> None:
    """Create the key file (mode 0600) with master key version 1."""
    try:
        settings = load()
    except SettingsError as exc:
        fail(exc)
    if settings.master_keys:
        fail("COUNSEL_MASTER_KEYS is set: the keys come from the environment, no file is needed.")
    path = settings.key_path
    if path.exists():
        if if_missing:
            return
        fail(f"{path} exists already; counsel never overwrites a key file.")
    KeyRing.create_file(path)  # makes a missing folder 0700 itself
    click.echo(f"Created {path} (mode 0600).")
    click.echo("Back it up apart from the database backups: without it, no record can be read.")


@keys.command("status")
def keys_status() -> None:
    """Show master-key versions and how many data keys each wraps."""
    for row in key_service.status(keyring()):
        marks = ["current"] if row.current else []
        if not row.in_ring:
            marks.append("MISSING FROM KEY RING")
        click.echo(f"version {row.version}: {row.data_keys} data keys {' '.join(marks)}".rstrip())
    waiting = key_service.pending(keyring())
    if waiting:
        click.echo(f"{waiting} data keys still wait for re-wrapping: run `counsel keys rotate --resume`.")


@keys.command("rotate")
@click.option("--resume", is_flag=True, help="Finish an interrupted rotation without adding a version.")
@click.option("--batch-size", default=key_service.BATCH_SIZE, show_default=True)
def keys_rotate(resume: bool, batch_size: int) -> None:
    """Add a master-key version and re-wrap every data key with it (resumable, online)."""
    if settings().master_keys and not resume:
        fail("The keys come from COUNSEL_MASTER_KEYS: add a new version to that JSON, restart the app, "
              "then run `counsel keys rotate --resume`.")

    def progress(done: int) -> None:
        click.echo(f"  re-wrapped {done}")

    try:
        if resume:
            done = key_service.rewrap(keyring(), batch_size, progress)
            version = keyring().current_version
        else:
            version, done = key_service.rotate(keyring(), batch_size, progress)
    except CryptoError as exc:
        fail(exc)
    audit.record("keys_rotated", actor_name=OPERATOR, detail=f"version={version} rewrapped={done}")
    db.session.commit()
    click.echo(f"Current master key version {version}; {done} data keys re-wrapped.")


@keys.command("retire")
@click.argument("version", type=int)
def keys_retire(version: int) -> None:
    """Remove a master-key version that no data key uses any more."""
    if settings().master_keys:
        fail(f"The keys come from COUNSEL_MASTER_KEYS, which counsel cannot change: remove version {version} "
              "from that JSON yourself once `counsel keys status` shows it wraps no data keys, then restart the app.")
    try:
        key_service.retire(keyring(), version)
    except CryptoError as exc:
        fail(exc)
    audit.record("key_retired", actor_name=OPERATOR, detail=f"version={version}")
    db.session.commit()
    click.echo(f"Version {version} retired.")


# --- setup ----------------------------------------------------------------------------------

@cli.command("setup")
@click.option("--site-code", default="HQ", show_default=True)
@click.option("--site-name", default="Zentrale", show_default=True)
@click.option("--admin", "admin_name", default="admin", show_default=True)
def setup(site_code: str, site_name: str, admin_name: str) -> None:
    """Migrate the database to head, give older cases their secrets, create the first admin if none (repeatable)."""
    upgrade()
    if secrets := key_service.give_cases_secrets(current_app.extensions["counsel.vault"]):
        click.echo(f"{secrets} cases given their secret in the key store.")
    if accounts.active_admin_count():
        click.echo("An active admin exists; nothing to create. "
                   "Lost the password? `counsel users reset-password USERNAME` sets a new one-time password.")
        return
    try:
        site = db.session.scalars(select(Site).where(Site.code == site_code.upper())).first()
        site = site or accounts.create_site(site_code, site_name, actor=OPERATOR)
        existing = db.session.scalars(select(User).where(User.username == admin_name)).first()
        if existing is not None:
            one_time = accounts.reset_password(existing, settings(), actor=OPERATOR)
            accounts.reactivate(existing, actor=OPERATOR)
            accounts.update_user(existing, display_name=existing.display_name, site=existing.site,
                                 roles=existing.roles | {Role.ADMIN}, locale=existing.locale, actor=OPERATOR)
            user = existing
        else:
            created = accounts.create_user(settings(), username=admin_name, display_name="Administration",
                                           site=site, roles={Role.ADMIN}, actor=OPERATOR)
            user, one_time = created.user, created.one_time_password or ""
        db.session.commit()
    except CounselError as exc:
        db.session.rollback()
        fail(exc.message)
    click.echo("")
    click.secho("First admin account", bold=True)
    click.echo(f"  user name:          {user.username}")
    click.echo(f"  one-time password:  {one_time}")
    click.echo("  It is shown only now and must be changed at the first sign-in.")
    click.echo("")


# --- sites and users ------------------------------------------------------------------------

@cli.group()
def sites() -> None:
    """Sites (Standorte)."""


@sites.command("create")
@click.argument("code")
@click.argument("name")
def sites_create(code: str, name: str) -> None:
    """Create a site with a code (prefix of case numbers) and a name."""
    try:
        site = accounts.create_site(code, name, actor=OPERATOR)
        db.session.commit()
    except CounselError as exc:
        db.session.rollback()
        fail(exc.message)
    click.echo(f"Created site {site.code}: {site.name}")


@sites.command("list")
def sites_list() -> None:
    """List the sites."""
    for site in db.session.scalars(select(Site).order_by(Site.code)):
        click.echo(f"{site.code:<8} {site.name}{'' if site.active else '  (closed)'}")


@cli.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role]))
@click.option("--site", "site_code", required=True, help="Site code, e.g. DO")
@click.option("--name", "display_name", default="", help="Name shown to colleagues")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(username: str, roles: tuple[str, ...], site_code: str, display_name: str,
                 password_stdin: bool) -> None:
    """Create an account; without --password-stdin a one-time password is printed."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        created = accounts.create_user(settings(), username=username, display_name=display_name or username,
                                       site=accounts.site_by_code(site_code), roles={Role(r) for r in roles},
                                       password=password, actor=OPERATOR)
        db.session.commit()
    except CounselError as exc:
        db.session.rollback()
        fail(exc.message)
    click.echo(f"Created {created.user.username} ({', '.join(sorted(roles))}) at {site_code.upper()}.")
    if created.one_time_password:
        click.echo(f"One-time password (shown only now, must be changed): {created.one_time_password}")


@users.command("list")
def users_list() -> None:
    """List accounts with site, roles, second factor and status."""
    for user in db.session.scalars(select(User).order_by(User.username)):
        roles = ",".join(sorted(r.value for r in user.roles))
        click.echo(f"{user.username:<24} {user.site.code:<6} {roles:<28} "
                   f"{'2fa' if user.totp_enabled else 'no-2fa':<7} {'active' if user.active else 'inactive'}")


@users.command("reset-password")
@click.argument("username")
def users_reset_password(username: str) -> None:
    """Give an account a new one-time password (for example a locked-out first admin)."""
    user = db.session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        fail(f"There is no account {username}.")
    one_time = accounts.reset_password(user, settings(), actor=OPERATOR)
    db.session.commit()
    click.echo(f"One-time password for {user.username} (shown only now, must be changed): {one_time}")


# --- requests that need a second person --------------------------------------------------------

@cli.group("requests")
def requests_group() -> None:
    """Changes waiting for a second person; the operator on the server may be that person."""


@requests_group.command("list")
def requests_list() -> None:
    """Every waiting request: id, kind, account concerned, who asked and when."""
    waiting = two_person.all_pending()
    for change in waiting:
        click.echo(f"{change.id}  {change.kind:<14} {change.account.username:<24} "
                   f"asked by {change.requested_by.username} at {change.requested_at:%Y-%m-%d %H:%M} UTC")
    if not waiting:
        click.echo("No request is waiting.")


@requests_group.command("confirm")
@click.argument("request_id", type=click.UUID)
def requests_confirm(request_id: uuid.UUID) -> None:
    """Confirm a request as the operator (who holds the keys anyway): for a single admin and no coordinator."""
    change = _change_request(request_id)
    try:
        outcome = two_person.confirm(None, change, settings())
    except CounselError as exc:
        db.session.rollback()
        fail(exc.message)
    db.session.commit()
    click.echo(f"Confirmed: {change.kind} for {change.account.username}.")
    if outcome.one_time_password:
        click.echo(f"One-time password for {change.account.username} (shown only now, must be changed): "
                   f"{outcome.one_time_password}")


@requests_group.command("refuse")
@click.argument("request_id", type=click.UUID)
def requests_refuse(request_id: uuid.UUID) -> None:
    change = _change_request(request_id)
    try:
        two_person.refuse(None, change)
    except CounselError as exc:
        db.session.rollback()
        fail(exc.message)
    db.session.commit()
    click.echo(f"Refused: {change.kind} for {change.account.username}.")


def _change_request(request_id: uuid.UUID) -> ChangeRequest:
    change = db.session.get(ChangeRequest, request_id)
    if change is None:
        fail(f"There is no request {request_id}.")
    return change


# --- audit ----------------------------------------------------------------------------------

@cli.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every link of the chain and the checkpoints; exit 1 at the first broken link."""
    result = audit.verify_chain(settings().checkpoint_path)
    if result.ok:
        click.echo(f"Audit chain intact: {result.checked} events.")
        return
    where = f" at event {result.first_broken}" if result.first_broken is not None else ""
    fail(f"Audit chain BROKEN{where}: {result.problem} ({result.checked} events verified before it).")


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Append the chain head to the checkpoint file (run it from cron, e.g. hourly)."""
    path = settings().checkpoint_path
    seq, mac = audit.write_checkpoint(path)
    click.echo(f"Checkpoint at event {seq} written to {path}.")


# --- statistics -----------------------------------------------------------------------------

@cli.group("statistics")
def statistics_group() -> None:
    """The copy of the cases that anonymised statistics read."""


@statistics_group.command("rebuild")
def statistics_rebuild() -> None:
    """Make the copy anew from the cases (after restoring a backup or editing rows by hand)."""
    copied = facts.rebuild(db.session.connection())
    audit.record("statistics_rebuilt", actor_name=OPERATOR, detail=f"cases={copied}")
    db.session.commit()
    click.echo(f"Statistics copy rebuilt: {copied} cases.")


# --- demo -----------------------------------------------------------------------------------

@cli.group()
def demo() -> None:
    """Fake data for demonstrations and benchmarks (refused in production)."""


@demo.command("seed")
@click.option("--cases", "case_count", default=200, show_default=True, type=click.IntRange(min=0))
@click.option("--consultations-per-case", default=10.0, show_default=True, type=click.FloatRange(min=0))
@click.option("--seed", "seed_value", default=2026, show_default=True, help="Random seed, for repeatable data.")
def demo_seed(case_count: int, consultations_per_case: float, seed_value: int) -> None:
    """Create demo sites, advisers, cases and consultations."""
    if settings().is_production:
        fail("counsel demo seed refuses to write fake cases into a production installation.")

    def progress(done: int) -> None:
        if done % 10_000 == 0 or done == case_count:
            click.echo(f"  {done} cases")

    result = demo_service.seed(settings(), current_app.extensions["counsel.vault"], case_count,
                               consultations_per_case, seed_value, progress=progress)
    audit.record("demo_seeded", actor_name=OPERATOR, detail=f"cases={result.cases}")
    db.session.commit()
    click.echo(f"{result.cases} cases with {result.consultations} consultations at {result.sites} sites, "
               f"{result.advisers} advisers.")
    click.echo(f"Demo accounts (e.g. do.beraterin1, do.koordination) share the password: {result.password}")
