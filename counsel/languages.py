"""Language tags (BCP 47): validation, the picker's list, and names in the interface language.

Names come from Babel's CLDR data; the few tags common in this field that CLDR does not
name (Kurmanji, Dari as `prs`, Assyrian) are named here.
"""

from __future__ import annotations

import re

from babel import Locale, UnknownLocaleError

# language (2-3 letters, or 4-8 registered), optional script, region and variants (RFC 5646, simplified).
TAG_PATTERN = re.compile(
    r"^(?P<language>[a-z]{2,3}|[a-z]{5,8})"
    r"(?:-(?P<script>[A-Z][a-z]{3}))?"
    r"(?:-(?P<region>[A-Z]{2}|[0-9]{3}))?"
    r"(?:-(?:[0-9a-z]{5,8}|[0-9][0-9a-z]{3}))*$"
)

SUPPLEMENT = {
    "kmr": {"de": "Nordkurdisch (Kurmandschi)", "en": "Northern Kurdish (Kurmanji)"},
    "prs": {"de": "Dari", "en": "Dari"},
    "aii": {"de": "Assyrisch-Neuaramäisch", "en": "Assyrian Neo-Aramaic"},
    "rmn": {"de": "Balkan-Romani", "en": "Balkan Romani"},
}

# Languages most often asked for in the network's counselling, offered first in the picker.
COMMON_TAGS = (
    "de", "ar", "fa", "prs", "ps", "ku", "kmr", "ckb", "sdh", "zza", "tr", "ti", "am", "om", "so",
    "uk", "ru", "ro", "bg", "pl", "sq", "sr", "bs", "mk", "rom", "en", "fr", "es", "it", "pt",
    "ur", "hi", "bn", "ta", "ka", "hy", "az", "vi", "zh", "ha", "yo", "ig", "ff", "wo", "ln",
    "sw", "tig", "aii", "syr", "he", "ky", "uz", "tk",
)


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


def picker_options(locale: str) -> list[tuple[str, str]]:
    """Return (tag, label) for the picker: common languages first, then every other CLDR language."""
    ui = Locale.parse(locale)
    seen = set(COMMON_TAGS)
    codes = [str(code) for code in ui.languages]
    others = sorted(
        (code for code in codes if "_" not in code and code not in seen and len(code) <= 3),
        key=lambda code: str(ui.languages[code]).casefold(),
    )
    return [(tag, f"{language_name(tag, locale)} ({tag})") for tag in (*COMMON_TAGS, *others)]


def parse_picker_value(value: str) -> str | None:
    """Accept what the picker sends: "Arabisch (ar)", or a bare tag; return the tag or None."""
    value = value.strip()
    if value.endswith(")") and "(" in value:
        value = value[value.rindex("(") + 1 : -1]
    return normalise_tag(value)
