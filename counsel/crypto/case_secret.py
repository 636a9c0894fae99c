"""A case's data key in two halves: one in the database, one in the key store, so either can shred it.

The database keeps the data key masked (XOR) with a pad derived from the case's secret, and
wraps that masked key under the master key as before; the secret itself lives in the key store,
outside the database and its backups. Without the secret the masked key is a one-time pad's
ciphertext: a database backup restored with the master keys opens nothing of a case whose
secret was deleted. Masking leaves the data key as it was (no field is re-encrypted when an
existing case is given its secret), and the master key wraps the masked key as it wrapped the
plain one, so a master-key rotation re-wraps without ever reading the key store.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_BYTES = 32
_INFO = b"counsel/case-key-mask/1|"


def new_secret() -> bytes:
    """Draw a fresh secret for one case."""
    return secrets.token_bytes(SECRET_BYTES)


def mask(data_key: bytes, secret: bytes, key_id: str) -> bytes:
    """Mask a data key with its case's secret, or unmask a masked one (the operation is its own inverse).

    The pad is bound to the data key's id, so one secret never yields the same pad for two keys.
    """
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"a case secret must be {SECRET_BYTES} bytes")
    pad = HKDF(algorithm=hashes.SHA256(), length=len(data_key), salt=None,
               info=_INFO + key_id.encode("utf-8")).derive(secret)
    return bytes(a ^ b for a, b in zip(data_key, pad, strict=True))
