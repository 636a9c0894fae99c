"""`counsel privacy record` and docs/record-of-processing.md agree with the inventory, the models and the settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from counsel import inventory
from counsel.extensions import Base
from counsel.services import privacy
from counsel.settings import PROJECT_ROOT, load
from tests.test_cli import run
from tests.test_data_inventory import encrypted_columns

RECORD_DOCUMENT = PROJECT_ROOT / "docs" / "record-of-processing.md"
CONTROLLER = "Frauenberatung Beispiel e.V., Musterstraße 1, 44137 Dortmund"


def printed_tables(record: str) -> dict[str, tuple[set[str], set[str]]]:
    """Read the printed record back: each `#### table` with its columns and the columns it calls encrypted."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for block in re.split(r"^#### ", record, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        body = re.split(r"^#{1,3} ", body, flags=re.MULTILINE)[0]
        columns = set(re.findall(r"^\| (\w+) \| [^|]+ \| [^|]+ \|$", body, flags=re.MULTILINE)) - {"column"}
        listed = re.search(r"^Encrypted: (.+)\.$", body, flags=re.MULTILINE)
        assert listed, f"{name} does not say which columns are encrypted"
        encrypted = set() if listed.group(1) == "none" else set(listed.group(1).split(", "))
        found[name.strip()] = (columns, encrypted)
    return found


def test_the_record_names_every_table_and_encrypted_column_of_the_models_and_nothing_else(app):
    result = run(app, "privacy", "record")
    assert result.exit_code == 0
    printed = printed_tables(result.output)
    assert printed.keys() == {table.name for table in Base.metadata.sorted_tables}
    encrypted = encrypted_columns()
    for table in Base.metadata.sorted_tables:
        columns, marked = printed[table.name]
        assert columns == {column.name for column in table.columns}, table.name
        assert marked == encrypted.get(table.name, set()), table.name
        assert all(f"\n| {name} | encrypted | " in result.output for name in marked), table.name
    for category in inventory.read():
        assert f"\n### {category.heading}\n" in result.output


def test_the_reading_of_the_record_would_catch_a_missing_or_invented_table(app):
    output = run(app, "privacy", "record").output
    assert "#### cases\n" in output
    assert "cases" not in printed_tables(output.replace("#### cases\n", "#### kases\n"))
    assert "no_such_table" in printed_tables(output + "\n#### no_such_table\n\nEncrypted: none.\n")


def test_an_unset_controller_and_officer_are_marked_to_be_completed(app):
    output = run(app, "privacy", "record").output
    assert f"setting `controller` | {privacy.TO_COMPLETE} |" in output
    assert f"setting `dpo_contact` | {privacy.TO_COMPLETE} |" in output


@pytest.mark.settings(retention_months=12, controller=CONTROLLER, dpo_contact="datenschutz@example.org",
                      require_totp=True, session_idle_minutes=10, name_search_per_hour=20, report_min_cell=7)
def test_the_settings_in_force_are_printed(app, settings):
    output = run(app, "privacy", "record").output
    assert f"| {CONTROLLER} |" in output and "| datenschutz@example.org |" in output
    assert "erased 12 months after the day they were closed (`retention_months` = 12)" in output
    assert "| second factor (TOTP) | required" in output
    assert "after 10 minutes without a request" in output
    assert "at most 20 name searches per adviser and hour" in output
    assert "fewer than 7 people show as `<7`" in output
    assert f"`{settings.checkpoint_path}`" in output
    assert f"`{settings.key_path}`" in output and "keystore.sqlite3" in output


def test_retention_and_controller_from_the_environment_reach_the_record(app, settings):
    from_environ = load({"env": "test", "instance_path": settings.instance_path, "key_file": settings.key_file,
                         "database_url": settings.database_url, "master_keys": ""},
                        environ={"COUNSEL_RETENTION_MONTHS": "12", "COUNSEL_CONTROLLER": CONTROLLER})
    text = privacy.record(from_environ, date(2026, 12, 8))
    assert "(`retention_months` = 12)" in text and f"| {CONTROLLER} |" in text
    assert "Printed by `counsel privacy record` on 2026-12-08" in text
    assert "runs in test mode: it is not fit for real client data" in text


def test_a_site_that_keeps_cases_longer_appears_and_one_that_would_keep_them_shorter_does_not(app, site):
    assert run(app, "sites", "create", "SB", "Saarbrücken").exit_code == 0
    assert run(app, "retention", "site", "DO", "60").exit_code == 0
    assert run(app, "retention", "site", "SB", "24").exit_code == 0  # shorter than 36: the installation's applies
    output = run(app, "privacy", "record").output
    assert "  - DO (Dortmund): 60 months" in output
    assert "SB (" not in output
    assert "(`retention_months` = 36)" in output


def test_zero_months_means_erased_once_closed(app, settings):
    text = privacy.record(settings.replace(retention_months=0), date(2026, 12, 8))
    assert "Closed cases** are erased once they are closed (`retention_months` = 0)" in text


def test_addresses_are_named_by_kind_never_with_their_credentials(app, settings):
    ring = settings.key_path.read_text(encoding="utf-8")
    elsewhere = settings.replace(key_store_url="postgresql+psycopg://keys:hunter2@10.0.0.5/keystore",
                                 database_url="postgresql+psycopg://counsel:swordfish@10.0.0.6/counsel",
                                 master_keys=ring)
    text = privacy.record(elsewhere, date(2026, 12, 8))
    assert "| key store (each case's secret, and the record of erasures) | a PostgreSQL database of its own" in text
    assert "| database | PostgreSQL database |" in text
    assert "the environment variable `COUNSEL_MASTER_KEYS`" in text
    secrets = ["hunter2", "swordfish", "10.0.0.5", "10.0.0.6", *re.findall(r'"([A-Za-z0-9+/=]{40,})"', ring)]
    assert len(secrets) > 4 and not [secret for secret in secrets if secret in text]


