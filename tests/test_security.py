"""Deny by default, security headers on every response, CSRF, and error pages without traces."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter, UUIDConverter

from counsel.extensions import db
from counsel.security import CONTENT_SECURITY_POLICY, PUBLIC_ENDPOINTS
from tests.conftest import PROJECT_ROOT

EXPECTED_PUBLIC = {"static", "main.health", "auth.login", "auth.login_totp", "auth.set_language"}


def concrete_urls(app):
    """Yield (endpoint, method, url) for every rule, with plausible values for its arguments."""
    for rule in app.url_map.iter_rules():
        values = {}
        for name, converter in rule._converters.items():
            if isinstance(converter, UUIDConverter):
                values[name] = uuid.uuid4()
            elif isinstance(converter, IntegerConverter):
                values[name] = 1
            elif isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            else:
                values[name] = "counsel.css" if rule.endpoint == "static" else "x"
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def test_the_public_list_is_short_and_explicit():
    assert PUBLIC_ENDPOINTS == EXPECTED_PUBLIC


def test_every_route_but_the_public_list_is_closed_to_anonymous_users(app, client):
    checked = 0
    for endpoint, method, url in concrete_urls(app):
        response = client.open(url, method=method)
        if endpoint in EXPECTED_PUBLIC:
            assert response.status_code not in (401, 403), (endpoint, method)
            continue
        checked += 1
        if method == "GET":
            assert response.status_code == 302 and response.location.startswith("/login"), (endpoint, method)
        else:  # a POST without session is refused before anything runs (CSRF first, then sign-in)
            assert response.status_code in (400, 401), (endpoint, method, response.status_code)
    assert checked >= 15


def test_anonymous_posts_with_a_valid_token_are_still_refused(app, client):
    token = client.csrf_token()
    for endpoint, method, url in concrete_urls(app):
        if method == "POST" and endpoint not in EXPECTED_PUBLIC:
            response = client.post(url, data={"csrf_token": token})
            assert response.status_code == 401, (endpoint, response.status_code)


@pytest.mark.parametrize("path", ["/login", "/", "/does-not-exist", "/static/counsel.css"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    for directive in ("script-src 'self'", "style-src 'self'", "img-src 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"  # full address to counsel itself only
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "max-age=" in headers["Strict-Transport-Security"]


@pytest.mark.settings(env="development")
def test_no_hsts_in_development(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_signed_in_pages_are_never_cached(adviser, signed_in):
    client = signed_in(adviser)
    for path in ("/", "/account/"):
        assert client.get(path).headers["Cache-Control"] == "no-store"


ERROR_PAGES = [
    pytest.param(lambda c: c.submit("/language", {"locale": "xx"}), 400, "Bad request", id="400"),
    pytest.param(lambda c: c.get("/admin/users"), 403, "Access denied", id="403"),
    pytest.param(lambda c: c.get("/nothing-here"), 404, "Not found", id="404"),
    pytest.param(lambda c: c.submit("/login", {"username": "x", "password": "y"}), 429, "Too many attempts",
                 marks=pytest.mark.settings(ratelimit_login_per_address="1 per minute"), id="429"),
    pytest.param(lambda c: c.get("/boom"), 500, "Something went wrong", id="500"),
    pytest.param(lambda c: c.post("/account/", data={"locale": "de"}), 400, "Form expired", id="CSRF"),
]


@pytest.mark.parametrize(("request_", "status", "heading"), ERROR_PAGES)
def test_error_pages_are_friendly_show_no_trace_and_keep_the_headers(app, adviser, signed_in, request_, status,
                                                                     heading):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals: Traceback here")

    adviser.locale = "en"
    db.session.commit()
    response = request_(signed_in(adviser))
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert f"<h1>{heading}</h1>" in body
    assert "Traceback" not in body and "secret internals" not in body
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_missing_csrf_token_gets_its_own_page_and_changes_nothing(adviser, signed_in):
    client = signed_in(adviser)
    response = client.post("/account/", data={"locale": "en"})
    assert response.status_code == 400
    assert "csrf" in response.get_data(as_text=True).lower() or "Formular" in response.get_data(as_text=True)
    db.session.refresh(adviser)
    assert adviser.locale == "de"


def test_wrong_csrf_token_is_refused(adviser, signed_in):
    client = signed_in(adviser)
    response = client.post("/account/", data={"locale": "en", "csrf_token": "forged-token"})
    assert response.status_code == 400


def test_token_of_another_session_is_refused(adviser, signed_in, new_client):
    attacker = new_client()
    foreign = attacker.csrf_token()
    client = signed_in(adviser)
    assert client.post("/lock", data={"csrf_token": foreign}).status_code == 400
    assert client.get("/").status_code == 200


def test_health_check_is_public_and_says_nothing_more(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_pages_load_nothing_from_other_sites():
    pattern = re.compile(r'(src|href)="(https?:)?//', re.I)
    for template in Path(PROJECT_ROOT / "templates").rglob("*.html"):
        assert not pattern.search(template.read_text(encoding="utf-8")), template
    css = (PROJECT_ROOT / "counsel" / "static" / "counsel.css").read_text()
    assert "url(" not in css and "@import" not in css and "@font-face" not in css


@pytest.mark.parametrize("origin", [
    pytest.param("https://evil.example", id="another site"),
    pytest.param("http://localhost:8080", id="another port"),
    pytest.param("https://localhost", id="another scheme"),
    pytest.param("null", id="opaque origin"),
])
def test_a_form_from_another_origin_is_refused_even_with_a_valid_token(adviser, signed_in, origin):
    client = signed_in(adviser)
    response = client.post("/account/", data={"locale": "en", "csrf_token": client.csrf_token()},
                           headers={"Origin": origin})
    assert response.status_code == 400
    assert "<h1>Formular abgelaufen</h1>" in response.get_data(as_text=True)
    db.session.refresh(adviser)
    assert adviser.locale == "de"


def test_a_form_from_counsel_itself_is_accepted(adviser, signed_in):
    client = signed_in(adviser)
    response = client.post("/account/", data={"locale": "en", "csrf_token": client.csrf_token()},
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 302
    db.session.refresh(adviser)
    assert adviser.locale == "en"


@pytest.mark.parametrize("query", ["number=%00", "page=1%00", "status=%1b[31m", "%00=x"])
def test_control_characters_in_an_address_get_a_message_not_an_error(adviser, signed_in, query):
    response = signed_in(adviser).get(f"/cases/?{query}")
    assert response.status_code == 400
    assert "Die Adresse enthält Zeichen, die nicht verwendet werden können." in response.get_data(as_text=True)
