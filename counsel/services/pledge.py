"""The installation's confidentiality pledge: its text in each interface language, and who accepted which version.

The texts are files, `<locale>.txt` in `settings.pledge_path` (counsel's own or the installation's;
counsel.settings refuses to start without one for each interface language): blocks separated by
a blank line, where a block whose lines start with "- " is a list. Whether an adviser still owes
the pledge before she reaches a case is answered in counsel.security (`owes_pledge`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from counsel import audit
from counsel.extensions import db
from counsel.models.pledge import PledgeAcceptance
from counsel.models.user import User
from counsel.settings import Settings

BLANK_LINE = re.compile(r"\n[ \t]*\n")
ITEM = "- "


@dataclass(frozen=True)
class Block:
    """A paragraph (one part) or a list (one part per item) of the pledge's text."""

    parts: tuple[str, ...]
    is_list: bool


def text(settings: Settings, locale: str) -> list[Block]:
    """Return the pledge in one interface language, as paragraphs and lists."""
    raw = (settings.pledge_path / f"{locale}.txt").read_text(encoding="utf-8")
    return [_block(chunk) for chunk in BLANK_LINE.split(raw.strip().replace("\r\n", "\n"))]


def _block(chunk: str) -> Block:
    lines = [line.strip() for line in chunk.splitlines()]
    if not lines[0].startswith(ITEM):
        return Block((" ".join(lines),), is_list=False)
    items: list[str] = []
    for line in lines:
        if line.startswith(ITEM):
            items.append(line[len(ITEM):].strip())
        else:  # an item written over several lines
            items[-1] = f"{items[-1]} {line}"
    return Block(tuple(items), is_list=True)


def latest(user: User) -> PledgeAcceptance | None:
    """Her most recent acceptance of any version, if she has accepted one."""
    return db.session.scalars(select(PledgeAcceptance).where(PledgeAcceptance.user_id == user.id)
                              .order_by(PledgeAcceptance.accepted_at.desc(), PledgeAcceptance.id.desc())).first()


def has_accepted(user: User, version: str) -> bool:
    """Whether she has accepted this version of the pledge."""
    return _acceptance(user, version) is not None


def accept(user: User, version: str) -> PledgeAcceptance:
    """Record her acceptance of a version, once, with its event on the trail (commit stays with the caller).

    Accepting a version she has accepted already (a second tab, a reload) changes nothing.
    """
    kept = _acceptance(user, version)
    if kept is not None:
        return kept
    acceptance = PledgeAcceptance(user_id=user.id, version=version)
    try:
        with db.session.begin_nested():  # two requests at once: the second finds the first one's row
            db.session.add(acceptance)
    except IntegrityError:
        found = _acceptance(user, version)
        if found is None:
            raise
        return found
    audit.record("pledge_accepted", actor=user, target_user=user, detail=version)
    return acceptance


def _acceptance(user: User, version: str) -> PledgeAcceptance | None:
    return db.session.scalars(select(PledgeAcceptance).where(PledgeAcceptance.user_id == user.id,
                                                             PledgeAcceptance.version == version)).first()
