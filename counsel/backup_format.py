"""The backup file: a manifest and a database dump, encrypted in authenticated chunks.

Layout (integers big-endian):

    header   magic (16 bytes) | format (1) | salt (32) | key check (16) | CRC-32 of the above (4)
    records  length (4) | AES-256-GCM ciphertext with its tag, repeated;
             record 0 is the manifest (JSON), records 1 to n the dump, the last one marked final

HKDF turns the installation's backup key and the file's random salt into the file's own AES key
and a key check, so a wrong key ring is named as such instead of as damage, and the key check
tells nothing about the key. Each record's nonce is its index (11 bytes) and a final flag
(1 byte), and its associated data is the header: a record that is changed, dropped, repeated,
moved or taken from another file fails to open, and a file cut anywhere lacks its final record.
This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over AES-GCM; the
CRC only tells a damaged header from a wrong key ring.

This module knows no Flask and no database: it turns bytes into sealed bytes and back.
"""

from __future__ import annotations

import hmac
import json
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"counsel-backup\x00\x00"
FORMAT = 1
CHUNK_BYTES = 1024 * 1024
SALT_BYTES = 32
CHECK_BYTES = 16
TAG_BYTES = 16
_PREFIX = len(MAGIC) + 1 + SALT_BYTES + CHECK_BYTES
HEADER_BYTES = _PREFIX + 4
_LENGTH = struct.Struct(">I")
_MAX_RECORD = CHUNK_BYTES + TAG_BYTES


class BackupError(Exception):
    """A backup cannot be made, checked or restored; the message says why and what to do."""


class BackupFileError(BackupError):
    """A backup file cannot be opened; the message names what is wrong with it."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds, sealed inside it: enough to tell whether an installation can restore it."""

    created_at: str  # ISO 8601, UTC
    database: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    key_versions: tuple[int, ...]  # the master-key versions its data keys are wrapped with
    data_keys: int
    audit_seq: int
    audit_mac: str
    counsel_version: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "key_versions": list(self.key_versions)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a manifest, naming the entry that is missing or malformed."""
        try:
            revision = data["schema_revision"]
            return cls(created_at=str(data["created_at"]), database=str(data["database"]),
                       schema_revision=None if revision is None else str(revision),
                       key_versions=tuple(int(v) for v in data["key_versions"]), data_keys=int(data["data_keys"]),
                       audit_seq=int(data["audit_seq"]), audit_mac=str(data["audit_mac"]),
                       counsel_version=str(data["counsel_version"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupFileError(f"the manifest is incomplete or malformed ({exc!r})") from None


@dataclass(frozen=True)
class Unsealed:
    """What an authenticated backup file held: its manifest, its number of records, the size of its dump."""

    manifest: Manifest
    records: int
    dump_bytes: int


def seal(dump: IO[bytes], out: IO[bytes], key: bytes, manifest: Manifest) -> int:
    """Write the manifest and the dump as an encrypted backup file; return the dump's size."""
    salt = os.urandom(SALT_BYTES)
    aead, check = _file_keys(key, salt)
    prefix = MAGIC + bytes([FORMAT]) + salt + check
    header = prefix + struct.pack(">I", zlib.crc32(prefix))
    out.write(header)
    body = json.dumps(manifest.to_json(), sort_keys=True, separators=(",", ":")).encode()
    _write_record(out, aead, header, 0, body, final=False)
    index, size = 1, 0
    chunk = dump.read(CHUNK_BYTES)
    while True:
        following = dump.read(CHUNK_BYTES)  # one chunk ahead: the last one is sealed as final
        _write_record(out, aead, header, index, chunk, final=not following)
        size += len(chunk)
        if not following:
            return size
        chunk, index = following, index + 1


def unseal(source: IO[bytes], key: bytes, sink: IO[bytes] | None = None) -> Unsealed:
    """Authenticate a backup file record by record, writing the dump to `sink`; raise naming the damage.

    Bytes reach the sink only once their record has been authenticated, but a file damaged
    further on leaves the sink partly written: use what it holds only when this returns.
    """
    header = source.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise BackupFileError("this is not a counsel backup file (its header is missing or unknown)")
    if struct.unpack(">I", header[_PREFIX:])[0] != zlib.crc32(header[:_PREFIX]):
        raise BackupFileError("the file's header is damaged (its checksum does not match)")
    if header[len(MAGIC)] != FORMAT:
        raise BackupFileError(f"backup format {header[len(MAGIC)]} is unknown to this counsel (it reads {FORMAT})")
    salt = header[len(MAGIC) + 1 : len(MAGIC) + 1 + SALT_BYTES]
    aead, check = _file_keys(key, salt)
    if not hmac.compare_digest(check, header[_PREFIX - CHECK_BYTES : _PREFIX]):
        raise BackupFileError("the backup was made with another key ring: its key check does not match this "
                              "installation's keys (restore the key file that belongs to it)")
    body, final = _read_record(source, aead, header, 0, finals=(False,))
    try:
        fields = json.loads(body)
    except ValueError:
        raise BackupFileError("the manifest is not valid JSON") from None
    if not isinstance(fields, dict):
        raise BackupFileError("the manifest is not a JSON object")
    manifest = Manifest.from_json(fields)
    index, size = 1, 0
    while not final:
        chunk, final = _read_record(source, aead, header, index, finals=(False, True))
        if sink is not None:
            sink.write(chunk)
        size += len(chunk)
        index += 1
    if source.read(1):
        raise BackupFileError(f"there are bytes after the final record {index - 1}: something was appended")
    return Unsealed(manifest, index, size)


def _file_keys(key: bytes, salt: bytes) -> tuple[AESGCM, bytes]:
    material = HKDF(algorithm=hashes.SHA256(), length=32 + CHECK_BYTES, salt=salt,
                    info=b"counsel/backup-file/" + bytes([FORMAT])).derive(key)
    return AESGCM(material[:32]), material[32:]


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _write_record(out: IO[bytes], aead: AESGCM, header: bytes, index: int, data: bytes, *, final: bool) -> None:
    sealed = aead.encrypt(_nonce(index, final), data, header)
    out.write(_LENGTH.pack(len(sealed)))
    out.write(sealed)


def _read_record(source: IO[bytes], aead: AESGCM, header: bytes, index: int,
                 finals: tuple[bool, ...]) -> tuple[bytes, bool]:
    """Read and open record `index`; return its plaintext and whether it is the final one."""
    what = "the manifest" if index == 0 else f"record {index}"
    length_bytes = source.read(_LENGTH.size)
    if not length_bytes:
        raise BackupFileError(f"the file is truncated: it ends before {what}, without the final record")
    if len(length_bytes) < _LENGTH.size:
        raise BackupFileError(f"the file is truncated inside the length of {what}")
    (length,) = _LENGTH.unpack(length_bytes)
    if not TAG_BYTES <= length <= _MAX_RECORD:
        raise BackupFileError(f"{what} was altered: its length {length} is impossible")
    sealed = source.read(length)
    if len(sealed) < length:
        raise BackupFileError(f"the file is truncated inside {what} ({len(sealed)} of {length} bytes)")
    for final in finals:
        try:
            return aead.decrypt(_nonce(index, final), sealed, header), final
        except InvalidTag:
            continue
    raise BackupFileError(f"{what} was altered: it fails authentication")
