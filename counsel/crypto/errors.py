"""Exceptions of the crypto package: each names the record or key, never a secret."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every error raised by counsel.crypto."""


class UnreadableField(CryptoError):
    """A stored field failed to decrypt; shown instead of garbage or an empty value."""

    def __init__(self, table: str, row_id: str, column: str, reason: str) -> None:
        super().__init__(table, row_id, column, reason)
        self.table = table
        self.row_id = row_id
        self.column = column
        self.reason = reason

    def __str__(self) -> str:
        place = f"{self.table}.{self.column} of row {self.row_id}"
        return f"cannot decrypt {place}: {self.reason}"


class KeyRingError(CryptoError):
    """The key ring cannot be loaded, saved or changed; the message says what to do."""


class UnknownKeyVersion(KeyRingError):
    """A wrapped data key names a master-key version the ring does not hold."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version

    def __str__(self) -> str:
        return (
            f"master key version {self.version} is not in the key ring; restore the "
            "key file (or COUNSEL_MASTER_KEYS) from a backup that holds it"
        )


class DataKeyUnwrapError(KeyRingError):
    """A wrapped data key failed authentication under its master key."""

    def __init__(self, key_id: str, version: int) -> None:
        super().__init__(key_id, version)
        self.key_id = key_id
        self.version = version

    def __str__(self) -> str:
        return (
            f"cannot unwrap data key {self.key_id} with master key version "
            f"{self.version}: authentication failed (wrong key file, or the wrapped "
            "key was altered or moved)"
        )
