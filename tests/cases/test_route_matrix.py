"""Who reaches which route: every endpoint of `app.url_map` against every kind of person, in one table.

Why the table exists (issue 11): "may this person do this" is answered in several places (blueprint
guards, `counsel.access`, view helpers, services), and a new route or a changed rule can open case
content to an admin, a supervisor or a colleague without any other test noticing. So the matrix is
built from the app's own URL map, not from a list someone has to remember:

- a route that is not in `EXPECTED` fails the test until someone writes down who may use it, and a
  row whose route is gone fails it until the row goes;
- each row says, for each person, whether she is let in, sent to sign in, turned away by her role,
  told that the case does not exist, or refused by the rule after being let in;
- a change of who may do what is a diff of this table in review.

The rows are what DESIGN.md and issue 11 promise, not what the code happens to answer today:
supervisors and admins never reach case content, only the owner shares, emergency access only reads
and records (consultation, risk, safety plan), an adviser of another site sees nothing, and a
deactivated account reaches nothing.

Each person gets a world of her own (a fresh case with one record of every kind a URL can name),
and the requests that change what later requests find (deleting, withdrawing, closing, revoking,
deactivating) run last; signing out and locking each end a session of their own.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, current_app
from flask_babel import force_locale, gettext
from werkzeug.routing import AnyConverter, Rule

from counsel.audit import OPERATOR
from counsel.clock import today
from counsel.extensions import db
from counsel.i18n import UI_LOCALES
from counsel.models.case import Case, CaseShare
from counsel.models.consultation import Consultation
from counsel.models.safety import Consent, Perpetrator
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.reports.views import FORMATS
from counsel.services import accounts, cases, consent, consultations, two_person
from counsel.services.consultations import ConsultationInput
from tests.conftest import Client

# --- outcome classes ------------------------------------------------------------------------------

OK = "ok"  # 2xx, or a redirect elsewhere than /login (after a POST: to a page without an error): let in
LOGIN = "login"  # a redirect to /login, or 401: not signed in (no session, a dead one, or one she just ended)
DENIED = "denied"  # 403: her role has no business here
HIDDEN = "hidden"  # 404: a page of a case she may not see, which therefore "does not exist"
BAD = "bad"  # 400, 409 or 429: let in, but the (empty) form was refused as invalid
REFUSED = "refused"  # a POST redirected to a page with an error message: let in, but the rule said no

# --- the people -----------------------------------------------------------------------------------

ACTORS = (
    "anonymous",
    "owner",  # the adviser who holds the case
    "shared",  # a colleague at her site with an active share of the case
    "unshared",  # a colleague at her site without one
    "other_site",  # an adviser of another site
    "emergency",  # a colleague at her site who opened the case through emergency access
    "supervisor",  # a supervisor of the case's site
    "other_supervisor",  # a supervisor of another site
    "admin",
    "admin_adviser",  # an admin who also holds the adviser role, at the case's site; not owner, no share
    "deactivated",  # the shared colleague, signed in, then deactivated: her old session
)
SIGNED_OUT = ("anonymous", "deactivated")
ADVISERS = ("owner", "shared", "unshared", "other_site", "emergency", "admin_adviser")
READERS = ("owner", "shared", "emergency")  # read the case, and record consultations, risk, safety plan
WRITERS = ("owner", "shared")  # her personal fields, consent, passing on, perpetrators, closing, export
OWNER = ("owner",)  # sharing and ending a share


def row(signed_in: str, **outcomes: str) -> dict[str, str]:
    """One outcome per person: `signed_in` for everyone signed in, LOGIN for the others, unless named."""
    unknown = set(outcomes) - set(ACTORS)
    assert not unknown, f"no such person: {unknown}"
    return {actor: outcomes.get(actor, LOGIN if actor in SIGNED_OUT else signed_in) for actor in ACTORS}


def some(actors: Iterable[str], outcome: str) -> dict[str, str]:
    return dict.fromkeys(actors, outcome)


def case_page(who: Iterable[str], outcome: str) -> dict[str, str]:
    """A page of the case: `who` gets `outcome`, every other adviser 404, the other roles 403.

    Supervisors and admins are turned away at the door of the case pages whatever the case, so their 403
    says nothing about it; an adviser is answered 404 as if the case did not exist.
    """
    return row(DENIED, **(some(ADVISERS, HIDDEN) | some(who, outcome)))


PUBLIC = row(OK, anonymous=OK, deactivated=OK)
SIGNED_IN = row(OK)
ADMINS = row(DENIED, admin=OK, admin_adviser=OK)
ADMIN_FORM = row(DENIED, admin=BAD, admin_adviser=BAD)
SUPERVISORS = row(DENIED, supervisor=OK, other_supervisor=OK)
DECIDERS = row(DENIED, admin=OK, admin_adviser=OK, supervisor=OK, other_supervisor=OK)
ADVISER_PAGE = row(DENIED, **some(ADVISERS, OK))
ADVISER_FORM = row(DENIED, **some(ADVISERS, BAD))

# "METHOD endpoint" -> person -> outcome. A POST carries a valid CSRF token and no other field. A row holds for
# every URL of its route: each word of an `any(...)` (close and reopen, confirm and refuse, ...), each report
# format, a new and an existing perpetrator.
EXPECTED: dict[str, dict[str, str]] = {
    # open to everyone; a signed-in person on the sign-in pages is sent on to the start page
    "GET main.health": PUBLIC,
    "GET auth.login": PUBLIC,
    "POST auth.login": row(OK, anonymous=BAD, deactivated=BAD),
    "GET auth.login_totp": row(OK),  # no first step pending: back to /login
    "POST auth.login_totp": row(OK),  # signed in: sent on to the start page; the others: back to /login
    "POST auth.set_language": row(BAD, anonymous=BAD, deactivated=BAD),  # no language named
    # everyone signed in, about herself
    "GET main.index": SIGNED_IN,
    "GET main.notifications": SIGNED_IN,
    "POST main.mark_read": row(BAD),  # which messages she saw is not named
    "GET account.overview": SIGNED_IN,
    "POST account.overview": SIGNED_IN,
    "POST account.languages": SIGNED_IN,
    "GET account.password": SIGNED_IN,
    "POST account.password": SIGNED_IN,
    "POST account.recovery_codes": SIGNED_IN,
    "GET account.totp_setup": SIGNED_IN,
    "POST account.totp_setup": SIGNED_IN,
    "GET account.pledge": SIGNED_IN,  # the confidentiality pledge: advisers must accept it, everyone may read it
    "POST account.pledge": row(BAD),  # the version she was shown is not named
    "GET auth.reauth": SIGNED_IN,
    "POST auth.reauth": SIGNED_IN,
    "POST auth.logout": row(LOGIN),  # her session ends: she is sent to sign in
    "POST auth.lock": row(LOGIN),
    # an adviser's own work, before any case
    "GET cases.index": ADVISER_PAGE,
    "GET cases.check": ADVISER_PAGE,
    "POST cases.check": ADVISER_FORM,
    "GET cases.new": ADVISER_PAGE,
    "POST cases.new": ADVISER_FORM,
    "GET cases.emergency": ADVISER_PAGE,
    "POST cases.emergency": ADVISER_FORM,
    # the case: reading, and recording what an emergency calls for
    "GET cases.show": case_page(READERS, OK),
    "GET cases.access_log": case_page(READERS, OK),
    "GET cases.consents": case_page(READERS, OK),
    "GET cases.disclosures": case_page(READERS, OK),
    "GET cases.perpetrator": case_page(READERS, OK),
    "GET cases.risk": case_page(READERS, OK),
    "POST cases.risk": case_page(READERS, BAD),
    "GET cases.safety_plan": case_page(READERS, OK),
    "POST cases.safety_plan": case_page(READERS, BAD),
    "GET cases.new_consultation": case_page(READERS, OK),
    "POST cases.new_consultation": case_page(READERS, BAD),
    "GET cases.edit_consultation": case_page(READERS, OK),
    "POST cases.edit_consultation": case_page(READERS, BAD),
    # the case: her personal fields, consent, passing data on, perpetrators, closing, her copy
    "GET cases.edit": case_page(WRITERS, OK),
    "POST cases.edit": case_page(WRITERS, BAD),
    "POST cases.consents": case_page(WRITERS, BAD),
    "POST cases.withdraw_consent": case_page(WRITERS, OK),
    "POST cases.disclosures": case_page(WRITERS, BAD),
    "POST cases.perpetrator": case_page(WRITERS, BAD),
    "POST cases.delete_perpetrator": case_page(WRITERS, OK),
    "POST cases.set_status": case_page(OWNER, OK),  # closing starts the retention period: hers alone
    "GET cases.export": case_page(WRITERS, OK),
    "GET cases.export_json": case_page(WRITERS, OK),
    # the case: only its owner shares it and ends a share
    "GET cases.sharing": case_page(OWNER, OK),
    "POST cases.sharing": case_page(OWNER, BAD),
    "POST cases.revoke": case_page(OWNER, OK),
    # the case: only its owner sets or ends a legal hold and asks for its erasure (an empty form: no reason;
    # ending a hold the case does not have)
    "POST cases.legal_hold": case_page(OWNER, REFUSED),
    "POST cases.end_legal_hold": case_page(OWNER, REFUSED),
    "POST cases.request_erasure": case_page(OWNER, REFUSED),
    # administration: people, sites, hand-overs, the audit trail; never case content
    "GET admin.index": ADMINS,
    "GET admin.users": ADMINS,
    "GET admin.new_user": ADMINS,
    "POST admin.new_user": ADMINS,  # the refused form comes back with 200
    "GET admin.edit_user": ADMINS,
    "POST admin.save_user": ADMIN_FORM,
    "POST admin.account_action": ADMINS,  # deactivate and reactivate the owner's account
    "POST admin.reset_password": ADMINS,  # she has no second factor: a request for a second person
    "POST admin.reset_totp": ADMINS,  # a request for a second person
    "GET admin.sites": ADMINS,
    "POST admin.create_site": ADMIN_FORM,
    "GET admin.edit_site": ADMINS,
    "POST admin.edit_site": ADMINS,  # valid when empty: the name stays, "active" is unticked
    "GET admin.transfers": ADMINS,
    "POST admin.transfer": ADMIN_FORM,
    "GET admin_audit.index": ADMINS,
    "GET admin_audit.verify": ADMINS,
    "GET admin.retention_overview": ADMINS,
    # requests that wait for a second person (here: another admin's request to reset the owner's second factor)
    "GET confirmations.index": DECIDERS,
    "POST confirmations.decide": DECIDERS | {"other_supervisor": REFUSED},  # not a supervisor of her site
    # erasures on request wait at their own page; the world's request is a factor reset, no erasure: 404 there
    "GET erasures.index": DECIDERS,
    "POST erasures.decide": row(DENIED, admin=HIDDEN, admin_adviser=HIDDEN, supervisor=HIDDEN,
                                other_supervisor=HIDDEN),
    # anonymised statistics
    "GET reports.index": SUPERVISORS,
    "GET reports.printable": SUPERVISORS,
    "GET reports.export": SUPERVISORS,
}


# --- the world each person meets -------------------------------------------------------------------

@dataclass
class Session:
    """The browser a person uses, and how she gets another one (for requests that end a session)."""

    client: Client
    fresh: Callable[[], Client]


@dataclass
class World:
    """A case at one site with one record of every kind a URL names, and the people around it."""

    app: Flask
    owner: User
    colleague: User  # the case is shared with her
    requester: User  # an admin who has asked for something that waits for a second person
    case: Case
    consultation: Consultation
    share: CaseShare
    given: Consent
    perpetrator: Perpetrator
    other_site: Site
    make_user: Any
    signed_in: Any
    new_client: Any

    def session_of(self, user: User) -> Session:
        return Session(self.signed_in(user), lambda: self.signed_in(user))

    def pending_request(self) -> uuid.UUID:
        """A new request to reset the owner's second factor, asked for by another admin."""
        change = two_person.request_totp_reset(self.requester, self.owner)
        db.session.commit()
        return change.id


