"""What anonymised statistics read: the coded facts of each case, kept beside the case itself.

A copy, derived and rebuilt at will (counsel.statistics): each case's codes in one narrow row
under a small integer key, its statistics consents, languages and risk levels, and its
consultations summed per month, quarter and year with a column per code. Reports aggregate
these in SQL without touching a row of ciphertext or joining on 32-character keys, and without
summing each consultation again. Nothing here is personal beyond the coded fields the cases
already hold in plaintext (docs/data-inventory.md).
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from counsel import codes
from counsel.extensions import Base

GRAINS = ("month", "quarter", "year")
# One count column per code of a consultation: how many consultations had it.
ACTIVITY_CODES: dict[str, tuple[str, ...]] = {
    "channel": tuple(codes.CHANNELS),
    "interpreting": tuple(codes.INTERPRETING),
    "topic": tuple(codes.TOPICS),
    "referral": tuple(codes.REFERRALS),
}


def code_column(kind: str, code: str) -> str:
    return f"{kind}_{code}"


class CaseFacts(Base):
    """A case as the statistics see it: site, months and codes; forms of violence as bits."""

    __tablename__ = "case_facts"
    __table_args__ = (Index("ix_case_facts_opened", "opened_month", "site_id", "closed_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL once the case is erased: its coded facts stay, unlinked, so past figures do not change.
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    opened_month: Mapped[date] = mapped_column(Date)
    # A closing month before the opening month (a data error) is kept as the opening month, so
    # a case new or closed in a period is always active in it.
    closed_month: Mapped[date | None] = mapped_column(Date)
    age_band: Mapped[str] = mapped_column(String(12))
    country: Mapped[str | None] = mapped_column(String(2))
    residence_status: Mapped[str] = mapped_column(String(24))
    perpetrator_relation: Mapped[str] = mapped_column(String(16))
    referral_source: Mapped[str | None] = mapped_column(String(16))
    preferred_language: Mapped[str | None] = mapped_column(String(35))
    violence: Mapped[int] = mapped_column(Integer, default=0)  # bit n: the n-th form of codes.VIOLENCE_FORMS


class ConsentSpan(Base):
    """A consent of the case to be counted in statistics: from when, until when, withdrawn when."""

    __tablename__ = "consent_spans"
    __table_args__ = (Index("ix_consent_spans_fact", "fact_id", "given_on", "expires_on", "withdrawn_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fact_id: Mapped[int] = mapped_column(ForeignKey("case_facts.id", ondelete="CASCADE"))
    given_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)


class FactLanguage(Base):
    """A language the client speaks."""

    __tablename__ = "fact_languages"

    fact_id: Mapped[int] = mapped_column(ForeignKey("case_facts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(35), primary_key=True)


class FactRisk(Base):
    """A risk assessment's level and the days it is the latest: from its own to the next one's.

    The latest assessment up to a report's end is then the one row with assessed_on <= end <
    next_on (or no next_on): a plain join, no search for the greatest day per person.
    """

    __tablename__ = "fact_risks"
    __table_args__ = (Index("ix_fact_risks_span", "fact_id", "assessed_on", "next_on", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fact_id: Mapped[int] = mapped_column(ForeignKey("case_facts.id", ondelete="CASCADE"))
    assessed_on: Mapped[date] = mapped_column(Date)
    next_on: Mapped[date | None] = mapped_column(Date)  # the next assessment's day; the same day if made later that day
    level: Mapped[str] = mapped_column(String(10))


# The consultations of one case in one month, quarter or year (`grain`, starting on `start`):
# how many, their minutes, and per code how many had it. A Core table, as its count columns
# follow the code tables.
activity = Table(
    "activity",
    Base.metadata,
    Column("grain", String(8), primary_key=True),
    Column("start", Date, primary_key=True),
    Column("fact_id", Integer, ForeignKey("case_facts.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("consultations", Integer, nullable=False),
    Column("minutes", Integer, nullable=False),
    # NULL where none had the code (not 0): a report counts the people who had it with COUNT(column).
    *(Column(code_column(kind, code), Integer) for kind, values in ACTIVITY_CODES.items() for code in values),
    Index("ix_activity_fact", "fact_id"),
    sqlite_with_rowid=False,  # SQLite keeps the rows in key order: a period's rows lie together
)
