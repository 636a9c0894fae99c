"""A stolen database reveals no one: distinctive markers never appear in the stored bytes."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pyotp
from sqlalchemy import inspect, text

from counsel.extensions import db
from counsel.models.user import Role
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
}


def fill_everything(adviser, colleague, signed_in):
    """Create a case, consultation, share and second factor through the pages, full of markers."""
    client = signed_in(adviser)
    form = {
        "name": f"{MARKERS['name']} {MARKERS['arabic']}", "pseudonym": MARKERS["pseudonym"],
        "other_spellings": f"{MARKERS['other']}\n{MARKERS['tigrinya']}", "date_of_birth": "1991-02-03",
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
    today = date.today()
    assert client.submit(f"{case_url}/consultations/new", {
        "held_on": today.isoformat(), "minutes": "45", "channel": "phone", "language": "fa",
        "interpreting": "volunteer", "interpreter": MARKERS["interpreter"], "notes": MARKERS["consultation"],
        "follow_up_on": (today + timedelta(days=2)).isoformat()}).status_code == 302
    assert client.submit(f"{case_url}/sharing", {"colleague": str(colleague.id),
                                                 "reason": MARKERS["share"]}).status_code == 302
    assert client.submit(f"{case_url}/perpetrators/new", {
        "name": MARKERS["perpetrator"], "phone": MARKERS["perpetrator_phone"],
        "address": MARKERS["perpetrator_address"], "notes": MARKERS["perpetrator_notes"]}).status_code == 302
    assert client.submit(f"{case_url}/consents", {
        "purpose": "sharing", "given_on": today.isoformat(), "given_how": "written", "form_version": "2026",
        "recipient_kind": "shelter", "recipient": MARKERS["recipient"]}).status_code == 302
    assert client.submit(f"{case_url}/disclosures", {"recipient_kind": "shelter", "recipient": MARKERS["recipient"],
                                                     "content": MARKERS["disclosed"]}).status_code == 302
    assert client.submit(f"{case_url}/risk", {"indicators": ["isolation"], "level": "elevated",
                                              "reasoning": MARKERS["risk"],
                                              "review_on": (today + timedelta(days=9)).isoformat()}).status_code == 302
    version = re.search(r'name="version" type="hidden" value="(\d+)"',
                        client.get(f"{case_url}/safety-plan").get_data(as_text=True)).group(1)
    assert client.submit(f"{case_url}/safety-plan", {"plan": MARKERS["plan"], "version": version}).status_code == 302
    number = re.search(r"<h1>([A-Z]+-\d{4}-\d{4})", client.get(case_url).get_data(as_text=True)).group(1)
    assert signed_in(colleague).submit("/cases/emergency", {"number": number,
                                                            "justification": MARKERS["emergency"]}).status_code == 302
    page = client.get(case_url).get_data(as_text=True)
    assert MARKERS["name"] in page and MARKERS["plan"] in page  # and it all reads back
    page = client.get("/account/totp").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    client.submit("/account/totp", {"code": pyotp.TOTP(secret).now()})
    return [*MARKERS.values(), secret, MARKERS["phone"].replace(" ", ""), "98765432", "24681357"]


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
    if ON_POSTGRES:
        dump = []
        for table in inspect(db.engine).get_table_names():
            for row in db.session.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - our own table names
                dump.extend(repr(value) for value in row)
                dump.extend(bytes(v).decode("latin-1") for v in row if isinstance(v, (bytes, memoryview)))
        assert dump, "nothing read"
        blob = "\n".join(dump).encode("utf-8")
    else:
        db.session.remove()
        path = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
        files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()]
        assert path.stat().st_size > 0 and len(files) >= 1
        blob = b"".join(p.read_bytes() for p in files)
    assert leaks(blob, markers) == []


def test_the_check_would_notice_a_plaintext_leak(adviser, settings):
    """Guard the guard: a marker written in clear is found by the same reading."""
    adviser.display_name = MARKERS["name"]  # a plaintext column, on purpose
    db.session.commit()
    if ON_POSTGRES:
        rows = db.session.execute(text("SELECT * FROM users")).all()
        blob = "\n".join(repr(v) for row in rows for v in row).encode()
    else:
        db.session.remove()
        path = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    assert leaks(blob, [MARKERS["name"]])
