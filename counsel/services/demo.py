"""Realistic fake data for demos and benchmarks: sites, advisers, cases and consultations.

Written with bulk inserts through the same cipher, associated data and blind index as the
app, so a seeded case reads exactly like one opened in a browser, and 100,000 cases with a
million consultations take minutes, not hours. Never for a production database.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select

from counsel import codes
from counsel.audit import OPERATOR
from counsel.clock import today as service_today
from counsel.clock import utcnow
from counsel.crypto import FieldCipher, KeyRing, mask
from counsel.extensions import db
from counsel.models.case import Case, CaseCounter, CaseLanguage, CaseNameIndex, CaseViolenceForm
from counsel.models.consultation import Consultation, ConsultationReferral, ConsultationTopic
from counsel.models.data_key import DataKey
from counsel.models.safety import Consent, ContactIndex, Perpetrator, RiskAssessment
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.reporting import facts
from counsel.services import accounts
from counsel.services.cases import NAME_FIELD, age_band
from counsel.services.conflicts import Contact, values_of
from counsel.services.safety import level_for
from counsel.settings import Settings
from counsel.vault import Vault

SITES = [("DO", "Dortmund"), ("DU", "Düsseldorf"), ("MG", "Mönchengladbach"), ("SB", "Saarbrücken"),
         ("HY", "Hoyerswerda"), ("HST", "Stralsund")]
ADVISERS_PER_SITE = 4
BATCH = 1000
DEMO_PASSWORD = "demo-passwort-2026"  # noqa: S105 - shared by the fake demo accounts, printed by the command

FIRST_NAMES = ["Fatma", "Ayşe", "Zeynep", "Elif", "Amina", "Fatima", "Mariam", "Nour", "Leila", "Samira", "Şêrîn",
               "Rojda", "Helin", "Olena", "Iryna", "Natalia", "Oksana", "Selam", "Mebrat", "Yordanos", "Hiwet",
               "Zahra", "Maryam", "Parisa", "Shirin", "Hodan", "Ifrah", "Aisha", "Gülsüm", "İlknur", "Işıl",
               "فاطمة", "مريم", "زينب", "ليلى", "ሰላም", "ሄለን", "Олена", "Ірина", "Наталія", "Roza", "Vesna",
               "Ana", "Dilan", "Berfin", "Sara", "Hana", "Rania", "Dunja", "Mirela"]
LAST_NAMES = ["Yılmaz", "Kaya", "Demir", "Çelik", "Şahin", "Haddad", "Khalil", "Mansour", "Al-Hassan",
              "Rahimi", "Ahmadi", "Karimi", "Hosseini", "Tesfay", "Gebremedhin", "Haile", "Bekele", "Shevchenko",
              "Kovalenko", "Bondarenko", "Mohamed", "Abdi", "Warsame", "Müller", "Krasniqi", "Berisha", "Hodžić",
              "Popescu", "Ivanova", "Doğan", "Aydın", "Özdemir", "الحسن", "خليل", "ተስፋይ", "Шевченко"]
MALE_NAMES = ["Mehmet", "Ahmad", "Mohammed", "Ali", "Hassan", "Omar", "Yusuf", "Mustafa", "Dawit", "Tesfaye",
              "Serhii", "Oleksandr", "Reza", "Hamid", "Ibrahim", "Karim"]
PSEUDONYMS = ["Rose", "Lilie", "Iris", "Tulpe", "Nelke", "Jasmin", "Mohn", "Aster", "Dahlie", "Malve", "Flieder",
              "Linde", "Birke", "Weide", "Ahorn", "Sonne", "Mond", "Stern", "Welle", "Feder"]
STREETS = ["Mallinckrodtstraße", "Münsterstraße", "Schützenstraße", "Nordmarkt", "Borsigplatz", "Kurfürstenstraße",
           "Bahnhofstraße", "Hauptstraße", "Lindenweg", "Am Markt"]
NOTES = ["Sie möchte sich trennen und hat Angst vor seiner Reaktion.",
         "Fragen zum eigenständigen Aufenthaltsrecht nach § 31 AufenthG besprochen.",
         "Termin beim Jobcenter vorbereitet, Unterlagen fehlen noch.",
         "Sie schläft zurzeit bei einer Freundin; Frauenhausplatz gesucht.",
         "Gewaltschutzantrag besprochen, Begleitung zum Amtsgericht angeboten.",
         "Kinder waren beim Gespräch nicht dabei.", "Sie wirkte heute ruhiger als beim letzten Mal."]
LANGUAGE_MIX = [("ar", 18), ("tr", 14), ("fa", 10), ("ku", 8), ("ckb", 4), ("ti", 6), ("uk", 10), ("ru", 6),
                ("so", 3), ("prs", 3), ("am", 2), ("sq", 3), ("ro", 3), ("bg", 2), ("fr", 2), ("en", 3), ("de", 3)]
COUNTRY_BY_LANGUAGE = {"ar": ["SY", "IQ", "LB", "MA", "EG", "SD"], "tr": ["TR"], "fa": ["IR", "AF"],
                       "ku": ["TR", "SY", "IQ"], "ckb": ["IQ", "IR"], "ti": ["ER", "ET"], "uk": ["UA"],
                       "ru": ["UA", "RU", "MD", "KZ"],
                       "so": ["SO"], "prs": ["AF"], "am": ["ET"], "sq": ["XK", "AL"], "ro": ["RO"], "bg": ["BG"],
                       "fr": ["GN", "CM", "CD"], "en": ["NG", "GH"], "de": ["DE"]}
WEIGHTED: dict[str, list[tuple[str, int]]] = {
    "residence_status": [("asylum_procedure", 20), ("tolerated_stay", 10), ("residence_permit", 30),
                         ("settlement_permit", 8), ("eu_citizen", 10), ("german_citizen", 10), ("no_papers", 3),
                         ("unknown", 9)],
    "perpetrator_relation": [("partner", 50), ("ex_partner", 20), ("family", 10), ("in_laws", 8),
                             ("acquaintance", 4), ("employer", 2), ("stranger", 2), ("other", 2), ("unknown", 2)],
    "referral_source": [("self", 20), ("friends_family", 20), ("community", 20), ("counselling", 10),
                        ("shelter", 5), ("police", 5), ("health", 5), ("youth_office", 4), ("authority", 4),
                        ("school", 3), ("online", 2), ("helpline", 2)],
    "channel": [("in_person", 55), ("phone", 25), ("video", 5), ("accompaniment", 10), ("outreach", 5)],
    "interpreting": [("adviser", 55), ("none", 20), ("professional", 15), ("volunteer", 8), ("family", 2)],
    "violence": [("physical", 60), ("psychological", 80), ("economic", 30), ("sexual", 20), ("digital", 15),
                 ("stalking", 12), ("forced_marriage", 4), ("honour", 3), ("fgm", 2), ("trafficking", 2)],
}


@dataclass(frozen=True)
class SeedResult:
    sites: int
    advisers: int
    cases: int
    consultations: int
    password: str


def pick(rng: random.Random, key: str) -> str:
    values, weights = zip(*WEIGHTED[key], strict=True)
    return str(rng.choices(values, weights)[0])


def ensure_staff(settings: Settings, password: str, rng: random.Random) -> dict[int, list[User]]:
    """Create the demo sites and their advisers and supervisors unless they exist."""
    advisers: dict[int, list[User]] = {}
    for code, name in SITES:
        site = (db.session.scalars(select(Site).where(Site.code == code)).first()
                or accounts.create_site(code, name, actor=OPERATOR))
        staff = []
        for number in range(1, ADVISERS_PER_SITE + 1):
            username = f"{code.lower()}.beraterin{number}"
            user = db.session.scalars(select(User).where(User.username == username)).first()
            if user is None:
                user = accounts.create_user(settings, username=username, display_name=f"Beraterin {number} {name}",
                                            site=site, roles={Role.ADVISER}, password=password, actor=OPERATOR).user
                user.must_change_password = False
                languages = ["de", *rng.sample([tag for tag, _ in LANGUAGE_MIX if tag != "de"], 2)]
                user.set_languages(languages)
            staff.append(user)
        supervisor = f"{code.lower()}.koordination"
        if db.session.scalars(select(User).where(User.username == supervisor)).first() is None:
            coordinator = accounts.create_user(settings, username=supervisor, display_name=f"Koordination {name}",
                                               site=site, roles={Role.SUPERVISOR}, password=password, actor=OPERATOR)
            coordinator.user.must_change_password = False
        advisers[site.id] = staff
    db.session.flush()
    return advisers


def seed(settings: Settings, vault: Vault, cases: int, consultations_per_case: float = 10.0, seed_value: int = 2026,
         password: str = DEMO_PASSWORD, progress: Callable[[int], None] | None = None) -> SeedResult:
    """Fill the database with fake cases and consultations; refuse on a production installation."""
    if settings.is_production:
        raise RuntimeError("counsel demo seed refuses to write fake cases into a production installation")
    rng = random.Random(seed_value)  # noqa: S311 - fake data, not secrets
    staff = ensure_staff(settings, password, rng)
    db.session.commit()
    sites = {site.id: site for site in db.session.scalars(select(Site))}
    counters = {(row.site_id, row.year): row.last for row in db.session.scalars(select(CaseCounter))}
    made_cases = made_consultations = 0
    for start in range(0, cases, BATCH):
        rows = _Rows()
        secrets = vault.keystore.issue_many([uuid.uuid4() for _ in range(min(BATCH, cases - start))])
        for case_id, secret in secrets.items():
            site_id = rng.choice(list(staff))
            made_consultations += _fake_case(rows, rng, vault, (case_id, secret), sites[site_id],
                                             rng.choice(staff[site_id]), counters, consultations_per_case)
        rows.write()
        db.session.commit()
        made_cases += min(BATCH, cases - start)
        if progress is not None:
            progress(made_cases)
    _save_counters(counters)
    db.session.commit()
    return SeedResult(len(staff), sum(len(v) for v in staff.values()), made_cases, made_consultations, password)


class _Rows:
    """Rows of one batch, per table, inserted with executemany."""

    def __init__(self) -> None:
        self.tables: dict[Any, list[dict[str, Any]]] = {}

    def add(self, model: Any, **values: Any) -> None:
        self.tables.setdefault(model, []).append(values)

    def write(self) -> None:
        """Insert the batch, then the statistics' copy of its cases (bulk inserts pass no ORM hook)."""
        for model in (DataKey, Case, CaseLanguage, CaseViolenceForm, CaseNameIndex, Consultation,
                      ConsultationTopic, ConsultationReferral, Consent, RiskAssessment, Perpetrator, ContactIndex):
            if rows := self.tables.get(model):
                db.session.execute(insert(cast(Table, model.__table__)), rows)
        facts.refresh(db.session.connection(), [row["id"] for row in self.tables.get(Case, [])])


