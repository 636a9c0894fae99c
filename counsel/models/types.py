"""Column helpers shared by the models."""

from __future__ import annotations

import uuid

from sqlalchemy import LargeBinary, Uuid
from sqlalchemy.orm import Mapped, mapped_column


def uuid_pk() -> Mapped[uuid.UUID]:
    """Return a random UUID primary key: unguessable in URLs and known before insert."""
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def ciphertext(column: str) -> Mapped[bytes | None]:
    """Return the nullable ciphertext column behind an `Encrypted` field of the same name."""
    return mapped_column(column, LargeBinary, nullable=True)
