"""Language tags (BCP 47): validation, the picker's list, names in the interface language, relatives.

Names come from Babel's CLDR data; the few tags common in this field that CLDR does not
name (Kurmanji, Dari as `prs`, Assyrian, the Levantine and Iraqi Arabic varieties) are named
here. A tag is accepted only when its language is named by one of the two, so that a typed
word ("Arabisch", "xx") never becomes a tag that matches nobody and skews the statistics.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global

# language (2-3 letters, or 4-8 registered), optional script, region and variants (RFC 5646, simplified).
TAG_PATTERN = re.compile(
    r"^(?P<language>[a-z]{2,3}|[a-z]{5,8})"
    r"(?:-(?P<script>[A-Z][a-z]{3}))?"
    r"(?:-(?P<region>[A-Z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[0-9a-z]{5,8}|[0-9][0-9a-z]{3}))*)$"
)

SUPPLEMENT = {
    "kmr": {"de": "Nordkurdisch (Kurmandschi)", "en": "Northern Kurdish (Kurmanji)"},
    "prs": {"de": "Dari", "en": "Dari"},
    "aii": {"de": "Assyrisch-Neuaramäisch", "en": "Assyrian Neo-Aramaic"},
    "rmn": {"de": "Balkan-Romani", "en": "Balkan Romani"},
    "apc": {"de": "Levantinisches Arabisch", "en": "Levantine Arabic"},
    "acm": {"de": "Irakisches Arabisch", "en": "Mesopotamian Arabic"},
}

# Languages most often asked for in the network's counselling, offered first in the picker.
COMMON_TAGS = (
    "de", "ar", "fa", "prs", "ps", "ku", "kmr", "ckb", "sdh", "zza", "tr", "ti", "am", "om", "so",
    "uk", "ru", "ro", "bg", "pl", "sq", "sr", "bs", "mk", "rom", "en", "fr", "es", "it", "pt",
    "ur", "hi", "bn", "ta", "ka", "hy", "az", "vi", "zh", "ha", "yo", "ig", "ff", "wo", "ln",
    "sw", "tig", "aii", "syr", "he", "ky", "uz", "tk",
)

# CLDR names these codes, but none is a language a person speaks.
NOT_LANGUAGES = frozenset({"und", "zxx", "mul", "mis"})

# ISO 639-3 macrolanguages and those of their member languages that clients here speak. A client
# tagged with one side may be counselled by an adviser tagged with the other; sister languages are
# not matched (Kurmanji and Sorani, say, are not mutually intelligible).
MACROLANGUAGES: dict[str, frozenset[str]] = {
    "ar": frozenset({"arb", "apc", "ajp", "acm", "afb", "arz", "ary", "arq", "aeb", "ayl", "ars", "apd", "shu"}),
    "fa": frozenset({"pes", "prs"}),
    "ku": frozenset({"kmr", "ckb", "sdh"}),
    "ps": frozenset({"pbt", "pbu", "pst"}),
    "sq": frozenset({"als", "aln"}),
    "om": frozenset({"gaz", "hae", "orc"}),
    "sw": frozenset({"swh", "swc"}),
    "zh": frozenset({"cmn", "yue", "wuu", "hak", "nan", "gan", "hsn"}),
}
_MACRO_OF = {member: macro for macro, members in MACROLANGUAGES.items() for member in members}

UI_LANGUAGES = ("de", "en")


class UnknownLanguage(ValueError):
    """Typed text names no language counsel knows; `value` is what was typed, to show it back."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


@cache
def _cldr() -> Locale:
    """CLDR's English data: the reference list of the scripts, regions and variants a tag may name."""
    return Locale("en")


@cache
def _named_languages(locale: str | None = None) -> frozenset[str]:
    """Language subtags named by CLDR (in one interface language, or in either) or by the supplement."""
    codes = (str(code) for ui in ((locale,) if locale else UI_LANGUAGES) for code in Locale.parse(ui).languages)
    named = {code for code in codes if "_" not in code}
    return frozenset((named - NOT_LANGUAGES) | set(SUPPLEMENT))


def _canonical_language(code: str) -> str | None:
    """Return a named language subtag, following CLDR's aliases ("ara" -> "ar", "iw" -> "he")."""
    if code in _named_languages():
        return code
    alias = get_global("language_aliases").get(code)
    return alias if isinstance(alias, str) and alias in _named_languages() else None


