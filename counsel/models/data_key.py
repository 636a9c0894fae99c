"""Per-record data keys, stored wrapped by a versioned master key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from counsel.clock import utcnow
from counsel.extensions import Base
from counsel.models.types import uuid_pk


class DataKey(Base):
    """A random AES-256 key for one record; deleting it shreds the record's ciphertexts.

    A case's key is stored masked with the case's secret from the key store (`secret_id`, the
    case's id), so deleting that secret shreds the case in every database backup as well
    (counsel.crypto.case_secret). Keys of accounts, and of cases from before secrets, have none.
    """

    __tablename__ = "data_keys"

    id: Mapped[uuid.UUID] = uuid_pk()
    master_version: Mapped[int] = mapped_column(Integer, index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    secret_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
