"""The mask that splits a case's data key between the database and the key store."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from counsel.crypto import mask, new_secret

keys = st.binary(min_size=32, max_size=32)


@given(keys, keys)
def test_masking_twice_gives_the_key_back(key, secret):
    masked = mask(key, secret, "key-1")
    assert masked != key and mask(masked, secret, "key-1") == key


def test_the_masked_key_alone_tells_nothing_without_the_secret():
    key = os.urandom(32)
    masked = mask(key, new_secret(), "key-1")
    assert mask(masked, new_secret(), "key-1") != key  # any other secret opens another key


def test_one_secret_masks_each_data_key_differently():
    secret, key = new_secret(), bytes(32)
    assert mask(key, secret, "key-1") != mask(key, secret, "key-2")


def test_a_secret_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        mask(bytes(32), b"short", "key-1")
