"""Cases: open, edit, close, find by name, share and transfer; each step audited.

Services take the acting user explicitly and leave the commit to the caller, so a change and
its audit event land in one transaction. Each refuses an actor counsel.access refuses, whoever
calls, and enforces the rules of the domain (same site, optimistic locking, valid codes).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, delete, insert, or_, select

from counsel import audit, codes, languages
from counsel.access import Permission, allows, require, require_adviser, visible_cases
from counsel.clock import today, utcnow
from counsel.crypto import BlindIndex, UnreadableField
from counsel.errors import Conflict, CounselError, NotPermitted
from counsel.extensions import db, upsert
from counsel.models.case import Case, CaseCounter, CaseLanguage, CaseNameIndex, CaseShare
from counsel.models.consultation import Consultation
from counsel.models.user import Role, User, UserLanguage, UserRole
from counsel.services import conflicts, search_limit

NAME_FIELD = "client_name"
log = logging.getLogger(__name__)


class CaseInputError(CounselError):
    """The case data break a rule; the message says which."""


@dataclass(frozen=True)
class LanguageEntry:
    tag: str
    mode: str
    preferred: bool = False


@dataclass
class CaseInput:
    """Everything an adviser enters about a case (plaintext; encrypted when stored)."""

    name: str
    pseudonym: str = ""
    other_spellings: str = ""
    date_of_birth: date | None = None
    age_band: str = "unknown"
    phone: str = ""
    email: str = ""
    address: str = ""
    safe_contact: str = ""
    children: str = ""
    notes: str = ""
    country: str | None = None
    residence_status: str = "unknown"
    perpetrator_relation: str = "unknown"
    referral_source: str | None = None
    violence_forms: set[str] = field(default_factory=set)
    languages: list[LanguageEntry] = field(default_factory=list)


def blind_index() -> BlindIndex:
    index: BlindIndex = current_app.extensions["counsel.vault"].blind_index
    return index


def age_band(born: date | None, on: date) -> str | None:
    """Derive the coarse age band stored for statistics; the date of birth itself stays encrypted."""
    if born is None:
        return None
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for limit, band in ((18, "under_18"), (27, "18_26"), (36, "27_35"), (46, "36_45"), (61, "46_60")):
        if age < limit:
            return band
    return "over_60"


def validate(data: CaseInput) -> None:
    """Refuse input that would store nonsense; the message names the field."""
    if not data.name.strip():
        raise CaseInputError(_l("The name (or the name she wants to be called) is required."))
    if data.date_of_birth is not None and not date(1900, 1, 1) <= data.date_of_birth <= today():
        raise CaseInputError(_l("The date of birth must lie between 1900 and today."))
    for value, table in ((data.residence_status, codes.RESIDENCE_STATUS), (data.age_band, codes.AGE_BANDS),
                         (data.perpetrator_relation, codes.RELATIONSHIPS)):
        if value not in table:
            raise CaseInputError(_l("Unknown value %(value)s.", value=value))
    if data.referral_source is not None and data.referral_source not in codes.REFERRAL_SOURCES:
        raise CaseInputError(_l("Unknown value %(value)s.", value=data.referral_source))
    if data.country is not None and (len(data.country) != 2 or not data.country.isalpha()):
        raise CaseInputError(_l("Unknown country."))
    if unknown := data.violence_forms - set(codes.VIOLENCE_FORMS):
        raise CaseInputError(_l("Unknown value %(value)s.", value=", ".join(sorted(unknown))))
    tags = [entry.tag for entry in data.languages]
    if len(set(tags)) != len(tags):
        raise CaseInputError(_l("Each language only once, please."))
    if any(entry.mode not in codes.LANGUAGE_MODES for entry in data.languages):
        raise CaseInputError(_l("Choose how she speaks each language."))
    if data.languages and sum(entry.preferred for entry in data.languages) != 1:
        raise CaseInputError(_l("Mark exactly one language as preferred."))


def next_number(site_id: int, site_code: str, year: int) -> str:
    """Give the next case number of a site and year (DO-2026-0042) atomically."""
    table = cast(Table, CaseCounter.__table__)
    statement = (
        upsert(table).values(site_id=site_id, year=year, last=1)
        .on_conflict_do_update(index_elements=["site_id", "year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    number = db.session.execute(statement).scalar_one()
    return f"{site_code}-{year}-{number:04d}"


def _apply(case: Case, data: CaseInput) -> list[str]:
    """Copy the input onto the case; return the names of the fields that changed (never their values)."""
    changed = []
    for name in ("name", "pseudonym", "other_spellings", "phone", "email", "address", "safe_contact", "children",
                 "notes", "country", "residence_status", "perpetrator_relation", "referral_source"):
        value = getattr(data, name)
        value = value.strip() if isinstance(value, str) else value
        if name in ("pseudonym", "other_spellings", "phone", "email", "address", "safe_contact", "children",
                    "notes") and value == "":
            value = None
        if getattr(case, name) != value:
            setattr(case, name, value)
            changed.append(name)
    born = data.date_of_birth.isoformat() if data.date_of_birth else None
    if case.date_of_birth != born:
        case.date_of_birth = born
        changed.append("date_of_birth")
    band = age_band(data.date_of_birth, case.opened_month) or data.age_band
    if case.age_band != band:
        case.age_band = band
        changed.append("age_band")
    if case.violence_forms != data.violence_forms:
        case.set_violence_forms(data.violence_forms)
        changed.append("violence_forms")
    wanted = [(e.tag, e.mode, e.preferred) for e in data.languages]
    if [(lang.tag, lang.mode, lang.preferred) for lang in case.languages] != wanted:
        case.languages = [CaseLanguage(tag=t, mode=m, preferred=p, position=i) for i, (t, m, p) in enumerate(wanted)]
        changed.append("languages")
    return changed


def reindex(case: Case) -> None:
    """Refresh the name search and the conflict-check entries after names or contacts changed."""
    reindex_names(case)
    conflicts.reindex("client", case.id, case.id, conflicts.client_contact(case))


def reindex_names(case: Case) -> None:
    """Replace the blind-index entries of the case's name and other spellings."""
    db.session.execute(delete(CaseNameIndex).where(CaseNameIndex.case_id == case.id))
    values: set[int] = set()
    for spelling in [case.name or "", *(case.other_spellings or "").splitlines()]:
        if spelling.strip():
            values |= blind_index().values(spelling, field=NAME_FIELD)
    if values:
        db.session.execute(insert(CaseNameIndex), [{"case_id": case.id, "value": v} for v in sorted(values)])


