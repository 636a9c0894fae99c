"""The dependency rules of the code base, held by reading each module's imports.

Rules are checked on what a module reaches through any chain of imports, not only on what it
names: a model that imports a helper that imports a service depends on that service all the same.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from counsel.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "counsel"
BLUEPRINTS = ("counsel.auth", "counsel.account", "counsel.admin", "counsel.main", "counsel.cases",
              "counsel.reports")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


@cache
def reached(name: str) -> frozenset[str]:
    """Every module of counsel this one imports, directly or through others.

    `from counsel import audit` names the package too; the package's own __init__ (the app
    factory) is not counted as a dependency of everything that imports a sibling module.
    """
    seen: set[str] = set()
    waiting = [name]
    while waiting:
        for imported in imports(MODULES[waiting.pop()]):
            if imported in MODULES and imported != "counsel" and imported not in seen:
                seen.add(imported)
                waiting.append(imported)
    return frozenset(seen)


def reaches(folder_or_module: str, forbidden: tuple[str, ...]) -> list[tuple[str, str]]:
    """The (module, forbidden module reached) pairs of one layer."""
    layer = [name for name in MODULES if name == f"counsel.{folder_or_module}"
             or name.startswith(f"counsel.{folder_or_module}.")]
    assert layer, folder_or_module
    return [(name, other) for name in layer for other in sorted(reached(name))
            if other.startswith(tuple(f"counsel.{part}" for part in forbidden))]


VIEWS = tuple(name.removeprefix("counsel.") for name in BLUEPRINTS) + (
    "confirmations", "admin_audit", "cli", "templating", "security")


def test_crypto_knows_nothing_of_flask_the_database_or_the_rest_of_counsel():
    for path in modules("crypto"):
        for name in imports(path):
            assert not name.startswith(("flask", "sqlalchemy", "werkzeug")), (path, name)
            assert not name.startswith("counsel.") or name.startswith("counsel.crypto"), (path, name)


def test_models_know_no_request_session_url_or_flash():
    for path in modules("models"):
        for name in imports(path):
            assert not name.startswith(("flask.", "flask_login", "flask_wtf", "werkzeug")), (path, name)
            assert name != "flask", path


def test_models_reach_no_service_rule_audit_or_view():
    assert reaches("models", ("services", "access", "audit", "reporting", "vault") + VIEWS) == []


def test_the_audit_trail_and_the_access_rules_reach_no_service_or_view():
    assert reaches("audit", ("services", "access", "reporting") + VIEWS) == []
    assert reaches("access", ("services", "reporting") + VIEWS) == []


def test_reporting_reaches_no_service_and_no_view():
    assert reaches("reporting", ("services", "access") + VIEWS) == []


def test_services_never_reach_a_blueprint():
    assert reaches("services", VIEWS) == []


def test_only_the_app_factory_imports_views():
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py":
            continue
        for name in imports(path):
            assert not (name.startswith("counsel.") and ".views" in name), (path, name)


def test_settings_and_extensions_import_nothing_else_of_counsel():
    for module in ("settings.py", "extensions.py", "clock.py"):
        for name in imports(PACKAGE / module):
            assert not name.startswith("counsel"), (module, name)


def test_modules_stay_short():
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 420, path
