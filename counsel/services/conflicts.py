"""The conflict check: is the person in front of the adviser the alleged perpetrator, or close to him?

Names, phone numbers and addresses of clients and alleged perpetrators are indexed with the
blind index: names folded, phones in one international form, addresses by street and house
number (see `counsel.crypto.folding`; the postcode only tells buildings apart, a city or a
postcode alone is never a key). Before a case or a perpetrator is saved, the new data are
looked up in the other kind, and staff names are compared too. A candidate is confirmed by
decrypting it, and the warning says only what matched and where: a case number if the
adviser may open that case, else the colleague at her site who holds it, else "another
site", never the matching record's content.

The check could be used as an oracle: type any name or number as a "perpetrator" in one's own
case and learn that a client with it exists and who counsels her. The warning cannot be
avoided (it protects the client), so every confirmed match is also written to the audit trail
of the matched case (`conflict_match`: who triggered it and which kind of datum matched,
never the values), where its owner sees it under "who has seen this case".

Limit: staff are compared by name only. Accounts hold no phone number or address (the service
stores none of its staff's private data), so a perpetrator who is, or lives with, a staff member
is found only when his name matches her display name under the name-folding rules. The
warning then names the staff member, whom every adviser knows anyway. See docs/safety.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, insert, select

from counsel import audit
from counsel.access import Permission, allows
from counsel.crypto import BlindIndex, normalise_phone, variants
from counsel.crypto.folding import parse_address, same_address
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.safety import ContactIndex, Perpetrator
from counsel.models.user import User

FIELDS = ("name", "phone", "address")


@dataclass(frozen=True)
class Contact:
    """The identifying data of one person, as entered."""

    names: tuple[str, ...] = ()
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class ConflictMatch:
    """What the adviser may learn about a match: which datum, with whom, and where."""

    field: str
    kind: str
    case_number: str | None
    holder: str | None
    staff_name: str | None = None


def _index() -> BlindIndex:
    index: BlindIndex = current_app.extensions["counsel.vault"].blind_index
    return index


def _key(field: str, value: str) -> str:
    """The form of a datum that is indexed: "" when there is nothing worth a warning in it."""
    if field == "phone":
        return normalise_phone(value)
    if field == "address":
        return parse_address(value).street
    return value


def values_of(field: str, value: str) -> set[int]:
    """Whole-value index entries: a shared surname alone is no conflict, a shared full name is."""
    text = _key(field, value)
    if not text.strip():
        return set()
    return _index().query(text, field=f"contact_{field}")[0]


def _entries(contact: Contact) -> Iterable[tuple[str, int]]:
    for name in contact.names:
        for value in values_of("name", name):
            yield "name", value
    for field in ("phone", "address"):
        for value in values_of(field, getattr(contact, field)):
            yield field, value


def reindex(kind: str, owner_id: uuid.UUID, case_id: uuid.UUID, contact: Contact) -> None:
    """Replace the index entries of one client (kind "client") or perpetrator."""
    db.session.execute(delete(ContactIndex).where(ContactIndex.owner_id == owner_id))
    rows = {(field, value) for field, value in _entries(contact)}
    if rows:
        db.session.execute(insert(ContactIndex), [
            {"kind": kind, "field": f, "owner_id": owner_id, "case_id": case_id, "value": v} for f, v in sorted(rows)])


def client_contact(case: Case) -> Contact:
    names = [case.name or "", *(case.other_spellings or "").splitlines()]
    return Contact(tuple(n for n in names if n.strip()), case.phone or "", case.address or "")


def perpetrator_contact(perpetrator: Perpetrator) -> Contact:
    return Contact((perpetrator.name,) if perpetrator.name else (), perpetrator.phone or "",
                   perpetrator.address or "")


def _same(field: str, a: str, b: str) -> bool:
    if field == "name":
        return bool(variants(a) & variants(b))
    if field == "address":
        return same_address(a, b)
    return _key(field, a) == _key(field, b) != ""


def check(actor: User, contact: Contact, against: str, exclude_case: uuid.UUID | None = None) -> list[ConflictMatch]:
    """Find confirmed matches of a contact among perpetrators ("perpetrator") or clients ("client"), and staff."""
    matches: list[ConflictMatch] = []
    wanted = list(_entries(contact))
    if wanted:
        by_value = {value for _, value in wanted}
        rows = db.session.execute(select(ContactIndex.field, ContactIndex.owner_id, ContactIndex.case_id)
                                  .where(ContactIndex.kind == against, ContactIndex.value.in_(by_value))).all()
        seen: set[tuple[str, uuid.UUID]] = set()
        for field, owner_id, case_id in rows:
            if case_id == exclude_case or (field, owner_id) in seen:
                continue
            seen.add((field, owner_id))
            stored = _stored_contact(against, owner_id)
            if stored is None:
                continue
            entered = contact.names if field == "name" else (getattr(contact, field),)
            theirs = stored.names if field == "name" else (getattr(stored, field),)
            if any(_same(field, a, b) for a in entered for b in theirs if a and b):
                case = db.session.get(Case, case_id)
                audit.record("conflict_match", actor=actor, case=case, detail=f"{against}:{field}")
                matches.append(_describe(actor, field, against, case))
    matches.extend(_staff_matches(actor, contact))
    return sorted(set(matches), key=lambda m: (m.kind, m.field, m.case_number or "", m.holder or ""))


def _stored_contact(kind: str, owner_id: uuid.UUID) -> Contact | None:
    if kind == "perpetrator":
        perpetrator = db.session.get(Perpetrator, owner_id)
        return perpetrator_contact(perpetrator) if perpetrator else None
    case = db.session.get(Case, owner_id)
    return client_contact(case) if case else None


def _describe(actor: User, field: str, kind: str, case: Case | None) -> ConflictMatch:
    if case is not None and allows(actor, case, Permission.READ):
        return ConflictMatch(field, kind, case.number, None)
    if case is not None and case.site_id == actor.site_id:
        return ConflictMatch(field, kind, None, case.owner.display_name)
    return ConflictMatch(field, kind, None, None)


def _staff_matches(actor: User, contact: Contact) -> list[ConflictMatch]:
    """Compare the names with active staff: by name only, as accounts hold no phone or address."""
    if not contact.names:
        return []
    staff = db.session.scalars(select(User).where(User.active.is_(True))).all()
    found = [user for user in staff if any(_same("name", name, user.display_name) for name in contact.names)]
    for user in found:
        audit.record("conflict_match", actor=actor, target_user=user, detail="staff:name")
    return [ConflictMatch("name", "staff", None, None, staff_name=user.display_name) for user in found]
