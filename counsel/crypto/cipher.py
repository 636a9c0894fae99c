"""Field encryption: AES-256-GCM under a record's data key, bound to the field's place.

A blob is 1 byte format version || 12-byte random nonce || ciphertext || 16-byte tag.
The associated data names table, column, row id and format version, so a ciphertext
copied into another row or column fails to authenticate instead of showing the wrong
person's data. None is the caller's business (it stores NULL); "" round-trips as "".
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from counsel.crypto.errors import UnreadableField

FORMAT_VERSION = 1
_PREFIX = bytes([FORMAT_VERSION])
_NONCE_END = 1 + 12
_MIN_BLOB = _NONCE_END + 16
_AUTH_FAILED = "authentication failed (tampered, moved from its place, or wrong key)"
_PREFIX_LIMIT = 1024
_PREFIXES: dict[tuple[str, str, int], str] = {}


def associated_data(table: str, column: str, row_id: str, fmt: int = FORMAT_VERSION) -> bytes:
    """Name a field's place unambiguously, so its ciphertext opens nowhere else."""
    # Each part is prefixed with its length in code points, so no choice of names can
    # produce the same string for two different places; UTF-8 keeps that for the bytes.
    # The table-and-column prefix is cached: a handful of them serve every row.
    prefix = _PREFIXES.get((table, column, fmt))
    if prefix is None:
        prefix = f"counsel/field/{fmt}|{len(table)}:{table}|{len(column)}:{column}|"
        if len(_PREFIXES) < _PREFIX_LIMIT:
            _PREFIXES[(table, column, fmt)] = prefix
    return f"{prefix}{len(row_id)}:{row_id}".encode()


class FieldCipher:
    """Encrypt and decrypt the fields of one record under its data key."""

    __slots__ = ("_aead",)

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise ValueError("a data key must be 32 bytes")
        self._aead = AESGCM(data_key)

    def encrypt(self, plaintext: str, *, table: str, column: str, row_id: str) -> bytes:
        """Seal a text field so that it opens only in its own table, column and row."""
        data = plaintext.encode("utf-8")
        return self.encrypt_bytes(data, table=table, column=column, row_id=row_id)

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: str) -> str:
        """Open a text field, or name the record that cannot be read; never guess."""
        return self.open_text(blob, associated_data(table, column, row_id), table, column, row_id)

    def open_text(self, blob: bytes, ad: bytes, table: str, column: str, row_id: str) -> str:
        """Open a text field whose associated data the caller already built for that place."""
        # Inlined rather than built on decrypt_bytes: this runs for every field shown. A view
        # hands nonce and ciphertext over without copying them out of the blob.
        if len(blob) >= _MIN_BLOB and blob[0] == FORMAT_VERSION:
            view = memoryview(blob)
            try:
                return self._aead.decrypt(view[1:_NONCE_END], view[_NONCE_END:], ad).decode()
            except InvalidTag:
                raise UnreadableField(table, row_id, column, _AUTH_FAILED) from None
            except UnicodeDecodeError:
                raise UnreadableField(table, row_id, column, "not UTF-8 text") from None
        raise _malformed(blob, table, column, row_id)

    def encrypt_bytes(self, data: bytes, *, table: str, column: str, row_id: str) -> bytes:
        """Seal a binary field in the same format as text fields."""
        nonce = os.urandom(12)
        ad = associated_data(table, column, row_id)
        return _PREFIX + nonce + self._aead.encrypt(nonce, data, ad)

    def decrypt_bytes(self, blob: bytes, *, table: str, column: str, row_id: str) -> bytes:
        """Open a binary field, raising UnreadableField for any failure."""
        if len(blob) >= _MIN_BLOB and blob[0] == FORMAT_VERSION:
            ad = associated_data(table, column, row_id)
            try:
                return self._aead.decrypt(blob[1:_NONCE_END], blob[_NONCE_END:], ad)
            except InvalidTag:
                raise UnreadableField(table, row_id, column, _AUTH_FAILED) from None
        raise _malformed(blob, table, column, row_id)


class RecordCipher:
    """One record's data key bound to its table and row: made on a record's first field read.

    A page shows several fields of each record it loads; binding once spares every further
    field the search for the data key and the row id, and keeps each column's associated data.
    It can open only this row's fields: the row id is fixed when it is made.
    """

    __slots__ = ("_cipher", "_places", "_row_id", "_table")

    def __init__(self, cipher: FieldCipher, table: str, row_id: str) -> None:
        self._cipher = cipher
        self._table = table
        self._row_id = row_id
        self._places: dict[str, bytes] = {}

    def decrypt(self, column: str, blob: bytes) -> str:
        """Open one text field of this record, or raise UnreadableField naming it."""
        ad = self._places.get(column)
        if ad is None:
            ad = self._places[column] = associated_data(self._table, column, self._row_id)
        return self._cipher.open_text(blob, ad, self._table, column, self._row_id)


def _malformed(blob: bytes, table: str, column: str, row_id: str) -> UnreadableField:
    if len(blob) < _MIN_BLOB:
        reason = f"blob too short ({len(blob)} bytes)"
    else:
        reason = f"unknown format version {blob[0]}"
    return UnreadableField(table, row_id, column, reason)