@pytest.fixture
def world(app: Flask, adviser: User, colleague: User, other_site: Site, open_case: Any, make_user: Any, signed_in: Any,
          new_client: Any) -> World:
    case = open_case(adviser)
    consultation = consultations.add(adviser, case, ConsultationInput(held_on=today(), minutes=45, channel="phone",
                                                                      notes="Geheime Notiz"))
    share = cases.share(adviser, case, colleague, "Urlaubsvertretung", None)
    given = consent.record(adviser, case, consent.ConsentInput("statistics", today(), "written", "2026"))
    perpetrator = Perpetrator(id=uuid.uuid4(), case=case, case_id=case.id)
    perpetrator.name = "Geheimer Name"
    db.session.add(perpetrator)
    db.session.commit()
    requester = make_user("rita", Role.ADMIN, name="Rita Requester")
    return World(app, adviser, colleague, requester, case, consultation, share, given, perpetrator, other_site,
                 make_user, signed_in, new_client)


def _anonymous(w: World) -> Session:
    return Session(w.new_client(), w.new_client)


def _emergency(w: World) -> Session:
    holder = w.make_user("emma", Role.ADVISER, name="Emma Notfall")
    session = w.session_of(holder)
    opened = session.client.submit("/cases/emergency", {
        "number": w.case.number, "justification": "Sie ist akut in Gefahr, Berta ist heute nicht erreichbar."})
    assert opened.status_code == 302 and opened.location == f"/cases/{w.case.id}", "emergency access not granted"
    return session


