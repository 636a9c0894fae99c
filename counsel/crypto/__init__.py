"""Encryption at rest: key ring, field cipher and blind index; no Flask, no database."""

from counsel.crypto.blind_index import BlindIndex
from counsel.crypto.case_secret import mask, new_secret
from counsel.crypto.cipher import FORMAT_VERSION, FieldCipher, RecordCipher, associated_data
from counsel.crypto.errors import (
    CryptoError,
    DataKeyUnwrapError,
    KeyRingError,
    UnknownKeyVersion,
    UnreadableField,
)
from counsel.crypto.folding import (
    fold,
    normalise_address,
    normalise_phone,
    token_variants,
    tokens,
    variants,
)
from counsel.crypto.keyring import KeyRing

__all__ = [
    "FORMAT_VERSION",
    "BlindIndex",
    "CryptoError",
    "DataKeyUnwrapError",
    "FieldCipher",
    "KeyRing",
    "KeyRingError",
    "RecordCipher",
    "UnknownKeyVersion",
    "UnreadableField",
    "associated_data",
    "fold",
    "mask",
    "new_secret",
    "normalise_address",
    "normalise_phone",
    "token_variants",
    "tokens",
    "variants",
]
