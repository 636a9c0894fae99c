"""Tests that need a service this machine may lack (nginx, Redis, PostgreSQL) skip without it,
unless COUNSEL_REQUIRE_SERVICES=1 (set by .ci/run), where a missing service fails them instead."""

from __future__ import annotations

import os

import pytest


def require(problems: list[str]) -> None:
    """Skip, or fail where services are required, when anything is missing."""
    if not problems:
        return
    message = "; ".join(problems)
    if os.environ.get("COUNSEL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"COUNSEL_REQUIRE_SERVICES=1 but {message}", pytrace=False)
    pytest.skip(message)
