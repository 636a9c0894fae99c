"""Second factor: TOTP (RFC 6238) with replay protection, and hashed one-time recovery codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from counsel.clock import utcnow
from counsel.extensions import changed_rows, db
from counsel.models.user import RecoveryCode, User

ISSUER = "counsel"
STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10


def new_secret() -> str:
    """Return a fresh 160-bit base32 TOTP secret."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """Render the enrolment QR code as inline SVG (no image request, nothing leaves the page)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", xmldecl=False, svgns=True, nl=False, scale=4, border=4, title="QR", svgclass="qr"
    )
    return out.getvalue().decode("utf-8")


def verify_code(secret: str, code: str, last_counter: int | None, now: datetime | None = None) -> int | None:
    """Return the time step a code belongs to, or None; a step at or before `last_counter` is a replay."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    current = int((now or utcnow()).replace(tzinfo=UTC).timestamp()) // STEP_SECONDS
    totp = pyotp.TOTP(secret)
    for step in (current - 1, current, current + 1):
        if last_counter is not None and step <= last_counter:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_totp(user: User, code: str) -> bool:
    """Accept a current code once; remember its step so the same code cannot be replayed.

    The step is claimed with one conditional UPDATE, not read-then-write through the ORM: two
    requests racing with the same code (or a stale user object) cannot both win, as only the
    UPDATE that still finds an older counter in the database changes a row.
    """
    secret = user.totp_secret
    if not user.totp_enabled or not secret:
        return False
    step = verify_code(secret, code, user.totp_last_counter)
    if step is None:
        return False
    claimed = changed_rows(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_counter.is_(None), User.totp_last_counter < step))
        .values(totp_last_counter=step)
        .execution_options(synchronize_session=False)
    )
    if claimed != 1:
        return False
    set_committed_value(user, "totp_last_counter", step)
    return True


def _hash_code(code: str) -> str:
    normalised = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; the plaintext is shown once and never stored."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        codes.append(code)
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(code)))
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Spend a recovery code; a code works exactly once."""
    spent = changed_rows(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return spent == 1


def remaining_recovery_codes(user: User) -> int:
    count = db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return int(count or 0)
