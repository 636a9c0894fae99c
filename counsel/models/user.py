"""Staff accounts: advisers, supervisors and admins, with roles, site and second factor."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from counsel.clock import utcnow
from counsel.extensions import Base
from counsel.models.data_key import DataKey
from counsel.models.encrypted import Encrypted, EncryptedRecord, KeyHolder
from counsel.models.site import Site
from counsel.models.types import ciphertext, uuid_pk


class Role(enum.StrEnum):
    ADVISER = "adviser"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class User(EncryptedRecord, Base):
    """A person who signs in. Never deleted: the audit trail needs the name."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime)
    locale: Mapped[str] = mapped_column(String(8), default="de")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    data_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("data_keys.id"))
    _totp_secret: Mapped[bytes | None] = ciphertext("totp_secret")
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)

    totp_secret = Encrypted("totp_secret")

    data_key: Mapped[DataKey | None] = relationship(lazy="joined")
    site: Mapped[Site] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    scope_rows: Mapped[list[SupervisionScope]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    language_rows: Mapped[list[UserLanguage]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                             order_by="UserLanguage.tag")

    keeps_secret_apart = False  # an account is no case: nothing of it is erased under the retention rules

    def key_holder(self) -> KeyHolder:
        return self

    @property
    def roles(self) -> set[Role]:
        return {Role(row.role) for row in self.role_rows}

    @property
    def supervised_site_ids(self) -> set[int]:
        """Sites whose anonymised statistics she may see: her own and any further ones assigned."""
        return {self.site_id} | {row.site_id for row in self.scope_rows}

    def set_supervised_sites(self, site_ids: set[int]) -> None:
        extra = site_ids - {self.site_id}
        self.scope_rows = [row for row in self.scope_rows if row.site_id in extra]
        present = {row.site_id for row in self.scope_rows}
        self.scope_rows.extend(SupervisionScope(site_id=site_id) for site_id in sorted(extra - present))

    @property
    def languages(self) -> list[str]:
        """The language tags she counsels in."""
        return [row.tag for row in self.language_rows]

    def set_languages(self, tags: list[str]) -> None:
        keep = set(tags)
        self.language_rows = [row for row in self.language_rows if row.tag in keep]
        present = set(self.languages)
        self.language_rows.extend(UserLanguage(tag=tag) for tag in dict.fromkeys(tags) if tag not in present)

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def set_roles(self, roles: set[Role]) -> None:
        """Replace the roles, keeping rows that stay so unchanged roles cause no writes."""
        self.role_rows = [row for row in self.role_rows if Role(row.role) in roles]
        present = self.roles
        self.role_rows.extend(UserRole(role=str(role)) for role in sorted(roles - present))

    # Flask-Login's user protocol, without importing Flask into the model layer.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __str__(self) -> str:
        return self.display_name


class UserRole(Base):
    """One role of one user; several per person (a coordinator is often adviser and supervisor)."""

    __tablename__ = "user_roles"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class UserLanguage(Base):
    """A language (BCP 47 tag) a staff member counsels in, used to match clients and advisers."""

    __tablename__ = "user_languages"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(35), primary_key=True, index=True)


class SupervisionScope(Base):
    """A further site whose statistics a supervisor may see (her own site is always included)."""

    __tablename__ = "supervision_scopes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)


class RecoveryCode(Base):
    """A one-time second-factor code, stored as a SHA-256 hash (codes carry 80 random bits)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Failed sign-ins per typed user name (keyed hash), existing or not, so lock-out leaks nothing."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime)