def _deactivated(w: World) -> Session:
    old = w.signed_in(w.colleague)
    assert old.get(f"/cases/{w.case.id}").status_code == 200  # her share let her in
    accounts.deactivate(w.colleague, actor=OPERATOR)
    db.session.commit()
    return Session(old, lambda: old)  # she cannot sign in again: every request uses the old session


SESSIONS: dict[str, Callable[[World], Session]] = {
    "anonymous": _anonymous,
    "owner": lambda w: w.session_of(w.owner),
    "shared": lambda w: w.session_of(w.colleague),
    "unshared": lambda w: w.session_of(w.make_user("ulla", Role.ADVISER)),
    "other_site": lambda w: w.session_of(w.make_user("otto", Role.ADVISER, at=w.other_site)),
    "emergency": _emergency,
    "supervisor": lambda w: w.session_of(w.make_user("sven", Role.SUPERVISOR)),
    "other_supervisor": lambda w: w.session_of(w.make_user("saskia", Role.SUPERVISOR, at=w.other_site)),
    "admin": lambda w: w.session_of(w.make_user("ada", Role.ADMIN)),
    "admin_adviser": lambda w: w.session_of(w.make_user("alma", Role.ADMIN, Role.ADVISER)),
    "deactivated": _deactivated,
}

# --- every URL of the map, filled with the world's records ------------------------------------------