def _months_back(today: date, months: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, 1)


def _fake_case(rows: _Rows, rng: random.Random, vault: Vault, secret: tuple[uuid.UUID, bytes], site: Site,
               owner: User, counters: dict[tuple[int, int], int], per_case: float) -> int:
    """One case with its records; its data key masked with the case's secret (`secret`: its id and secret)."""
    today = service_today()
    opened = _months_back(today, rng.randrange(0, 36))
    counters[(site.id, opened.year)] = number = counters.get((site.id, opened.year), 0) + 1
    case_id, key_id = secret[0], uuid.uuid4()
    raw_key = KeyRing.new_data_key()
    version, wrapped = vault.keyring.wrap(mask(raw_key, secret[1], str(key_id)), str(key_id))
    rows.add(DataKey, id=key_id, master_version=version, wrapped=wrapped, secret_id=case_id, created_at=utcnow())
    cipher = FieldCipher(raw_key)

    def seal(table: str, row_id: uuid.UUID, column: str, value: str) -> bytes:
        return cipher.encrypt(value, table=table, column=column, row_id=str(row_id))

    language = rng.choices([t for t, _ in LANGUAGE_MIX], [w for _, w in LANGUAGE_MIX])[0]
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    born = date(rng.randint(1958, 2008), rng.randint(1, 12), rng.randint(1, 28))
    closed = rng.random() < 0.4 and opened < _months_back(today, 2)
    closed_month = min(_months_back(today, 0), opened + timedelta(days=rng.randint(31, 400))).replace(day=1)
    fields = {"name": name, "pseudonym": rng.choice(PSEUDONYMS), "date_of_birth": born.isoformat(),
              "phone": f"+49 {rng.randint(200, 999)} {rng.randint(100000, 9999999)}",
              "address": f"{rng.choice(STREETS)} {rng.randint(1, 120)}, {site.name}",
              "safe_contact": rng.choice(["nur vormittags", "keine Mailbox", "nur über die Schwester", ""]),
              "notes": rng.choice(NOTES)}
    rows.add(Case, id=case_id, number=f"{site.code}-{opened.year}-{number:04d}", site_id=site.id, owner_id=owner.id,
             data_key_id=key_id, status="closed" if closed else "open", opened_month=opened,
             closed_month=closed_month if closed else None, closed_on=closed_month if closed else None,
             age_band=age_band(born, opened),
             country=rng.choice(COUNTRY_BY_LANGUAGE[language]), residence_status=pick(rng, "residence_status"),
             perpetrator_relation=pick(rng, "perpetrator_relation"), referral_source=pick(rng, "referral_source"),
             created_at=utcnow(), updated_at=utcnow(), version=1,
             **{column: seal("cases", case_id, column, value) if value else None for column, value in fields.items()})
    rows.add(CaseLanguage, case_id=case_id, tag=language, mode="native", preferred=True, position=0)
    if language != "de" and rng.random() < 0.5:
        rows.add(CaseLanguage, case_id=case_id, tag="de", mode=rng.choice(["basic", "fluent"]), preferred=False,
                 position=1)
    forms = {pick(rng, "violence") for _ in range(rng.randint(1, 3))}
    for form in sorted(forms):
        rows.add(CaseViolenceForm, case_id=case_id, form=form)
    for value in sorted(vault.blind_index.values(name, field=NAME_FIELD)):
        rows.add(CaseNameIndex, case_id=case_id, value=value)
    _contact_rows(rows, "client", case_id, case_id, Contact((name,), fields["phone"], fields["address"]))
    _safety_rows(rows, rng, seal, case_id, owner, opened, today)
    count = max(0, round(rng.expovariate(1 / per_case))) if per_case else 0
    last_day = closed_month if closed else today
    span = max(0, (last_day - opened).days)
    for _ in range(count):
        consultation_id = uuid.uuid4()
        held = opened + timedelta(days=rng.randint(0, span))
        interpreting = pick(rng, "interpreting")
        rows.add(Consultation, id=consultation_id, case_id=case_id, author_id=owner.id, held_on=held,
                 minutes=rng.choice([20, 30, 45, 60, 60, 90, 120]), channel=pick(rng, "channel"), language=language,
                 interpreting=interpreting, pledge_on_file=interpreting in ("professional", "volunteer"),
                 follow_up_on=held + timedelta(days=rng.randint(3, 21)) if rng.random() < 0.3 else None,
                 created_at=utcnow(), updated_at=utcnow(), version=1,
                 notes=seal("consultations", consultation_id, "notes", rng.choice(NOTES)))
        for topic in rng.sample(list(codes.TOPICS), rng.randint(1, 3)):
            rows.add(ConsultationTopic, consultation_id=consultation_id, topic=topic)
        for referral in rng.sample(list(codes.REFERRALS), rng.choice([0, 0, 1, 1, 2])):
            rows.add(ConsultationReferral, consultation_id=consultation_id, referral=referral)
    return count


