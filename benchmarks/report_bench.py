"""Time the full quarterly report over 100,000 cases and 1,000,000 consultations, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/report_bench.py                 # both databases
    .venv/bin/python benchmarks/report_bench.py --only sqlite   # one of them
    .venv/bin/python benchmarks/report_bench.py --drop          # remove the databases afterwards

Each database is migrated to head and seeded once with `counsel demo seed`'s generator (minutes;
kept for the next run), which gives most cases a statistics consent and writes the statistics'
copy of each case as the app does. The report is then made several times: all figures, all
sites, the last complete quarter, with the team's rule as the page uses it; median and fastest
run are printed with the row counts. Target: under one second each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from counsel import create_app  # noqa: E402
from counsel.clock import today  # noqa: E402
from counsel.crypto import KeyRing  # noqa: E402
from counsel.extensions import db  # noqa: E402
from counsel.models.case import Case  # noqa: E402
from counsel.models.consultation import Consultation, ConsultationTopic  # noqa: E402
from counsel.models.safety import Consent  # noqa: E402
from counsel.models.site import Site  # noqa: E402
from counsel.models.statistics import CaseFacts, activity  # noqa: E402
from counsel.reporting import periods, queries  # noqa: E402
from counsel.reporting.report import SiteRef, chart_of, make  # noqa: E402
from counsel.reporting.suppression import Rule  # noqa: E402
from counsel.services import demo  # noqa: E402
from counsel.settings import load  # noqa: E402

INSTANCE = Path("/tmp/counsel-bench")  # noqa: S108 - a scratch folder for a benchmark, never real data
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_NAME = "counsel_bench"


def settings_for(url: str) -> object:
    INSTANCE.mkdir(parents=True, exist_ok=True)
    key_file = INSTANCE / "keys.json"
    if not key_file.exists():
        KeyRing.create_file(key_file)
    return load({"env": "development", "instance_path": str(INSTANCE), "key_file": str(key_file),
                 "database_url": url, "master_keys": ""}, environ={})


def postgres_database(drop: bool = False) -> str:
    """Create (or drop) the benchmark's own PostgreSQL database and return its URL."""
    server = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": POSTGRES_NAME})
        if drop and exists:
            conn.execute(text(f'DROP DATABASE "{POSTGRES_NAME}" WITH (FORCE)'))
        elif not drop and not exists:
            conn.execute(text(f'CREATE DATABASE "{POSTGRES_NAME}"'))
    server.dispose()
    return make_url(POSTGRES_SERVER).set(database=POSTGRES_NAME).render_as_string(hide_password=False)


def count(model: object) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


def ensure_data(app: Flask, cases: int, per_case: float) -> None:
    """Seed up to `cases` cases unless they are there (the seeder gives most a statistics consent)."""
    settings = app.config["COUNSEL"]
    have = count(Case)
    if have < cases:
        started = time.perf_counter()

        def progress(done: int) -> None:
            if done % 10_000 == 0:
                print(f"  seeded {have + done:,} cases ({time.perf_counter() - started:.0f} s)", flush=True)

        demo.seed(settings, app.extensions["counsel.vault"], cases - have, per_case, seed_value=2026 + have,
                  progress=progress)
    # Fresh statistics and, on PostgreSQL, a visibility map, as autovacuum keeps them in service.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))


def time_report(app: Flask, runs: int) -> tuple[list[float], list[float], int]:
    """Make the full report `runs` times; return total and SQL-only times and the people counted."""
    sites = [SiteRef(s.id, s.code, s.name) for s in db.session.scalars(select(Site).order_by(Site.id))]
    period = periods.last_complete_quarter(today())
    config = app.config["COUNSEL"]
    rule = Rule(config.report_min_cell, band=config.funder_min_cell)  # as the page makes it
    totals, sql = [], []
    people = 0
    for _ in range(runs):
        started = time.perf_counter()
        queries.collect(period, [site.id for site in sites], today())
        sql.append(time.perf_counter() - started)
        db.session.rollback()
        started = time.perf_counter()
        report = make(period, sites, sites, "team", rule, today(), "de")
        drawn = [chart_of(table) for table in report.tables]
        totals.append(time.perf_counter() - started)
        db.session.rollback()
        assert drawn and not report.too_few
        people = int(report.overview[0].total[1][-1].number or 0) if report.overview[0].total else 0
    return totals, sql, people


def run(name: str, url: str, cases: int, per_case: float, runs: int) -> None:
    print(f"== {name}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with app.test_request_context():
        try:
            upgrade()
            ensure_data(app, cases, per_case)
            rows = {"cases": count(Case), "consultations": count(Consultation), "consents": count(Consent),
                    "topics": count(ConsultationTopic), "statistics copy": count(CaseFacts),
                    "activity rows": count(activity)}
            print("  rows: " + ", ".join(f"{label} {value:,}" for label, value in rows.items()))
            totals, sql, people = time_report(app, runs)
            period = periods.last_complete_quarter(today())
            print(f"  full quarterly report {period.token}, all {len(db.session.scalars(select(Site)).all())} sites, "
                  f"{people:,} active cases counted, {runs} runs:")
            print(f"    whole report (SQL, suppression, tables, charts): median {statistics.median(totals):.3f} s, "
                  f"fastest {min(totals):.3f} s")
            print(f"    its SQL statement alone:                         median {statistics.median(sql):.3f} s, "
                  f"fastest {min(sql):.3f} s")
        finally:
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--per-case", type=float, default=10.0, help="consultations per case on average")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--drop", action="store_true", help="delete the benchmark databases at the end")
    args = parser.parse_args()
    sqlite_file = INSTANCE / "bench.sqlite3"
    if args.only != "postgres":
        run("SQLite", f"sqlite:///{sqlite_file}", args.cases, args.per_case, args.runs)
    if args.only != "sqlite":
        run("PostgreSQL", postgres_database(), args.cases, args.per_case, args.runs)
    if args.drop:
        sqlite_file.unlink(missing_ok=True)
        if args.only != "sqlite":
            postgres_database(drop=True)


if __name__ == "__main__":
    main()
