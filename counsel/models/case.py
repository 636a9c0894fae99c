"""A case: one client in one counselling relationship, with its codes, languages and shares.

Personal fields are `Encrypted` under the case's own data key; the plaintext columns are the
coarse codes that anonymised statistics count (each listed in docs/data-inventory.md).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from counsel.clock import utcnow
from counsel.extensions import Base
from counsel.models.data_key import DataKey
from counsel.models.encrypted import Encrypted, EncryptedRecord, KeyHolder
from counsel.models.site import Site
from counsel.models.types import ciphertext, uuid_pk
from counsel.models.user import User

if TYPE_CHECKING:
    from counsel.models.retention import LegalHold


class Case(EncryptedRecord, Base):
    """The client's record; its id is a random UUID, its number human (DO-2026-0042)."""

    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = uuid_pk()
    number: Mapped[str] = mapped_column(String(24), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    data_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("data_keys.id"))
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    opened_month: Mapped[date] = mapped_column(Date, index=True)
    closed_month: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)  # the day: the retention period runs from it
    age_band: Mapped[str] = mapped_column(String(12), default="unknown")
    country: Mapped[str | None] = mapped_column(String(2))
    residence_status: Mapped[str] = mapped_column(String(24), default="unknown")
    perpetrator_relation: Mapped[str] = mapped_column(String(16), default="unknown")
    referral_source: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    _name: Mapped[bytes | None] = ciphertext("name")
    _pseudonym: Mapped[bytes | None] = ciphertext("pseudonym")
    _other_spellings: Mapped[bytes | None] = ciphertext("other_spellings")
    _date_of_birth: Mapped[bytes | None] = ciphertext("date_of_birth")
    _phone: Mapped[bytes | None] = ciphertext("phone")
    _email: Mapped[bytes | None] = ciphertext("email")
    _address: Mapped[bytes | None] = ciphertext("address")
    _safe_contact: Mapped[bytes | None] = ciphertext("safe_contact")
    _children: Mapped[bytes | None] = ciphertext("children")
    _notes: Mapped[bytes | None] = ciphertext("notes")
    _safety_plan: Mapped[bytes | None] = ciphertext("safety_plan")

    name = Encrypted("name")
    pseudonym = Encrypted("pseudonym")
    other_spellings = Encrypted("other_spellings")
    date_of_birth = Encrypted("date_of_birth")
    phone = Encrypted("phone")
    email = Encrypted("email")
    address = Encrypted("address")
    safe_contact = Encrypted("safe_contact")
    children = Encrypted("children")
    notes = Encrypted("notes")
    safety_plan = Encrypted("safety_plan")

    data_key: Mapped[DataKey | None] = relationship(lazy="joined")
    site: Mapped[Site] = relationship(lazy="joined")
    owner: Mapped[User] = relationship(lazy="joined", foreign_keys=[owner_id])
    languages: Mapped[list[CaseLanguage]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="CaseLanguage.position"
    )
    violence_rows: Mapped[list[CaseViolenceForm]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    shares: Mapped[list[CaseShare]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                   order_by="CaseShare.created_at")
    legal_hold: Mapped[LegalHold | None] = relationship(back_populates="case", cascade="all, delete-orphan",
                                                        lazy="select", uselist=False)

    # Her data key is masked with a secret in the key store: erasing that secret reaches the backups.
    keeps_secret_apart = True

    # The version guards every UPDATE of the row (a stale write fails), but moves on only when one of
    # her fields changes (see count_edits): logging a consultation, closing the case or handing it
    # over must not tell a colleague with the edit form open that someone changed the case.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    def key_holder(self) -> KeyHolder:
        return self

    @property
    def violence_forms(self) -> set[str]:
        return {row.form for row in self.violence_rows}

    def set_violence_forms(self, forms: set[str]) -> None:
        self.violence_rows = [row for row in self.violence_rows if row.form in forms]
        self.violence_rows.extend(CaseViolenceForm(form=f) for f in sorted(forms - self.violence_forms))

    @property
    def preferred_language(self) -> str | None:
        return next((lang.tag for lang in self.languages if lang.preferred), None)

    @property
    def label(self) -> str:
        """What lists show: the case number and the pseudonym, never the full name."""
        return f"{self.number} · {self.pseudonym}" if self.pseudonym else self.number


class CaseLanguage(Base):
    """A language the client speaks (BCP 47 tag) and how; one is marked preferred."""

    __tablename__ = "case_languages"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(35), primary_key=True)
    mode: Mapped[str] = mapped_column(String(12))
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CaseViolenceForm(Base):
    """One form of violence the client experienced (several per case)."""

    __tablename__ = "case_violence_forms"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    form: Mapped[str] = mapped_column(String(20), primary_key=True)


class CaseCounter(Base):
    """The last case number given per site and year; updated under a row lock."""

    __tablename__ = "case_counters"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class CaseShare(EncryptedRecord, Base):
    """Access given by the owner to a colleague, with a reason, optionally until a date."""

    __tablename__ = "case_shares"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    shared_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_on: Mapped[date | None] = mapped_column(Date)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    _reason: Mapped[bytes | None] = ciphertext("reason")

    reason = Encrypted("reason")

    case: Mapped[Case] = relationship(back_populates="shares")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    shared_by: Mapped[User] = relationship(foreign_keys=[shared_by_id], lazy="joined")

    def key_holder(self) -> KeyHolder:
        return self.case

    def active_on(self, day: date) -> bool:
        return self.revoked_at is None and (self.expires_on is None or self.expires_on >= day)


class CaseNameIndex(Base):
    """Blind-index entries of a case's names (truncated HMACs; see counsel.crypto.blind_index)."""

    __tablename__ = "case_name_index"
    __table_args__ = (UniqueConstraint("case_id", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(BigInteger, index=True)


# What the edit form and the safety plan change; the version counts changes of these only.
EDITED_FIELDS = (*(f"_{name}" for name in ("name", "pseudonym", "other_spellings", "date_of_birth", "phone",
                                            "email", "address", "safe_contact", "children", "notes", "safety_plan")),
                 "age_band", "country", "residence_status", "perpetrator_relation", "referral_source", "languages",
                 "violence_rows")


@event.listens_for(Case, "before_update")
def count_edits(_mapper: Any, _connection: Any, case: Case) -> None:
    """Move the case's version on when one of its fields changed (optimistic locking of the edit forms)."""
    state = inspect(case)
    if any(state.attrs[name].history.has_changes() for name in EDITED_FIELDS):
        case.version = case.version + 1