def open_case(actor: User, data: CaseInput) -> Case:
    """Open a case at the adviser's site, owned by her."""
    require_adviser(actor)
    validate(data)
    opened = today().replace(day=1)
    case = Case(id=uuid.uuid4(), number=next_number(actor.site_id, actor.site.code, opened.year),
                site_id=actor.site_id, owner_id=actor.id, status="open", opened_month=opened)
    db.session.add(case)
    _apply(case, data)
    db.session.flush()
    reindex(case)
    audit.record("case_created", actor=actor, case=case)
    return case


def update_case(actor: User, case: Case, data: CaseInput, expected_version: int) -> list[str]:
    """Save an edit unless someone edited the case's fields since the form was opened.

    Only edits of her fields move the version on (see Case.version), so a consultation logged or
    the case closed meanwhile is no conflict.
    """
    require(actor, case, Permission.WRITE)
    if case.version != expected_version:
        raise Conflict(_l("A colleague saved this case while you were editing. Your input is still in the form; "
                          "compare it with the current case and save again."))
    validate(data)
    changed = _apply(case, data)
    if changed:
        case.updated_at = utcnow()
        db.session.flush()
        if {"name", "other_spellings", "phone", "address"} & set(changed):
            reindex(case)
        audit.record("case_edited", actor=actor, case=case, detail="fields=" + ",".join(changed))
    return changed


def set_status(actor: User, case: Case, status: str) -> None:
    """Close or reopen a case; the month is all statistics ever see, the day starts the retention period."""
    require(actor, case, Permission.KEEP)
    case.status, case.closed_on = status, (today() if status == "closed" else None)
    case.closed_month = case.closed_on.replace(day=1) if case.closed_on else None
    audit.record("case_closed" if status == "closed" else "case_reopened", actor=actor, case=case)


@dataclass(frozen=True)
class NameMatches:
    """What a name search may tell the adviser: her own matches, colleagues who hold others, damaged records."""

    visible: list[Case]
    held_by: list[User]
    unreadable: list[str] = field(default_factory=list)


