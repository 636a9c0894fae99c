"""Sites (Standorte) of the network; every user belongs to one."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from counsel.extensions import Base


class Site(Base):
    """A counselling site such as Dortmund (code DO); the code prefixes case numbers."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Months its closed cases are kept when longer than the installation's retention_months.
    retention_months: Mapped[int | None] = mapped_column(Integer)

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
