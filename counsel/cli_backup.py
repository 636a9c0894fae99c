"""`counsel backup`: encrypted copies of the database, verified in a scratch place, restored with care."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from counsel import backups
from counsel.audit import OPERATOR
from counsel.backup_format import BackupError, Manifest
from counsel.cli_common import fail, keyring, settings
from counsel.crypto import CryptoError
from counsel.extensions import db
from counsel.keystore import KeyStoreError
from counsel.services import two_person

backup_group = AppGroup("backup", help="Encrypted backups of the database: create, verify, restore.")


def _describe(manifest: Manifest) -> str:
    versions = ", ".join(map(str, manifest.key_versions)) or "none"
    return (f"made {manifest.created_at} UTC by counsel {manifest.counsel_version} from a {manifest.database} "
            f"database at schema revision {manifest.schema_revision}; audit trail up to event {manifest.audit_seq}; "
            f"{manifest.data_keys} data keys under master key version(s) {versions}")


@backup_group.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_create(path: Path) -> None:
    """Write an encrypted copy of the database to a new file PATH (mode 0600) while the app keeps serving."""
    try:
        manifest = backups.create(path, keyring(), OPERATOR)
    except (BackupError, CryptoError) as exc:
        db.session.rollback()
        fail(exc)
    db.session.commit()
    click.echo(f"Backup written to {path} (mode 0600, {path.stat().st_size} bytes):")
    click.echo(f"  {_describe(manifest)}.")
    click.echo("It opens only with this installation's key ring, which is backed up apart from it.")


@backup_group.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def backup_verify(path: Path) -> None:
    """Restore PATH into a scratch database and check schema, keys, audit chain and every encrypted field."""
    try:
        result = backups.verify(path, keyring(), settings())
    except (BackupError, CryptoError) as exc:
        fail(f"Backup verification FAILED: {exc}")
    click.echo(f"Backup {path}")
    click.echo(f"  {_describe(result.manifest)}")
    for check in result.checks:
        click.echo(f"  {'ok' if check.ok else 'FAILED':<7} {check.name}: {check.detail}")
    failed = [check.name for check in result.checks if not check.ok]
    if failed:
        fail(f"Backup verification FAILED: {', '.join(failed)}.")
    click.echo("Backup verified: it restores, its audit chain holds and every encrypted field opens.")


@backup_group.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the database without asking (for scripts).")
def backup_restore(path: Path, yes: bool) -> None:
    """Replace the configured database with the backup PATH, then erase again what was erased since."""
    target = db.engine.url.render_as_string(hide_password=True)

    def confirm(manifest: Manifest) -> bool:
        click.echo(f"Backup {path}: {_describe(manifest)}.")
        return yes or click.confirm(f"Replace every record in {target} with this backup? Whatever was written "
                                    "since it was made is lost", default=False)

    try:
        restored = backups.restore(path, keyring(), settings(), confirm, OPERATOR)
    except (BackupError, CryptoError) as exc:
        fail(f"Nothing was restored: {exc}")
    if restored is None:
        fail("Nothing was restored.")
    click.echo(f"Restored {target} from {path}; migrated to head; the restore is on the audit trail.")
    if restored.checkpoints_moved_to is not None:
        click.echo(f"The audit checkpoints of the replaced trail (up to event {restored.replaced_events}) were "
                   f"moved to {restored.checkpoints_moved_to}; a new checkpoint file was started.")
    erased = ", ".join(restored.erased) or "none"
    click.echo(f"Erased again since the backup: {erased}.")
    if waiting := two_person.pending_erasures():
        click.echo(f"Erasure requests pending in the restored database: {', '.join(waiting)}. A request decided "
                   "after the backup is pending again, and a legal hold set after it is gone: check these with "
                   "the advisers and deciders before anyone confirms them.")


@backup_group.command("key-store")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_key_store(path: Path) -> None:
    """Copy the case key store to PATH (mode 0600): on its own short schedule, apart from the database backups."""
    try:
        secrets, erasures = current_app.extensions["counsel.vault"].keystore.copy_to(path)
    except KeyStoreError as exc:
        fail(f"Nothing was copied: {exc}")
    click.echo(f"Copied the key store to {path}: {secrets} case secrets, {erasures} erasures recorded.")
    click.echo("Keep it apart from the database backups and delete it within days: until it is deleted it can "
               "open the cases erased after it was made (docs/data-protection.md).")
