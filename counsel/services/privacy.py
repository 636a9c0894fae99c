"""The installation's record of processing (Art. 30 GDPR), built from the data inventory and the settings in force.

docs/record-of-processing.md is the template a service completes; this is the part the software
knows for certain: who is named as controller and data protection officer, how long cases are
kept here (the setting and each site's longer period), the safeguards as configured, and every
table and column from docs/data-inventory.md with how it is stored and why. Markdown, so that a
data protection officer can paste it. Never a secret: database and key store URLs are named by
kind, not printed.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import make_url, select

from counsel import inventory
from counsel.extensions import db
from counsel.models.site import Site
from counsel.services import retention
from counsel.settings import Settings

TO_COMPLETE = "(to be completed)"
_BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def record(settings: Settings, on: date, categories: tuple[inventory.Category, ...] | None = None) -> str:
    """The installation's record of processing on a day, as Markdown."""
    categories = inventory.read() if categories is None else categories
    lines = [
        "# Record of processing activities (Verzeichnis von Verarbeitungstätigkeiten, Art. 30(1) GDPR)",
        "",
        f"Printed by `counsel privacy record` on {on.isoformat()} from `docs/data-inventory.md` and this "
        "installation's settings. Purposes, data subjects, recipients and what the service adds itself: "
        "`docs/record-of-processing.md`; risks and measures: `docs/dpia-template.md`.",
        "",
    ]
    if not settings.is_production:
        lines += [f"**This installation runs in {settings.env} mode: it is not fit for real client data.**", ""]
    lines += _responsible(settings) + _erasure(settings) + _measures(settings) + _categories(categories)
    return "\n".join(lines).rstrip("\n") + "\n"


def site_periods(settings: Settings) -> list[tuple[Site, int]]:
    """The sites that keep their closed cases longer than the installation does, with their months."""
    sites = db.session.scalars(select(Site).where(Site.retention_months.is_not(None)).order_by(Site.code))
    return [(site, retention.months_for(settings, site)) for site in sites
            if retention.months_for(settings, site) > settings.retention_months]


def _responsible(settings: Settings) -> list[str]:
    return [
        "## Controller and data protection officer (Verantwortlicher, Datenschutzbeauftragte/r)",
        "",
        "| | |",
        "| --- | --- |",
        f"| controller (Verantwortlicher), Art. 30(1)(a) — setting `controller` | {_cell(settings.controller)} |",
        f"| data protection officer (Datenschutzbeauftragte/r) — setting `dpo_contact` | "
        f"{_cell(settings.dpo_contact)} |",
        "",
    ]


def _erasure(settings: Settings) -> list[str]:
    months = settings.retention_months
    kept = ("erased once they are closed" if months == 0
            else f"erased {months} months after the day they were closed")
    lines = [
        "## Erasure periods (Löschfristen), Art. 30(1)(f)",
        "",
        f"- **Closed cases** are {kept} (`retention_months` = {months}), by `counsel retention purge` "
        "(daily timer): every row and field of the case, the secret that opens its data key first.",
    ]
    periods = site_periods(settings)
    if periods:
        lines.append("- **Sites that keep their closed cases longer** (`counsel retention site`):")
        lines += [f"  - {site.code} ({_cell(site.name)}): {site_months} months" for site, site_months in periods]
    else:
        lines.append("- **Sites that keep their closed cases longer**: none; every site keeps them as long as "
                     "the installation does.")
    lines += [
        "- **Legal hold** (Art. 17(3)(e)): a case under a hold set by its adviser is kept until she ends the hold.",
        "- **On her request** (Art. 17): erased once a second person (an admin or a coordinator of the site) "
        "confirms.",
        "- **Key store backups**: an erased case can be opened only with a key store backup from before its "
        "erasure, together with a database backup and the key ring; keep key store backups for days, not years "
        "(`docs/data-protection.md`). Schedule and keeping period here: " + TO_COMPLETE,
        "- **Kept without a period in counsel**: the audit trail (no content; rewriting it would break its chain), "
        "the unlinked coded facts of erased cases in the statistics' copy, and staff accounts (deactivated, "
        "not deleted). Periods the service sets for them: " + TO_COMPLETE,
        f"- **Sessions** end after {settings.session_idle_minutes} idle minutes or {settings.session_absolute_hours} "
        "hours and their rows are deleted.",
        "",
    ]
    return lines


