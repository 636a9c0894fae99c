"""Acceptances of the installation's confidentiality pledge: who accepted which version, and when."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from counsel.clock import utcnow
from counsel.extensions import Base


class PledgeAcceptance(Base):
    """One account's acceptance of one version of the pledge; a new version is accepted anew.

    Kept as long as the account (accounts are never deleted): it shows that she was bound to
    confidentiality before she reached a case.
    """

    __tablename__ = "pledge_acceptances"
    __table_args__ = (UniqueConstraint("user_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
