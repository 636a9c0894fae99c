"""What each event on the audit trail is called, in the reader's language.

One table for every page that shows the trail (the admins' audit trail, "who has seen this
case"): an event is stored under its code and shown under its label; a code without a label
is shown as stored (tests/test_audit_actions.py fails for any code the program writes).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

ACTION_LABELS: dict[str, Any] = {
    "sign_in": _l("Signed in"),
    "sign_in_failed": _l("Sign-in failed"),
    "sign_out": _l("Signed out"),
    "lock": _l("Locked the screen"),
    "password_changed": _l("Changed own password"),
    "totp_enabled": _l("Set up the second factor"),
    "recovery_codes_renewed": _l("Renewed recovery codes"),
    "user_created": _l("Account created"),
    "user_changed": _l("Account changed"),
    "deactivate": _l("Account deactivated"),
    "reactivate": _l("Account reactivated"),
    "reset_totp": _l("Second factor removed"),
    "password_reset": _l("Password reset"),
    "request_opened": _l("Asked for a change that needs a second person"),
    "request_confirmed": _l("Confirmed a change as the second person"),
    "request_refused": _l("Refused a change as the second person"),
    "site_created": _l("Site created"),
    "site_changed": _l("Site changed"),
    "case_created": _l("Case opened"),
    "case_viewed": _l("Case viewed"),
    "case_edited": _l("Case changed"),
    "case_closed": _l("Case closed"),
    "case_reopened": _l("Case reopened"),
    "case_search": _l("Searched for a client by name"),
    "case_shared": _l("Case shared"),
    "share_revoked": _l("Sharing ended"),
    "share_ended": _l("Sharing ended with an account change"),
    "case_transferred": _l("Case handed over"),
    "case_access_denied": _l("Access to a case refused"),
    "case_exported": _l("Case exported for the client (Art. 15 GDPR)"),
    "languages_changed": _l("Own languages changed"),
    "pledge_accepted": _l("Confidentiality pledge accepted"),
    "consent_recorded": _l("Consent recorded"),
    "consent_withdrawn": _l("Consent withdrawn"),
    "data_disclosed": _l("Data passed on under a release"),
    "disclosure_refused": _l("Passing on data refused: no valid release"),
    "conflict_warning": _l("Conflict check warned"),
    "conflict_acknowledged": _l("Conflict warning acknowledged"),
    "conflict_match": _l("Conflict check matched this case"),
    "name_search_match": _l("Name search found this case"),
    "perpetrator_saved": _l("Alleged perpetrator recorded"),
    "perpetrator_deleted": _l("Alleged perpetrator removed"),
    "risk_assessed": _l("Risk assessed"),
    "safety_plan_saved": _l("Safety plan saved"),
    "emergency_access": _l("Emergency access opened"),
    "emergency_access_refused": _l("Emergency access refused"),
    "demo_seeded": _l("Demo data created"),
    "statistics_rebuilt": _l("Statistics copy rebuilt"),
    "consultation_added": _l("Consultation recorded"),
    "consultation_edited": _l("Consultation changed"),
    "keys_rotated": _l("Master key rotated"),
    "key_retired": _l("Master key version retired"),
    "audit_viewed": _l("Audit trail viewed"),
    "audit_verified": _l("Audit trail verified"),
    "report_viewed": _l("Statistics viewed"),
    "report_exported": _l("Statistics exported"),
    "name_search_refused": _l("Name search refused (limit reached or count unavailable)"),
    "case_erased": _l("Case erased"),
    "erasure_requested": _l("Erasure of a case requested"),
    "legal_hold_set": _l("Legal hold set"),
    "legal_hold_ended": _l("Legal hold ended"),
    "site_retention_changed": _l("Retention period of a site changed"),
    "backup_created": _l("Backup made"),
    "backup_restored": _l("Backup restored"),
}


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code
