"""A change that could open case content to someone, waiting for a second person to confirm it.

No insider reads a case alone (DESIGN.md): giving the adviser role to an account that holds
another role, handing cases over, resetting another person's second factor (or the password of
a person without one), and a further emergency access each take effect only when someone other
than the requester confirms them; so does erasing a case on her request (Art. 17 GDPR). The
request names accounts, roles and case ids: never content. The one free text, why a case is to
be erased, is encrypted under the case's key and goes with the case.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from counsel.clock import utcnow
from counsel.extensions import Base
from counsel.models.case import Case
from counsel.models.encrypted import Encrypted, EncryptedRecord, KeyHolder
from counsel.models.safety import EmergencyAccess
from counsel.models.types import ciphertext, uuid_pk
from counsel.models.user import Role, User


class RequestKind(enum.StrEnum):
    ROLES = "roles"
    TRANSFER = "transfer"
    RESET_TOTP = "reset_totp"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - the name of a request, not a password
    EMERGENCY = "emergency"
    ERASURE = "erasure"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REFUSED = "refused"


class ChangeRequest(EncryptedRecord, Base):
    """One request, from its asking to its decision."""

    __tablename__ = "change_requests"

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default=RequestStatus.PENDING.value, index=True)
    requested_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The account it concerns: whose roles, second factor or password; whose cases are handed
    # over; who asks for emergency access.
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    # Transfers: who would receive the cases, and which (ids, space-separated).
    receiver_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    case_ids: Mapped[str | None] = mapped_column(Text)
    # Roles: those the account would gain (comma-separated).
    roles: Mapped[str | None] = mapped_column(String(64))
    emergency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emergency_accesses.id", ondelete="CASCADE"))
    # Erasure: the case, and why (encrypted under its key); both are cleared when the case is erased.
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    _reason: Mapped[bytes | None] = ciphertext("reason")
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_by_name: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    account: Mapped[User] = relationship(foreign_keys=[account_id], lazy="joined")
    receiver: Mapped[User | None] = relationship(foreign_keys=[receiver_id], lazy="joined")
    emergency: Mapped[EmergencyAccess | None] = relationship(lazy="joined")
    case: Mapped[Case | None] = relationship(lazy="joined")

    reason = Encrypted("reason")

    def key_holder(self) -> KeyHolder:
        if self.case is None:
            raise ValueError("only a request about a case has a reason to encrypt")
        return self.case

    @property
    def pending(self) -> bool:
        return self.status == RequestStatus.PENDING.value

    @property
    def role_set(self) -> set[Role]:
        return {Role(value) for value in (self.roles or "").split(",") if value}

    @property
    def case_id_list(self) -> list[uuid.UUID]:
        return [uuid.UUID(value) for value in (self.case_ids or "").split()]
