"""What `counsel backup verify` checks in a backup restored into a scratch database.

The checks run in an app of their own whose database is the scratch copy, so they use the very
code the app uses to read it: Alembic for the schema, the key ring for data keys, the audit
module for the chain, and the vault behind every encrypted field of every model.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from counsel import audit, create_app
from counsel.backup_format import Manifest
from counsel.crypto import CryptoError, KeyRing, UnreadableField
from counsel.extensions import Base, db
from counsel.keystore import KeyStore
from counsel.models.audit import AuditHead
from counsel.models.data_key import DataKey
from counsel.models.encrypted import EncryptedRecord, encrypted_columns
from counsel.settings import Settings

BATCH = 500
SHOWN_FAILURES = 5


@dataclass(frozen=True)
class Check:
    """One line of the verification: what was checked, whether it held, and the counts or the problem."""

    name: str
    ok: bool
    detail: str


def run(settings: Settings, manifest: Manifest) -> list[Check]:
    """Check the database `settings` name (a scratch copy) against the manifest of its backup."""
    app = create_app(settings)
    with app.app_context():
        try:
            schema = check_schema(manifest)
            if not schema.ok:  # the models would misread an unknown schema: nothing further is meaningful
                return [schema]
            return [schema, check_keys(manifest), check_audit_chain(manifest), check_fields()]
        finally:
            db.session.remove()
            db.engine.dispose()


def check_schema(manifest: Manifest) -> Check:
    """The copy is at the revision its manifest names, and at head (migrated there if it is older)."""
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    head = script.get_current_head()
    with db.engine.connect() as conn:
        found = MigrationContext.configure(conn).get_current_revision()
    if found != manifest.schema_revision:
        return Check("schema", False, f"the copy is at revision {found}, its manifest says "
                                      f"{manifest.schema_revision}")
    if found is None:
        return Check("schema", False, "the copy has no schema revision: its database was not made by migrations")
    if found == head:
        return Check("schema", True, f"revision {head} (head)")
    if found not in {revision.revision for revision in script.walk_revisions()}:
        return Check("schema", False, f"revision {found} is unknown to this counsel: the backup was made by a "
                                      f"newer one (counsel {manifest.counsel_version})")
    try:
        upgrade()
    except (SQLAlchemyError, CommandError) as exc:
        return Check("schema", False, f"revision {found} does not migrate to head {head}: {exc}")
    return Check("schema", True, f"revision {found}, migrated to head {head}")


def check_keys(manifest: Manifest) -> Check:
    """The key ring holds every master-key version the manifest names, and every data key unwraps."""
    keyring: KeyRing = current_app.extensions["counsel.vault"].keyring
    missing = sorted(set(manifest.key_versions) - set(keyring.versions))
    unwrapped, used, failures = 0, set[int](), list[str]()
    query = select(DataKey.id, DataKey.master_version, DataKey.wrapped).execution_options(yield_per=BATCH)
    for row in db.session.execute(query):
        used.add(row.master_version)
        try:
            keyring.unwrap(row.master_version, row.wrapped, str(row.id))
            unwrapped += 1
        except CryptoError as exc:
            failures.append(f"data key {row.id} (master key version {row.master_version}): {exc}")
    versions = ", ".join(map(str, manifest.key_versions)) or "none"
    problems = []
    if missing:
        problems.append(f"master key version(s) {', '.join(map(str, missing))} are not in the key ring "
                        f"(it holds {', '.join(map(str, keyring.versions))})")
    if sorted(used) != list(manifest.key_versions) or unwrapped + len(failures) != manifest.data_keys:
        problems.append(f"the copy's {unwrapped + len(failures)} data keys use versions {sorted(used)}, the manifest "
                        f"says {manifest.data_keys} under {list(manifest.key_versions)}")
    if failures:
        problems.append(f"{len(failures)} data keys do not unwrap, e.g. {'; '.join(failures[:SHOWN_FAILURES])}")
    if problems:
        return Check("keys", False, "; ".join(problems))
    return Check("keys", True, f"{unwrapped} data keys unwrap under master key version(s) {versions}")


def check_audit_chain(manifest: Manifest) -> Check:
    """Every link of the copy's chain holds, and its head is the one the manifest names."""
    result = audit.verify_chain()
    if not result.ok:
        return Check("audit chain", False, f"{result.problem} ({result.checked} events verified before it)")
    seq, mac = audit_head(db.session())
    if (seq, mac) != (manifest.audit_seq, manifest.audit_mac):
        return Check("audit chain", False, f"the chain ends at event {seq}, but the manifest names event "
                                           f"{manifest.audit_seq} with another MAC")
    return Check("audit chain", True, f"{result.checked} events intact, head at event {seq} as the manifest says")


def check_fields() -> Check:
    """Every encrypted field of every model opens, but those of cases erased since the backup stay shut."""
    keystore: KeyStore = current_app.extensions["counsel.vault"].keystore
    erased: dict[uuid.UUID, bool] = {}
    opened: dict[str, int] = {}
    failures: list[str] = []
    failed = shut = 0
    for cls in encrypted_models():
        columns = encrypted_columns(cls)
        count = 0
        # A batch at a time; the session holds unchanged records weakly, so a large copy never sits in memory whole.
        for record in db.session.scalars(select(cls).execution_options(yield_per=BATCH)):
            for column in columns:
                try:
                    count += getattr(record, column) is not None
                except UnreadableField as exc:
                    if _erased_since(record, keystore, erased):
                        shut += 1
                    else:
                        failed += 1
                        failures.append(str(exc))
        opened[cls.__tablename__] = count
    summary = f"{sum(opened.values())} fields open ({', '.join(f'{t} {n}' for t, n in opened.items())})"
    if shut:
        summary += (f"; {shut} fields of {sum(erased.values())} cases erased since the backup stay shut "
                    "(a restore erases them again)")
    if failed:
        return Check("encrypted fields", False, f"{failed} fields do not open, e.g. "
                                                f"{'; '.join(failures[:SHOWN_FAILURES])}; {summary}")
    return Check("encrypted fields", True, summary)


def _erased_since(record: EncryptedRecord, keystore: KeyStore, known: dict[uuid.UUID, bool]) -> bool:
    """Whether the record belongs to a case whose secret the key store has erased (asked once per case)."""
    data_key = record.key_holder().data_key
    secret_id = None if data_key is None else data_key.secret_id
    if secret_id is None:
        return False
    if secret_id not in known:
        known[secret_id] = keystore.is_erased(secret_id)
    return known[secret_id]


def encrypted_models() -> list[type[EncryptedRecord]]:
    """Every model class with encrypted fields, by table name."""
    classes = (mapper.class_ for mapper in Base.registry.mappers)
    found = [cls for cls in classes if issubclass(cls, EncryptedRecord) and encrypted_columns(cls)]
    return sorted(found, key=lambda cls: cls.__tablename__)


def audit_head(database: Connection | Session) -> tuple[int, str]:
    """Return the chain head's sequence number and MAC; an empty trail has the genesis MAC."""
    head = database.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).first()
    return (head.seq, head.mac) if head is not None else (0, audit.GENESIS)
