"""Backups: an encrypted, consistent copy of the database, checked in a scratch place, restored with care.

A backup is taken while the app serves: SQLite through its online backup API (one step under
one read transaction, so writers carry on and the copy shows one moment), PostgreSQL through
pg_dump under an exported snapshot. The copy and its manifest are sealed with a key derived from
the installation's key ring (backup_format), so the file alone reveals nothing, and a changed,
cut or foreign file is named as such. The key ring is not in the file: it is backed up apart.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import IO

from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import Connection, create_engine, func, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from counsel import audit, backup_checks, backup_postgres
from counsel.backup_checks import Check, audit_head
from counsel.backup_format import BackupError, Manifest, seal, unseal
from counsel.clock import utcnow
from counsel.crypto import KeyRing
from counsel.extensions import db
from counsel.models.data_key import DataKey
from counsel.services.erasure import reapply_recorded_erasures
from counsel.settings import Settings

PURPOSE = "backup"
SQLITE_TIMEOUT = 60.0
_POSIX = os.name == "posix"


@dataclass(frozen=True)
class Verification:
    manifest: Manifest
    checks: list[Check]


@dataclass(frozen=True)
class Restored:
    replaced_events: int | None  # the audit head of the database that was replaced, if it had one
    checkpoints_moved_to: Path | None
    erased: list[str]  # case numbers erased again since the backup


def create(path: Path, keyring: KeyRing, actor_name: str) -> Manifest:
    """Write an encrypted copy of the configured database to a new file `path` (mode 0600); audit it."""
    if path.exists():
        raise BackupError(f"{path} exists already; a backup never overwrites a file.")
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    with tempfile.TemporaryDirectory(prefix="counsel-backup-") as scratch:
        dump = Path(scratch) / "dump"
        if db.engine.dialect.name == "sqlite":
            manifest = _snapshot_sqlite(dump)
        else:
            manifest = backup_postgres.dump(db.engine, dump, lambda conn: describe(conn, "postgresql"))
        with dump.open("rb") as source:
            _write_new_private(path, lambda out: seal(source, out, keyring.purpose_key(PURPOSE), manifest))
    audit.record("backup_created", actor_name=actor_name, detail=f"events={manifest.audit_seq}")
    return manifest


def verify(path: Path, keyring: KeyRing, settings: Settings) -> Verification:
    """Open the file, restore it into a scratch database and check it there; raise if the file is damaged."""
    with _unsealed(path, keyring) as (manifest, dump, records):
        file_check = Check("file", True, f"the manifest and {records - 1} chunks authenticated "
                                         f"({dump.stat().st_size} bytes of {manifest.database} data)")
        if manifest.database == "sqlite":
            checks = backup_checks.run(settings.replace(database_url=f"sqlite:///{dump}"), manifest)
        elif db.engine.dialect.name != "postgresql":
            raise BackupError("This is a PostgreSQL backup: verify it on an installation whose database is "
                              "PostgreSQL (it restores into a scratch database on that server).")
        else:
            with backup_postgres.scratch_database(db.engine.url) as url:
                backup_postgres.load(dump, url, replace=False)
                checks = backup_checks.run(settings.replace(database_url=url.render_as_string(
                    hide_password=False)), manifest)
    return Verification(manifest, [file_check, *checks])


def restore(path: Path, keyring: KeyRing, settings: Settings, confirm: Callable[[Manifest], bool],
            actor_name: str) -> Restored | None:
    """Replace the configured database with the backup once `confirm` agrees; None if it does not.

    The whole file is authenticated before anything is asked or changed. Afterwards the copy is
    migrated to head, the restore is audited, and every erasure recorded in the case key store
    since the backup is applied again, so a backup never brings an erased case back.
    """
    kind = db.engine.dialect.name
    with _unsealed(path, keyring) as (manifest, dump, _records):
        if manifest.database != kind:
            raise BackupError(f"This is a {manifest.database} backup and the configured database is {kind}.")
        missing = sorted(set(manifest.key_versions) - set(keyring.versions))
        if missing:
            raise BackupError(f"The key ring lacks master key version(s) {', '.join(map(str, missing))}, which the "
                              "backup's data keys are wrapped with: restore the key file that holds them first.")
        if not confirm(manifest):
            return None
        replaced = _replaced_head()
        db.session.remove()
        db.engine.dispose()
        if kind == "sqlite":
            _load_sqlite(dump, _sqlite_file(db.engine.url))
        else:
            backup_postgres.load(dump, db.engine.url, replace=True)
        db.engine.dispose()
    upgrade()
    audit.record("backup_restored", actor_name=actor_name,
                 detail=f"made={manifest.created_at} events={manifest.audit_seq} replaced_events={replaced}")
    db.session.commit()
    moved = _retire_checkpoints(settings.checkpoint_path, manifest.audit_seq)
    erased = reapply_recorded_erasures()
    if moved is not None:
        audit.write_checkpoint(settings.checkpoint_path)
    return Restored(replaced, moved, erased)


def describe(conn: Connection, kind: str) -> Manifest:
    """Read what the manifest says from the snapshot being backed up."""
    versions = conn.execute(select(DataKey.master_version, func.count()).group_by(DataKey.master_version)).all()
    seq, mac = audit_head(conn)
    return Manifest(
        created_at=utcnow().isoformat(timespec="seconds"),
        database=kind,
        schema_revision=MigrationContext.configure(conn).get_current_revision(),
        key_versions=tuple(sorted(row[0] for row in versions)),
        data_keys=sum(row[1] for row in versions),
        audit_seq=seq,
        audit_mac=mac,
        counsel_version=version("counsel"),
    )


def _snapshot_sqlite(dump: Path) -> Manifest:
    """Copy the live SQLite database with the online backup API, then describe the copy."""
    with closing(sqlite3.connect(_sqlite_file(db.engine.url), timeout=SQLITE_TIMEOUT)) as live, \
            closing(sqlite3.connect(dump)) as copy:
        live.backup(copy)  # all pages in one step: one read transaction, one moment
    engine = create_engine(f"sqlite:///{dump}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return describe(conn, "sqlite")
    finally:
        engine.dispose()


def _load_sqlite(dump: Path, target: Path) -> None:
    """Copy the restored file over the live database in one transaction, with the backup API again."""
    try:
        with closing(sqlite3.connect(dump)) as copy, \
                closing(sqlite3.connect(target, timeout=SQLITE_TIMEOUT)) as live:
            copy.backup(live)
    except sqlite3.Error as exc:  # the copy runs in one transaction of the target: it is all or nothing
        raise BackupError(f"copying the backup into {target} failed, nothing was changed: {exc}") from None


def _sqlite_file(url: URL) -> Path:
    database = url.database
    if not database or database == ":memory:":
        raise BackupError("The SQLite database is in memory: there is no file to back up or restore into.")
    return Path(database)


def _replaced_head() -> int | None:
    """Return the audit head of the database about to be replaced, for the record of the restore."""
    if not inspect(db.engine).has_table("audit_head"):
        return None
    return audit_head(db.session())[0]


def _retire_checkpoints(path: Path, backup_seq: int) -> Path | None:
    """Move aside a checkpoint file that saw events the restore took away, so that the chain verifies again.

    Those checkpoints describe the replaced trail, which now ends at the backup's head; they are
    kept beside it under a new name, and the restore's audit event names the replaced head.
    """
    if not path.exists():
        return None
    try:
        latest = max((seq for seq, _ in audit.read_checkpoints(path)), default=0)
    except ValueError:
        latest = backup_seq + 1  # unreadable: not evidence for the restored trail either
    if latest <= backup_seq:
        return None
    moved = path.with_name(f"{path.name}.before-restore-{utcnow():%Y%m%dT%H%M%S}")
    path.rename(moved)
    return moved


@contextmanager
def _unsealed(path: Path, keyring: KeyRing) -> Iterator[tuple[Manifest, Path, int]]:
    """Authenticate the whole backup file into a private scratch folder; yield its manifest and dump."""
    if not path.is_file():
        raise BackupError(f"There is no backup file {path}.")
    with tempfile.TemporaryDirectory(prefix="counsel-restore-") as scratch:
        dump = Path(scratch) / "dump"
        with path.open("rb") as source, dump.open("wb") as sink:
            opened = unseal(source, keyring.purpose_key(PURPOSE), sink)
        yield opened.manifest, dump, opened.records


def _write_new_private(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write a new 0600 file that appears under its name whole or not at all, never replacing one."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            if _POSIX:
                os.fchmod(out.fileno(), 0o600)  # exactly 0600 whatever the umask
            write(out)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, path)  # fails if the name was taken meanwhile: nothing is overwritten
        except FileExistsError:
            raise BackupError(f"{path} appeared while the backup was written; it was left as it is.") from None
    finally:
        temp.unlink(missing_ok=True)
