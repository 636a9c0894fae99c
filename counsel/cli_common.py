"""What every command-line module of counsel shares: the settings, the key ring, a failure."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import current_app

from counsel.crypto import KeyRing
from counsel.settings import Settings


def settings() -> Settings:
    value: Settings = current_app.config["COUNSEL"]
    return value


def keyring() -> KeyRing:
    ring: KeyRing = current_app.extensions["counsel.vault"].keyring
    return ring


def fail(message: object) -> NoReturn:
    """Print the reason in red on standard error and end the command with status 1."""
    click.secho(str(message), fg="red", err=True)
    sys.exit(1)