def _measures(settings: Settings) -> list[str]:
    keys = ("the environment variable `COUNSEL_MASTER_KEYS`" if settings.master_keys
            else f"the key file `{settings.key_path}` (mode 0600), outside the database")
    totp = ("required: an account reaches nothing before it has set up its second factor" if settings.require_totp
            else "**not required** (`require_totp` = false): accounts may sign in with a password alone")
    funder_rounding = (f", rounded to multiples of {settings.funder_rounding}" if settings.funder_rounding > 1
                       else ", not rounded")
    rows = [
        ("encryption at rest", "every column marked *encrypted* below: AES-256-GCM under the record's own data "
         "key, bound to table, column and row"),
        ("master keys (key ring)", keys),
        ("key store (each case's secret, and the record of erasures)", _key_store(settings)),
        ("database", _database(settings.sqlalchemy_url)),
        ("second factor (TOTP)", totp),
        ("sign-in", f"argon2id passwords of at least {settings.password_min_length} characters; lock-out after "
         f"{settings.login_lockout_threshold} failures for {settings.login_lockout_minutes} minutes"),
        ("idle lock", f"a session ends after {settings.session_idle_minutes} minutes without a request and after "
         f"{settings.session_absolute_hours} hours in all; sensitive actions ask for the password again after "
         f"{settings.reauth_minutes} minutes; \"lock screen now\" (Jetzt sperren) ends it at once"),
        ("name search", f"at most {settings.name_search_per_hour} name searches per adviser and hour, each on "
         "the trail of every case it finds"),
        ("two-person rule", "the admin and coordinator roles, the adviser role for an account with another role, "
         "hand-overs of cases, removing a second factor, a further emergency access and erasure on request wait "
         "until a second person confirms; the server operator holds the keys and is outside this rule"),
        ("statistics", f"counts of fewer than {settings.report_min_cell} people show as "
         f"`<{settings.report_min_cell}`, with complementary suppression; funders' reports: fewer than "
         f"{settings.funder_min_cell}{funder_rounding}"),
        ("audit trail", "table `audit_events` in the database, each event chained to the one before by an "
         f"HMAC; its head is checkpointed to `{settings.checkpoint_path}` outside the database; "
         "`counsel audit verify` checks both"),
    ]
    return [
        "## Technical and organisational measures in force (Art. 32), Art. 30(1)(g)",
        "",
        "| measure | this installation |",
        "| --- | --- |",
        *(f"| {measure} | {value} |" for measure, value in rows),
        "",
    ]


def _categories(categories: tuple[inventory.Category, ...]) -> list[str]:
    lines = [
        "## Categories of personal data, Art. 30(1)(c)",
        "",
        "Every table of the database and every column, from `docs/data-inventory.md`. *encrypted*: AES-256-GCM "
        "under the record's data key; *plaintext*: stored as it is, for the reason given; *hashed*: one-way; "
        "*keyed hash*: HMAC; *wrapped key*: a key encrypted under a master key.",
        "",
    ]
    for category in categories:
        lines += [f"### {category.heading}", ""]
        if category.note:
            lines += [category.note, ""]
        for table in category.tables:
            encrypted = ", ".join(column.name for column in table.encrypted) or "none"
            lines += [f"#### {table.name}", ""]
            if table.note:
                lines += [table.note, ""]
            lines += [f"Encrypted: {encrypted}.", "", "| column | stored | why |", "| --- | --- | --- |"]
            lines += [f"| {column.name} | {column.kind} | {column.why} |" for column in table.columns]
            lines.append("")
    return lines


def _key_store(settings: Settings) -> str:
    if settings.key_store_url:
        return f"a {_database(settings.key_store_url)} of its own (`key_store_url`), apart from the database"
    path = make_url(settings.key_store_sqlalchemy_url).database
    return f"the SQLite file `{path}` (mode 0600), apart from the database"


def _database(url: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"SQLite file `{parsed.database}`"
    return f"{_BACKENDS.get(backend, backend)} database"


def _cell(text: str) -> str:
    """A setting's text on one line of a Markdown table, or the mark that it is still to be given."""
    return " ".join(text.split()).replace("|", "\\|") or TO_COMPLETE

