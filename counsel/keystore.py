"""The key store: each case's secret, kept outside the database and its backups, and the erasures done.

A case's data key is masked with its secret (counsel.crypto.case_secret): the database and the
master keys together no longer open a case; the secret is needed too. Erasing a case deletes its
secret here first and leaves a tombstone (case id and time, nothing else), so a database backup
taken before the erasure, restored with the installation's current keys, cannot open the case,
and a restore can re-apply every erasure recorded since (counsel.services.erasure).

The store is a database of its own: an SQLite file in the instance folder by default (mode 0600,
shared by every app instance on the host), or any SQLAlchemy URL (`key_store_url`,
COUNSEL_KEY_STORE_URL) when instances run on several hosts. It is backed up on its own short
schedule: a key store backup can bring back a secret only until that backup is deleted, which is
why it must be kept for days, not years (docs/data-protection.md).

Its two tables are made here, when the store is first used, not by the database's migrations:
the store is restored apart from the database, and a database restored to an older revision
must never take the record of erasures back with it. No Flask here, and no counsel model.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Collection
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Uuid,
    create_engine,
    delete,
    event,
    func,
    insert,
    make_url,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from counsel.clock import utcnow
from counsel.crypto import CryptoError, new_secret

metadata = MetaData()
case_secrets = Table(
    "case_secrets", metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
)
# A tombstone per erased case: its random id and when; no number, no site, no reason.
erasures = Table(
    "erasures", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Uuid, nullable=False, unique=True),
    Column("erased_at", DateTime, nullable=False),
)


class KeyStoreError(CryptoError):
    """The key store refused an operation; the message says why."""


class KeyStore:
    """Case secrets and erasure tombstones in their own database, outside the case database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyStore({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> Engine:
        """Open the store on first use, making its file (0600) and tables if they are missing."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._open()
        return self._engine

    def _open(self) -> Engine:
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite":
            engine = create_engine(url, pool_pre_ping=True)
        else:
            in_file = url.database not in (None, "", ":memory:")
            if in_file:
                _private_file(Path(str(url.database)))
            # No pool for a file: nothing stays open between uses (a test per app, a command per run).
            pool: dict[str, Any] = {"poolclass": NullPool} if in_file else {}
            engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False}, **pool)
            event.listen(engine, "connect", _wal)
        metadata.create_all(engine, checkfirst=True)
        return engine

    def secret(self, case_id: uuid.UUID) -> bytes | None:
        """Return the case's secret, or None when it has none (erased, or never given one)."""
        with self.engine.connect() as conn:
            value = conn.scalar(select(case_secrets.c.secret).where(case_secrets.c.case_id == case_id))
        return None if value is None else bytes(value)

    def is_erased(self, case_id: uuid.UUID) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(erasures.c.seq).where(erasures.c.case_id == case_id)) is not None

    def issue(self, case_id: uuid.UUID) -> bytes:
        """Give a case its secret, committed at once; the case's own secret if it has one already.

        Committed before the database's transaction: should that roll back, a secret for a case
        that never existed is left here, which opens nothing. An erased case never gets one again.
        """
        secret = self.issue_many([case_id]).get(case_id)
        if secret is None:
            raise KeyStoreError(f"case {case_id} was erased; it cannot be given a secret again")
        return secret

    def issue_many(self, case_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        """Give each case its secret (its own if it has one) in one transaction; erased cases get none."""
        wanted = set(case_ids)
        for _attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    erased = set(conn.scalars(select(erasures.c.case_id).where(erasures.c.case_id.in_(wanted))))
                    found = {row.case_id: bytes(row.secret) for row in conn.execute(
                        select(case_secrets.c.case_id, case_secrets.c.secret)
                        .where(case_secrets.c.case_id.in_(wanted)))}
                    new = {case_id: new_secret() for case_id in wanted - erased - found.keys()}
                    if new:
                        rows = [{"case_id": key, "secret": value, "created_at": utcnow()} for key, value in new.items()]
                        conn.execute(insert(case_secrets), rows)
                    return found | new
            except IntegrityError:
                continue  # another process gave one of them a secret at the same moment: take that one
        raise KeyStoreError("could not give the cases their secrets (the key store kept changing)")

    def shred(self, case_id: uuid.UUID) -> None:
        """Delete the case's secret and record its erasure, in one transaction (repeating it is harmless)."""
        with self.engine.begin() as conn:
            conn.execute(delete(case_secrets).where(case_secrets.c.case_id == case_id))
            if conn.scalar(select(erasures.c.seq).where(erasures.c.case_id == case_id)) is None:
                conn.execute(insert(erasures).values(case_id=case_id, erased_at=utcnow()))
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:  # the secret's old page leaves the write-ahead log too
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def erased_ids(self) -> list[uuid.UUID]:
        """Every erased case's id, oldest erasure first."""
        with self.engine.connect() as conn:
            return list(conn.scalars(select(erasures.c.case_id).order_by(erasures.c.seq)))

    def mark(self) -> int:
        """A number that grows with every erasure: a process that sees it change drops the keys it holds."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.coalesce(func.max(erasures.c.seq), 0))) or 0)

    def copy_to(self, target: Path) -> tuple[int, int]:
        """Write a consistent copy of the store to a new private file; return (secrets, erasures) copied.

        SQLite's online backup copies every page under one read transaction, so a copy taken
        while cases are opened and erased is the store at one moment. A store in another
        database is copied with that database's own tools.
        """
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            raise KeyStoreError(f"{self!r} is not an SQLite file: back it up with its database's own tools")
        if target.exists():
            raise KeyStoreError(f"{target} exists; a key store copy never overwrites a file")
        self.engine  # noqa: B018 - the store's file and tables exist before they are copied
        _private_file(target)
        source, copy = sqlite3.connect(str(url.database)), sqlite3.connect(target)
        try:
            source.backup(copy)
            return (copy.execute("SELECT count(*) FROM case_secrets").fetchone()[0],
                    copy.execute("SELECT count(*) FROM erasures").fetchone()[0])
        finally:
            source.close()
            copy.close()

    def dispose(self) -> None:
        """Close the store's connections (an app shutting down, a test ending)."""
        if self._engine is not None:
            self._engine.dispose()


def _private_file(path: Path) -> None:
    """Create the store's file 0600 (its -wal and -shm files follow) in a 0700 folder, before SQLite would."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _wal(connection: Any, _record: Any) -> None:
    """Readers in every worker while one writes; a deleted secret's bytes are overwritten, not left free.

    secure_delete is off in upstream SQLite's default build: without it, a shredded secret would
    stay in the file's free pages, and in every copy of the file.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
