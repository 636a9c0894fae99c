"""A stolen database reveals no one: distinctive markers never appear in the stored bytes."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pyotp
from sqlalchemy import Uuid, bindparam, inspect, text

from counsel.clock import today
from counsel.crypto import fold, normalise_address, normalise_phone, tokens, variants
from counsel.extensions import db
from counsel.models.user import Role
from counsel.services import cases
from tests.cases.conftest import case_data
from tests.conftest import ON_POSTGRES

MARKERS = {
    "name": "Zuleykha Quixotebaum",
    "pseudonym": "Marigoldzebra",
    "other": "Zulejcha Kwiksotbaum",
    "phone": "+49 231 98765432",
    "email": "zuleykha.quixote@example.org",
    "address": "Xylophonweg 77",
    "safe": "Klingelzeichen Papagei",
    "children": "Zwillinge Quasimodo",
    "notes": "Notizmarker Okapi Wolkenkratzer",
    "arabic": "زليخة المرجانية",
    "tigrinya": "ዙለይኻ ምስጢር",
    "consultation": "Beratungsmarker Tukan Flamingo",
    "interpreter": "Dolmetscherin Wombat",
    "share": "Freigabegrund Kakadu",
    "perpetrator": "Bruno Täterverdachtmann",
    "perpetrator_phone": "+49 176 24681357",
    "perpetrator_address": "Zebrastreifenallee 99",
    "perpetrator_notes": "Täternotiz Nashorn",
    "recipient": "Frauenhaus Pelikan",
    "disclosed": "Weitergabeinhalt Gürteltier",
    "risk": "Risikobegründung Schneeleopard",
    "plan": "Sicherheitsplan Leuchtturm",
    "emergency": "Notfallbegründung Erdmännchen steht vor der Tür",
    "searched": "Quirinella Zaubernuß",
}
DATE_OF_BIRTH = date(1991, 2, 3)
PEOPLE = ("name", "pseudonym", "other", "arabic", "tigrinya", "perpetrator", "searched")
PLACES = ("address", "perpetrator_address")
PHONES = ("phone", "perpetrator_phone")


def marker_forms(*extra: str) -> list[str]:
    """Every marker as typed, and the forms a careless search index, log or cache might keep instead."""
    forms = {*MARKERS.values(), *extra, DATE_OF_BIRTH.isoformat(), DATE_OF_BIRTH.strftime("%d.%m.%Y")}
    for key in (*PEOPLE, "interpreter", "recipient"):
        forms |= {fold(MARKERS[key]), *variants(MARKERS[key])}  # lower case, accents gone, tokens sorted
    for key in PEOPLE:
        forms |= {token for token in tokens(MARKERS[key]) if len(token) >= 4}  # one name of several
    for key in PLACES:
        forms |= {normalise_address(MARKERS[key]), MARKERS[key].replace(" ", "")}
    for key in PHONES:
        phone = normalise_phone(MARKERS[key])
        forms |= {phone, phone.removeprefix("+"), MARKERS[key].replace(" ", ""), MARKERS[key][-8:]}
    return sorted(forms)


def fill_everything(adviser, colleague, signed_in):
    """Create a case, consultation, share, searches and second factor through the pages, full of markers."""
    client = signed_in(adviser)
    form = {
        "name": f"{MARKERS['name']} {MARKERS['arabic']}", "pseudonym": MARKERS["pseudonym"],
        "other_spellings": f"{MARKERS['other']}\n{MARKERS['tigrinya']}",
        "date_of_birth": DATE_OF_BIRTH.isoformat(),
        "age_band": "unknown", "phone": MARKERS["phone"], "email": MARKERS["email"], "address": MARKERS["address"],
        "safe_contact": MARKERS["safe"], "children": MARKERS["children"], "country": "IR",
        "residence_status": "tolerated_stay", "perpetrator_relation": "in_laws", "referral_source": "",
        "notes": MARKERS["notes"],
        "languages-0-tag": "fa", "languages-0-mode": "native", "languages-0-preferred": "y",
    }
    response = client.submit("/cases/new", form)
    errors = re.findall(r'class="(?:error|flash error)"[^>]*>([^<]*)<', response.get_data(as_text=True))
    assert response.status_code == 302, errors
    case_url = response.location
    day = today()
    assert client.submit(f"{case_url}/consultations/new", {
        "held_on": day.isoformat(), "minutes": "45", "channel": "phone", "language": "fa",
        "interpreting": "volunteer", "interpreter": MARKERS["interpreter"], "notes": MARKERS["consultation"],
        "follow_up_on": (day + timedelta(days=2)).isoformat()}).status_code == 302
    assert client.submit(f"{case_url}/sharing", {"colleague": str(colleague.id),
                                                 "reason": MARKERS["share"]}).status_code == 302
    assert client.submit(f"{case_url}/perpetrators/new", {
        "name": MARKERS["perpetrator"], "phone": MARKERS["perpetrator_phone"],
        "address": MARKERS["perpetrator_address"], "notes": MARKERS["perpetrator_notes"]}).status_code == 302
    assert client.submit(f"{case_url}/consents", {
        "purpose": "sharing", "given_on": day.isoformat(), "given_how": "written", "form_version": "2026",
        "recipient_kind": "shelter", "recipient": MARKERS["recipient"]}).status_code == 302
    assert client.submit(f"{case_url}/disclosures", {"recipient_kind": "shelter", "recipient": MARKERS["recipient"],
                                                     "content": MARKERS["disclosed"]}).status_code == 302
    assert client.submit(f"{case_url}/risk", {"indicators": ["isolation"], "level": "elevated",
                                              "reasoning": MARKERS["risk"],
                                              "review_on": (day + timedelta(days=9)).isoformat()}).status_code == 302
    version = re.search(r'name="version" type="hidden" value="(\d+)"',
                        client.get(f"{case_url}/safety-plan").get_data(as_text=True)).group(1)
    assert client.submit(f"{case_url}/safety-plan", {"plan": MARKERS["plan"], "version": version}).status_code == 302
    number = re.search(r"<h1>([A-Z]+-\d{4}-\d{4})", client.get(case_url).get_data(as_text=True)).group(1)
    assert signed_in(colleague).submit("/cases/emergency", {"number": number,
                                                            "justification": MARKERS["emergency"]}).status_code == 302
    page = client.get(case_url).get_data(as_text=True)
    assert MARKERS["name"] in page and MARKERS["plan"] in page  # and it all reads back
    # Searches leave audit events and session data behind: one that finds her, one that finds no one.
    found = client.submit("/cases/check", {"name": MARKERS["name"], "language": ""}).get_data(as_text=True)
    assert number in found
    assert number not in client.submit("/cases/check", {"name": MARKERS["searched"], "language": ""}).get_data(
        as_text=True)
    page = client.submit("/account/totp", {"start": "1"}, follow_redirects=True).get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    client.submit("/account/totp", {"code": pyotp.TOTP(secret).now()})
    return marker_forms(secret)


def stored_bytes(settings) -> bytes:
    """Read everything the database holds, as someone with a stolen file or a plain-SQL dump would."""
    if ON_POSTGRES:
        values = []
        for table in inspect(db.engine).get_table_names():
            for row in db.session.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - our own table names
                # bytea as its very bytes (re-decoding it would hide non-ASCII text); the rest as text
                values.extend(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in row)
        assert values, "nothing read"
        return b"\n".join(values)
    db.session.remove()
    path = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()]
    assert path.stat().st_size > 0
    return b"".join(p.read_bytes() for p in files)


def leaks(blob: bytes, markers: list[str]) -> list[str]:
    found = []
    for marker in markers:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            if marker.encode(encoding) in blob:
                found.append(f"{marker} ({encoding})")
    return found


def test_no_marker_in_the_raw_database(adviser, make_user, signed_in, settings):
    colleague = make_user("carla", Role.ADVISER)
    markers = fill_everything(adviser, colleague, signed_in)
    assert leaks(stored_bytes(settings), markers) == []


def test_the_check_would_notice_a_plaintext_leak(adviser, settings):
    """Guard the guard: markers written in clear, in two tables, as text and as bytes, are found."""
    case = cases.open_case(adviser, case_data())
    adviser.display_name = fold(MARKERS["name"])  # a folded name in a plaintext column, on purpose
    db.session.commit()
    update = text("UPDATE cases SET notes = :notes WHERE id = :id").bindparams(bindparam("id", type_=Uuid()))
    db.session.execute(update, {"id": case.id, "notes": MARKERS["perpetrator_notes"].encode()})  # not ASCII
    db.session.commit()
    found = leaks(stored_bytes(settings), marker_forms())
    assert f"{fold(MARKERS['name'])} (utf-8)" in found and f"{MARKERS['perpetrator_notes']} (utf-8)" in found
