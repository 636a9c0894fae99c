"""Helpers the case views share: refused-form status and the conflict-check gate."""

from __future__ import annotations

import uuid

from flask import request
from flask_login import current_user

from counsel import audit
from counsel.extensions import db
from counsel.models.case import Case
from counsel.services import conflicts

CONFLICT = 409


def failed() -> int:
    """A form page shown again after a POST means the input was refused (success redirects)."""
    return 400 if request.method == "POST" and request.form.get("stage") != "prefill" else 200


def conflict_warnings(acknowledged: bool, contact: conflicts.Contact, against: str, case: Case | None = None,
                      exclude: uuid.UUID | None = None) -> list[conflicts.ConflictMatch]:
    """Stop a save once when the data match an alleged perpetrator, a client or a staff member."""
    found = conflicts.check(current_user, contact, against, exclude)
    if not found:
        return []
    detail = "matches=" + ",".join(sorted({f"{m.kind}:{m.field}" for m in found}))
    if acknowledged:
        audit.record("conflict_acknowledged", actor=current_user, case=case, detail=detail)
        return []
    audit.record("conflict_warning", actor=current_user, case=case, detail=detail)
    db.session.commit()
    return found
