"""Settings: files, then COUNSEL_CONFIG, then COUNSEL_* variables; production refuses unsafe values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from counsel import create_app
from counsel.access import today
from counsel.crypto import KeyRingError
from counsel.models.safety import Consent
from counsel.settings import SettingsError, load

STRONG = "k" * 48


def test_environment_overrides_files(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text('session_idle_minutes = 20\nreport_min_cell = 7\n')
    settings = load(environ={"COUNSEL_ENV": "test", "COUNSEL_CONFIG": str(extra), "COUNSEL_REPORT_MIN_CELL": "9",
                             "COUNSEL_REQUIRE_TOTP": "true"})
    assert settings.session_idle_minutes == 20  # from the file
    assert settings.report_min_cell == 9  # the variable wins over the file
    assert settings.require_totp is True
    assert settings.argon2_time_cost == 1  # from config/test.toml


def test_bad_values_are_explained():
    with pytest.raises(SettingsError, match="COUNSEL_SESSION_IDLE_MINUTES must be a whole number"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_SESSION_IDLE_MINUTES": "soon"})
    with pytest.raises(SettingsError, match="true or false"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_REQUIRE_TOTP": "maybe"})
    with pytest.raises(SettingsError, match="at least 3"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_REPORT_MIN_CELL": "2"})


def test_production_refuses_to_start_without_a_secret():
    with pytest.raises(SettingsError, match="COUNSEL_SECRET_KEY is not set"):
        load(environ={"COUNSEL_ENV": "production"})


def test_production_refuses_a_development_secret():
    with pytest.raises(SettingsError, match="development secret"):
        load(environ={"COUNSEL_ENV": "production",
                      "COUNSEL_SECRET_KEY": "insecure-development-secret-do-not-use-in-production"})


def test_production_refuses_cookies_without_https():
    with pytest.raises(SettingsError, match="HTTPS"):
        load(environ={"COUNSEL_ENV": "production", "COUNSEL_SECRET_KEY": STRONG,
                      "COUNSEL_SESSION_COOKIE_SECURE": "false"})


def test_production_refuses_to_start_without_a_key(tmp_path):
    settings = load(environ={"COUNSEL_ENV": "production", "COUNSEL_SECRET_KEY": STRONG,
                             "COUNSEL_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(KeyRingError, match="counsel keys init"):
        create_app(settings)


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    from counsel.crypto import KeyRing

    key_file = tmp_path / "keys.json"
    KeyRing.create_file(key_file)
    key_file.chmod(0o644)
    settings = load(environ={"COUNSEL_ENV": "production", "COUNSEL_SECRET_KEY": STRONG,
                             "COUNSEL_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(KeyRingError, match="chmod"):
        create_app(settings)


def test_unknown_settings_are_refused(tmp_path):
    extra = tmp_path / "typo.toml"
    extra.write_text("sesion_idle_minutes = 5\n")
    with pytest.raises(SettingsError, match="sesion_idle_minutes"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_CONFIG": str(extra)})


def test_rounding_and_time_zone_are_checked():
    with pytest.raises(SettingsError, match="funder_rounding"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_FUNDER_ROUNDING": "-5"})
    with pytest.raises(SettingsError, match="Europe/Dortmund"):
        load(environ={"COUNSEL_ENV": "test", "COUNSEL_TIMEZONE": "Europe/Dortmund"})


LATE_EVENING_UTC = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # half past midnight on 11 March in Dortmund


def test_the_day_turns_at_midnight_in_the_service_time_zone(app):
    """A consent that ran until 10 March allows nothing at 00:30 on the 11th, local time."""
    consent = Consent(purpose="statistics", given_on=date(2026, 3, 1), expires_on=date(2026, 3, 10))
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        assert today() == date(2026, 3, 11)
        assert not consent.valid_on(today())


@pytest.mark.settings(timezone="UTC")
def test_the_time_zone_is_a_setting(app):
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        assert today() == date(2026, 3, 10)
