"""Every form field on every page has a label a screen reader announces.

Walks every page without path parameters as each role (and the admin's pages for one account
and one site), and checks each visible input, select and textarea: it needs a <label for> naming
its id, or must sit inside its <label>; a checkbox or radio button may instead be one of a group
in a <fieldset> with a <legend>.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from counsel.models.user import Role

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}
NOT_PAGES = {"static", "main.health"}


@dataclass
class Control:
    tag: str
    type: str
    id: str
    in_label: bool
    in_group: bool  # inside a fieldset that has a legend


@dataclass
class FormReader(HTMLParser):
    controls: list[Control] = field(default_factory=list)
    label_targets: set[str] = field(default_factory=set)
    fieldsets: list[bool] = field(default_factory=list)  # per open fieldset: has it a legend yet?
    open_labels: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "fieldset":
            self.fieldsets.append(False)
        elif tag == "legend" and self.fieldsets:
            self.fieldsets[-1] = True
        elif tag == "label":
            self.open_labels += 1
            if values.get("for"):
                self.label_targets.add(values["for"])
        elif tag in ("input", "select", "textarea"):
            kind = values.get("type", "text").lower() if tag == "input" else tag
            if kind not in UNLABELLED_TYPES:
                self.controls.append(Control(tag, kind, values.get("id", ""), self.open_labels > 0,
                                             any(self.fieldsets)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "fieldset" and self.fieldsets:
            self.fieldsets.pop()
        elif tag == "label" and self.open_labels:
            self.open_labels -= 1

    def unlabelled(self) -> list[str]:
        return [f"<{c.tag} type={c.type} id={c.id or '(none)'}>" for c in self.controls
                if not (c.id and c.id in self.label_targets) and not c.in_label
                and not (c.type in ("checkbox", "radio") and c.in_group)]


def pages(app, *extra: str) -> list[str]:
    """Every GET page that takes no path parameter, then the extra ones."""
    with app.test_request_context():
        plain = sorted(app.url_for(rule.endpoint) for rule in app.url_map.iter_rules()
                       if "GET" in rule.methods and not rule.arguments and rule.endpoint not in NOT_PAGES)
    return plain + list(extra)


@pytest.mark.parametrize(("role", "at_least"), [(None, 1), (Role.ADMIN, 12), (Role.ADVISER, 8),
                                                 (Role.SUPERVISOR, 7)])
def test_every_field_on_every_page_has_a_label(app, make_user, site, signed_in, new_client, role, at_least):
    other = make_user("kollegin")
    client = signed_in(make_user("tester", role)) if role else new_client()
    problems = {}
    shown = []
    for url in pages(app, f"/admin/users/{other.id}", f"/admin/sites/{site.id}"):
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue  # another role's page, or a redirect
        reader = FormReader()
        reader.feed(response.get_data(as_text=True))
        shown.append(url)
        if reader.unlabelled():
            problems[url] = reader.unlabelled()
    assert len(shown) >= at_least, shown
    assert problems == {}


def test_the_check_finds_a_field_without_a_label():
    reader = FormReader()
    reader.feed('<label for="a">A</label><input id="a"><label>B <input name="b"></label>'
                '<fieldset><legend>C</legend><input type="checkbox" name="c"></fieldset>'
                '<input type="hidden" name="csrf_token"><select id="d"></select>'
                '<fieldset><input type="radio" name="e"></fieldset>')
    assert reader.unlabelled() == ["<select type=select id=d>", "<input type=radio id=(none)>"]