def _candidates(query: str) -> set[uuid.UUID]:
    """Cases whose blind-index entries match the whole name or every one of its words."""
    whole, per_token = blind_index().query(query, field=NAME_FIELD)
    candidates = set(db.session.scalars(select(CaseNameIndex.case_id).where(CaseNameIndex.value.in_(whole))))
    if per_token:
        token_hits = [set(db.session.scalars(select(CaseNameIndex.case_id).where(CaseNameIndex.value.in_(values))))
                      for values in per_token]
        candidates |= set.intersection(*token_hits)
    return candidates


def _spelled_as(case: Case, query: str) -> bool:
    """Check the decrypted spellings, which rules out the rare false match of a truncated index value."""
    spellings = [case.name or "", *(case.other_spellings or "").splitlines()]
    return any(BlindIndex.matches(query, s) for s in spellings if s.strip())


def find_by_name(actor: User, query: str) -> NameMatches:
    """Find cases by a folded name; a match she may not see at her site only names its holder.

    A candidate whose names cannot be decrypted is logged and, if she may see it, named by its
    number; one she may not see counts on its index match alone, so a duplicate is still caught.
    A search tells who holds a case, so it is limited per hour (see search_limit) and every case
    it finds gets a `name_search_match` event (who searched, what she was shown; never the typed
    name), which its holder reads under "who has seen this case".
    """
    search_limit.count(actor)
    candidates = _candidates(query)
    visible_ids = set(db.session.scalars(visible_cases(actor).with_only_columns(Case.id)
                                         .where(Case.id.in_(candidates))))
    found = NameMatches([], [])
    holders: dict[uuid.UUID, User] = {}
    for case in db.session.scalars(select(Case).where(Case.id.in_(candidates)).order_by(Case.number)):
        if case.id not in visible_ids and case.site_id != actor.site_id:
            continue  # another site's case: not even its existence
        try:
            if not _spelled_as(case, query):
                continue
        except UnreadableField as exc:
            log.error("name search: record of case %s cannot be read: %s", case.number, exc)
            if case.id in visible_ids:
                found.unreadable.append(case.number)
                audit.record("name_search_match", actor=actor, case=case, detail="shown=unreadable")
                continue
        if case.id in visible_ids:
            found.visible.append(case)
        else:
            holders[case.owner_id] = case.owner
        audit.record("name_search_match", actor=actor, case=case,
                     detail="shown=case" if case.id in visible_ids else "shown=holder")
    found.held_by.extend(sorted(holders.values(), key=lambda u: u.display_name))
    audit.record("case_search", actor=actor, detail=f"visible={len(found.visible)} elsewhere={len(holders)} "
                                                    f"unreadable={len(found.unreadable)}")
    return found


@dataclass(frozen=True)
class Speaker:
    """An adviser who counsels in the client's language (`tags`), or in a close relative of it."""

    user: User
    tags: tuple[str, ...]
    exact: bool


def advisers_speaking(site_id: int, tag: str | None, exclude: uuid.UUID | None = None) -> list[Speaker]:
    """Active advisers at a site who counsel in a language, its base language or its macrolanguage relatives.

    ar-SY finds ar and ar-LB; ckb finds ku, and ku finds kmr, ckb and sdh; those who speak the
    language itself are listed first.
    """
    if not tag:
        return []
    base = languages.base_language(tag)
    related = languages.related_languages(base)
    query = (
        select(User, UserLanguage.tag)
        .join(UserRole, UserRole.user_id == User.id)
        .join(UserLanguage, UserLanguage.user_id == User.id)
        .where(User.site_id == site_id, User.active.is_(True), UserRole.role == Role.ADVISER.value)
        .where(or_(*(or_(UserLanguage.tag == code, UserLanguage.tag.startswith(code + "-")) for code in related)))
        .order_by(User.display_name, UserLanguage.tag)
    )
    if exclude is not None:
        query = query.where(User.id != exclude)
    spoken: dict[uuid.UUID, tuple[User, list[str]]] = {}
    for user, spoken_tag in db.session.execute(query).tuples():
        spoken.setdefault(user.id, (user, []))[1].append(spoken_tag)
    speakers = [Speaker(user, tuple(tags), any(languages.base_language(t) == base for t in tags))
                for user, tags in spoken.values()]
    return sorted(speakers, key=lambda s: not s.exact)  # stable: by name within each group


def colleagues(actor: User) -> list[User]:
    """Active advisers at her site other than herself: the people she may share a case with."""
    query = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.site_id == actor.site_id, User.active.is_(True), UserRole.role == Role.ADVISER.value,
               User.id != actor.id)
        .order_by(User.display_name)
    )
    return list(db.session.scalars(query))


