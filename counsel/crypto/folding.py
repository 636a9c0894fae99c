"""Name folding for the blind index: which spellings of a name count as the same.

`fold` is the exact key; `variants` and `token_variants` add the forms that are indexed
and searched. The decisions (see docs/encryption.md, tested in tests/crypto):

- Compatibility forms meet (NFKD): full-width "Ｆａｔｍａ" is "fatma".
- Every combining mark is dropped (Mn, Mc, Me): accents, umlauts, cedillas, Arabic
  tashkeel, hamza above or below alef. Consequence: Ukrainian ї/і and й/и merge, and so
  do letters that differ only by a mark in any script; that gives more candidates, and
  the adviser sees only the ones that match under these rules after decryption.
- Format and control characters are dropped (zero-width space, ZWJ, ZWNJ, bidi marks),
  and so is the Arabic tatweel (a stretching stroke, not a letter).
- Case is folded after mapping Turkish dotless ı to i (İ loses its dot as a mark);
  casefolding turns ß into ss.
- Arabic-script letters typed on Persian and Arabic keyboards are unified: Persian yeh
  and alef maksura become yeh, keheh becomes kaf, alef wasla becomes bare alef, and taa
  marbuta becomes heh (فاطمة = فاطمه, the common Persian spelling of Arabic names).
- Apostrophes of every kind (' ’ ʼ ʻ ʿ ʾ ʹ ` ´ ′) are deleted, joining what they
  separate: "Sa'id" = "Said", "Мар'яна" = "Маряна", "Ol'ga" = "Olga" (and, rarely
  relevant, "O'Brien" = "OBrien" but not "O Brien").
- Other punctuation (hyphens, dots, commas, brackets) and spacing modifier symbols
  (^ ¨) separate tokens; any run of whitespace is one space.
- Token order does not matter: the whole name is indexed with its tokens sorted, and
  each token on its own, so "Yılmaz Fatma" = "Fatma Yılmaz" and "Yılmaz" finds both.
- German ae/oe/ue = ä/ö/ü: every form is also indexed with each ae, oe and ue replaced
  by a, o and u, so "Mueller", "Müller" and "Muller" find one another. The price:
  "Manuel" is also indexed as "manul" and "Michael" as "michal", so a search for
  "Michal" lists "Michael" too. Under these rules they are equal, so confirmation
  keeps them; the adviser decides. Only replacing every digraph is indexed: it is the
  form on which any two spellings meet, so replacing some and not others adds rows to
  the index but no matches.
- Transliterations across scripts are NOT joined: Fatma, Fatima, Fatemeh and فاطمة are
  four names to the index. The UI must say so and let the adviser record other
  spellings of a name.

Addresses (`parse_address`, `same_address`) are compared by street and house number, the
part people write in many ways and that names one building; the postcode only tells two
buildings apart, and the city is not compared at all:

- Commas, semicolons and line breaks separate the parts; a German postcode (five digits,
  an optional "D-" before it) starts the place part even without a comma before it. So
  "Mallinckrodtstraße 12", "Mallinckrodtstr. 12, 44145 Dortmund", "Mallinckrodtstrasse 12
  44145 Dortmund" and "44145 Dortmund, Mallinckrodtstraße 12" all give one street key.
- Without a comma after the city ("44145 Dortmund Mallinckrodtstraße 12") the city is taken
  to be one word: "60311 Frankfurt am Main Römerberg 1" is not joined to "Römerberg 1".
- The street is the first part that has a house number (digits and an optional letter, "12a")
  after at least one word, up to its last number: "Straße des 17. Juni 1" keeps its 17, and
  "Hauptstr. 5, 2. OG" or "Hauptstr. 5 Hinterhaus" are "Hauptstr. 5". Words are folded like
  names, "straße"/"strasse"/"str." at the end of a word all become "str", and the words are
  joined without spaces, so "Haupt-Straße" = "Hauptstr" and "12 a" = "12a".
- Two addresses are the same when their street keys agree and their postcodes do not differ
  (an address without a postcode agrees with any). "Hauptstraße 5" in two cities, written
  without postcodes, is one address to the check: a needless question costs less than a
  missed warning. Without a street and house number there is no key at all: a city, a
  postcode or the name of an accommodation alone is shared by too many people to warn.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DROPPED = frozenset({"Mn", "Mc", "Me", "Cf", "Cc"})
_LETTERS = {
    "\u0131": "i",  # Turkish dotless ı: no decomposition, casefold keeps it
    "\u0640": "",  # Arabic tatweel
    "\u06cc": "\u064a",  # Persian yeh -> Arabic yeh
    "\u0649": "\u064a",  # alef maksura -> yeh
    "\u06a9": "\u0643",  # keheh -> kaf
    "\u0671": "\u0627",  # alef wasla -> alef (hamza forms lose their mark in NFKD)
    "\u0629": "\u0647",  # taa marbuta -> heh
}
# Apostrophes are deleted, not separators: "Sa'id" is "Said". The acute accent goes
# before NFKD, which would split it into a space and a combining mark.
_APOSTROPHES = "'\u2018\u2019\u201b\u02b9\u02bb\u02bc\u02bd\u02be\u02bf`\u00b4\u2032"
_LETTERS.update(dict.fromkeys(_APOSTROPHES, ""))
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_STREET = re.compile("strasse$")
_ADDRESS_PARTS = re.compile("[,;\n\r\u060c\uff0c]+")  # also the Arabic and the full-width comma
_POSTCODE = re.compile(r"[0-9]{5}")
_HOUSE_NUMBER = re.compile(r"[0-9]{1,4}[a-z]?")
_NUMBER_START = re.compile(r"(?<=[^\W\d_])(?=[0-9])")
_TABLE_LIMIT = 8192


class _FoldTable(dict[int, str]):
    """Map each code point to its folded form, computed on first sight."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _LETTERS:
            folded = _LETTERS[char]
        elif char.isspace():
            folded = " "
        else:
            category = unicodedata.category(char)
            if category in _DROPPED:
                folded = ""
            elif category[0] == "P" or category == "Sk":
                folded = " "
            else:
                folded = char
        if len(self) < _TABLE_LIMIT:  # bound the memory arbitrary input can claim
            self[code] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Reduce a name to the key on which its spellings under our rules meet."""
    text = unicodedata.normalize("NFKD", text.replace("\u00b4", ""))
    folded = text.casefold().translate(_TABLE)
    return " ".join(folded.split())


def tokens(text: str) -> list[str]:
    """Split a folded name into its distinct tokens, so any one of them can be found."""
    return list(dict.fromkeys(fold(text).split()))


def token_variants(token: str) -> set[str]:
    """Give a folded token its German ae/oe/ue form, so Mueller meets Müller."""
    return {token, _undigraph(token)}


def variants(text: str) -> set[str]:
    """Give the whole-name forms to index, blind to token order and ae/oe/ue."""
    parts = tokens(text)
    if not parts:
        return set()
    replaced = {_undigraph(part) for part in parts}
    return {" ".join(sorted(parts)), " ".join(sorted(replaced))}


def normalise_phone(text: str, country_code: str = "49") -> str:
    """Reduce a phone number to +<country><number>, so each way of writing it agrees."""
    text = unicodedata.normalize("NFKC", text)
    digits = _digits(text)
    first_digit = next((i for i, char in enumerate(text) if char.isdecimal()), 0)
    plus = "+" in text[:first_digit]
    if plus or digits.startswith("00"):
        digits = _digits(_TRUNK_ZERO.sub("", text))  # "+49 (0)231 …"
        body = digits if plus else digits[2:]
    elif digits.startswith("0"):
        body = country_code + digits[1:]
    else:
        return digits  # no prefix at all: a local number, kept as typed
    if body.startswith(country_code + "0"):  # "+49 0231 …": trunk zero kept by mistake
        body = country_code + body[len(country_code) + 1 :]
    return "+" + body if body else ""


def normalise_address(text: str) -> str:
    """Reduce an address to one key, so "Hauptstr. 5" and "Haupt-Straße 5" agree."""
    parts = [_STREET.sub("str", part) for part in fold(text).split()]
    return _undigraph("".join(parts))


@dataclass(frozen=True)
class Address:
    """What the conflict check compares of an address: street with house number, and postcode."""

    street: str = ""
    postcode: str = ""


def parse_address(text: str) -> Address:
    """Find the street with house number and the postcode, in whatever order they were written."""
    street = postcode = ""
    for part in _address_parts(text):
        if _POSTCODE.fullmatch(part[0]):
            postcode = postcode or part[0]
            part = part[2:]  # a street after the place: "44145 Dortmund Hauptstr. 5"
        street = street or _street(part)
    return Address(street, postcode)


def same_address(one: str, other: str) -> bool:
    """Tell whether two addresses name one building under the rules above."""
    a, b = parse_address(one), parse_address(other)
    return a.street != "" and a.street == b.street and (not a.postcode or not b.postcode or a.postcode == b.postcode)


def _address_parts(text: str) -> list[list[str]]:
    """Split an address at commas and line breaks, and before each postcode."""
    parts: list[list[str]] = []
    for segment in _ADDRESS_PARTS.split(text):
        words: list[str] = []
        digits = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in fold(segment))  # "١٢" = 12
        for word in _NUMBER_START.sub(" ", digits).split():  # "Hauptstr12" = "Hauptstr 12"
            if _POSTCODE.fullmatch(word):
                if words[-1:] == ["d"]:  # "D-44145": the country, not part of the street
                    words.pop()
                parts.append(words)
                words = []
            words.append(word)
        parts.append(words)
    return [part for part in parts if part]


def _street(words: list[str]) -> str:
    """Key a street with its house number, or give "" when the words hold none."""
    numbers = [i for i, word in enumerate(words) if i > 0 and _HOUSE_NUMBER.fullmatch(word)]
    if not numbers or not any(not word.isdecimal() for word in words[: numbers[-1]]):
        return ""
    end = numbers[-1] + 1
    if words[end : end + 1] and len(words[end]) == 1 and words[end].isalpha():  # "12 a"
        end += 1
    return normalise_address(" ".join(words[:end]))


def _undigraph(text: str) -> str:
    return text.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def _digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(char)) for char in text if char.isdecimal())
