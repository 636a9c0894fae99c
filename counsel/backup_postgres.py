"""PostgreSQL's side of backups: pg_dump under an exported snapshot, scratch databases, loading a dump.

The client programs (pg_dump, pg_restore, psql) are found on PATH and get the password through
their environment (PGPASSWORD), never on a command line that `ps` would show.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TypeVar

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from counsel.backup_format import BackupError

T = TypeVar("T")
DROP_EVERY_TABLE = """DO $$ DECLARE t record; BEGIN
  FOR t IN SELECT schemaname, tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I.%I CASCADE', t.schemaname, t.tablename);
  END LOOP;
END $$"""


def tool(name: str) -> str:
    """Find a PostgreSQL client program on PATH, or say how to install it."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client programs of the server's major "
                          "version (Debian: apt install postgresql-client) or add their folder to PATH.")
    return found


def libpq(url: URL) -> tuple[str, dict[str, str]]:
    """Return a libpq connection URI without the password, and an environment that carries it."""
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    uri = URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database,
                     query=url.query)
    return uri.render_as_string(hide_password=False), environment


def dump(engine: Engine, archive: Path, describe: Callable[[Connection], T]) -> T:
    """Dump the database to `archive` (pg_dump's custom format) and describe the very same snapshot.

    A read-only REPEATABLE READ transaction exports its snapshot; `describe` reads in it and
    pg_dump dumps it, so the manifest and the dump show one moment: every transaction committed
    before it, none after, whatever the app writes meanwhile.
    """
    pg_dump = tool("pg_dump")
    uri, environment = libpq(engine.url)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            described = describe(conn)
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={archive}", f"--dbname={uri}"],
                 environment)
    return described


@contextmanager
def scratch_database(url: URL) -> Iterator[URL]:
    """Create an empty database beside the configured one for as long as the block runs, then drop it."""
    name = f"{(url.database or 'counsel')[:40]}_verify_{secrets.token_hex(4)}"
    server = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    quoted = server.dialect.identifier_preparer.quote(name)
    try:
        with server.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {quoted}"))
    except DBAPIError as exc:
        server.dispose()
        raise BackupError(f"cannot create the scratch database {name} to restore the backup into: {exc.orig}. "
                          "The database role needs the right to create databases (ALTER ROLE … CREATEDB).") from None
    try:
        yield url.set(database=name)
    finally:
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        server.dispose()


def load(archive: Path, url: URL, *, replace: bool) -> None:
    """Load the archive into the database, replacing its tables if `replace`, in one transaction.

    pg_restore turns the archive into SQL and psql runs it (after dropping every table of the
    current schema, when replacing) in a single transaction that stops at the first error: all
    of it or nothing. Should pg_restore fail, psql is killed before its input ends, so it cannot
    commit half a script.
    """
    pg_restore, psql = tool("pg_restore"), tool("psql")
    uri, environment = libpq(url)
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        script = subprocess.Popen(  # noqa: S603 - a program found on PATH, arguments made here
            [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(archive)],
            stdout=subprocess.PIPE, stderr=restore_errors, env=environment)
        loader = subprocess.Popen(  # noqa: S603 - a program found on PATH, arguments made here
            [psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1", f"--dbname={uri}",
             *(["--command", DROP_EVERY_TABLE] if replace else []), "--file=-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_errors, env=environment)
        assert script.stdout is not None and loader.stdin is not None  # noqa: S101 - both are pipes
        try:
            try:
                shutil.copyfileobj(script.stdout, loader.stdin)
            except BrokenPipeError:  # psql stopped at an error: its message follows
                script.kill()
            else:
                if script.wait() != 0:
                    raise BackupError(f"pg_restore failed, nothing was changed: {_text(restore_errors)}")
        except BaseException:
            loader.kill()  # before its input ends: psql must never reach the end of half a script
            loader.wait()
            raise
        finally:
            script.stdout.close()
            script.wait()
            with suppress(BrokenPipeError):
                loader.stdin.close()
        if loader.wait() != 0:
            raise BackupError(f"psql failed, nothing was changed: {_text(psql_errors)}")


def _run(command: list[str], environment: dict[str, str]) -> None:
    done = subprocess.run(command, env=environment, capture_output=True, text=True,  # noqa: S603 - see tool()
                          check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()}")


def _text(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read().decode("utf-8", "replace").strip()
