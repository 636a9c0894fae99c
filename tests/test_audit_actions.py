"""Every event counsel writes on the trail has a label in both languages."""

from __future__ import annotations

import ast

from counsel.audit_actions import ACTION_LABELS
from counsel.settings import PROJECT_ROOT

# Written under a name computed at run time: the sign-out kinds, the decisions, the trail's own reading.
COMPUTED = {"sign_in", "sign_out", "lock", "request_confirmed", "request_refused", "audit_viewed", "audit_verified"}


def written_actions() -> set[str]:
    """The first argument of every audit.record(...) call with a literal action, anywhere in counsel."""
    found: set[str] = set()
    for path in (PROJECT_ROOT / "counsel").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit" and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return found


def test_every_action_written_has_a_label():
    written = written_actions()
    assert len(written) > 40
    assert sorted((written | COMPUTED) - ACTION_LABELS.keys()) == []
