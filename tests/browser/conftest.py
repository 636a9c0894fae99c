"""Browser tests: the real app on a local port, driven by the system Chromium through Playwright.

`live_server` serves the `app` of tests/conftest.py (fresh settings and database; change
settings with `@pytest.mark.settings(...)`) from a background thread on 127.0.0.1 and yields
its base URL. `page` is a tab in a fresh browser context whose relative URLs go to that server
(`page.goto("/login")`); `page_log` has recorded, from before the first navigation, every
request, console message, uncaught script error and Content-Security-Policy violation of that
context: end a test with `page_log.assert_clean()`.

Chromium is Debian's (/usr/bin/chromium); no browser is ever downloaded. Without it these tests
are skipped, unless COUNSEL_REQUIRE_BROWSER=1 (as in CI), where they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from tests.browser.helpers import PageLog

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 15_000  # for each action and each expect(); generous for a busy two-core CI machine


def browser_missing() -> str | None:
    """Say why Chromium cannot be driven, or None (Playwright itself is a dev dependency)."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: install Debian's browser with `apt-get install chromium`"
    return None


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    """Skip every browser test when Chromium is missing, or fail them when CI requires the browser."""
    problem = browser_missing()
    if problem is None:
        return
    if os.environ.get("COUNSEL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"COUNSEL_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
    pytest.skip(problem)


def buffered(app: Flask) -> Callable[[dict[str, Any], Any], list[bytes]]:
    """Wrap the app so that each response body is read whole, and closed, before a byte is sent.

    Werkzeug's development server closes a response (and the static file it holds open) only
    after draining the request socket; when the browser resets the connection meanwhile (a
    context closing while it fetches the favicon), that read raises first, the file is never
    closed, and its ResourceWarning surfaces in a later test.
    """

    def serve(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return serve


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the test's app on a free local port; yield its base URL, e.g. http://127.0.0.1:41234.

    At the end every request thread has finished, so no request still holds a database
    connection when the `app` fixture disposes of the engine.
    """
    server = make_server("127.0.0.1", 0, buffered(app), threaded=True)
    # Werkzeug's request threads are daemons, which socketserver neither tracks nor joins; a request
    # still running (say, the favicon the browser fetched last) would outlive the test.
    server.daemon_threads = False
    # Chromium keeps connections open (HTTP/1.1 keep-alive) and a request thread waits on an open
    # connection for ever: remember every accepted socket, so the teardown can close them.
    connections: weakref.WeakSet[socket.socket] = weakref.WeakSet()
    accept = server.get_request

    def get_request() -> tuple[socket.socket, Any]:
        connection, address = accept()
        connections.add(connection)
        return connection, address

    server.get_request = get_request  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()  # accepts no more connections
        for connection in list(connections):
            with contextlib.suppress(OSError):  # closed already
                connection.shutdown(socket.SHUT_RDWR)  # an idle keep-alive thread reads the end and stops
        # Werkzeug's serve_forever ends with server_close(): the socket closes and the request threads
        # are joined, within this bounded wait. Called again below in case a later werkzeug does not.
        thread.join(timeout=30)
        assert not thread.is_alive(), "the live server did not stop within 30 s: a request still runs"
        server.server_close()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies, no cache) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()  # before the live server stops: the profile's connections close with it


@pytest.fixture
def page_log(context: BrowserContext, live_server: str) -> PageLog:
    log = PageLog(origin=live_server)
    log.attach(context)
    return log


@pytest.fixture
def page(context: BrowserContext, page_log: PageLog) -> Page:
    """A tab of the context, watched by `page_log` from the start."""
    return context.new_page()
