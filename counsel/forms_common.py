"""Form pieces shared by the blueprints: checkbox lists and choices from code tables."""

from __future__ import annotations

from typing import Any

from wtforms import SelectChoice, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from counsel.codes import CodeTable


class CheckboxList(SelectMultipleField):
    """Several choices as checkboxes, usable without JavaScript."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def code_choices(table: CodeTable, blank: Any = None) -> list[SelectChoice]:
    """Choices for a code table in the current language, optionally after a blank entry."""
    options = [SelectChoice(code, str(label)) for code, label in table.items()]
    return ([SelectChoice("", str(blank))] if blank is not None else []) + options
