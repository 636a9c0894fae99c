"""Typed SQLAlchemy models, one module per aggregate; importing this registers them all."""

from counsel.models.audit import AuditEvent, AuditHead
from counsel.models.case import Case, CaseCounter, CaseLanguage, CaseNameIndex, CaseShare, CaseViolenceForm
from counsel.models.change_request import ChangeRequest
from counsel.models.consultation import Consultation, ConsultationReferral, ConsultationTopic
from counsel.models.data_key import DataKey
from counsel.models.pledge import PledgeAcceptance
from counsel.models.retention import LegalHold
from counsel.models.safety import (
    Consent,
    ContactIndex,
    Disclosure,
    EmergencyAccess,
    Notification,
    Perpetrator,
    RiskAssessment,
)
from counsel.models.site import Site
from counsel.models.statistics import CaseFacts, ConsentSpan, FactLanguage, FactRisk, activity
from counsel.models.user import (
    LoginThrottle,
    RecoveryCode,
    Role,
    SupervisionScope,
    User,
    UserLanguage,
    UserRole,
)
from counsel.models.web_session import WebSession

__all__ = [
    "AuditEvent",
    "CaseFacts",
    "ConsentSpan",
    "FactLanguage",
    "FactRisk",
    "activity",
    "AuditHead",
    "Case",
    "CaseCounter",
    "CaseLanguage",
    "CaseNameIndex",
    "CaseShare",
    "CaseViolenceForm",
    "ChangeRequest",
    "Consultation",
    "ConsultationReferral",
    "ConsultationTopic",
    "Consent",
    "ContactIndex",
    "Disclosure",
    "EmergencyAccess",
    "Notification",
    "Perpetrator",
    "RiskAssessment",
    "DataKey",
    "LegalHold",
    "LoginThrottle",
    "PledgeAcceptance",
    "RecoveryCode",
    "Role",
    "Site",
    "SupervisionScope",
    "User",
    "UserLanguage",
    "UserRole",
    "WebSession",
]