def _contact_rows(rows: _Rows, kind: str, owner_id: uuid.UUID, case_id: uuid.UUID, contact: Contact) -> None:
    names = {value for name in contact.names for value in values_of("name", name)}
    for field, values in (("name", names), ("phone", values_of("phone", contact.phone)),
                          ("address", values_of("address", contact.address))):
        for value in sorted(values):
            rows.add(ContactIndex, kind=kind, field=field, owner_id=owner_id, case_id=case_id, value=value)


def _safety_rows(rows: _Rows, rng: random.Random, seal: Callable[[str, uuid.UUID, str, str], bytes],
                 case_id: uuid.UUID, owner: User, opened: date, today: date) -> None:
    """Consents (most clients agree to be counted), some risk assessments and perpetrators."""
    given = min(today, opened + timedelta(days=rng.randint(0, 10)))
    for purpose, share in (("processing", 0.95), ("statistics", 0.85)):
        if rng.random() < share:
            withdrawn = given + timedelta(days=30) if purpose == "statistics" and rng.random() < 0.03 else None
            rows.add(Consent, id=uuid.uuid4(), case_id=case_id, purpose=purpose, recipient_kind=None, given_on=given,
                     given_how=rng.choice(list(codes.CONSENT_FORMS)), form_version="2025-01", expires_on=None,
                     withdrawn_on=withdrawn if withdrawn and withdrawn <= today else None,
                     recorded_by_id=owner.id, created_at=utcnow(), recipient=None)
    if rng.random() < 0.6:
        indicators = set(rng.sample(list(codes.RISK_INDICATORS), rng.randint(0, 4)))
        assessment_id = uuid.uuid4()
        rows.add(RiskAssessment, id=assessment_id, case_id=case_id, assessed_on=given, level=level_for(indicators),
                 review_on=given + timedelta(days=rng.choice([14, 28, 56])), assessed_by_id=owner.id,
                 created_at=utcnow(), reasoning=None,
                 indicators=seal("risk_assessments", assessment_id, "indicators", ",".join(sorted(indicators))))
    if rng.random() < 0.3:
        perpetrator_id = uuid.uuid4()
        name = f"{rng.choice(MALE_NAMES)} {rng.choice(LAST_NAMES)}"
        phone = f"+49 {rng.randint(150, 179)} {rng.randint(1000000, 9999999)}"
        rows.add(Perpetrator, id=perpetrator_id, case_id=case_id, created_at=utcnow(), address=None, notes=None,
                 name=seal("perpetrators", perpetrator_id, "name", name),
                 phone=seal("perpetrators", perpetrator_id, "phone", phone))
        _contact_rows(rows, "perpetrator", perpetrator_id, case_id, Contact((name,), phone, ""))


def _save_counters(counters: dict[tuple[int, int], int]) -> None:
    table = cast(Table, CaseCounter.__table__)
    for (site_id, year), last in counters.items():
        row = db.session.get(CaseCounter, (site_id, year))
        if row is None:
            db.session.execute(insert(table).values(site_id=site_id, year=year, last=last))
        else:
            row.last = max(row.last, last)
