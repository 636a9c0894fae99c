"""Forms for consent, disclosures, perpetrators, risk, the safety plan and emergency access."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from counsel import codes
from counsel.forms_common import CheckboxList, CounselForm, DateBounds, code_choices

ACKNOWLEDGE = _l("I have read the warning and still want to save")
GIVEN = DateBounds(ahead=False)
LATER = DateBounds()


class ConsentForm(CounselForm):
    purpose = SelectField(_l("Consent to"))
    given_on = DateField(_l("Given on"), validators=[DataRequired(), GIVEN], render_kw=GIVEN.render_kw)
    given_how = SelectField(_l("How it was given"))
    form_version = StringField(_l("Version of the consent form"), validators=[DataRequired(), Length(max=32)])
    expires_on = DateField(_l("Valid until (optional)"), validators=[Optional(), LATER], render_kw=LATER.render_kw)
    recipient_kind = SelectField(_l("Recipient (for a release from confidentiality)"))
    recipient = StringField(_l("Name of the recipient"), validators=[Length(max=200)],
                            description=_l("e.g. Frauenhaus Dortmund, or the lawyer's name"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purpose.choices = code_choices(codes.CONSENT_PURPOSES)
        self.given_how.choices = code_choices(codes.CONSENT_FORMS)
        self.recipient_kind.choices = code_choices(codes.REFERRALS, blank="–")


class DisclosureForm(CounselForm):
    recipient_kind = SelectField(_l("Recipient"))
    recipient = StringField(_l("Name of the recipient"), validators=[DataRequired(), Length(max=200)])
    content = TextAreaField(_l("What is passed on"), validators=[DataRequired(), Length(max=2000)],
                            render_kw={"rows": 3, "dir": "auto"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recipient_kind.choices = code_choices(codes.REFERRALS)


class PerpetratorForm(CounselForm):
    name = StringField(_l("Name"), validators=[Length(max=200)], render_kw={"dir": "auto", "autocomplete": "off"})
    phone = StringField(_l("Phone"), validators=[Length(max=80)], render_kw={"autocomplete": "off"})
    address = TextAreaField(_l("Address"), validators=[Length(max=500)], render_kw={"rows": 2, "dir": "auto"})
    notes = TextAreaField(_l("Notes"), validators=[Length(max=5000)], render_kw={"rows": 3, "dir": "auto"})
    acknowledge = BooleanField(ACKNOWLEDGE)
    shown_matches = HiddenField()


class RiskForm(CounselForm):
    indicators = CheckboxList(_l("What applies"))
    level = SelectField(_l("Level"), description=_l("Leave it to the checklist, or raise it with a reason."))
    reasoning = TextAreaField(_l("Reasoning"), validators=[Length(max=5000)], render_kw={"rows": 3, "dir": "auto"})
    review_on = DateField(_l("Next review"), validators=[DataRequired(), LATER], render_kw=LATER.render_kw)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.indicators.choices = code_choices(codes.RISK_INDICATORS)
        self.level.choices = code_choices(codes.RISK_LEVELS, blank=_l("as the checklist gives"))


class SafetyPlanForm(CounselForm):
    plan = TextAreaField(_l("Safety plan"), validators=[Length(max=20000)], render_kw={"rows": 12, "dir": "auto"},
                         description=_l("Safe places, people she can call, documents to keep ready, how to reach "
                                        "help at night, code words."))
    version = HiddenField()


class EmergencyForm(CounselForm):
    number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=24)],
                         render_kw={"autocomplete": "off", "spellcheck": "false"})
    justification = TextAreaField(_l("Why this cannot wait for the colleague who holds the case"),
                                  validators=[DataRequired(), Length(max=2000)], render_kw={"rows": 4})
