"""Write and verify the audit trail.

Each event is written in the transaction of the change it records and chained with
HMAC-SHA256 under the key ring's "audit-chain" key: a plain hash chain could be recomputed by
anyone who can write to the database, an HMAC chain only by someone who also holds the keys.
The head row is updated first, so concurrent writers queue up instead of forking the chain.
A checkpoint of the head written outside the database reveals a cut-off tail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import insert, select, update

from counsel.clock import utcnow
from counsel.extensions import changed_rows, db
from counsel.models.audit import AuditEvent, AuditHead
from counsel.services.signin import find_user

GENESIS = "0" * 64


def chain_key() -> bytes:
    key: bytes = current_app.extensions["counsel.vault"].keyring.purpose_key("audit-chain")
    return key


def _canonical(event: dict[str, Any]) -> bytes:
    fields = ("seq", "at", "actor_id", "actor_name", "action", "case_id", "case_number", "target_user_id", "ip",
              "detail")
    values = {name: (None if event[name] is None else str(event[name])) for name in fields}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_mac(key: bytes, previous: str, event: dict[str, Any]) -> str:
    return hmac.new(key, previous.encode() + b"|" + _canonical(event), hashlib.sha256).hexdigest()


def record(
    action: str,
    *,
    actor: Any = None,
    actor_name: str | None = None,
    case: Any = None,
    target_user: Any = None,
    detail: str = "",
) -> None:
    """Append an event to the chain inside the caller's transaction (commit stays with the caller)."""
    if not changed_rows(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)):
        db.session.execute(insert(AuditHead).values(id=1, seq=1, mac=GENESIS))
    head = db.session.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).one()
    event: dict[str, Any] = {
        "seq": head.seq,
        "at": utcnow().replace(microsecond=0),
        "actor_id": getattr(actor, "id", None),
        "actor_name": actor_name if actor_name is not None else getattr(actor, "username", "-"),
        "action": action,
        "case_id": getattr(case, "id", None),
        "case_number": getattr(case, "number", None),
        "target_user_id": getattr(target_user, "id", None),
        "ip": request.remote_addr if has_request_context() else None,
        "detail": detail[:200],
    }
    event["mac"] = compute_mac(chain_key(), head.mac or GENESIS, event)
    db.session.execute(insert(AuditEvent).values(**event))
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(mac=event["mac"]))


def record_sign_in(user: Any) -> None:
    record("sign_in", actor=user)


def record_sign_out(user: Any, *, locked: bool) -> None:
    record("lock" if locked else "sign_out", actor=user)


def record_sign_in_failure(typed_name: str, *, locked: bool, second_factor: bool = False) -> None:
    """Record a failed sign-in; a name that matches no account is not stored (it may be a password)."""
    user = find_user(typed_name) if typed_name else None
    detail = "locked" if locked else ("second_factor" if second_factor else "password")
    record("sign_in_failed", actor=user, actor_name=None if user else "(unknown name)", detail=detail)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_broken: int | None = None
    problem: str = ""


def verify_chain(checkpoint: Path | None = None) -> Verification:
    """Walk the chain from the start; report the first event whose link does not hold."""
    key = chain_key()
    previous = GENESIS
    expected_seq = 1
    count = 0
    rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    macs: dict[int, str] = {}
    for row in rows:
        event = {c: getattr(row, c) for c in ("seq", "at", "actor_id", "actor_name", "action", "case_id",
                                              "case_number", "target_user_id", "ip", "detail")}
        if row.seq != expected_seq:
            return Verification(False, count, expected_seq, f"event {expected_seq} is missing")
        if not hmac.compare_digest(compute_mac(key, previous, event), row.mac):
            return Verification(False, count, row.seq, f"event {row.seq} was changed, inserted or moved")
        previous = row.mac
        macs[row.seq] = row.mac
        expected_seq += 1
        count += 1
    head = db.session.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).first()
    if head is not None and (head.seq != count or (count and head.mac != previous)):
        return Verification(False, count, count + 1, "the chain head does not match the last event")
    if checkpoint is not None:
        for seq, mac in read_checkpoints(checkpoint):
            if seq == 0:
                continue
            if seq > count:
                return Verification(False, count, count + 1,
                                    f"events after {count} are missing (checkpoint saw {seq})")
            if macs.get(seq) != mac:
                return Verification(False, count, seq, f"event {seq} differs from the checkpoint")
    return Verification(True, count)


def write_checkpoint(path: Path) -> tuple[int, str]:
    """Append the current head (sequence and MAC) to a file outside the database."""
    head = db.session.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).first()
    seq, mac = (head.seq, head.mac) if head else (0, GENESIS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"at": utcnow().isoformat(timespec="seconds"), "seq": seq, "mac": mac}) + "\n")
    return seq, mac


def read_checkpoints(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            entries.append((int(data["seq"]), str(data["mac"])))
    return entries
