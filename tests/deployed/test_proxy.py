"""counsel as deployed, over HTTP: what the proxy and the two instances must hold for every visitor.

Requests through nginx go over HTTPS to https://localhost:<port>; requests "straight to A or B"
go to one gunicorn instance with the headers nginx would add, so a test chooses which instance
answers. Each test that signs in or fails to uses its own client address and account, so the
throttles they fill never meet.
"""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest

from tests.deployed.stack import HOST, Stack, Visitor

ONE_YEAR = 365 * 24 * 3600


def sign_in_form(visitor: Visitor, username: str, password: str, token: str) -> dict[str, str]:
    return {"csrf_token": token, "username": username, "password": password, "next": ""}


def test_proxied_responses_carry_https_only_cookies_hsts_and_the_security_headers(stack: Stack):
    visitor = Visitor(stack, forwarded_for="127.0.0.1")
    response = visitor.get("/login")
    assert response.status == 200
    headers = response.headers
    hsts = headers["Strict-Transport-Security"]
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= ONE_YEAR and "includeSubDomains" in hsts
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Server"] == "nginx"  # no version number
    cookies = headers.get_all("Set-Cookie") or []
    assert cookies, "the sign-in page sets the form-token cookie"
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=strict"} <= flags, cookie


def test_the_signed_in_session_cookie_is_https_only_too(stack: Stack):
    password = stack.create_account("cookie.check")
    visitor = Visitor(stack)
    token = visitor.get("/login").csrf_token()
    response = visitor.post("/login", sign_in_form(visitor, "cookie.check", password, token),
                            headers=visitor.same_origin("/login"))
    assert response.status == 302
    assert response.headers["Location"] == "/"
    (cookie,) = response.headers.get_all("Set-Cookie") or []
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict"} <= flags, cookie


def test_plain_http_is_sent_to_https_and_nothing_else(stack: Stack):
    connection = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    try:
        connection.request("GET", "/login?next=/cases", headers={"Host": HOST})
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 301
    assert answer.headers["Location"] == f"https://{HOST}/login?next=/cases"
    assert b"csrf_token" not in body


def test_a_name_the_proxy_does_not_serve_gets_no_tls_handshake(stack: Stack):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the refusal must come from the server, not from this check
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="other.example.org").close()
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw:
        context.wrap_socket(raw, server_hostname=HOST).close()  # the served name shakes hands


@pytest.mark.parametrize("origin, referer", [
    pytest.param("https://evil.example", None, id="another site"),
    pytest.param("https://localhost:1", None, id="another port"),
    pytest.param("http://{host}", None, id="plain http"),
    pytest.param("null", None, id="opaque origin"),
    pytest.param(None, None, id="no origin, no referrer"),
    pytest.param(None, "https://evil.example/form", id="another site's referrer"),
])
def test_a_cross_origin_form_through_the_proxy_is_refused(stack: Stack, origin: str | None, referer: str | None):
    visitor = Visitor(stack)
    token = visitor.get("/login").csrf_token()  # even with a valid token and cookie
    headers = {}
    if origin:
        headers["Origin"] = origin.format(host=stack.host)
    if referer:
        headers["Referer"] = referer
    response = visitor.post("/language", {"csrf_token": token, "locale": "en", "next": "/login"}, headers=headers)
    assert response.status == 400
    assert 'action="/login"' not in response.body  # the "form expired" page, not where the form leads
    assert '<html lang="de"' in visitor.get("/login").body  # the switch did not happen


def test_a_same_origin_form_through_the_proxy_is_accepted(stack: Stack):
    visitor = Visitor(stack)
    token = visitor.get("/login").csrf_token()
    response = visitor.post("/language", {"csrf_token": token, "locale": "en", "next": "/login"},
                            headers=visitor.same_origin("/login"))
    assert response.status == 302 and response.headers["Location"] == "/login"
    assert '<html lang="en"' in visitor.get("/login").body


def test_requests_through_the_proxy_are_shared_between_both_instances(stack: Stack):
    before = [len(instance.requests_served()) for instance in stack.instances]
    visitor = Visitor(stack)
    for _ in range(10):
        assert visitor.get("/health").status == 200
    served = stack.served_since(before, total=10)
    assert sum(served) == 10 and min(served) >= 4, served  # round robin: about half each


def test_a_session_begun_on_one_instance_holds_on_the_other(stack: Stack):
    first, second = stack.instances
    password = stack.create_account("session.check")
    visitor = Visitor(stack, forwarded_for="198.51.100.20")
    token = visitor.get("/login", first).csrf_token()
    signed_in = visitor.post("/login", sign_in_form(visitor, "session.check", password, token), first,
                             headers=visitor.same_origin("/login"))
    assert signed_in.status == 302 and signed_in.headers["Location"] == "/"
    page = visitor.get("/account/password", second)
    assert page.status == 200 and 'name="current"' in page.body  # her password form, not the sign-in page
    assert visitor.post("/logout", {"csrf_token": page.csrf_token()}, second,
                        headers=visitor.same_origin("/account/password")).status == 302
    assert visitor.get("/account/password", first).headers["Location"].startswith("/login")  # ended on A too


def test_lock_out_reached_through_one_instance_holds_through_the_other(stack: Stack):
    first, second = stack.instances
    password = stack.create_account("lockout.check")
    visitor = Visitor(stack, forwarded_for="198.51.100.30")
    token = visitor.get("/login", second).csrf_token()
    form = sign_in_form(visitor, "lockout.check", password, token)
    headers = visitor.same_origin("/login")
    # Her password is right: B lets her in. Then she signs out, and someone guesses on A.
    assert visitor.post("/login", form, second, headers=headers).status == 302
    visitor.cookies.clear()
    token = visitor.get("/login", first).csrf_token()
    wrong = sign_in_form(visitor, "lockout.check", "not her password at all", token)
    statuses = [visitor.post("/login", wrong, first, headers=headers).status for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429], statuses
    # Now even the right password is refused on B, with the lock-out message.
    refused = visitor.post("/login", {**form, "csrf_token": token}, second, headers=headers)
    assert refused.status == 429
    assert visitor.get("/account/password", second).headers["Location"].startswith("/login")  # not signed in


def test_throttling_per_address_counts_across_both_instances(stack: Stack):
    """30 sign-in attempts a minute from one address, whichever instance answers (Redis, not memory)."""
    visitor = Visitor(stack, forwarded_for="198.51.100.40")
    token = visitor.get("/login", stack.instances[0]).csrf_token()
    headers = visitor.same_origin("/login")
    statuses = []
    for attempt in range(31):
        instance = stack.instances[attempt % 2]
        form = sign_in_form(visitor, f"nobody{attempt}", "not a password of anyone", token)
        statuses.append(visitor.post("/login", form, instance, headers=headers).status)
    assert statuses[:30] == [401] * 30, statuses
    assert statuses[30] == 429  # each instance saw only 15 or 16: counted together, or not at all
    other = Visitor(stack, forwarded_for="198.51.100.41")  # another address is not held back
    other_token = other.get("/login", stack.instances[1]).csrf_token()
    assert other.post("/login", sign_in_form(other, "nobody", "not a password of anyone", other_token),
                      stack.instances[1], headers=other.same_origin("/login")).status == 401
