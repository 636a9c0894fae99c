"""erasure, retention, legal holds and case secrets

Cases can be erased (at the end of the retention period or on her request) so that no backup
brings them back: a case's data key is masked with a secret kept in the key store, outside the
database (data_keys.secret_id names the case whose secret masks it; existing keys are given
theirs by `counsel setup`, which needs the keys that a migration does not). The day a case was
closed starts its retention period (cases.closed_on; for cases closed before, the day of the
last `case_closed` event on the audit trail, in UTC, or else the last day of the closing month,
so that none is erased earlier than its month allows). A site may keep its cases longer
(sites.retention_months). A legal hold keeps a case past its period (legal_holds). An erasure
on request waits for a second person (change_requests.case_id and the encrypted reason). An
erased case's statistics stay, unlinked from it (case_facts.case_id may be NULL); going back
down drops those unlinked rows, since the older schema cannot hold them, and is refused once
a data key is masked: the older code could not open it.

SQLite alters a table by building a new one and dropping the old, and with foreign keys on,
the drop deletes the rows that point at the old table: those rows are set aside and put back.

Revision ID: c3f8d2a61e57
Revises: b7e21f4c9a10
Create Date: 2026-12-07 20:10:00.000000

"""
import calendar
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3f8d2a61e57'
down_revision = 'b7e21f4c9a10'
branch_labels = None
depends_on = None

FACT_CHILDREN = ("activity", "consent_spans", "fact_languages", "fact_risks")


@contextmanager
def keeping(*children):
    """On SQLite, set aside the rows of the tables that point at a table about to be rebuilt, then put them back."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in children:
            op.execute(f"CREATE TEMP TABLE kept_{name} AS SELECT * FROM {name}")
    yield
    if sqlite:
        for name in children:
            op.execute(f"DELETE FROM {name}")
            op.execute(f"INSERT INTO {name} SELECT * FROM kept_{name}")
            op.execute(f"DROP TABLE kept_{name}")


def upgrade():
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_id', sa.Uuid(), nullable=True))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_months', sa.Integer(), nullable=True))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_on', sa.Date(), nullable=True))
    date_closed_cases()

    op.create_table('legal_holds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('set_by_id', sa.Uuid(), nullable=False),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_legal_holds_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_legal_holds_set_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds')),
    sa.UniqueConstraint('case_id', name=op.f('uq_legal_holds_case_id'))
    )

    with keeping("notifications"):
        with op.batch_alter_table('change_requests', schema=None) as batch_op:
            batch_op.add_column(sa.Column('case_id', sa.Uuid(), nullable=True))
            batch_op.add_column(sa.Column('reason', sa.LargeBinary(), nullable=True))
            batch_op.create_index(batch_op.f('ix_change_requests_case_id'), ['case_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f('fk_change_requests_case_id_cases'), 'cases', ['case_id'], ['id'],
                                        ondelete='CASCADE')

    with keeping(*FACT_CHILDREN):
        with op.batch_alter_table('case_facts', schema=None) as batch_op:
            batch_op.alter_column('case_id', existing_type=sa.Uuid(), nullable=True)


def date_closed_cases():
    """Give each closed case the day it was closed, as the audit trail knows it, never later than its month allows."""
    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.Uuid()), sa.column("status", sa.String()),
                     sa.column("closed_month", sa.Date()), sa.column("closed_on", sa.Date()))
    events = sa.table("audit_events", sa.column("case_id", sa.Uuid()), sa.column("action", sa.String()),
                      sa.column("at", sa.DateTime()))
    closings = dict(bind.execute(sa.select(events.c.case_id, sa.func.max(events.c.at))
                                 .where(events.c.action == "case_closed").group_by(events.c.case_id)).all())
    updates = []
    for case_id, month in bind.execute(sa.select(cases.c.id, cases.c.closed_month)
                                       .where(cases.c.status == "closed", cases.c.closed_month.is_not(None))):
        month_end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        closed = closings.get(case_id)
        day = closed.date() if closed is not None else month_end
        updates.append({"key": case_id, "day": day if month <= day <= month_end else month_end})
    if updates:
        bind.execute(cases.update().where(cases.c.id == sa.bindparam("key")).values(closed_on=sa.bindparam("day")),
                     updates)


def downgrade():
    masked = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM data_keys WHERE secret_id IS NOT NULL")).scalar()
    if masked:
        raise RuntimeError(f"{masked} data keys are masked with case secrets, which the older code cannot open; "
                           "restore a backup of the database from before this revision instead")
    op.execute("DELETE FROM case_facts WHERE case_id IS NULL")  # erased cases' facts: the older schema has no place
    with keeping(*FACT_CHILDREN):
        with op.batch_alter_table('case_facts', schema=None) as batch_op:
            batch_op.alter_column('case_id', existing_type=sa.Uuid(), nullable=False)

    op.execute("DELETE FROM change_requests WHERE kind = 'erasure'")
    with keeping("notifications"):
        with op.batch_alter_table('change_requests', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('fk_change_requests_case_id_cases'), type_='foreignkey')
            batch_op.drop_index(batch_op.f('ix_change_requests_case_id'))
            batch_op.drop_column('reason')
            batch_op.drop_column('case_id')

    op.drop_table('legal_holds')
    # Not in batch mode: SQLite drops these columns in place (3.35+), where rebuilding cases, sites or
    # data_keys would delete, or be refused by, every row that points at them.
    op.drop_column('cases', 'closed_on')
    op.drop_column('sites', 'retention_months')
    op.drop_column('data_keys', 'secret_id')