def test_output_writes_the_same_markdown_to_a_file(app, tmp_path):
    target = tmp_path / "verzeichnis.md"
    result = run(app, "privacy", "record", "--output", str(target))
    assert result.exit_code == 0 and result.output == f"Record of processing written to {target}.\n"
    assert target.read_text(encoding="utf-8") == run(app, "privacy", "record").output


def test_the_commands_run_from_a_shell_as_the_readme_shows(tmp_path):
    """Outside a test's app context, as an operator or a timer runs them: each command group pushes its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("COUNSEL_")}
    env.update(COUNSEL_ENV="test", COUNSEL_INSTANCE_PATH=str(tmp_path), COUNSEL_RETENTION_MONTHS="12")
    counsel = str(Path(sys.executable).parent / "counsel")

    def shell(*args: str) -> str:
        done = subprocess.run([counsel, *args], env=env, cwd=tmp_path, capture_output=True, text=True,  # noqa: S603
                              timeout=120, check=False)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    shell("keys", "init")
    shell("db", "upgrade")
    assert "(`retention_months` = 12)" in shell("privacy", "record")
    shell("privacy", "record", "--output", str(tmp_path / "record.md"))
    assert "#### cases" in (tmp_path / "record.md").read_text(encoding="utf-8")
    assert "0 cases would be erased." in shell("retention", "purge", "--dry-run")
    assert "0 cases given their secret" in shell("keys", "case-secrets")


# --- docs/record-of-processing.md -----------------------------------------------------------

def categories_section(document: str) -> str:
    """The record document's section on categories of personal data (Art. 30(1)(c))."""
    found = re.search(r"^## [^\n]*Categories of personal data[^\n]*\n(.*?)(?=^## |\Z)", document,
                      flags=re.MULTILINE | re.DOTALL)
    assert found, "docs/record-of-processing.md has no section on categories of personal data"
    return found.group(1)


def disagreements(document: str, categories: tuple[inventory.Category, ...]) -> list[str]:
    """What the record document says about the data that the inventory does not, and what it leaves out."""
    section = categories_section(document)
    tables = inventory.tables(categories)
    problems = [f"category {c.heading!r} is not named" for c in categories if c.heading not in section]
    named = set(re.findall(r"`([a-z_]+)`", section))
    problems += [f"table {name} is not named" for name in tables if name not in named]
    problems += [f"{name} is no table of the inventory" for name in sorted(named - tables.keys())]
    for table, column in re.findall(r"`([a-z_]+)\.([a-z_]+)`", section):
        if table not in tables or column not in {c.name for c in tables[table].columns}:
            problems.append(f"{table}.{column} is no column of the inventory")
    return problems


def test_the_record_document_and_the_inventory_agree():
    assert disagreements(RECORD_DOCUMENT.read_text(encoding="utf-8"), inventory.read()) == []


def test_the_agreement_check_catches_a_table_the_record_document_leaves_out_or_invents():
    document = RECORD_DOCUMENT.read_text(encoding="utf-8")
    categories = inventory.read()
    grown = inventory.parse(inventory.INVENTORY.read_text(encoding="utf-8")
                            + "\n### staff_badges\n\n| column | stored | why |\n| --- | --- | --- |\n"
                            "| id | plaintext | row id |\n")
    assert disagreements(document, grown) == [*disagreements(document, categories), "table staff_badges is not named"]
    renamed = document.replace("`case_shares`", "`case_sharing`")
    assert set(disagreements(renamed, categories)) == {"table case_shares is not named",
                                                       "case_sharing is no table of the inventory"}
    section = categories_section(document)
    assert disagreements(document.replace(section, section + "\n`cases.shoe_size`\n"), categories) == [
        "cases.shoe_size is no column of the inventory"]
    heading = categories[0].heading
    assert f"category {heading!r} is not named" in disagreements(
        document.replace(section, section.replace(heading, "Clients")), categories)


# --- the inventory's grammar ------------------------------------------------------------------

ROWS = "## Client data\n\n### cases\n\n| column | stored | why |\n| --- | --- | --- |\n"


def test_the_parser_keeps_categories_tables_and_notes():
    parsed = inventory.parse(ROWS.replace("### cases\n", "### cases\n\nOne per client.\n")
                             + "| id | plaintext | random UUID |\n| name | encrypted | full name |\n")
    (category,) = parsed
    assert category.heading == "Client data" and category.tables[0].note == "One per client."
    assert [c.name for c in category.tables[0].encrypted] == ["name"]


@pytest.mark.parametrize(("rows", "message"), [
    ("| id | scrambled | random UUID |\n", "none of encrypted"),
    ("| id | plaintext | id |\n", "gives no reason"),
    ("| id | plaintext | random UUID |\n| id | plaintext | random UUID |\n", "listed twice"),
    ("", "lists no column"),
])
def test_the_parser_refuses_a_row_it_cannot_vouch_for(rows, message):
    with pytest.raises(inventory.InventoryError, match=message):
        inventory.parse(ROWS + rows)