@dataclass(frozen=True)
class EachUrl:
    """A parameter whose record a request uses up (a request is decided once): a new record for each URL."""

    make: Callable[[World], Any]


# URL parameter -> its values in a world. A route with a parameter not named here fails the test.
PARAMETERS: dict[str, Callable[[World], list[Any]] | EachUrl] = {
    "case_id": lambda w: [w.case.id],
    "consultation_id": lambda w: [w.consultation.id],
    "share_id": lambda w: [w.share.id],
    "consent_id": lambda w: [w.given.id],
    "perpetrator_id": lambda w: [w.perpetrator.id],
    "user_id": lambda w: [w.owner.id],
    "site_id": lambda w: [w.case.site_id],
    "request_id": EachUrl(World.pending_request),
    "fmt": lambda w: sorted(FORMATS),
}
SKIPPED = frozenset({"static"})
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})

# Requests that change what later ones find run last, in this order (an empty site form unticks "active";
# closing before revoking, so that a share wrongly revoked by its holder cannot hide the closing); the ones
# that end a session each get a session of their own.
RUN_LAST = ("POST admin.edit_site", "POST cases.delete_perpetrator", "POST cases.withdraw_consent",
            "POST cases.set_status", "POST cases.revoke", "POST admin.account_action", "POST auth.logout",
            "POST auth.lock")
ENDS_SESSION = frozenset({"POST auth.logout", "POST auth.lock"})


@dataclass(frozen=True)
class Call:
    method: str
    endpoint: str
    url: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.endpoint}"

    def order(self) -> tuple[int, int]:
        if self.key in RUN_LAST:
            return 2, RUN_LAST.index(self.key)
        return (0 if self.method == "GET" else 1), 0


def routes(app: Flask) -> Iterator[tuple[Rule, str]]:
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in SKIPPED:
            for method in sorted((rule.methods or set()) - IGNORED_METHODS):
                yield rule, method


def route_keys(app: Flask) -> set[str]:
    return {f"{method} {rule.endpoint}" for rule, method in routes(app)}


def unfilled(rule: Rule, name: str) -> str:
    return f"{rule.rule} ({rule.endpoint}): no value for <{name}>; add one to PARAMETERS and a row to EXPECTED"


def values_for(rule: Rule, world: World) -> list[dict[str, Any]]:
    """Every combination of values for the rule's parameters: each word of an `any(...)`, the world's records.

    None for a parameter that PARAMETERS does not fill: `coverage_problems` names the route.
    """
    choices: dict[str, list[Any]] = {}
    for name in sorted(rule.arguments):
        converter = rule._converters.get(name)
        source = PARAMETERS.get(name)
        if isinstance(converter, AnyConverter):
            choices[name] = sorted(converter.items)
        elif isinstance(source, EachUrl):
            choices[name] = [source]  # made below, once for each URL
        elif source is not None:
            choices[name] = source(world)
        else:
            return []
    return [{name: value.make(world) if isinstance(value, EachUrl) else value
             for name, value in zip(choices, combination, strict=True)}
            for combination in itertools.product(*choices.values())]


