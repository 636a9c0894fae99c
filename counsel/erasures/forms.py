"""The one form of the erasure pages: a reason, for a legal hold or for asking that a case be erased."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from counsel.forms_common import CounselForm


class ReasonForm(CounselForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)],
                           description=_l("No names and nothing of her story: an admin or a coordinator reads it."))
