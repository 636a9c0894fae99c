"""The coded values cases and consultations carry for statistics, with their translated labels.

Codes are stored as plaintext: they are coarse on purpose and are what anonymised
statistics aggregate in SQL. Labels are translated when shown. The order here is the order
in forms and reports.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

CodeTable = Mapping[str, object]

RESIDENCE_STATUS: CodeTable = {
    "asylum_procedure": _l("Asylum procedure (Aufenthaltsgestattung)"),
    "tolerated_stay": _l("Tolerated stay (Duldung)"),
    "residence_permit": _l("Residence permit"),
    "settlement_permit": _l("Settlement permit"),
    "eu_citizen": _l("EU citizen"),
    "german_citizen": _l("German citizen"),
    "no_papers": _l("No papers"),
    "unknown": _l("Unknown"),
}

VIOLENCE_FORMS: CodeTable = {
    "physical": _l("Physical"),
    "sexual": _l("Sexualised"),
    "psychological": _l("Psychological"),
    "economic": _l("Economic"),
    "digital": _l("Digital"),
    "stalking": _l("Stalking"),
    "forced_marriage": _l("Forced marriage"),
    "fgm": _l("FGM/C (female genital mutilation)"),
    "honour": _l("Violence in the name of honour"),
    "trafficking": _l("Trafficking / exploitation"),
}
# Forms rare enough to identify a person when crossed with other features (see reports).
RARE_VIOLENCE_FORMS = frozenset({"forced_marriage", "fgm", "honour", "trafficking"})

RELATIONSHIPS: CodeTable = {
    "partner": _l("Husband / partner"),
    "ex_partner": _l("Former husband / partner"),
    "family": _l("Own family"),
    "in_laws": _l("Family of the husband / partner"),
    "acquaintance": _l("Acquaintance"),
    "employer": _l("Employer / landlord"),
    "stranger": _l("Stranger"),
    "other": _l("Other"),
    "unknown": _l("Unknown"),
}

REFERRAL_SOURCES: CodeTable = {
    "self": _l("On her own"),
    "friends_family": _l("Friends or family"),
    "community": _l("Migrant organisation / community"),
    "counselling": _l("Other counselling service"),
    "shelter": _l("Women's shelter"),
    "police": _l("Police"),
    "health": _l("Doctor / health care"),
    "youth_office": _l("Youth welfare office"),
    "authority": _l("Other authority"),
    "school": _l("School / day care / course"),
    "online": _l("Internet / social media"),
    "helpline": _l("Helpline"),
    "other": _l("Other"),
}

AGE_BANDS: CodeTable = {
    "under_18": _l("under 18"),
    "18_26": _l("18–26"),
    "27_35": _l("27–35"),
    "36_45": _l("36–45"),
    "46_60": _l("46–60"),
    "over_60": _l("over 60"),
    "unknown": _l("unknown"),
}

CASE_STATUS: CodeTable = {"open": _l("open"), "closed": _l("closed")}

LANGUAGE_MODES: CodeTable = {
    "native": _l("Native language"),
    "fluent": _l("Fluent"),
    "basic": _l("Basic"),
    "written": _l("Written only"),
    "interpreter": _l("Interpreter required"),
}

CHANNELS: CodeTable = {
    "in_person": _l("In person"),
    "phone": _l("Phone"),
    "video": _l("Video"),
    "accompaniment": _l("Accompaniment (authority, court, doctor)"),
    "outreach": _l("Outreach"),
}

INTERPRETING: CodeTable = {
    "none": _l("None needed"),
    "adviser": _l("Adviser speaks the language"),
    "professional": _l("Professional interpreter"),
    "volunteer": _l("Volunteer language mediator"),
    "family": _l("Family member (risk!)"),
}
RISKY_INTERPRETING = frozenset({"family"})

TOPICS: CodeTable = {
    "protection": _l("Protection from violence (GewSchG)"),
    "residence": _l("Residence law"),
    "asylum": _l("Asylum procedure"),
    "housing": _l("Housing and shelter"),
    "money": _l("Benefits and money"),
    "health": _l("Health"),
    "children": _l("Children and custody"),
    "work": _l("Education and work"),
    "other": _l("Other"),
}

REFERRALS: CodeTable = {
    "shelter": _l("Women's shelter"),
    "specialised": _l("Specialised counselling centre"),
    "police": _l("Police"),
    "lawyer": _l("Lawyer"),
    "court": _l("Court"),
    "youth_office": _l("Youth welfare office (Jugendamt)"),
    "immigration_office": _l("Immigration office (Ausländerbehörde)"),
    "job_centre": _l("Job centre"),
    "health_care": _l("Health care"),
    "equality_office": _l("Equal opportunities office"),
    "integration_centre": _l("Municipal integration centre"),
    "helpline": _l("National helpline 116 016"),
}


def choices(table: CodeTable) -> list[tuple[str, str]]:
    """Return (code, label) pairs in table order, labels translated now."""
    return [(code, str(label)) for code, label in table.items()]


def label(table: CodeTable, code: str | None) -> str:
    """Return the translated label of a code, or the code itself if it is unknown."""
    if code is None:
        return ""
    return str(table.get(code, code))

CONSENT_PURPOSES: CodeTable = {
    "processing": _l("Counselling and data processing"),
    "sharing": _l("Sharing with a named recipient (release from confidentiality)"),
    "statistics": _l("Counting in anonymised statistics"),
}

CONSENT_FORMS: CodeTable = {
    "written": _l("Signed in writing"),
    "verbal": _l("Given verbally, noted by the adviser"),
    "interpreted": _l("Given verbally through an interpreter"),
    "digital": _l("Given digitally (e-mail, messenger)"),
}

# Structured risk checklist (Gefährdungseinschätzung). Red flags alone make the level high.
RISK_INDICATORS: CodeTable = {
    "threat_to_kill": _l("Threats to kill her or the children"),
    "strangulation": _l("Strangulation or choking"),
    "weapon": _l("Weapon used or available"),
    "fear_for_life": _l("She fears for her life"),
    "escalation": _l("Violence becoming more frequent or more severe"),
    "separation": _l("Separation recent or planned"),
    "stalking": _l("Stalking, controlling, monitoring her phone"),
    "children_threatened": _l("Children threatened or harmed"),
    "pregnancy": _l("Pregnancy or a new baby"),
    "order_violated": _l("Protection order or ban violated"),
    "substance": _l("Alcohol or drug abuse by him"),
    "family_pressure": _l("Pressure or threats from the wider family"),
    "isolation": _l("Isolated, without a network or language access"),
    "residence_threat": _l("Threatened with loss of her residence status"),
}
RED_FLAGS = frozenset({"threat_to_kill", "strangulation", "weapon", "fear_for_life"})

RISK_LEVELS: CodeTable = {
    "standard": _l("Standard"),
    "elevated": _l("Elevated"),
    "high": _l("High"),
}
