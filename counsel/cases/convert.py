"""Between forms and service inputs: the only place that knows both shapes."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l

from counsel.access import today
from counsel.cases.forms import LANGUAGE_ROWS, CaseForm, ConsultationForm
from counsel.i18n import language_name
from counsel.languages import parse_picker_value
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.services.cases import CaseInput, CaseInputError, LanguageEntry
from counsel.services.consultations import ConsultationInput


def picker_label(tag: str) -> str:
    """Show a stored tag the way the picker offers it: "Arabisch (ar)"."""
    return f"{language_name(tag)} ({tag})"


def unknown_language(value: str) -> CaseInputError:
    return CaseInputError(_l("“%(value)s” is not a language tag; pick a language from the list, or type a tag "
                             "such as ar or ckb.", value=value))


def _languages(form: CaseForm) -> list[LanguageEntry]:
    entries = []
    for row in form.languages:
        raw = (row.form.tag.data or "").strip()
        if not raw:
            continue
        tag = parse_picker_value(raw)
        if tag is None:
            raise unknown_language(raw)
        entries.append(LanguageEntry(tag, row.form.mode.data or "", bool(row.form.preferred.data)))
    return entries


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
    language = parse_picker_value(form.language.data or "") if form.language.data else None
    if form.language.data and language is None:
        raise unknown_language(form.language.data)
    return ConsultationInput(
        held_on=form.held_on.data or today(),
        minutes=form.minutes.data or 0,
        channel=form.channel.data or "",
        language=language,
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
