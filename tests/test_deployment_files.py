"""The README's production section and the files in config/ say the same thing.

tests/deployed/ runs these files; this module checks, without any service, that what the README
tells an operator to copy, run and enable is what the files contain.
"""

from __future__ import annotations

import re
from dataclasses import fields

from counsel.settings import CONFIG_DIR, PROJECT_ROOT, Settings, check_server, load
from tests.deployed.units import Unit, shipped

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
PRODUCTION = README.split("## Running in production", 1)[1].split("\n## ", 1)[0]
DEPLOYMENT_FILES = sorted(
    str(path.relative_to(PROJECT_ROOT)) for path in CONFIG_DIR.rglob("*")
    if path.is_file() and (path.parent != CONFIG_DIR or "example" in path.name or path.suffix == ".py")
)
# Read by gunicorn's config file and by the settings loader itself, not Settings fields.
SERVER_VARIABLES = {"COUNSEL_ENV", "COUNSEL_CONFIG", "COUNSEL_BIND", "COUNSEL_WORKERS", "COUNSEL_FORWARDED_ALLOW_IPS"}


def named_in_readme() -> set[str]:
    found = set(re.findall(r"`(config/[\w./@-]+)`", PRODUCTION))
    # "`config/systemd/x.service` and `.timer`" names the timer beside its service
    found |= {f"{path.rsplit('.', 1)[0]}.timer" for path in found if path.endswith(".service")
              and f"`{path}` and `.timer`" in PRODUCTION}
    return found


def test_the_readme_names_every_deployment_file_and_each_exists():
    assert set(DEPLOYMENT_FILES) <= named_in_readme(), set(DEPLOYMENT_FILES) - named_in_readme()
    missing = [path for path in named_in_readme() if not (PROJECT_ROOT / path).is_file()]
    assert not missing


def test_the_instances_the_readme_enables_are_the_upstreams_of_the_nginx_site():
    enabled = re.search(r"systemctl enable --now (.+)", PRODUCTION)
    assert enabled
    ports = re.findall(r"counsel@(\d+)", enabled.group(1))
    upstreams = re.findall(r"server 127\.0\.0\.1:(\d+);", shipped("nginx/counsel.conf"))
    assert ports == upstreams == ["8001", "8002"]
    assert "counsel-audit-checkpoint.timer" in enabled.group(1)


def test_the_units_run_the_commands_the_readme_shows():
    instance = Unit.parse(shipped("systemd/counsel@.service"))
    command = instance.value("Service", "ExecStart").replace("/opt/counsel/.venv/bin/", "").replace("/opt/counsel/", "")
    assert f"`{command}`" in PRODUCTION
    assert instance.value("Service", "WorkingDirectory") == "/opt/counsel"
    assert "COUNSEL_BIND=127.0.0.1:%i" in instance.values("Service", "Environment")
    checkpoint = Unit.parse(shipped("systemd/counsel-audit-checkpoint.service"))
    assert checkpoint.value("Service", "ExecStart") == "/opt/counsel/.venv/bin/counsel audit checkpoint"
    timer = Unit.parse(shipped("systemd/counsel-audit-checkpoint.timer"))
    assert timer.value("Timer", "Unit") == "counsel-audit-checkpoint.service"
    assert timer.value("Timer", "OnCalendar") == "hourly"
    cron = "17 * * * * counsel /opt/counsel/.venv/bin/counsel audit checkpoint"
    assert f"`{cron}`" in PRODUCTION
    assert " ".join(cron.split()) in " ".join(shipped("systemd/counsel-audit-checkpoint.timer").split())
    for unit in (instance, checkpoint):
        assert unit.values("Service", "EnvironmentFile") == ["/etc/counsel/counsel.env"]
    assert "set -a; . /etc/counsel/counsel.env; set +a" in PRODUCTION
    assert "set -a; . /etc/counsel/counsel.env; set +a" in shipped("counsel.env.example")


def test_the_example_settings_make_a_production_server_that_starts(tmp_path):
    env = dict(line.split("=", 1) for line in shipped("counsel.env.example").splitlines()
               if line and not line.startswith("#"))
    assert env["COUNSEL_ENV"] == "production" and env["COUNSEL_CONFIG"] == "/etc/counsel/counsel.toml"
    assert env["COUNSEL_SECRET_KEY"] == ""  # never a shipped secret: production refuses to start without one
    example = tmp_path / "counsel.toml"
    example.write_text(shipped("production.example.toml"), encoding="utf-8")
    settings = load(environ={**env, "COUNSEL_CONFIG": str(example), "COUNSEL_SECRET_KEY": "s" * 64})
    assert settings.is_production and settings.trusted_proxies == 1
    assert settings.ratelimit_storage_uri.startswith("redis://")
    workers = int(Unit.parse(shipped("systemd/counsel@.service")).assignments()["COUNSEL_WORKERS"])
    check_server(settings, workers=workers, serves_tls=False)


def test_every_setting_the_deployment_names_exists():
    known = {f"COUNSEL_{field.name.upper()}" for field in fields(Settings)} | SERVER_VARIABLES
    text = PRODUCTION + "".join(shipped(path.removeprefix("config/")) for path in DEPLOYMENT_FILES)
    named = set(re.findall(r"\bCOUNSEL_[A-Z_]+\b", text))
    assert named and named <= known, named - known
    toml_keys = set(re.findall(r"^(\w+) =", shipped("production.example.toml"), re.MULTILINE))
    assert toml_keys <= {field.name for field in fields(Settings)}, toml_keys
