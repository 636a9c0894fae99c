"""The instance folder and the SQLite files stay the service user's alone, whatever the umask.

A stolen database file is ciphertext, but its metadata and the key file beside it are not for
other accounts on the server: the real commands run here with the usual permissive umask.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from counsel.crypto import KeyRing
from counsel.extensions import db
from tests.conftest import PROJECT_ROOT, make_settings, running

COUNSEL = PROJECT_ROOT / ".venv" / "bin" / "counsel"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def counsel(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `counsel` command on development settings and only these COUNSEL_* values."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("COUNSEL_")}
    environ.update(COUNSEL_ENV="development", **env)
    done = subprocess.run([str(COUNSEL), *args], env=environ, capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_keys_init_makes_a_private_instance_folder(tmp_path, permissive_umask):
    instance = tmp_path / "instance"
    counsel("keys", "init", COUNSEL_INSTANCE_PATH=str(instance))
    assert mode(instance / "keys.json") == 0o600
    assert mode(instance) == 0o700


def test_setup_on_sqlite_makes_private_files(tmp_path, permissive_umask):
    KeyRing.create_file(tmp_path / "keys" / "keys.json")
    instance = tmp_path / "instance"
    counsel("setup", COUNSEL_INSTANCE_PATH=str(instance), COUNSEL_KEY_FILE=str(tmp_path / "keys" / "keys.json"))
    assert mode(instance) == 0o700
    assert mode(instance / "counsel.sqlite3") == 0o600


def test_a_running_app_keeps_its_write_ahead_log_private(tmp_path, permissive_umask):
    database = tmp_path / "instance" / "counsel.sqlite3"
    settings = make_settings(tmp_path, instance_path=str(database.parent), database_url=f"sqlite:///{database}")
    with running(settings):
        db.create_all()  # the engine stays connected: the -wal and -shm files exist now
        files = {path.name: mode(path) for path in database.parent.iterdir()}
    assert files == {"counsel.sqlite3": 0o600, "counsel.sqlite3-wal": 0o600, "counsel.sqlite3-shm": 0o600}
    assert mode(database.parent) == 0o700


def test_the_audit_checkpoint_file_is_private(tmp_path, permissive_umask):
    KeyRing.create_file(tmp_path / "keys" / "keys.json")
    instance = tmp_path / "instance"
    env = {"COUNSEL_INSTANCE_PATH": str(instance), "COUNSEL_KEY_FILE": str(tmp_path / "keys" / "keys.json"),
           "COUNSEL_AUDIT_CHECKPOINT_FILE": str(tmp_path / "log" / "checkpoints.log")}
    counsel("setup", **env)
    counsel("audit", "checkpoint", **env)
    assert mode(tmp_path / "log") == 0o700
    assert mode(tmp_path / "log" / "checkpoints.log") == 0o600
