"""Forms of case work. Choices are filled per request, so their labels follow the interface language."""

from __future__ import annotations

from typing import Any

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from counsel import codes
from counsel.forms_common import EARLIEST_BIRTH, CheckboxList, CounselForm, DateBounds, code_choices
from counsel.languages import UnknownLanguage, parse_language

LANGUAGE_ROWS = 4
TEXT = 2000
NOTES = 20000


def country_choices() -> list[SelectChoice]:
    """Countries (ISO 3166) by name in the interface language."""
    ui = Locale.parse(str(get_locale() or "de"))
    names = sorted(((code, name) for code, name in ui.territories.items() if len(code) == 2 and code.isalpha()
                    and code not in ("ZZ", "EU", "EZ", "UN", "XA", "XB", "XK", "QO")),
                   key=lambda pair: pair[1].casefold())
    return [SelectChoice("", "–")] + [SelectChoice(code, name) for code, name in names]


def known_language(form: Form, field: StringField) -> None:
    """Refuse a language counsel cannot name, so no made-up tag reaches a case or the statistics."""
    try:
        parse_language(field.data or "")
    except UnknownLanguage as exc:
        raise ValidationError(_l("“%(value)s” is not a language we know. Pick one from the list, or type its name "
                                 "(Arabisch, Arabic) or a tag such as ar or ckb.", value=exc.value)) from None


LANGUAGE = [Optional(), Length(max=60), known_language]
CONSULTATION_DATE = DateBounds(before=_l("A consultation cannot lie before 1990."))
BIRTH = DateBounds(EARLIEST_BIRTH, ahead=False)
LATER = DateBounds()


class LanguageRow(Form):
    tag = StringField(_l("Language"), validators=LANGUAGE,
                      render_kw={"list": "language-options", "autocomplete": "off"})
    mode = SelectField(_l("How"), validate_choice=False)
    preferred = BooleanField(_l("Preferred"))


class CaseForm(CounselForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)],
                       description=_l("Full name, or the name she wants to be called. Shown only on this page."),
                       render_kw={"dir": "auto", "autocomplete": "off"})
    pseudonym = StringField(_l("Pseudonym for lists"), validators=[Length(max=80)],
                            description=_l("Shown in lists and on the dashboard instead of the name."),
                            render_kw={"dir": "auto", "autocomplete": "off"})
    other_spellings = TextAreaField(
        _l("Other spellings of the name"), validators=[Length(max=TEXT)],
        description=_l("One per line. The search joins case, accents and many keyboard variants, but not "
                       "transliterations: Fatma, Fatima and فاطمة are different names to it."),
        render_kw={"dir": "auto", "rows": 3})
    date_of_birth = DateField(_l("Date of birth"), validators=[Optional(), BIRTH], render_kw=BIRTH.render_kw)
    age_band = SelectField(_l("Age (if the date of birth is unknown)"))
    phone = StringField(_l("Phone"), validators=[Length(max=80)], render_kw={"autocomplete": "off",
                                                                            "inputmode": "tel"})
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200), Regexp(
                            r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("This is not an e-mail address."))],
                        render_kw={"autocomplete": "off"})
    address = TextAreaField(_l("Address"), validators=[Length(max=TEXT)], render_kw={"dir": "auto", "rows": 2})
    safe_contact = TextAreaField(
        _l("Safe ways to reach her"), validators=[Length(max=TEXT)],
        description=_l('For example "no voicemail", "only Tuesdays", "he reads her phone".'),
        render_kw={"dir": "auto", "rows": 2})
    children = StringField(_l("Children (number and ages)"), validators=[Length(max=200)])
    country = SelectField(_l("Country of origin"))
    residence_status = SelectField(_l("Residence status"))
    violence_forms = CheckboxList(_l("Forms of violence"))
    perpetrator_relation = SelectField(_l("Relationship to the (alleged) perpetrator"))
    referral_source = SelectField(_l("How she found the service"))
    languages = FieldList(FormField(LanguageRow), min_entries=LANGUAGE_ROWS, max_entries=LANGUAGE_ROWS)
    notes = TextAreaField(_l("Notes"), validators=[Length(max=NOTES)], render_kw={"dir": "auto", "rows": 6})
    acknowledge = BooleanField(_l("I have read the warning and still want to save"))
    shown_matches = HiddenField()
    version = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.age_band.choices = code_choices(codes.AGE_BANDS)
        self.country.choices = country_choices()
        self.residence_status.choices = code_choices(codes.RESIDENCE_STATUS)
        self.violence_forms.choices = code_choices(codes.VIOLENCE_FORMS)
        self.perpetrator_relation.choices = code_choices(codes.RELATIONSHIPS)
        self.referral_source.choices = code_choices(codes.REFERRAL_SOURCES, blank="–")
        for row in self.languages:
            row.form.mode.choices = code_choices(codes.LANGUAGE_MODES)


class ConsultationForm(CounselForm):
    held_on = DateField(_l("Date"), validators=[DataRequired(), CONSULTATION_DATE],
                        render_kw=CONSULTATION_DATE.render_kw)
    minutes = IntegerField(_l("Duration in minutes"), validators=[InputRequired(), NumberRange(min=1, max=720)])
    channel = SelectField(_l("Channel"))
    language = StringField(_l("Language used"), validators=LANGUAGE,
                           render_kw={"list": "language-options", "autocomplete": "off"})
    interpreting = SelectField(_l("Interpreting"))
    interpreter = StringField(_l("Interpreter (name or service)"), validators=[Length(max=200)])
    pledge_on_file = BooleanField(_l("Confidentiality pledge of the interpreter on file"))
    topics = CheckboxList(_l("Topics"))
    referrals = CheckboxList(_l("Referrals made"))
    notes = TextAreaField(_l("Notes"), validators=[Length(max=NOTES)], render_kw={"dir": "auto", "rows": 8})
    follow_up_on = DateField(_l("Next follow-up"), validators=[Optional(), LATER], render_kw=LATER.render_kw)
    version = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel.choices = code_choices(codes.CHANNELS)
        self.interpreting.choices = code_choices(codes.INTERPRETING)
        self.topics.choices = code_choices(codes.TOPICS)
        self.referrals.choices = code_choices(codes.REFERRALS)


class NameSearchForm(CounselForm):
    name = StringField(_l("Name of the client"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"dir": "auto", "autocomplete": "off", "autofocus": True})
    language = StringField(_l("Her preferred language"), validators=LANGUAGE,
                           render_kw={"list": "language-options", "autocomplete": "off"})


class ShareForm(CounselForm):
    colleague = SelectField(_l("Colleague"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)], render_kw={"rows": 2})
    until = DateField(_l("Until (optional)"), validators=[Optional(), LATER], render_kw=LATER.render_kw)


class CaseFilterForm(CounselForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()])
    number = StringField(_l("Case number"), validators=[Optional(), Length(max=24)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [SelectChoice("open", str(_l("open"))), SelectChoice("closed", str(_l("closed"))),
                               SelectChoice("all", str(_l("all")))]
