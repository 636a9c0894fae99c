"""Encrypted fields: a descriptor that shows plaintext and stores AES-GCM ciphertext bound to its row.

A SQLAlchemy TypeDecorator never sees the row, so it cannot bind a ciphertext to the row id;
this descriptor can. It finds the vault (key ring plus data keys) through the object's session,
so models stay free of Flask. New objects keep their plaintext until the session flushes,
when the row id and data key exist; the `before_flush` hook in counsel.vault seals them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, overload

from sqlalchemy.orm import object_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


_PENDING = "_counsel_pending"


class Sealer(Protocol):
    """What the descriptor needs from the vault."""

    def encrypt(self, obj: EncryptedRecord, column: str, plaintext: str) -> bytes: ...

    def decrypt(self, obj: EncryptedRecord, column: str, blob: bytes) -> str: ...

    def record_cipher(self, obj: EncryptedRecord, column: str) -> Opener: ...


class Opener(Protocol):
    """A record's data key bound to its row (counsel.crypto.RecordCipher)."""

    def decrypt(self, column: str, blob: bytes) -> str: ...


class EncryptedRecord:
    """Mixin for models with encrypted fields; they name the record whose data key they use."""

    __tablename__: str
    id: Any

    def key_holder(self) -> KeyHolder:
        """Return the record whose data key encrypts this one's fields."""
        raise NotImplementedError


class KeyHolder(Protocol):
    """A record that owns a data key (a user, a case); deleting the key shreds its fields.

    A holder that keeps a secret apart (a case) has its data key masked with a secret of its own
    in the key store, so that erasing it reaches the database backups too.
    """

    id: Any
    data_key: Any
    keeps_secret_apart: bool


def vault_of(session: Session | None) -> Sealer | None:
    """Return the vault attached to a session, if any."""
    if session is None:
        return None
    vault: Sealer | None = session.info.get("vault")
    return vault


class Encrypted:
    """Plaintext view of the ciphertext column `column` (the mapped attribute is `_<column>`)."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.attr = "_" + column

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Encrypted: ...

    @overload
    def __get__(self, obj: EncryptedRecord, owner: type[Any]) -> str | None: ...

    def __get__(self, obj: EncryptedRecord | None, owner: type[Any]) -> Encrypted | str | None:
        if obj is None:
            return self
        # The instance's own dict first: this runs for every field shown (a loaded column sits
        # there; an expired or deferred one is not, and getattr loads it).
        state = obj.__dict__
        pending: dict[str, str | None] | None = state.get(_PENDING)
        if pending and self.column in pending:
            return pending[self.column]
        blob: bytes | None = state[self.attr] if self.attr in state else getattr(obj, self.attr)
        if blob is None:
            return None
        plain: dict[str, tuple[bytes, str]] = state.setdefault("_counsel_plain", {})
        cached = plain.get(self.column)
        if cached is not None and cached[0] == blob:
            return cached[1]
        opener: Opener | None = state.get("_counsel_opener")
        if opener is None:  # the record's first field read: bind its data key to its row once
            vault = vault_of(object_session(obj))
            if vault is None:
                raise RuntimeError(f"{type(obj).__name__}.{self.column} read outside a session with a vault")
            opener = state["_counsel_opener"] = vault.record_cipher(obj, self.column)
        plaintext = opener.decrypt(self.column, blob)
        plain[self.column] = (blob, plaintext)
        return plaintext

    def __set__(self, obj: EncryptedRecord, value: str | None) -> None:
        session = object_session(obj)
        vault = vault_of(session)
        if vault is None or obj.id is None or obj.key_holder().data_key is None:
            pending_plaintext(obj)[self.column] = value
            setattr(obj, self.attr, None)
            return
        pending_plaintext(obj).pop(self.column, None)
        setattr(obj, self.attr, None if value is None else vault.encrypt(obj, self.column, value))


def pending_plaintext(obj: object) -> dict[str, str | None]:
    """Return the plaintexts set on an object that is not yet sealed."""
    pending: dict[str, str | None] = obj.__dict__.setdefault(_PENDING, {})
    return pending


def encrypted_columns(cls: type) -> list[str]:
    """List the encrypted field names of a model class."""
    return [name for name, attr in vars(cls).items() if isinstance(attr, Encrypted)]