def calls(world: World) -> list[Call]:
    found = []
    for rule, method in routes(world.app):
        for values in values_for(rule, world):
            with world.app.test_request_context():
                url = world.app.url_for(rule.endpoint, **values)
            found.append(Call(method, rule.endpoint, url))
    return sorted(found, key=Call.order)


def _to_login(response: Any) -> bool:
    return 300 <= response.status_code < 400 and (response.location or "").split("?")[0] == "/login"


def post(client: Client, url: str, tokens: dict[Client, str]) -> Any:
    """POST a valid CSRF token and nothing else; the token is fetched once per browser and again when refused."""
    for _attempt in range(2):
        if client not in tokens:
            tokens[client] = client.csrf_token()
        response = client.submit(url, {"csrf_token": tokens[client]})
        if not is_csrf_refusal(response):
            return response
        del tokens[client]  # a request before cleared her session (and its token); a refusal changes nothing
    raise AssertionError(f"POST {url}: the CSRF token was refused twice, the check would prove nothing")


def outcome(client: Client, call: Call, tokens: dict[Client, str]) -> tuple[str, int]:
    """Make the call (a POST with a CSRF token and nothing else) and sort the answer into a class."""
    if call.method == "POST":
        response = post(client, call.url, tokens)
    else:
        response = client.open(call.url, method=call.method)
    status = response.status_code
    if status == 401 or _to_login(response):
        return LOGIN, status
    if status in (403, 404):
        return (DENIED if status == 403 else HIDDEN), status
    if status in (400, 409, 429):
        return BAD, status
    if 300 <= status < 400 and call.method == "POST":
        # A refusal that a view turns into a message on the next page (services raise, views translate).
        following = client.get(response.location).get_data(as_text=True)
        return (REFUSED if 'class="flash error"' in following else OK), status
    if 200 <= status < 400:
        return OK, status
    return f"status {status}", status


def is_csrf_refusal(response: Any) -> bool:
    """Whether a 400 is the "form expired" page (in any language) rather than the view refusing the form."""
    if response.status_code != 400:
        return False
    body = response.get_data(as_text=True)
    with current_app.test_request_context():
        headings = set()
        for locale in UI_LOCALES:
            with force_locale(locale):
                headings.add(gettext("Form expired"))
    return any(f"<h1>{heading}</h1>" in body for heading in headings)


def coverage_problems(app: Flask) -> list[str]:
    present = route_keys(app)
    problems = [f"{key}: a route without a row in EXPECTED" for key in sorted(present - set(EXPECTED))]
    problems += [f"{key}: a row in EXPECTED for a route that no longer exists" for key in
                 sorted(set(EXPECTED) - present)]
    problems += [f"{key}: the row names {sorted(row)}, not every person" for key, row in EXPECTED.items()
                 if set(row) != set(ACTORS)]
    problems += sorted({unfilled(rule, name) for rule, _ in routes(app) for name in rule.arguments
                        if name not in PARAMETERS and not isinstance(rule._converters.get(name), AnyConverter)})
    return problems


# --- the tests ------------------------------------------------------------------------------------

def test_the_table_has_one_row_for_every_route_and_a_column_for_every_person(app: Flask) -> None:
    assert set(SESSIONS) == set(ACTORS)
    assert not (problems := coverage_problems(app)), "\n".join(problems)


@pytest.mark.parametrize("actor", ACTORS)
def test_every_route_answers_each_person_as_the_table_says(world: World, actor: str) -> None:
    problems = coverage_problems(world.app)  # a route without a row is a failure, not a skipped check
    session = SESSIONS[actor](world)
    tokens: dict[Client, str] = {}
    for call in calls(world):
        if call.key not in EXPECTED:
            continue
        client = session.fresh() if call.key in ENDS_SESSION else session.client
        got, status = outcome(client, call, tokens)
        expected = EXPECTED[call.key][actor]
        if got != expected:
            problems.append(f"{call.method} {call.url} ({call.endpoint}): expected {expected}, got {got} ({status})")
    assert not problems, f"{actor}:\n" + "\n".join(problems)
