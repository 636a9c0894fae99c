"""The deployed stack (tests/deployed/stack.py), started once for the test run, at the first test that asks for it,
and Chromium contexts that reach it through nginx over HTTPS.

Needs nginx, Redis and PostgreSQL on this machine (and Debian's Chromium for the browser
journeys); skipped without them, failed instead when COUNSEL_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests import services
from tests.browser.conftest import (  # noqa: F401 - fixtures of the browser tests, used here too
    TIMEOUT_MS,
    _browser_available,
    browser,
    playwright_driver,
)
from tests.browser.helpers import PageLog
from tests.deployed.stack import Stack, missing_services

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    services.require(missing_services())
    deployed = Stack(tmp_path_factory.mktemp("deployed"))
    try:
        deployed.start()
        yield deployed
    finally:
        deployed.stop()


@pytest.fixture
def deployed_context(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:  # noqa: F811
    """A fresh Chromium profile whose relative URLs go to nginx; it accepts the throwaway certificate."""
    context = browser.new_context(base_url=stack.url, ignore_https_errors=True, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def deployed_log(deployed_context: BrowserContext, stack: Stack) -> PageLog:
    log = PageLog(origin=stack.url)
    log.attach(deployed_context)
    return log
