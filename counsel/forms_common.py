"""Form pieces shared by the blueprints: the base form, checkbox lists and choices from code tables."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, Field, FieldList, Form, FormField, PasswordField, SelectChoice, SelectMultipleField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from counsel.clock import today
from counsel.codes import CodeTable

# C0 controls except tab, line feed and carriage return, and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
UNSTORABLE = _l("This contains characters that cannot be stored (invisible control characters). "
                "Please remove them or type the text again.")


class CounselForm(FlaskForm):
    """The base of every form: text with control characters is refused here, in one place.

    PostgreSQL cannot store NUL in text (an error page instead of a message), and the other
    controls are invisible: they can hide or garble what a colleague reads. Tabs and line breaks
    are text. Passwords are never stored as text, so they are left as typed.
    """

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        valid: bool = super().validate(extra_validators)
        for field in _inputs(self):
            if not isinstance(field, PasswordField) and _holds_control(field):
                field.errors.append(str(UNSTORABLE))
                valid = False
        return valid


def _inputs(fields: Iterable[Field]) -> Iterator[Field]:
    """Every input field, also inside field lists and sub-forms."""
    for field in fields:
        if isinstance(field, FormField):
            yield from _inputs(field.form)
        elif isinstance(field, FieldList):
            yield from _inputs(field.entries)
        else:
            yield field


def _holds_control(field: Field) -> bool:
    return any(isinstance(value, str) and CONTROL_CHARACTERS.search(value) for value in field.raw_data or ())


# Nothing counsel records lies before this day (counselling, consents, follow-ups, shares); a birth
# before 1900 is a slip too. Nothing planned lies further ahead than YEARS_AHEAD.
EARLIEST_RECORD = date(1990, 1, 1)
EARLIEST_BIRTH = date(1900, 1, 1)
YEARS_AHEAD = 10


class DateBounds:
    """Refuse a slip of the keyboard (0025 or 20255 for 2025) before it lands in a case and the statistics.

    A date that cannot lie ahead (a birth, a consent given) ends today; any other ends
    YEARS_AHEAD years from today. Every date field of counsel carries one of these.
    """

    def __init__(self, earliest: date = EARLIEST_RECORD, *, ahead: bool = True, before: Any = None) -> None:
        self.earliest = earliest
        self.ahead = ahead
        self.before = before or _l("Please check the date: it lies before %(year)d.", year=earliest.year)

    def __call__(self, form: Form, field: DateField) -> None:
        if field.data is None:
            return
        if field.data < self.earliest:
            raise ValidationError(str(self.before))
        now = today()
        if not self.ahead and field.data > now:
            raise ValidationError(_l("Please check the date: it lies in the future."))
        if field.data > now.replace(year=now.year + YEARS_AHEAD, day=min(now.day, 28)):
            raise ValidationError(_l("Please check the date: it lies more than %(years)d years ahead.",
                                     years=YEARS_AHEAD))

    @property
    def render_kw(self) -> dict[str, str]:
        """The same floor for the browser's date picker."""
        return {"min": self.earliest.isoformat()}


class CheckboxList(SelectMultipleField):
    """Several choices as checkboxes, usable without JavaScript."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def code_choices(table: CodeTable, blank: Any = None) -> list[SelectChoice]:
    """Choices for a code table in the current language, optionally after a blank entry."""
    options = [SelectChoice(code, str(label)) for code, label in table.items()]
    return ([SelectChoice("", str(blank))] if blank is not None else []) + options
