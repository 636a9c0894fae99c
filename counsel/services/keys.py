"""Master-key rotation: add a version, re-wrap every data key in batches, retire old versions.

Only data keys are re-wrapped; no field is re-encrypted. Each batch commits on its own and
updates a row only if it still holds what was read, so an interrupted rotation resumes where
it stopped and the app may keep serving meanwhile (it reloads the key file when it changes).
A case's data key is wrapped masked with the case's secret (counsel.crypto.case_secret); the
rotation re-wraps the masked key as it is and never needs the key store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update

from counsel.crypto import KeyRing, KeyRingError, mask
from counsel.extensions import changed_rows, db
from counsel.models.case import Case
from counsel.models.data_key import DataKey
from counsel.vault import Vault

BATCH_SIZE = 500


@dataclass(frozen=True)
class VersionStatus:
    version: int
    data_keys: int
    current: bool
    in_ring: bool


def status(keyring: KeyRing) -> list[VersionStatus]:
    """Count data keys per master-key version, including versions no data key uses."""
    rows = db.session.execute(select(DataKey.master_version, func.count()).group_by(DataKey.master_version))
    counts = {version: count for version, count in rows}
    versions = sorted(set(keyring.versions) | set(counts))
    return [
        VersionStatus(v, int(counts.get(v, 0)), v == keyring.current_version, v in keyring.versions)
        for v in versions
    ]


def pending(keyring: KeyRing) -> int:
    """Count data keys not yet wrapped by the current master key."""
    count = db.session.scalar(
        select(func.count()).select_from(DataKey).where(DataKey.master_version != keyring.current_version)
    )
    return int(count or 0)


def rewrap(keyring: KeyRing, batch_size: int = BATCH_SIZE, after_batch: Callable[[int], None] | None = None) -> int:
    """Re-wrap every data key under the current master key; return how many were re-wrapped."""
    target = keyring.current_version
    done = 0
    # Pass after pass until no key is left behind: the running app may make keys under the old
    # version meanwhile (a worker that has not reloaded the key file yet), and their random ids
    # may sort before where a pass already is. Keys under a newer version than the target are
    # done already; were they counted, a version added during the run would make this never end.
    while _behind(target):
        last_id: uuid.UUID | None = None
        while batch := _next_batch(target, last_id, batch_size):
            for row in batch:
                raw = keyring.unwrap(row.master_version, row.wrapped, str(row.id))
                version, wrapped = keyring.wrap(raw, str(row.id))
                # Compare and swap: a row that changed since it was read (another process
                # re-wrapped or removed it) is left as it is; if it is still behind, the next
                # pass reads it again instead of overwriting what the other process wrote.
                done += changed_rows(
                    update(DataKey)
                    .where(DataKey.id == row.id, DataKey.master_version == row.master_version,
                           DataKey.wrapped == row.wrapped)
                    .values(master_version=version, wrapped=wrapped)
                    .execution_options(synchronize_session=False)
                )
            last_id = batch[-1].id
            db.session.commit()
            if after_batch is not None:
                after_batch(done)
    return done


def _behind(target: int) -> int:
    count = db.session.scalar(select(func.count()).select_from(DataKey).where(DataKey.master_version < target))
    return int(count or 0)


def _next_batch(target: int, after: uuid.UUID | None, size: int) -> list[DataKey]:
    query = select(DataKey).where(DataKey.master_version < target).order_by(DataKey.id).limit(size)
    if after is not None:
        query = query.where(DataKey.id > after)
    db.session.expire_all()
    return list(db.session.scalars(query).all())


def rotate(keyring: KeyRing, batch_size: int = BATCH_SIZE,
           after_batch: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Add a master-key version and re-wrap every data key; refuse while a rotation is unfinished."""
    if pending(keyring):
        raise KeyRingError(
            f"{pending(keyring)} data keys are not yet on version {keyring.current_version}: an earlier "
            "rotation is unfinished. Run `counsel keys rotate --resume` first."
        )
    version = keyring.add_version()
    return version, rewrap(keyring, batch_size, after_batch)


def retire(keyring: KeyRing, version: int) -> None:
    """Remove a master-key version from the ring; refused while any data key uses it."""
    if version not in keyring.versions:
        raise KeyRingError(f"Version {version} is not in the key ring.")
    if version == keyring.current_version:
        raise KeyRingError(f"Version {version} is the current version; rotate first.")
    in_use = db.session.scalar(select(func.count()).select_from(DataKey).where(DataKey.master_version == version))
    if in_use:
        raise KeyRingError(
            f"Version {version} still wraps {in_use} data keys; run `counsel keys rotate --resume` first."
        )
    keyring.remove_version(version)


def give_cases_secrets(vault: Vault, batch_size: int = BATCH_SIZE) -> int:
    """Mask the data key of each case that has no secret yet with a new one from the key store; return how many.

    For installations from before the key store, and run by `counsel setup` rather than by a
    migration, because it needs the master keys and the key store, which migrations never see.
    The data key itself stays as it was (no field is re-encrypted), so the app may keep serving.
    Each batch's secrets are committed in the key store before the database: a batch that fails
    leaves secrets the next run takes up again. A case whose erasure the key store records is
    left for `reapply_recorded_erasures` (counsel.services.erasure), never given a secret again;
    a key that a rotation re-wrapped meanwhile is left for the next run.
    """
    done = 0
    last_id: uuid.UUID | None = None
    while True:
        query = (select(DataKey, Case.id).join(Case, Case.data_key_id == DataKey.id)
                 .where(DataKey.secret_id.is_(None)).order_by(DataKey.id).limit(batch_size))
        if last_id is not None:
            query = query.where(DataKey.id > last_id)
        db.session.expire_all()
        batch = db.session.execute(query).tuples().all()
        if not batch:
            return done
        secrets = vault.keystore.issue_many([case_id for _key, case_id in batch])
        for key, case_id in batch:
            if case_id not in secrets:
                continue
            raw = vault.keyring.unwrap(key.master_version, key.wrapped, str(key.id))
            version, wrapped = vault.keyring.wrap(mask(raw, secrets[case_id], str(key.id)), str(key.id))
            done += changed_rows(
                update(DataKey).where(DataKey.id == key.id, DataKey.secret_id.is_(None), DataKey.wrapped == key.wrapped)
                .values(master_version=version, wrapped=wrapped, secret_id=case_id)
                .execution_options(synchronize_session=False))
        last_id = batch[-1][0].id
        db.session.commit()
