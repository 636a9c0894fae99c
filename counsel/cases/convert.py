"""Between stored records and the shapes outside them: forms, service inputs and the export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from counsel.cases.forms import LANGUAGE_ROWS, CaseForm, ConsultationForm
from counsel.clock import today
from counsel.i18n import language_name
from counsel.languages import parse_language
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.safety import Consent, Disclosure, RiskAssessment
from counsel.services.cases import CaseInput, LanguageEntry
from counsel.services.consultations import ConsultationInput


def picker_label(tag: str) -> str:
    """Show a stored tag the way the picker offers it: "Arabisch (ar)"."""
    return f"{language_name(tag)} ({tag})"


def _languages(form: CaseForm) -> list[LanguageEntry]:
    """The language rows she filled in (the form's validator has refused unknown languages)."""
    return [LanguageEntry(parse_language(row.form.tag.data or ""), row.form.mode.data or "",
                          bool(row.form.preferred.data))
            for row in form.languages if (row.form.tag.data or "").strip()]


def case_input(form: CaseForm) -> CaseInput:
    """Read a submitted case form into the service's input."""
    return CaseInput(
        name=form.name.data or "",
        pseudonym=form.pseudonym.data or "",
        other_spellings=form.other_spellings.data or "",
        date_of_birth=form.date_of_birth.data,
        age_band=form.age_band.data or "unknown",
        phone=form.phone.data or "",
        email=form.email.data or "",
        address=form.address.data or "",
        safe_contact=form.safe_contact.data or "",
        children=form.children.data or "",
        notes=form.notes.data or "",
        country=form.country.data or None,
        residence_status=form.residence_status.data or "unknown",
        perpetrator_relation=form.perpetrator_relation.data or "unknown",
        referral_source=form.referral_source.data or None,
        violence_forms=set(form.violence_forms.data or []),
        languages=_languages(form),
    )


def fill_case_form(case: Case) -> CaseForm:
    """Show a stored case in the form, decrypted, with its version for optimistic locking."""
    born = date.fromisoformat(case.date_of_birth) if case.date_of_birth else None
    form = CaseForm(
        formdata=None,
        name=case.name, pseudonym=case.pseudonym, other_spellings=case.other_spellings, date_of_birth=born,
        age_band=case.age_band, phone=case.phone, email=case.email, address=case.address,
        safe_contact=case.safe_contact, children=case.children, notes=case.notes, country=case.country or "",
        residence_status=case.residence_status, perpetrator_relation=case.perpetrator_relation,
        referral_source=case.referral_source or "", violence_forms=sorted(case.violence_forms),
        version=str(case.version),
    )
    for row, language in zip(form.languages, case.languages[:LANGUAGE_ROWS], strict=False):
        row.form.tag.data = picker_label(language.tag)
        row.form.mode.data = language.mode
        row.form.preferred.data = language.preferred
    return form


def consultation_input(form: ConsultationForm) -> ConsultationInput:
    """Read a submitted consultation form into the service's input."""
    return ConsultationInput(
        held_on=form.held_on.data or today(),
        minutes=form.minutes.data or 0,
        channel=form.channel.data or "",
        language=parse_language(form.language.data or "") if (form.language.data or "").strip() else None,
        interpreting=form.interpreting.data or "none",
        interpreter=form.interpreter.data or "",
        pledge_on_file=bool(form.pledge_on_file.data),
        topics=set(form.topics.data or []),
        referrals=set(form.referrals.data or []),
        notes=form.notes.data or "",
        follow_up_on=form.follow_up_on.data,
    )


def fill_consultation_form(consultation: Consultation | None, case: Case) -> ConsultationForm:
    """A stored consultation in the form, or a new one in the client's preferred language."""
    if consultation is None:
        preferred = case.preferred_language
        return ConsultationForm(formdata=None, held_on=today(), minutes=60, channel="in_person",
                                language=picker_label(preferred) if preferred else "", interpreting="none")
    return ConsultationForm(
        formdata=None, held_on=consultation.held_on, minutes=consultation.minutes, channel=consultation.channel,
        language=picker_label(consultation.language) if consultation.language else "",
        interpreting=consultation.interpreting,
        interpreter=consultation.interpreter, pledge_on_file=consultation.pledge_on_file,
        topics=sorted(consultation.topics), referrals=sorted(consultation.referrals), notes=consultation.notes,
        follow_up_on=consultation.follow_up_on, version=str(consultation.version),
    )


CASE_EXPORT_FIELDS = ("name", "pseudonym", "other_spellings", "date_of_birth", "children", "phone", "email",
                      "address", "safe_contact", "notes", "safety_plan", "age_band", "country", "residence_status",
                      "perpetrator_relation", "referral_source")


@dataclass(frozen=True)
class Dossier:
    """Everything stored about her in one case: what her access request (Art. 15 GDPR) copies.

    Not the alleged perpetrators' records (data about other people) and not the audit trail
    (data about staff); the copy says so.
    """

    case: Case
    consultations: list[Consultation]
    consents: list[Consent]
    disclosures: list[Disclosure]
    assessments: list[RiskAssessment]


def case_export(dossier: Dossier, at: datetime) -> dict[str, Any]:
    """Everything stored about her in a case, decrypted, for her access request (Art. 15 GDPR).

    Coded fields keep their codes, as counsel's statistics use them; the printable copy names them.
    """
    case = dossier.case
    return {
        "case_number": case.number,
        "exported_at": at.isoformat(timespec="seconds"),
        "site": case.site.name,
        "held_by": case.owner.display_name,
        "status": case.status,
        "opened_month": f"{case.opened_month:%Y-%m}",
        "closed_month": f"{case.closed_month:%Y-%m}" if case.closed_month else None,
        **{name: getattr(case, name) for name in CASE_EXPORT_FIELDS},
        "violence_forms": sorted(case.violence_forms),
        "languages": [{"tag": lang.tag, "mode": lang.mode, "preferred": lang.preferred} for lang in case.languages],
        "consultations": [_consultation_export(c) for c in dossier.consultations],
        "consents": [_consent_export(c) for c in dossier.consents],
        "data_passed_on": [_disclosure_export(d) for d in dossier.disclosures],
        "risk_assessments": [_assessment_export(a) for a in dossier.assessments],
    }


def _consultation_export(consultation: Consultation) -> dict[str, Any]:
    return {
        "held_on": consultation.held_on.isoformat(),
        "minutes": consultation.minutes,
        "channel": consultation.channel,
        "language": consultation.language,
        "interpreting": consultation.interpreting,
        "interpreter": consultation.interpreter,
        "pledge_on_file": consultation.pledge_on_file,
        "topics": sorted(consultation.topics),
        "referrals": sorted(consultation.referrals),
        "notes": consultation.notes,
        "follow_up_on": _day(consultation.follow_up_on),
        "by": consultation.author.display_name,
    }


def _consent_export(consent: Consent) -> dict[str, Any]:
    return {
        "purpose": consent.purpose,
        "recipient_kind": consent.recipient_kind,
        "recipient": consent.recipient,
        "given_on": consent.given_on.isoformat(),
        "given_how": consent.given_how,
        "form_version": consent.form_version,
        "expires_on": _day(consent.expires_on),
        "withdrawn_on": _day(consent.withdrawn_on),
    }


def _disclosure_export(disclosure: Disclosure) -> dict[str, Any]:
    return {
        "disclosed_on": disclosure.disclosed_on.isoformat(),
        "recipient_kind": disclosure.recipient_kind,
        "recipient": disclosure.recipient,
        "content": disclosure.content,
        "by": disclosure.disclosed_by.display_name,
    }


def _assessment_export(assessment: RiskAssessment) -> dict[str, Any]:
    return {
        "assessed_on": assessment.assessed_on.isoformat(),
        "level": assessment.level,
        "indicators": sorted(assessment.indicator_codes),
        "reasoning": assessment.reasoning,
        "review_on": assessment.review_on.isoformat(),
        "by": assessment.assessed_by.display_name,
    }


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None
