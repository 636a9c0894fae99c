"""Consultations: each contact with a client, with its codes and encrypted notes."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from counsel.clock import utcnow
from counsel.extensions import Base
from counsel.models.case import Case
from counsel.models.encrypted import Encrypted, EncryptedRecord, KeyHolder
from counsel.models.types import ciphertext, uuid_pk
from counsel.models.user import User


class Consultation(EncryptedRecord, Base):
    """One consultation; encrypted under its case's data key."""

    __tablename__ = "consultations"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    held_on: Mapped[date] = mapped_column(Date, index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(35))
    interpreting: Mapped[str] = mapped_column(String(16), default="none")
    pledge_on_file: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_up_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    _interpreter: Mapped[bytes | None] = ciphertext("interpreter")
    _notes: Mapped[bytes | None] = ciphertext("notes")

    interpreter = Encrypted("interpreter")
    notes = Encrypted("notes")

    case: Mapped[Case] = relationship(lazy="joined")
    author: Mapped[User] = relationship(lazy="joined")
    topic_rows: Mapped[list[ConsultationTopic]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    referral_rows: Mapped[list[ConsultationReferral]] = relationship(cascade="all, delete-orphan",
                                                                     lazy="selectin")

    __mapper_args__ = {"version_id_col": version}

    def key_holder(self) -> KeyHolder:
        return self.case

    @property
    def topics(self) -> set[str]:
        return {row.topic for row in self.topic_rows}

    @property
    def referrals(self) -> set[str]:
        return {row.referral for row in self.referral_rows}

    def set_topics(self, topics: set[str]) -> None:
        self.topic_rows = [row for row in self.topic_rows if row.topic in topics]
        self.topic_rows.extend(ConsultationTopic(topic=t) for t in sorted(topics - self.topics))

    def set_referrals(self, referrals: set[str]) -> None:
        self.referral_rows = [row for row in self.referral_rows if row.referral in referrals]
        self.referral_rows.extend(ConsultationReferral(referral=r) for r in sorted(referrals - self.referrals))


class ConsultationTopic(Base):
    """A topic of a consultation."""

    __tablename__ = "consultation_topics"

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"),
                                                       primary_key=True)
    topic: Mapped[str] = mapped_column(String(16), primary_key=True)


class ConsultationReferral(Base):
    """A referral made in a consultation."""

    __tablename__ = "consultation_referrals"

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"),
                                                       primary_key=True)
    referral: Mapped[str] = mapped_column(String(24), primary_key=True)
