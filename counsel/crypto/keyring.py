"""Key ring: versioned master keys that wrap per-record data keys, and a derivation key.

Master keys are key-encryption keys. The highest version is current: new data keys are
wrapped under it, and rotation adds a version and rewraps data keys, never field values.

The derivation key is separate and is NOT rotated with the master keys: blind indexes
and the audit chain are computed under keys derived from it, and both must stay
searchable and verifiable across a rotation. Replacing it means recomputing every blind
index and restarting the audit chain, which is a migration, not a rotation; a running
process therefore refuses to reload a key file whose derivation key has changed.

Key management commands must not run concurrently: each change rereads the file first
and writes it back atomically, but there is no lock between processes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from counsel.crypto.errors import DataKeyUnwrapError, KeyRingError, UnknownKeyVersion

KEY_BYTES = 32
FILE_FORMAT = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_VERSION = 2**31 - 1
_WRAP_AD_PREFIX = b"counsel/dek/1|"
_POSIX = os.name == "posix"

_Signature = tuple[int, int, int]


@dataclass(frozen=True, repr=False)
class _State:
    keys: Mapping[int, bytes]
    aeads: Mapping[int, AESGCM]
    derivation_key: bytes
    signature: _Signature | None

    @property
    def current(self) -> int:
        return max(self.keys)


def _build_state(
    master_keys: Mapping[int, bytes],
    derivation_key: bytes,
    signature: _Signature | None,
) -> _State:
    if not master_keys:
        raise KeyRingError("the key ring holds no master key; run `counsel keys init`")
    for version, key in master_keys.items():
        if not _valid_version(version):
            raise KeyRingError(f"master key version {version} is out of range")
        if len(key) != KEY_BYTES:
            raise KeyRingError(f"master key version {version} is not {KEY_BYTES} bytes")
    if len(derivation_key) != KEY_BYTES:
        raise KeyRingError(f"the derivation key is not {KEY_BYTES} bytes")
    keys = dict(master_keys)
    aeads = {version: AESGCM(key) for version, key in keys.items()}
    return _State(keys, aeads, bytes(derivation_key), signature)


class KeyRing:
    """Master keys by version plus the derivation key, optionally kept in a key file."""

    def __init__(
        self,
        master_keys: Mapping[int, bytes],
        derivation_key: bytes,
        source: Path | None = None,
    ) -> None:
        self._state = _build_state(master_keys, derivation_key, None)
        self._source = source
        self._lock = threading.Lock()
        self._purpose_keys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"KeyRing(versions={self.versions}, source={self._source!r})"

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Load the ring from its key file, refusing a file other users could read."""
        text, signature = _read_key_file(path)
        ring = cls(*_parse(text, f"key file {path}"), source=path)
        ring._state = replace(ring._state, signature=signature)
        return ring

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        """Load the ring from JSON kept outside a file, such as an environment value."""
        return cls(*_parse(text, "key ring JSON"))

    @staticmethod
    def create_file(path: Path) -> KeyRing:
        """Create a fresh key file, never replacing one that may already guard data."""
        ring = KeyRing({1: _random_key()}, _random_key(), source=path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            _write_atomic(path, ring.to_json(), replace=False)
        except FileExistsError:
            raise KeyRingError(
                f"{path} already exists; refusing to overwrite a key file (the data it guards would become unreadable)"
            ) from None
        ring._state = replace(ring._state, signature=_stat(path))
        return ring

    @property
    def current_version(self) -> int:
        """Return the version that wraps new data keys."""
        return self._state.current

    @property
    def versions(self) -> list[int]:
        """Return the held versions, oldest first, so rotation can find retired ones."""
        return sorted(self._state.keys)

    def add_version(self) -> int:
        """Make a new current master key, saved to the key file before any use."""
        with self._lock:
            self._reload_if_changed()
            state = self._state
            version = state.current + 1
            self._commit({**state.keys, version: _random_key()})
        return version

    def remove_version(self, version: int) -> None:
        """Retire a master key once no data key is wrapped under it any more."""
        with self._lock:
            self._reload_if_changed()
            state = self._state
            if version not in state.keys:
                raise UnknownKeyVersion(version)
            if version == state.current:
                raise KeyRingError(
                    f"refusing to remove master key version {version}: it is the "
                    "current version; run `counsel keys rotate` first"
                )
            self._commit({v: key for v, key in state.keys.items() if v != version})

    def refresh(self) -> bool:
        """Pick up versions another process wrote, for one stat call when unchanged."""
        if self._source is None:
            return False
        try:
            signature = _stat(self._source)
        except FileNotFoundError:
            return False  # keep the loaded keys; the next start-up reports the loss
        if signature == self._state.signature:
            return False
        with self._lock:
            return self._reload_if_changed()

    def wrap(self, data_key: bytes, key_id: str) -> tuple[int, bytes]:
        """Seal a data key under the current master key, bound to its record."""
        if len(data_key) != KEY_BYTES:
            raise ValueError(f"a data key must be {KEY_BYTES} bytes")
        state = self._state
        version = state.current
        nonce = os.urandom(_NONCE_BYTES)
        aead = state.aeads[version]
        return version, nonce + aead.encrypt(nonce, data_key, _wrap_ad(version, key_id))

    def unwrap(self, version: int, wrapped: bytes, key_id: str) -> bytes:
        """Recover a data key, rereading the key file once for an unseen version."""
        aead = self._state.aeads.get(version)
        if aead is None:
            self.refresh()
            aead = self._state.aeads.get(version)
            if aead is None:
                raise UnknownKeyVersion(version)
        if len(wrapped) < _NONCE_BYTES + _TAG_BYTES:
            raise DataKeyUnwrapError(key_id, version)
        nonce, sealed = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, sealed, _wrap_ad(version, key_id))
        except InvalidTag:
            raise DataKeyUnwrapError(key_id, version) from None

    def purpose_key(self, purpose: str) -> bytes:
        """Derive a stable key per purpose, so one purpose's key reveals no other's."""
        key = self._purpose_keys.get(purpose)
        if key is None:
            if not purpose:
                raise ValueError("a purpose key needs a non-empty purpose")
            hkdf = HKDF(
                algorithm=hashes.SHA256(),
                length=KEY_BYTES,
                salt=None,
                info=b"counsel/" + purpose.encode("utf-8"),
            )
            key = hkdf.derive(self._state.derivation_key)
            self._purpose_keys[purpose] = key
        return key

    @staticmethod
    def new_data_key() -> bytes:
        """Draw a fresh key for one record, so deleting it shreds only that record."""
        return _random_key()

    def to_json(self) -> str:
        """Serialise the ring in the key-file format, secrets included."""
        return _to_json(self._state.keys, self._state.derivation_key)

    def _reload_if_changed(self) -> bool:
        """Take the key file's keys if the file changed; the caller holds the lock."""
        if self._source is None:
            return False
        try:
            if _stat(self._source) == self._state.signature:
                return False
        except FileNotFoundError:
            raise KeyRingError(f"key file {self._source} has disappeared; restore it from backup") from None
        text, signature = _read_key_file(self._source)
        keys, derivation_key = _parse(text, f"key file {self._source}")
        if not hmac.compare_digest(derivation_key, self._state.derivation_key):
            raise KeyRingError(
                f"the derivation key in {self._source} has changed, but blind indexes "
                "and the audit chain depend on it: restore the original key file"
            )
        self._state = _build_state(keys, derivation_key, signature)
        return True

    def _commit(self, keys: Mapping[int, bytes]) -> None:
        """Write new keys to the key file first, then make them visible in memory."""
        derivation_key = self._state.derivation_key
        state = _build_state(keys, derivation_key, None)
        if self._source is not None:
            _write_atomic(self._source, _to_json(keys, derivation_key), replace=True)
            state = replace(state, signature=_stat(self._source))
        self._state = state


