"""Blind index: keyed, truncated hashes of folded names stored beside the ciphertext.

A value is HMAC-SHA256(key, field | kind | form) cut to `bits` bits. The field name
keeps equal names in different fields (client, perpetrator) apart; the kind keeps a
whole name apart from a single token. Truncation is deliberate: with 16 bits many
names share each value, so a stored value is no fingerprint of a name and an index
dump cannot be matched against a list of names one to one. The price is extra
candidates, which the lookup decrypts and confirms with `BlindIndex.matches`.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from counsel.crypto.folding import token_variants, tokens, variants

_SEPARATOR = "\x1f"  # fold() turns it into a space, so no form can contain it


class BlindIndex:
    """Compute the index values of names in one field, under one purpose key."""

    def __init__(self, key: bytes, bits: int = 16) -> None:
        if len(key) != 32:
            raise ValueError("a blind index key must be 32 bytes")
        if not 8 <= bits <= 32:
            raise ValueError("a blind index keeps between 8 and 32 bits")
        self._hmac = HMAC(key, hashes.SHA256())
        self._shift = 32 - bits
        self.bits = bits

    def values(self, name: str, *, field: str) -> set[int]:
        """List the values to store, so every spelling the rules join finds the name."""
        whole, per_token = self.query(name, field=field)
        return whole.union(*per_token)

    def query(self, name: str, *, field: str) -> tuple[set[int], list[set[int]]]:
        """Give a lookup its whole-name values and the values of each query token."""
        if not field or _SEPARATOR in field:
            raise ValueError("a blind index field must be non-empty, without \\x1f")
        whole = {self._value(field, "name", form) for form in variants(name)}
        per_token = [{self._value(field, "token", form) for form in token_variants(token)} for token in tokens(name)]
        return whole, per_token

    @staticmethod
    def matches(query: str, candidate: str) -> bool:
        """Confirm a decrypted candidate, so index collisions never reach a list."""
        if variants(query) & variants(candidate):
            return True
        wanted = tokens(query)
        if not wanted:
            return False
        present = set().union(*(token_variants(token) for token in tokens(candidate)))
        return all(token_variants(token) & present for token in wanted)

    def _value(self, field: str, kind: str, form: str) -> int:
        mac = self._hmac.copy()
        mac.update(f"{field}{_SEPARATOR}{kind}{_SEPARATOR}{form}".encode())
        return int.from_bytes(mac.finalize()[:4], "big") >> self._shift
