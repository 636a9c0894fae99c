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
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import Insert, insert, select, update

from counsel.clock import utcnow
from counsel.extensions import changed_rows, db, upsert
from counsel.models.audit import AuditEvent, AuditHead

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor_id", "actor_name", "action", "case_id", "case_number", "target_user_id", "ip",
          "detail")


# The name on the trail of the operator acting on the server (the command line), who has no account.
OPERATOR = "(command line)"


def chain_key() -> bytes:
    key: bytes = current_app.extensions["counsel.vault"].keyring.purpose_key("audit-chain")
    return key


def _canonical(event: dict[str, Any]) -> bytes:
    values = {name: (None if event[name] is None else str(event[name])) for name in FIELDS}
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
    """Append an event to the chain inside the caller's transaction (commit stays with the caller).

    `actor` is the account that acted, or a name for one without an account (OPERATOR).
    """
    if isinstance(actor, str):
        actor, actor_name = None, actor
    advance = update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
    if not changed_rows(advance):
        # The very first event: two writers may both find no head, so create it without conflict
        # and advance it again; the second writer then waits for the first one's row lock.
        db.session.execute(_head_if_missing())
        changed_rows(advance)
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


def _head_if_missing() -> Insert:
    """Build an INSERT of the empty head that does nothing when another writer made it first."""
    statement: Insert = upsert(AuditHead).values(id=1, seq=0, mac=GENESIS).on_conflict_do_nothing(
        index_elements=["id"])
    return statement


def record_sign_in(user: Any) -> None:
    record("sign_in", actor=user)


def record_sign_out(user: Any, *, locked: bool) -> None:
    record("lock" if locked else "sign_out", actor=user)


@dataclass(frozen=True)
class Verification:
    """The outcome of a walk along the chain; `kind` names the problem for translated messages."""

    ok: bool
    checked: int
    first_broken: int | None = None
    problem: str = ""
    kind: str = ""
    checkpoints: int = 0
    last_checkpoint: int | None = None


def verify_chain(checkpoint: Path | None = None) -> Verification:
    """Walk the chain from the start; report the first event whose link does not hold."""
    key = chain_key()
    previous = GENESIS
    count = 0
    macs: dict[int, str] = {}
    # Plain rows, not ORM objects: an identity map could hand back values older than the table's.
    columns = [getattr(AuditEvent, name) for name in (*FIELDS, "mac")]
    query = select(*columns).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    with db.session.execute(query) as rows:
        for row in rows:
            event = row._asdict()
            if event["seq"] != count + 1:
                return Verification(False, count, count + 1, f"event {count + 1} is missing", "missing")
            if not hmac.compare_digest(compute_mac(key, previous, event), event["mac"]):
                return Verification(False, count, count + 1, f"event {count + 1} was changed, inserted or moved",
                                    "changed")
            previous = macs[count + 1] = event["mac"]
            count += 1
    head = db.session.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).first()
    if head is None and count:
        return Verification(False, count, count + 1, "the chain head is missing", "head_missing")
    if head is not None and (head.seq != count or (count and head.mac != previous)):
        first = min(head.seq, count) + 1
        return Verification(False, first - 1, first,
                            f"the chain head (event {head.seq}) does not match the last event ({count})", "head")
    return _against_checkpoints(checkpoint, count, macs) if checkpoint is not None else Verification(True, count)


def _against_checkpoints(path: Path, count: int, macs: dict[int, str]) -> Verification:
    """Compare the chain with the heads written outside the database: a cut-off tail shows here."""
    try:
        seen = [(seq, mac) for seq, mac in read_checkpoints(path) if seq > 0]
    except ValueError as exc:
        return Verification(False, count, None, f"the checkpoint file is unreadable: {exc}", "checkpoint_file")
    last = max((seq for seq, _ in seen), default=None)
    for seq, mac in sorted(seen):
        if seq <= count and not hmac.compare_digest(macs[seq], mac):
            return Verification(False, seq - 1, seq, f"event {seq} differs from the checkpoint", "checkpoint",
                                len(seen), last)
    if last is not None and last > count:
        return Verification(False, count, count + 1,
                            f"events {count + 1} to {last} are missing (a checkpoint saw event {last})", "cut",
                            len(seen), last)
    return Verification(True, count, checkpoints=len(seen), last_checkpoint=last)


def write_checkpoint(path: Path) -> tuple[int, str]:
    """Append the current head (sequence and MAC) to a file outside the database."""
    head = db.session.execute(select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).first()
    seq, mac = (head.seq, head.mac) if head else (0, GENESIS)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Only the service reads its checkpoints: created 0600, whatever the umask.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"at": utcnow().isoformat(timespec="seconds"), "seq": seq, "mac": mac}) + "\n")
    return seq, mac


def read_checkpoints(path: Path) -> list[tuple[int, str]]:
    """Read the (sequence, MAC) pairs of a checkpoint file; a damaged line raises ValueError."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                data = json.loads(line)
                entries.append((int(data["seq"]), str(data["mac"])))
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"line {number} of {path}") from None
    return entries
