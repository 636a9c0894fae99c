"""Name folding: names.json vectors, each documented decision, phone, address."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from counsel.crypto import (
    fold,
    normalise_address,
    normalise_phone,
    token_variants,
    tokens,
    variants,
)
from counsel.crypto.folding import Address, parse_address, same_address

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "names.json").read_text(encoding="utf-8"))


def _group_id(group: dict[str, object]) -> str:
    return str(group["why"])[:40]


@pytest.mark.parametrize("group", VECTORS["same"], ids=_group_id)
def test_every_same_group_folds_to_one_key(group: dict[str, list[str]]) -> None:
    names = group["names"]
    assert len({fold(name) for name in names}) == 1, [fold(name) for name in names]
    assert len({frozenset(variants(name)) for name in names}) == 1


@pytest.mark.parametrize("pair", VECTORS["different"], ids=str)
def test_every_different_pair_keeps_apart(pair: list[str]) -> None:
    one, two = pair
    assert fold(one) != fold(two)
    assert not variants(one) & variants(two)


def _mueller(names: list[str]) -> None:
    mueller, mueller_umlaut = names
    assert fold(mueller) != fold(mueller_umlaut)  # the exact key keeps the spelling
    assert variants(mueller) & variants(mueller_umlaut)  # the index joins them
    assert variants("Muller") & variants(mueller_umlaut)


def _taa_marbuta(names: list[str]) -> None:
    assert fold(names[0]) == fold(names[1]) == "\u0641\u0627\u0637\u0645\u0647"


def _token_order(names: list[str]) -> None:
    reversed_name, name = names
    assert fold(reversed_name) != fold(name)
    assert variants(reversed_name) == variants(name) == {"fatma yilmaz"}
    assert tokens(reversed_name) == ["yilmaz", "fatma"]


def _transliterations(names: list[str]) -> None:
    for i, one in enumerate(names):
        for two in names[i + 1 :]:
            assert not variants(one) & variants(two), (one, two)


def _ukrainian_yi(names: list[str]) -> None:
    assert fold(names[0]) == fold(names[1]) == "\u0456\u0436\u0430\u043a"


DECISIONS: dict[tuple[str, ...], Callable[[list[str]], None]] = {
    ("Mueller", "Müller"): _mueller,
    ("\u0641\u0627\u0637\u0645\u0629", "\u0641\u0627\u0637\u0645\u0647"): _taa_marbuta,
    ("Y\u0131lmaz Fatma", "Fatma Y\u0131lmaz"): _token_order,
    ("Fatima", "Fatma", "Fatemeh", "\u0641\u0627\u0637\u0645\u0629"): _transliterations,
    ("\u0407\u0436\u0430\u043a", "\u0406\u0436\u0430\u043a"): _ukrainian_yi,
}


@pytest.mark.parametrize("choice", VECTORS["choice"], ids=lambda c: c["note"][:40])
def test_every_choice_is_decided_as_documented(choice: dict[str, list[str]]) -> None:
    names = choice["names"]
    decision = DECISIONS.get(tuple(names))
    assert decision is not None, f"undecided choice in names.json: {names}"
    decision(names)


def test_digraph_rule_also_indexes_manuel_as_manul() -> None:
    assert variants("Manuel") == {"manuel", "manul"}
    assert variants("Michael") & variants("Michal")  # the documented price
    assert token_variants("schoene") == {"schoene", "schone"}
    assert token_variants("fatma") == {"fatma"}


def test_digraph_variants_stay_two_however_many_digraphs() -> None:
    assert variants("Mueller-Schoenhaeuser Goethe") == {
        "goethe mueller schoenhaeuser",
        "gothe muller schonhauser",
    }


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Anna-Lena  O'Brien", "anna lena obrien"),
        ("Мар\u02bcяна", "маряна"),
        ("Мар\u2019яна", "маряна"),
        ("Sa'id", "said"),
        ("Sa\u02bfid", "said"),
        ("D`Angelo", "dangelo"),
        ("D\u00b4Souza", "dsouza"),
        ("Ol\u02b9ga", "olga"),
        ("\u0149", "n"),  # NFKD gives an apostrophe + n
        ("Kaya (geb. Öztürk)", "kaya geb ozturk"),
        ("A^B \u00a8C", "a b c"),
        ("Dr. Ayşe,  Kaya", "dr ayse kaya"),
        ("\u0639\u0640\u0640\u0644\u064a", "\u0639\u0644\u064a"),  # tatweel
        ("\u0645\u06cc\u200c\u0646\u0627", "\u0645\u064a\u0646\u0627"),  # ZWNJ
        ("\u200fLeyla\u200e", "leyla"),  # bidi marks
        ("\u0671\u062d\u0645\u062f", "\u0627\u062d\u0645\u062f"),  # alef wasla
        ("\u0644\u064a\u0644\u0649", "\u0644\u064a\u0644\u064a"),  # alef maksura
        ("Йосип", "иосип"),  # й loses its breve: more candidates
        ("Stra\u1e9ee", "strasse"),  # capital sharp s
        ("\tFatma\nYılmaz\u2003", "fatma yilmaz"),
        ("Fatma\x00Yılmaz", "fatmayilmaz"),  # control characters are dropped
    ],
)
def test_fold_rules(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize("blank", ["", "   ", "\u200b", "-.,'", "\u0640"])
def test_blank_names_have_nothing_to_index(blank: str) -> None:
    assert fold(blank) == ""
    assert tokens(blank) == []
    assert variants(blank) == set()


def test_tokens_drop_duplicates_and_keep_order() -> None:
    assert tokens("Müller-Müller Anna MÜLLER") == ["muller", "anna"]


@given(st.text())
def test_fold_is_idempotent_and_tidy(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded == folded.strip()
    assert "  " not in folded
    assert tokens(folded) == tokens(text)
    assert variants(folded) == variants(text)


def test_fold_is_idempotent_on_every_code_point() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cs":
            continue
        folded = fold(char)
        assert fold(folded) == folded, hex(code)


@pytest.mark.parametrize(
    "raw",
    [
        "+49 231 123-456",
        "0231 123456",
        "0049 (231) 123 456",
        "+49 (0)231 123456",
        "+49 0231 123456",
        "Tel.: 0231/12 34 56",
        "\u0660\u0662\u0663\u0661 \u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic
        "\uff10\uff12\uff13\uff11 123456",  # full-width
    ],
)
def test_phone_numbers_agree(raw: str) -> None:
    assert normalise_phone(raw) == "+49231123456"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("+43 (0)1 234 5678", "+4312345678"),
        ("0043 1 234 5678", "+4312345678"),
        ("0171 2345678", "+491712345678"),
        ("123456", "123456"),  # no prefix: a local number, kept as typed
        ("", ""),
        ("+", ""),
        ("n/a", ""),
    ],
)
def test_phone_edge_cases(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


def test_phone_default_country_is_a_parameter() -> None:
    assert normalise_phone("01 234 5678", country_code="43") == "+4312345678"
    assert normalise_phone("+49 231 123456", country_code="43") == "+49231123456"


@pytest.mark.parametrize(
    "raw",
    [
        "Hauptstraße 5",
        "Hauptstrasse 5",
        "Hauptstr. 5",
        "HAUPTSTR 5",
        "Haupt-Straße 5",
        "Haupt Str. 5",
        "  hauptstr.5 ",
    ],
)
def test_addresses_agree(raw: str) -> None:
    assert normalise_address(raw) == "hauptstr5"


def test_addresses_keep_house_numbers_and_umlauts_join() -> None:
    assert normalise_address("Hauptstr. 5") != normalise_address("Hauptstr. 5a")
    assert normalise_address("Mühlenweg 3") == normalise_address("Muehlenweg 3")
    assert normalise_address("Straße des 17. Juni 1") == "strdes17juni1"


HOME = "Mallinckrodtstraße 12, 44145 Dortmund"


@pytest.mark.parametrize(
    "raw, parsed",
    [
        ("Mallinckrodtstraße 12", Address("mallinckrodtstr12")),
        ("Mallinckrodtstr. 12, 44145 Dortmund", Address("mallinckrodtstr12", "44145")),
        ("44145 Dortmund, Mallinckrodtstraße 12", Address("mallinckrodtstr12", "44145")),
        ("44145 Dortmund Mallinckrodtstrasse 12", Address("mallinckrodtstr12", "44145")),
        ("Mallinckrodtstrasse 12 44145 Dortmund", Address("mallinckrodtstr12", "44145")),
        ("Mallinckrodt-Str.12 ,D-44145   Dortmund", Address("mallinckrodtstr12", "44145")),
        ("mallinckrodt str 12\n44145 dortmund", Address("mallinckrodtstr12", "44145")),
        ("Mallinckrodtstraße12;44145 Dortmund", Address("mallinckrodtstr12", "44145")),
        ("Mallinckrodtstraße ١٢، ٤٤١٤٥ Dortmund", Address("mallinckrodtstr12", "44145")),
    ],
)
def test_every_way_of_writing_an_address_gives_one_street(raw: str, parsed: Address) -> None:
    assert parse_address(raw) == parsed
    assert same_address(raw, HOME) and same_address(HOME, raw)


@pytest.mark.parametrize(
    "raw",
    [
        "Mallinckrodtstraße 14, 44145 Dortmund",  # another house
        "Mallinckrodtstraße 12a, 44145 Dortmund",
        "Mallinckrodtstraße 12, 44147 Dortmund",  # postcodes that differ tell two streets apart
        "Mallinckrodtstraße, 44145 Dortmund",
        "44145 Dortmund",
        "44145",
        "Dortmund",
        "12",
        "",
    ],
)
def test_other_addresses_and_bare_places_do_not_match(raw: str) -> None:
    assert not same_address(raw, HOME) and not same_address(HOME, raw)


def test_a_place_alone_gives_no_street_to_match() -> None:
    assert parse_address("44145 Dortmund") == Address("", "44145")
    assert not same_address("44145 Dortmund", "44145 Dortmund")
    assert not same_address("Dortmund", "Dortmund")


def test_address_decisions_as_documented() -> None:
    assert parse_address("Straße des 17. Juni 1").street == "strdes17juni1"  # a number inside the name stays
    assert same_address("Hauptstr. 5 a", "Hauptstraße 5a")
    assert same_address("Hauptstr. 5, 2. OG", "Hauptstr. 5 Hinterhaus")  # floor and wing are not the house
    assert same_address("c/o Müller, Hauptstr. 5, 44145 Dortmund", "Hauptstrasse 5")
    assert same_address("Mühlenweg 3, Dortmund", "Muehlenweg 3, Berlin")  # cities are not compared
    assert not same_address("60311 Frankfurt am Main Römerberg 1", "Römerberg 1")  # one-word city only



@given(st.text(), st.text())
def test_address_comparison_is_total_and_symmetric(one: str, other: str) -> None:
    assert same_address(one, other) == same_address(other, one)
    assert same_address(one, one) == bool(parse_address(one).street)
