"""Helpers the case views share: refused-form status and the conflict-check gate."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from counsel import audit
from counsel.errors import Conflict, CounselError
from counsel.extensions import db
from counsel.models.case import Case
from counsel.services import conflicts

CONFLICT = 409


def form_version(raw: Any) -> int:
    """The version a form was opened at; a form without one was not made by counsel."""
    try:
        return int(raw)
    except (TypeError, ValueError):
        abort(400)


def save_locked(save: Callable[[], object], version_field: Any, current_version: Callable[[], int]
                ) -> tuple[Any, int] | None:
    """Save under optimistic locking; on a clash keep her input and offer the current version.

    Returns None when saved, else the message and status to show with the form again.
    """
    try:
        save()
        db.session.commit()
    except (Conflict, StaleDataError):
        db.session.rollback()
        version_field.data = str(current_version())
        return _("A colleague saved this in the meantime. Your input is kept below; check the current version "
                 "in a second tab, then save again to overwrite it."), CONFLICT
    except CounselError as exc:
        db.session.rollback()
        return exc.message, 400
    return None


def failed() -> int:
    """A form page shown again after a POST means the input was refused (success redirects)."""
    return 400 if request.method == "POST" and request.form.get("stage") != "prefill" else 200


@dataclass(frozen=True)
class Gate:
    """The conflict check before a save: warnings to show (stop), or a summary of acknowledged matches."""

    warnings: list[conflicts.ConflictMatch]
    summary: str

    def acknowledge(self, case: Case) -> None:
        """Record, with the saved case, that she saved despite the warnings she was shown."""
        if self.summary and not self.warnings:
            audit.record("conflict_acknowledged", actor=current_user, case=case, detail=self.summary)


def conflict_gate(form: Any, contact: conflicts.Contact, against: str, case: Case | None = None,
                  exclude: uuid.UUID | None = None) -> Gate:
    """Stop a save when the data match an alleged perpetrator, a client or a staff member.

    The tick "I have read the warning" counts only for exactly the matches that were shown:
    the form carries their digest, so a change that brings a new match warns again.
    """
    found = conflicts.check(current_user, contact, against, exclude)
    digest = hashlib.sha256(repr(sorted(astuple(m) for m in found)).encode()).hexdigest()[:24]
    shown = form.shown_matches.data
    form.shown_matches.data = digest
    if not found:
        return Gate([], "")
    summary = "matches=" + ",".join(sorted({f"{m.kind}:{m.field}" for m in found}))
    if form.acknowledge.data and hmac.compare_digest(shown or "", digest):
        return Gate([], summary)
    form.acknowledge.data = False
    audit.record("conflict_warning", actor=current_user, case=case, detail=summary)
    db.session.commit()
    return Gate(found, summary)