def _valid_version(version: int) -> bool:
    return 1 <= version <= _MAX_VERSION


def _random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _wrap_ad(version: int, key_id: str) -> bytes:
    return _WRAP_AD_PREFIX + version.to_bytes(4, "big") + key_id.encode("utf-8")


def _to_json(keys: Mapping[int, bytes], derivation_key: bytes) -> str:
    document = {
        "format": FILE_FORMAT,
        "master_keys": {str(v): _b64encode(keys[v]) for v in sorted(keys)},
        "derivation_key": _b64encode(derivation_key),
    }
    return json.dumps(document, indent=2) + "\n"


def _b64encode(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _stat(path: Path) -> _Signature:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_key_file(path: Path) -> tuple[str, _Signature]:
    """Read the key file through one descriptor, checking its mode before content."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyRingError(f"key file {path} does not exist; run `counsel keys init` to create it") from None
    except OSError as exc:
        raise KeyRingError(f"cannot open key file {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyRingError(f"key file {path} is not a regular file")
        if _POSIX and st.st_mode & 0o077:
            raise KeyRingError(
                f"key file {path} is accessible to group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}`"
            )
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyRingError(f"malformed key file {path}: not UTF-8 text") from None
    return text, (st.st_mtime_ns, st.st_size, st.st_ino)


def _parse(text: str, origin: str) -> tuple[dict[int, bytes], bytes]:
    """Parse key-file JSON with messages that name the problem but never a key."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise KeyRingError(f"malformed {origin}: not JSON ({where})") from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise KeyRingError(f'malformed {origin}: expected an object with "format": {FILE_FORMAT}')
    masters = document.get("master_keys")
    if not isinstance(masters, dict) or not masters:
        raise KeyRingError(
            f'malformed {origin}: "master_keys" must map versions to keys; run `counsel keys init` for a new ring'
        )
    keys: dict[int, bytes] = {}
    for name, value in masters.items():
        if not (name.isdecimal() and str(int(name)) == name and _valid_version(int(name))):
            raise KeyRingError(f"malformed {origin}: a key version is not a number")
        keys[int(name)] = _b64decode(value, origin, f"master key version {name}")
    derivation = _b64decode(document.get("derivation_key"), origin, "derivation_key")
    return keys, derivation


def _b64decode(value: object, origin: str, label: str) -> bytes:
    if not isinstance(value, str):
        raise KeyRingError(f"malformed {origin}: {label} must be a base64 string")
    try:
        key = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise KeyRingError(f"malformed {origin}: {label} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyRingError(f"malformed {origin}: {label} is not {KEY_BYTES} bytes")
    return key


def _write_atomic(path: Path, text: str, *, replace: bool) -> None:
    """Write a 0600 file that readers see either whole or not at all."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if _POSIX:
                os.fchmod(handle.fileno(), 0o600)  # exactly 0600 whatever the umask
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # fails if path exists: no check-then-write race
    finally:
        temp.unlink(missing_ok=True)
    if _POSIX:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
