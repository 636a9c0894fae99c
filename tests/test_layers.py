"""The dependency rules of the code base, held by reading each module's imports."""

from __future__ import annotations

import ast
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


def test_services_never_import_a_blueprint():
    for path in modules("services"):
        for name in imports(path):
            assert not name.startswith(BLUEPRINTS), (path, name)


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
