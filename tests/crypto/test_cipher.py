"""Field cipher: a value opens only with its key, in its own table, column and row."""

from __future__ import annotations

import operator
import os
import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from counsel.crypto import FORMAT_VERSION, FieldCipher, UnreadableField, associated_data

PLACE = {"table": "cases", "column": "client_name", "row_id": "3f2a9c1e-0001"}
CIPHER = FieldCipher(os.urandom(32))
LONG_TEXT = "Ölçü ölçüsüz 🌍 " * 70_000  # about 1.3 MB of UTF-8, a long case history
# Hypothesis draws text a character at a time and keeps it short (a few thousand characters at
# most), so long notes come from repeating an arbitrary piece up to some hundred thousand times.
long_texts = st.text(min_size=1_000, max_size=100_000) | st.builds(
    operator.mul, st.text(min_size=1, max_size=16), st.integers(min_value=1_000, max_value=20_000))


def _blob(text: str = "Fatma Yılmaz") -> bytes:
    return CIPHER.encrypt(text, **PLACE)


def test_round_trip() -> None:
    assert CIPHER.decrypt(_blob("Fatma Yılmaz"), **PLACE) == "Fatma Yılmaz"


def test_empty_string_round_trips_as_empty_string() -> None:
    blob = _blob("")
    assert blob
    assert CIPHER.decrypt(blob, **PLACE) == ""


def test_blob_layout_is_version_nonce_ciphertext_tag() -> None:
    text = "Şêrîn"
    blob = _blob(text)
    assert blob[0] == FORMAT_VERSION == 1
    assert len(blob) == 1 + 12 + len(text.encode()) + 16
    assert text.encode() not in blob


def test_bytes_round_trip_in_the_same_format() -> None:
    blob = CIPHER.encrypt_bytes(b"\x00\xff binary", **PLACE)
    assert blob[0] == FORMAT_VERSION
    assert CIPHER.decrypt_bytes(blob, **PLACE) == b"\x00\xff binary"
    assert CIPHER.decrypt_bytes(_blob("text"), **PLACE) == b"text"


def test_moved_to_another_row_fails_naming_the_place() -> None:
    blob = _blob()
    with pytest.raises(UnreadableField) as caught:
        CIPHER.decrypt(blob, table="cases", column="client_name", row_id="3f2a9c1e-0002")
    error = caught.value
    assert (error.table, error.column, error.row_id) == (
        "cases",
        "client_name",
        "3f2a9c1e-0002",
    )
    assert str(error) == ("cannot decrypt cases.client_name of row 3f2a9c1e-0002: " + error.reason)
    assert "authentication failed" in error.reason


@pytest.mark.parametrize(
    "place",
    [
        {**PLACE, "column": "perpetrator_name"},
        {**PLACE, "table": "contacts"},
        {**PLACE, "row_id": PLACE["row_id"].upper()},
    ],
)
def test_moved_to_another_column_or_table_fails(place: dict[str, str]) -> None:
    with pytest.raises(UnreadableField) as caught:
        CIPHER.decrypt(_blob(), **place)
    assert (caught.value.table, caught.value.column) == (
        place["table"],
        place["column"],
    )


def test_every_single_bit_flip_fails() -> None:
    blob = _blob("Ana")
    for bit in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(UnreadableField):
            CIPHER.decrypt(bytes(flipped), **PLACE)


def test_every_truncation_fails() -> None:
    blob = _blob("Ana")
    for length in range(len(blob)):
        with pytest.raises(UnreadableField):
            CIPHER.decrypt(blob[:length], **PLACE)


def test_appended_bytes_fail() -> None:
    with pytest.raises(UnreadableField):
        CIPHER.decrypt(_blob() + b"\x00", **PLACE)


def test_short_blob_and_unknown_format_say_so() -> None:
    with pytest.raises(UnreadableField, match="too short"):
        CIPHER.decrypt(b"", **PLACE)
    blob = _blob()
    with pytest.raises(UnreadableField, match="unknown format version 2"):
        CIPHER.decrypt(b"\x02" + blob[1:], **PLACE)


def test_wrong_data_key_fails() -> None:
    with pytest.raises(UnreadableField, match="authentication failed"):
        FieldCipher(os.urandom(32)).decrypt(_blob(), **PLACE)


def test_non_utf8_plaintext_is_unreadable_as_text() -> None:
    blob = CIPHER.encrypt_bytes(b"\xff\xfe", **PLACE)
    with pytest.raises(UnreadableField, match="not UTF-8"):
        CIPHER.decrypt(blob, **PLACE)


def test_data_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher(os.urandom(16))


def test_nonces_are_fresh() -> None:
    blobs = [_blob("same text") for _ in range(1000)]
    assert len({blob[1:13] for blob in blobs}) == 1000
    assert len(set(blobs)) == 1000


def test_error_never_contains_the_plaintext() -> None:
    address = "Hauptstraße 12, Dortmund"
    blob = CIPHER.encrypt(address, **PLACE)
    failures = [
        (CIPHER, blob, {**PLACE, "row_id": "other"}),
        (CIPHER, blob[:-1], PLACE),
        (FieldCipher(os.urandom(32)), blob, PLACE),
    ]
    for cipher, damaged, place in failures:
        with pytest.raises(UnreadableField) as caught:
            cipher.decrypt(damaged, **place)
        shown = f"{caught.value} {caught.value!r} {caught.value.args}"
        assert address not in shown
        assert "Hauptstr" not in shown
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


def test_unreadable_field_survives_pickling() -> None:
    error = UnreadableField("cases", "r1", "notes", "authentication failed")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.table, copy.row_id, copy.column, copy.reason) == (
        "cases",
        "r1",
        "notes",
        "authentication failed",
    )
    assert str(copy) == str(error)


@given(st.text())
@example("")
@example(LONG_TEXT)
def test_any_text_round_trips(text: str) -> None:
    assert CIPHER.decrypt(CIPHER.encrypt(text, **PLACE), **PLACE) == text


@settings(max_examples=15, deadline=None)
@given(long_texts)
def test_any_long_text_round_trips_at_its_length_plus_29_bytes(text: str) -> None:
    blob = CIPHER.encrypt(text, **PLACE)
    assert len(blob) == len(text.encode()) + 29
    assert CIPHER.decrypt(blob, **PLACE) == text


@given(st.binary())
def test_any_bytes_round_trip(data: bytes) -> None:
    assert CIPHER.decrypt_bytes(CIPHER.encrypt_bytes(data, **PLACE), **PLACE) == data


places = st.tuples(st.text(), st.text(), st.text())


@given(places, places)
def test_associated_data_names_one_place_only(one: tuple[str, str, str], two: tuple[str, str, str]) -> None:
    assert (associated_data(*one) == associated_data(*two)) == (one == two)


@given(st.text(), st.data())
def test_associated_data_tells_apart_every_split_of_one_string(text: str, data: st.DataObject) -> None:
    cuts = st.integers(0, len(text))
    a, b, c, d = (data.draw(cuts) for _ in range(4))
    i, j = sorted((a, b))
    k, m = sorted((c, d))
    one = (text[:i], text[i:j], text[j:])
    two = (text[:k], text[k:m], text[m:])
    assert (associated_data(*one) == associated_data(*two)) == (one == two)


def test_associated_data_is_not_a_naive_join() -> None:
    assert associated_data("ab", "c", "d") != associated_data("a", "bc", "d")
    assert associated_data("a|1:b", "c", "d") != associated_data("a", "b", "c|1:d")
    assert associated_data("t", "c", "r", fmt=1) != associated_data("t", "c", "r", fmt=2)
