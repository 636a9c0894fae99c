"""Consent, alleged perpetrators, risk assessments, emergency access and in-app notifications.

These records protect the client: consent is enforced (an expired or withdrawn consent stops
what it allowed), perpetrators feed the conflict check through blind indexes, and every
emergency access is justified, time-limited and announced to the case's owner and supervisors.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from counsel.clock import utcnow
from counsel.extensions import Base
from counsel.models.case import Case
from counsel.models.encrypted import Encrypted, EncryptedRecord, KeyHolder
from counsel.models.types import ciphertext, uuid_pk
from counsel.models.user import User


class Consent(EncryptedRecord, Base):
    """One consent for one purpose: valid from the day given until it expires or is withdrawn."""

    __tablename__ = "consents"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(12), index=True)
    recipient_kind: Mapped[str | None] = mapped_column(String(24))
    given_on: Mapped[date] = mapped_column(Date)
    given_how: Mapped[str] = mapped_column(String(16))
    form_version: Mapped[str] = mapped_column(String(32))
    expires_on: Mapped[date | None] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    _recipient: Mapped[bytes | None] = ciphertext("recipient")

    recipient = Encrypted("recipient")

    case: Mapped[Case] = relationship(lazy="joined")
    recorded_by: Mapped[User] = relationship(lazy="joined")

    def key_holder(self) -> KeyHolder:
        return self.case

    def valid_on(self, day: date) -> bool:
        return (self.given_on <= day and (self.expires_on is None or day <= self.expires_on)
                and (self.withdrawn_on is None or day < self.withdrawn_on))


def consent_valid_clause(day: date, consents: Any = Consent) -> ColumnElement[bool]:
    """SQL condition of a consent that is valid on a day (the same rule as Consent.valid_on), over
    Consent or any table with its given_on, expires_on and withdrawn_on (the statistics' copy)."""
    return and_(
        consents.given_on <= day,
        or_(consents.expires_on.is_(None), consents.expires_on >= day),
        or_(consents.withdrawn_on.is_(None), consents.withdrawn_on > day),
    )


class Disclosure(EncryptedRecord, Base):
    """Data passed to a recipient under a sharing consent (a referral that shares data)."""

    __tablename__ = "disclosures"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    consent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consents.id"))
    recipient_kind: Mapped[str] = mapped_column(String(24))
    disclosed_on: Mapped[date] = mapped_column(Date)
    disclosed_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    _recipient: Mapped[bytes | None] = ciphertext("recipient")
    _content: Mapped[bytes | None] = ciphertext("content")

    recipient = Encrypted("recipient")
    content = Encrypted("content")

    case: Mapped[Case] = relationship(lazy="joined")
    disclosed_by: Mapped[User] = relationship(lazy="joined")

    def key_holder(self) -> KeyHolder:
        return self.case


class Perpetrator(EncryptedRecord, Base):
    """An alleged perpetrator recorded in a case; name, phone and address feed the conflict check."""

    __tablename__ = "perpetrators"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    _name: Mapped[bytes | None] = ciphertext("name")
    _phone: Mapped[bytes | None] = ciphertext("phone")
    _address: Mapped[bytes | None] = ciphertext("address")
    _notes: Mapped[bytes | None] = ciphertext("notes")

    name = Encrypted("name")
    phone = Encrypted("phone")
    address = Encrypted("address")
    notes = Encrypted("notes")

    case: Mapped[Case] = relationship(lazy="joined")

    def key_holder(self) -> KeyHolder:
        return self.case


class ContactIndex(Base):
    """Blind-index entries for the conflict check: names, phones and addresses of people in cases.

    `kind` says whose (client or perpetrator) and `field` which datum (name, phone, address);
    `owner_id` is the case or perpetrator row. Values are truncated HMACs, confirmed by decryption.
    """

    __tablename__ = "contact_index"
    __table_args__ = (UniqueConstraint("owner_id", "field", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    field: Mapped[str] = mapped_column(String(8))
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(BigInteger, index=True)


class RiskAssessment(EncryptedRecord, Base):
    """A structured risk checklist with its resulting level and the date of the next review."""

    __tablename__ = "risk_assessments"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    assessed_on: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(10), index=True)
    review_on: Mapped[date] = mapped_column(Date, index=True)
    assessed_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    _indicators: Mapped[bytes | None] = ciphertext("indicators")
    _reasoning: Mapped[bytes | None] = ciphertext("reasoning")

    indicators = Encrypted("indicators")
    reasoning = Encrypted("reasoning")

    case: Mapped[Case] = relationship(lazy="joined")
    assessed_by: Mapped[User] = relationship(lazy="joined")

    def key_holder(self) -> KeyHolder:
        return self.case

    @property
    def indicator_codes(self) -> set[str]:
        return set(filter(None, (self.indicators or "").split(",")))


class EmergencyAccess(EncryptedRecord, Base):
    """Time-limited access to a case whose owner cannot be reached, with a written justification."""

    __tablename__ = "emergency_accesses"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    _justification: Mapped[bytes | None] = ciphertext("justification")

    justification = Encrypted("justification")

    case: Mapped[Case] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")

    def key_holder(self) -> KeyHolder:
        return self.case


class Notification(Base):
    """An in-app message to one staff member; it names a case number, never its content."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    case_number: Mapped[str | None] = mapped_column(String(24))
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"))