def share(actor: User, case: Case, colleague: User, reason: str, until: date | None) -> CaseShare:
    """Share a case with a colleague at the same site, for a stated reason, optionally until a date.

    Only her holder shares: the rule is checked here, so no caller can forget it.
    """
    if not allows(actor, case, Permission.SHARE):
        raise NotPermitted(_l("Only the adviser who holds the case shares it."))
    if colleague.id == case.owner_id:
        raise CaseInputError(_l("She holds the case already."))
    if colleague not in colleagues(actor) or colleague.site_id != case.site_id:
        raise CaseInputError(_l("Cases can be shared only with active advisers at the same site."))
    if not reason.strip():
        raise CaseInputError(_l("Say why the case is shared."))
    if until is not None and until < today():
        raise CaseInputError(_l("The end date lies in the past."))
    for existing in case.shares:
        if existing.user_id == colleague.id and existing.active_on(today()):
            existing.revoked_at = utcnow()
    grant = CaseShare(id=uuid.uuid4(), case=case, user_id=colleague.id, shared_by_id=actor.id, expires_on=until)
    grant.reason = reason.strip()
    db.session.add(grant)
    audit.record("case_shared", actor=actor, case=case, target_user=colleague,
                 detail=f"until={until.isoformat()}" if until else "until=revoked")
    return grant


def revoke_share(actor: User, case: Case, grant: CaseShare) -> None:
    if not allows(actor, case, Permission.SHARE) or grant.case_id != case.id:
        raise NotPermitted(_l("Only the adviser who holds the case ends its sharing."))
    grant.revoked_at = utcnow()
    audit.record("share_revoked", actor=actor, case=case, target_user=grant.user)


def end_shares_of(person: User, reason: str, actor: User | str | None = None) -> None:
    """End every running share in which she is one of the two advisers: given to her, or of a case she holds.

    A share is one adviser's trust in a colleague at her site for her work; when either of them
    leaves the site, loses the adviser role or is deactivated, that reason is gone, and a share
    left running would follow her elsewhere. Each ends as if revoked, with a `share_ended` event
    on its case naming why and whose change it was (no content).
    """
    day = today()
    grants = db.session.scalars(
        select(CaseShare).join(Case, Case.id == CaseShare.case_id)
        .where(or_(CaseShare.user_id == person.id, Case.owner_id == person.id), CaseShare.revoked_at.is_(None),
               or_(CaseShare.expires_on.is_(None), CaseShare.expires_on >= day))
        .order_by(CaseShare.created_at)).all()
    for grant in grants:
        grant.revoked_at = utcnow()
        audit.record("share_ended", actor=actor, case=grant.case, target_user=grant.user,
                     detail=f"reason={reason} person={person.username}")


def transfer(actor: User, cases: list[Case], to: User) -> None:
    """Give a departing adviser's cases to a colleague at the same site; history stays as it was.

    Called for a confirmed request (services.two_person) with the admin who asked as `actor`: an
    admin, and never the one who receives.
    """
    if not actor.has_role(Role.ADMIN) or actor.id == to.id:
        raise NotPermitted(_l("Cases are handed over by an admin, never to herself."))
    if not to.active or not to.has_role(Role.ADVISER):
        raise CaseInputError(_l("Cases can only go to an active adviser."))
    for case in cases:
        if case.site_id != to.site_id:
            raise CaseInputError(_l("Cases can only go to an adviser at the same site."))
        previous = case.owner
        case.owner_id = to.id
        audit.record("case_transferred", actor=actor, case=case, target_user=to,
                     detail=f"from={previous.username} to={to.username}")


def number_of_record(table: str, row_id: str) -> str | None:
    """Find the case number a damaged record belongs to, for the error page and the log."""
    try:
        key = uuid.UUID(row_id)
    except ValueError:
        return None
    if table == "cases":
        query = select(Case.number).where(Case.id == key)
    elif table == "case_shares":
        query = select(Case.number).join(CaseShare, CaseShare.case_id == Case.id).where(CaseShare.id == key)
    elif table == "consultations":
        query = select(Case.number).join(Consultation, Consultation.case_id == Case.id).where(Consultation.id == key)
    else:
        return None
    return db.session.scalar(query)


def contact_of(data: CaseInput) -> conflicts.Contact:
    """The identifying data a new or edited case would store, for the conflict check."""
    names = [data.name, *data.other_spellings.splitlines()]
    return conflicts.Contact(tuple(n.strip() for n in names if n.strip()), data.phone, data.address)
