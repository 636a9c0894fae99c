"""Consent, enforced: what a consent allows stops the day it expires or is withdrawn.

Three purposes: counselling and data processing, sharing with a named recipient (the release
from confidentiality, Schweigepflichtentbindung), and counting in anonymised statistics. A
disclosure to a recipient needs a sharing consent for that recipient valid on that day; the
statistics count only cases whose statistics consent is valid when the report is made.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from counsel import audit, codes
from counsel.access import CaseDenied, Permission, require
from counsel.clock import today
from counsel.crypto import fold
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.safety import Consent, Disclosure
from counsel.models.user import User


class ConsentError(CounselError):
    """A consent rule refused the action; nothing was recorded or passed on."""


@dataclass
class ConsentInput:
    purpose: str
    given_on: date
    given_how: str
    form_version: str
    expires_on: date | None = None
    recipient_kind: str | None = None
    recipient: str = ""


def of_case(case: Case) -> list[Consent]:
    return list(db.session.scalars(select(Consent).where(Consent.case_id == case.id)
                                   .order_by(Consent.given_on.desc(), Consent.created_at.desc())))


def has_valid(case: Case, purpose: str, day: date | None = None) -> bool:
    return any(c.purpose == purpose and c.valid_on(day or today()) for c in of_case(case))


def record(actor: User, case: Case, data: ConsentInput) -> Consent:
    """Record a consent as given, with how, when, on which form version and until when."""
    require(actor, case, Permission.WRITE)
    if data.purpose not in codes.CONSENT_PURPOSES or data.given_how not in codes.CONSENT_FORMS:
        raise ConsentError(_l("Choose what the consent is for and how it was given."))
    if data.given_on > today():
        raise ConsentError(_l("A consent cannot be given in the future."))
    if data.expires_on is not None and data.expires_on < data.given_on:
        raise ConsentError(_l("A consent cannot expire before it was given."))
    if not data.form_version.strip():
        raise ConsentError(_l("Name the version of the consent form."))
    recipient = data.recipient.strip()
    if data.purpose == "sharing":
        if data.recipient_kind not in codes.REFERRALS or not recipient:
            raise ConsentError(_l("A release from confidentiality names its recipient."))
    else:
        data.recipient_kind, recipient = None, ""
    consent = Consent(id=uuid.uuid4(), case=case, case_id=case.id, purpose=data.purpose,
                      recipient_kind=data.recipient_kind, given_on=data.given_on, given_how=data.given_how,
                      form_version=data.form_version.strip(), expires_on=data.expires_on, recorded_by_id=actor.id)
    consent.recipient = recipient or None
    db.session.add(consent)
    audit.record("consent_recorded", actor=actor, case=case, detail=f"purpose={data.purpose}")
    return consent


def withdraw(actor: User, case: Case, consent: Consent, on: date | None = None) -> None:
    """Withdraw a consent (Widerruf): from that day on it allows nothing."""
    require(actor, case, Permission.WRITE)
    if consent.case_id != case.id:
        raise CaseDenied(actor, consent.case_id, "consents")
    day = on or today()
    if consent.withdrawn_on is not None:
        raise ConsentError(_l("This consent was withdrawn already."))
    if day < consent.given_on:
        raise ConsentError(_l("A consent cannot be withdrawn before it was given."))
    consent.withdrawn_on = day
    audit.record("consent_withdrawn", actor=actor, case=case, detail=f"purpose={consent.purpose}")


def sharing_consent_for(case: Case, recipient_kind: str, recipient: str, day: date) -> Consent | None:
    """Find a sharing consent that is valid on the day for exactly this recipient."""
    wanted = fold(recipient)
    for consent in of_case(case):
        if (consent.purpose == "sharing" and consent.recipient_kind == recipient_kind and consent.valid_on(day)
                and fold(consent.recipient or "") == wanted):
            return consent
    return None


def disclose(actor: User, case: Case, recipient_kind: str, recipient: str, content: str) -> Disclosure:
    """Record data passed to a recipient; refused, with nothing recorded, without a valid release."""
    require(actor, case, Permission.WRITE)
    day = today()
    if recipient_kind not in codes.REFERRALS or not recipient.strip() or not content.strip():
        raise ConsentError(_l("Name the recipient and what is passed on."))
    consent = sharing_consent_for(case, recipient_kind, recipient, day)
    if consent is None:
        raise ConsentError(_l("No valid release from confidentiality for this recipient: nothing was passed on or "
                              "recorded. Record her consent for this recipient first."))
    disclosure = Disclosure(id=uuid.uuid4(), case=case, case_id=case.id, consent_id=consent.id,
                            recipient_kind=recipient_kind, disclosed_on=day, disclosed_by_id=actor.id)
    disclosure.recipient = recipient.strip()
    disclosure.content = content.strip()
    db.session.add(disclosure)
    audit.record("data_disclosed", actor=actor, case=case, detail=f"recipient_kind={recipient_kind}")
    return disclosure


def disclosures_of(case: Case) -> list[Disclosure]:
    return list(db.session.scalars(select(Disclosure).where(Disclosure.case_id == case.id)
                                   .order_by(Disclosure.disclosed_on.desc())))
