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
"""

from __future__ import annotations

import re
import unicodedata

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


def _undigraph(text: str) -> str:
    return text.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def _digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(char)) for char in text if char.isdecimal())
