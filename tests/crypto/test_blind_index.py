"""Blind index: spellings joined by the rules find each other, nothing else does."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from counsel.crypto import BlindIndex

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "names.json").read_text(encoding="utf-8"))
KEY = os.urandom(32)
INDEX = BlindIndex(KEY)
WIDE = BlindIndex(KEY, bits=32)
FIELD = "client_name"


def _found(index: BlindIndex, query: str, stored: str) -> bool:
    """Do what the database lookup does: any whole-name value, or every token."""
    stored_values = index.values(stored, field=FIELD)
    whole, per_token = index.query(query, field=FIELD)
    if whole & stored_values:
        return True
    return bool(per_token) and all(values & stored_values for values in per_token)


@pytest.mark.parametrize("group", VECTORS["same"], ids=lambda g: g["why"][:40])
def test_every_same_group_gets_one_value_set(group: dict[str, list[str]]) -> None:
    names = group["names"]
    assert len({frozenset(INDEX.values(name, field=FIELD)) for name in names}) == 1
    for query, stored in itertools.permutations(names, 2):
        assert _found(INDEX, query, stored)
        assert BlindIndex.matches(query, stored)


@pytest.mark.parametrize("pair", VECTORS["different"], ids=str)
def test_every_different_pair_shares_no_whole_name_value(pair: list[str]) -> None:
    one, two = pair
    assert not WIDE.query(one, field=FIELD)[0] & WIDE.query(two, field=FIELD)[0]
    assert not _found(WIDE, one, two)
    assert not BlindIndex.matches(one, two)
    assert not BlindIndex.matches(two, one)


def test_mueller_and_mueller_with_umlaut_find_each_other() -> None:
    for query, stored in [
        ("Mueller", "Müller"),
        ("Müller", "Mueller"),
        ("Muller", "Müller"),
        ("Anna Mueller", "Müller, Anna"),
    ]:
        assert _found(INDEX, query, stored), (query, stored)
        assert BlindIndex.matches(query, stored), (query, stored)


@pytest.mark.parametrize(
    ("query", "stored"),
    [("Said", "Sa'id"), ("Sa\u02bfid Kaya", "Kaya, Said"), ("Anna Lena", "Anna-Lena")],
)
def test_apostrophes_join_and_hyphens_separate(query: str, stored: str) -> None:
    assert _found(WIDE, query, stored)
    assert _found(WIDE, stored, query)
    assert BlindIndex.matches(query, stored)


def test_token_lookup_finds_a_name_by_one_of_its_tokens() -> None:
    whole, per_token = WIDE.query("Yılmaz", field=FIELD)
    stored = WIDE.values("Fatma Yılmaz", field=FIELD)
    assert not whole & stored
    assert _found(WIDE, "Yılmaz", "Fatma Yılmaz")
    assert _found(WIDE, "yilmaz fatma", "Fatma Yılmaz")
    assert BlindIndex.matches("Yılmaz", "Fatma Yılmaz")


def test_every_query_token_must_be_present() -> None:
    assert not _found(WIDE, "Fatma Kaya", "Fatma Yılmaz")
    assert not BlindIndex.matches("Fatma Kaya", "Fatma Yılmaz")
    assert not BlindIndex.matches("Fatma Yılmaz", "Fatma")


def test_query_has_one_value_set_per_token() -> None:
    whole, per_token = WIDE.query("Fatma Mueller", field=FIELD)
    assert len(whole) == 2  # sorted tokens, as written and with ue -> u
    assert [len(values) for values in per_token] == [1, 2]


def test_values_are_the_union_of_the_query() -> None:
    whole, per_token = INDEX.query("Fatma Yılmaz", field=FIELD)
    assert INDEX.values("Fatma Yılmaz", field=FIELD) == whole.union(*per_token)


def test_fields_are_separated() -> None:
    client = WIDE.values("Fatma Yılmaz", field="client_name")
    perpetrator = WIDE.values("Fatma Yılmaz", field="perpetrator_name")
    assert client and perpetrator
    assert not client & perpetrator


def test_whole_names_and_tokens_are_separated() -> None:
    whole, per_token = WIDE.query("Fatma", field=FIELD)
    assert not whole & per_token[0]


def test_another_key_gives_other_values() -> None:
    other = BlindIndex(os.urandom(32), bits=32)
    assert not WIDE.values("Fatma", field=FIELD) & other.values("Fatma", field=FIELD)
    assert BlindIndex(KEY, bits=32).values("Fatma", field=FIELD) == WIDE.values("Fatma", field=FIELD)


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_values_fit_the_configured_bits(bits: int) -> None:
    index = BlindIndex(KEY, bits=bits)
    names = [f"Name{i} Token{i}" for i in range(200)]
    values = set().union(*(index.values(name, field=FIELD) for name in names))
    assert all(0 <= value < 2**bits for value in values)
    assert max(values) >= 2 ** (bits - 2)  # the top bits are used, not only low ones


@pytest.mark.parametrize("bits", [0, 7, 33, 64])
def test_bits_outside_8_to_32_are_refused(bits: int) -> None:
    with pytest.raises(ValueError, match="8 and 32"):
        BlindIndex(KEY, bits=bits)


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        BlindIndex(b"short")


@pytest.mark.parametrize("field", ["", "client\x1fname"])
def test_ambiguous_field_names_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="field"):
        INDEX.values("Fatma", field=field)


def test_truncation_collisions_are_removed_by_confirmation() -> None:
    narrow = BlindIndex(KEY, bits=8)
    target = narrow.query("Fatma", field=FIELD)[0]
    colliding = next(
        name for name in (f"Name{i}" for i in range(10_000)) if narrow.query(name, field=FIELD)[0] & target
    )
    assert _found(narrow, "Fatma", colliding)  # a candidate by index value alone
    assert not BlindIndex.matches("Fatma", colliding)  # and rejected after decryption


def test_empty_name_is_neither_indexed_nor_found() -> None:
    assert INDEX.values("", field=FIELD) == set()
    assert INDEX.query("  ", field=FIELD) == (set(), [])
    assert not _found(INDEX, "", "Fatma")
    assert not BlindIndex.matches("", "Fatma")
    assert not BlindIndex.matches("-", "")


PARTS = ["Fatma", "YILMAZ", "Yılmaz", "Mueller", "Müller", "Manuel", "Ana"]
names = st.lists(
    st.sampled_from(PARTS),
    max_size=4,
).flatmap(lambda parts: st.sampled_from([" ", "-", ", "]).map(lambda s: s.join(parts)))


@given(names, names)
def test_confirmation_agrees_with_the_index_on_names(query: str, stored: str) -> None:
    assert BlindIndex.matches(query, stored) == _found(WIDE, query, stored)


@given(st.text(), st.text())
def test_confirmation_agrees_with_the_index_on_text(query: str, stored: str) -> None:
    assert BlindIndex.matches(query, stored) == _found(WIDE, query, stored)
