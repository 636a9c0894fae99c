"""The vault joins the key ring to the database: data keys per record, sealing and opening fields.

This is the one place where ciphertext meets a row: it creates a record's data key when the
record's first field is sealed (never when one is read), wraps it under the current master key,
and turns every crypto failure into `UnreadableField` naming the record and field, so a page
can say which record is damaged. A case's data key is masked with the case's secret from the key
store (counsel.keystore): opening it takes the master key and that secret, and a case whose secret
was erased stays shut whichever database copy it is read from.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from counsel.crypto import (
    BlindIndex,
    CryptoError,
    FieldCipher,
    KeyRing,
    KeyRingError,
    RecordCipher,
    UnreadableField,
    mask,
)
from counsel.extensions import CounselSession
from counsel.keystore import KeyStore
from counsel.models.data_key import DataKey
from counsel.models.encrypted import EncryptedRecord, KeyHolder, pending_plaintext
from counsel.settings import Settings

CIPHER_CACHE_SIZE = 4096
NO_DATA_KEY = "record has no data key"
ERASED_CASE = "its case was erased: the case's secret is gone from the key store"
NOT_IN_KEY_STORE = ("its case's secret is not in the key store, and no erasure of it is recorded there: the key "
                  "store is not the one of this database; restore it from its backup")


def load_keyring(settings: Settings) -> KeyRing:
    """Load the master keys from COUNSEL_MASTER_KEYS or the key file; refuse to run without them."""
    if settings.master_keys:
        return KeyRing.from_json(settings.master_keys)
    path = settings.key_path
    if not path.exists():
        raise KeyRingError(
            f"No key ring at {path}. Create one with `counsel keys init` (mode 0600, keep a backup "
            "apart from the database backups), or name an existing one with COUNSEL_KEY_FILE, or "
            "pass its JSON in COUNSEL_MASTER_KEYS."
        )
    return KeyRing.from_file(path)


class Vault:
    """Encrypt and decrypt model fields with per-record data keys."""

    def __init__(self, keyring: KeyRing, keystore: KeyStore, blind_index_bits: int = 16) -> None:
        self.keyring = keyring
        self.keystore = keystore
        self.blind_index = BlindIndex(keyring.purpose_key("blind-index"), bits=blind_index_bits)
        self._ciphers: OrderedDict[uuid.UUID, FieldCipher] = OrderedDict()
        self._erasure_mark: int | None = None

    def encrypt(self, obj: EncryptedRecord, column: str, plaintext: str) -> bytes:
        """Seal one field value to its table, column and row; the first field sealed makes the data key."""
        holder = obj.key_holder()
        if holder.data_key is None:
            cipher = self._new_data_key(holder)
        else:
            cipher = self._cipher_for(obj, column, holder.data_key)
        return cipher.encrypt(plaintext, table=obj.__tablename__, column=column, row_id=str(obj.id))

    def decrypt(self, obj: EncryptedRecord, column: str, blob: bytes) -> str:
        """Open one field value; any failure is an UnreadableField naming the record."""
        return self.record_cipher(obj, column).decrypt(column, blob)

    def record_cipher(self, obj: EncryptedRecord, column: str) -> RecordCipher:
        """Bind the data key of an existing record to its row, for reading its fields.

        `column` only names the field being read should the record have no usable data key.
        """
        data_key: DataKey | None = obj.key_holder().data_key
        if data_key is None:
            # A stored ciphertext whose record lost its data key is damage to report. Making a
            # fresh key here would not open the value, and would save a key nothing was sealed with.
            raise UnreadableField(obj.__tablename__, str(obj.id), column, NO_DATA_KEY)
        return RecordCipher(self._cipher_for(obj, column, data_key), obj.__tablename__, str(obj.id))

    def refresh_keys(self) -> None:
        """Pick up master-key versions another process added (`counsel keys rotate`), drop erased cases' keys.

        A process erasing a case forgets its key; every other worker sees the key store's erasure
        mark move and forgets the keys it holds, so none keeps opening a case from a restored copy.
        """
        self.keyring.refresh()
        mark = self.keystore.mark()
        if mark != self._erasure_mark:
            self._ciphers.clear()
            self._erasure_mark = mark

    def forget(self, key_id: uuid.UUID) -> None:
        """Drop a cached data key (after crypto-shredding its record).

        Records already loaded keep theirs until their session ends (one request).
        """
        self._ciphers.pop(key_id, None)

    def _cipher_for(self, obj: EncryptedRecord, column: str, data_key: DataKey) -> FieldCipher:
        """Return the cipher of an existing data key, unwrapping it once per process."""
        cipher = self._ciphers.get(data_key.id)
        if cipher is not None:
            self._ciphers.move_to_end(data_key.id)
            return cipher
        try:
            raw = self.keyring.unwrap(data_key.master_version, data_key.wrapped, str(data_key.id))
            if data_key.secret_id is not None:
                raw = mask(raw, self._case_secret(data_key.secret_id), str(data_key.id))
        except CryptoError as exc:
            raise UnreadableField(obj.__tablename__, str(obj.id), column, str(exc)) from exc
        return self._remember(data_key.id, FieldCipher(raw))

    def _case_secret(self, case_id: uuid.UUID) -> bytes:
        secret = self.keystore.secret(case_id)
        if secret is None:
            raise CryptoError(ERASED_CASE if self.keystore.is_erased(case_id) else NOT_IN_KEY_STORE)
        return secret

    def _new_data_key(self, holder: KeyHolder) -> FieldCipher:
        """Give a record its data key, wrapped under the current master key; only sealing calls this.

        A case's key is masked with the case's secret first, which the key store commits at once.
        """
        key_id = uuid.uuid4()
        raw = KeyRing.new_data_key()
        stored, secret_id = raw, None
        if holder.keeps_secret_apart:
            if holder.id is None:
                holder.id = uuid.uuid4()
            secret_id = holder.id
            stored = mask(raw, self.keystore.issue(secret_id), str(key_id))
        version, wrapped = self.keyring.wrap(stored, str(key_id))
        data_key = DataKey(id=key_id, master_version=version, wrapped=wrapped, secret_id=secret_id)
        holder.data_key = data_key
        session = object_session(holder)
        if session is not None:
            session.add(data_key)
        return self._remember(key_id, FieldCipher(raw))

    def _remember(self, key_id: uuid.UUID, cipher: FieldCipher) -> FieldCipher:
        self._ciphers[key_id] = cipher
        if len(self._ciphers) > CIPHER_CACHE_SIZE:
            self._ciphers.popitem(last=False)
        return cipher


@event.listens_for(CounselSession, "before_flush")
def seal_pending(session: Session, flush_context: Any, instances: Any) -> None:
    """Encrypt plaintexts set on objects before they had a row id or a data key."""
    vault = session.info.get("vault")
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, EncryptedRecord):
            continue
        pending = pending_plaintext(obj)
        if not pending:
            continue
        if vault is None:
            raise RuntimeError("encrypted fields set but the session has no vault")
        if obj.id is None:
            obj.id = uuid.uuid4()
        for column, value in list(pending.items()):
            blob = None if value is None else vault.encrypt(obj, column, value)
            setattr(obj, "_" + column, blob)
            del pending[column]
