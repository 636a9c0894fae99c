"""The audit trail: who did what to which case, when and from where; never any content."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from counsel.extensions import Base


class AuditEvent(Base):
    """One event, chained to its predecessor by an HMAC under a key from the key ring."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40), index=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    case_number: Mapped[str | None] = mapped_column(String(24), index=True)
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str] = mapped_column(String(200), default="")
    mac: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row holding the chain head; updating it first serialises concurrent writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    mac: Mapped[str] = mapped_column(String(64), default="")
