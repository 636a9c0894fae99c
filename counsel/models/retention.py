"""A legal hold: a case kept past its retention period while proceedings need it.

Set by the adviser who holds the case, with a reason (encrypted under the case's key: it may name
a court or a file number) and ended by her; both are on the audit trail. A case under a hold is
never erased by the retention purge, nor on request, until the hold ends.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from counsel.clock import utcnow
from counsel.extensions import Base
from counsel.models.case import Case
from counsel.models.encrypted import Encrypted, EncryptedRecord, KeyHolder
from counsel.models.types import ciphertext, uuid_pk
from counsel.models.user import User


class LegalHold(EncryptedRecord, Base):
    """The hold on one case: why (encrypted), who set it and when."""

    __tablename__ = "legal_holds"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    set_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    _reason: Mapped[bytes | None] = ciphertext("reason")

    reason = Encrypted("reason")

    case: Mapped[Case] = relationship(back_populates="legal_hold")
    set_by: Mapped[User] = relationship(lazy="joined")

    def key_holder(self) -> KeyHolder:
        return self.case