def normalise_tag(raw: str) -> str | None:
    """Return the canonical form of a language tag ("AR-sy" -> "ar-SY"), or None if it is not one."""
    parts = raw.strip().replace("_", "-").split("-")
    if not parts or not parts[0]:
        return None
    canonical = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            canonical.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            canonical.append(part.upper())
        else:
            canonical.append(part.lower())
    tag = "-".join(canonical)
    return tag if TAG_PATTERN.match(tag) else None


def known_tag(raw: str) -> str | None:
    """Return the canonical tag if CLDR (or the supplement) names its language, script, region and variants."""
    tag = normalise_tag(raw)
    match = TAG_PATTERN.match(tag or "")
    if match is None:
        return None
    language = _canonical_language(match.group("language"))
    script, region = match.group("script"), match.group("region")
    variants = [v for v in match.group("variants").split("-") if v]
    cldr = _cldr()
    if (language is None or (script and script not in cldr.scripts) or (region and region not in cldr.territories)
            or any(v.upper() not in cldr.variants for v in variants)):
        return None
    return "-".join([language, *filter(None, [script, region]), *variants])


def _fold(text: str) -> str:
    """Fold a typed name for comparison: case, accents and spacing do not count."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


@cache
def _tags_by_name() -> dict[str, str]:
    """Map the folded German and English names of every known language to its tag.

    The supplement's names come first, then whole languages, then CLDR's regional names, so
    "Dari" is `prs` (as the picker offers it) rather than `fa-AF`.
    """
    names: dict[str, str] = {}
    for code, by_locale in SUPPLEMENT.items():
        for name in by_locale.values():
            names.setdefault(_fold(name), code)
    for whole in (True, False):
        for ui in UI_LANGUAGES:
            for code, name in sorted(Locale(ui).languages.items()):
                if ("_" not in code) == whole and code not in NOT_LANGUAGES:
                    names.setdefault(_fold(str(name)), code.replace("_", "-"))
    return names


def tag_of_name(name: str) -> str | None:
    """Return the tag of a language typed by its German or English name ("arabisch", "Arabic" -> "ar")."""
    return _tags_by_name().get(_fold(name))


def parse_language(value: str) -> str:
    """Read what the picker sends ("Arabisch (ar)"), a bare tag, or a language's name; return its tag.

    Raises UnknownLanguage for anything else, so the form can say so and keep what was typed.
    """
    text = " ".join(value.split())
    if text.endswith(")") and "(" in text:
        if tag := known_tag(text[text.rindex("(") + 1 : -1]):
            return tag
    tag = known_tag(text) or tag_of_name(text)
    if tag is None:
        raise UnknownLanguage(value)
    return tag


def parse_picker_value(value: str) -> str | None:
    """Like parse_language, but None for text that names no known language."""
    try:
        return parse_language(value)
    except UnknownLanguage:
        return None


def language_name(tag: str, locale: str) -> str:
    """Name a tag in the interface language: "ckb" -> "Zentralkurdisch", "ar-SY" -> "Arabisch (Syrien)"."""
    match = TAG_PATTERN.match(tag)
    if not match:
        return tag
    try:
        ui = Locale.parse(locale)
    except (ValueError, UnknownLocaleError):
        ui = Locale("en")
    language = match.group("language")
    whole = ui.languages.get(tag.replace("-", "_"))
    if whole:
        return str(whole)
    base = SUPPLEMENT.get(language, {}).get(ui.language) or ui.languages.get(language)
    if not base:
        return tag
    details = [ui.scripts.get(match.group("script") or "", ""), ui.territories.get(match.group("region") or "", "")]
    details = [d for d in details if d]
    return f"{base} ({', '.join(details)})" if details else str(base)


@cache
def picker_options(locale: str) -> tuple[tuple[str, str], ...]:
    """Return (tag, label) for the picker: common languages first, then every other known language.

    Built once per interface language: every page with a language field renders the whole list.
    """
    seen = set(COMMON_TAGS)
    others = sorted((code for code in _named_languages(locale) if code not in seen and len(code) <= 3),
                    key=lambda code: language_name(code, locale).casefold())
    return tuple((tag, f"{language_name(tag, locale)} ({tag})") for tag in (*COMMON_TAGS, *others))


def base_language(tag: str) -> str:
    """The language subtag of a tag: "ar-SY" -> "ar"."""
    return tag.split("-")[0]


def related_languages(language: str) -> frozenset[str]:
    """The language itself and its macrolanguage relatives: "ku" -> ku, kmr, ckb, sdh; "prs" -> prs, fa."""
    if language in MACROLANGUAGES:
        return MACROLANGUAGES[language] | {language}
    macro = _MACRO_OF.get(language)
    return frozenset({language, macro}) if macro else frozenset({language})
