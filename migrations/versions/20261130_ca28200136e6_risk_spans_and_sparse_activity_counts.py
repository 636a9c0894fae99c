"""risk spans and sparse activity counts

Two changes to the statistics copy that let a report find its figures in one pass:
each risk assessment's copy knows the day of the case's next assessment (next_on), so the
latest one by a report's end is a plain join rather than a search per person, and a code
column of activity is NULL rather than 0 where no consultation had the code, so a report
counts the people who had it with COUNT(column). The index on case_facts also covers the
closing month. Rows already copied are converted in place.

Revision ID: ca28200136e6
Revises: 4a6b43a5b701
Create Date: 2026-11-30 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'ca28200136e6'
down_revision = '4a6b43a5b701'
branch_labels = None
depends_on = None

NOT_CODES = {"grain", "start", "fact_id", "site_id", "consultations", "minutes"}
# activity is a WITHOUT ROWID table on SQLite; a table rebuilt by batch mode must stay one.
ACTIVITY_TABLE = {"sqlite_with_rowid": False}

# The next assessment of the same case in the order the copy knew as "later": day, then
# time of recording, then row. The smallest day among all later ones is the next one's day.
NEXT_ON = """
UPDATE fact_risks SET next_on = (
    SELECT MIN(later.assessed_on) FROM fact_risks later
    WHERE later.fact_id = fact_risks.fact_id AND (
        later.assessed_on > fact_risks.assessed_on
        OR (later.assessed_on = fact_risks.assessed_on AND (
            later.created_at > fact_risks.created_at
            OR (later.created_at = fact_risks.created_at AND later.id > fact_risks.id)))))
"""


def code_columns():
    """The activity columns that count a code, as this database has them."""
    return [c["name"] for c in sa.inspect(op.get_bind()).get_columns("activity") if c["name"] not in NOT_CODES]


def set_each(columns, value):
    """Update every code column of activity to value(column)."""
    table = sa.table("activity", *(sa.column(name, sa.Integer) for name in columns))
    op.execute(table.update().values({name: value(table.c[name]) for name in columns}))


def upgrade():
    with op.batch_alter_table('fact_risks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_on', sa.Date(), nullable=True))
    op.execute(NEXT_ON)
    with op.batch_alter_table('fact_risks', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_risks_latest')
        batch_op.drop_column('created_at')
        batch_op.create_index('ix_fact_risks_span', ['fact_id', 'assessed_on', 'next_on', 'level'], unique=False)

    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_facts_opened')
        batch_op.create_index('ix_case_facts_opened', ['opened_month', 'site_id', 'closed_month'], unique=False)

    columns = code_columns()
    with op.batch_alter_table('activity', schema=None, table_kwargs=ACTIVITY_TABLE) as batch_op:
        for name in columns:
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=True)
    set_each(columns, lambda column: sa.func.nullif(column, 0))


def downgrade():
    columns = code_columns()
    set_each(columns, lambda column: sa.func.coalesce(column, 0))
    with op.batch_alter_table('activity', schema=None, table_kwargs=ACTIVITY_TABLE) as batch_op:
        for name in columns:
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_facts_opened')
        batch_op.create_index('ix_case_facts_opened', ['opened_month', 'site_id'], unique=False)

    # The time each assessment was recorded is copied afresh from the assessments themselves.
    with op.batch_alter_table('fact_risks', schema=None) as batch_op:
        batch_op.drop_index('ix_fact_risks_span')
        batch_op.drop_column('next_on')
        batch_op.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
    op.execute("DELETE FROM fact_risks")
    op.execute("INSERT INTO fact_risks (fact_id, assessed_on, created_at, level) "
               "SELECT f.id, r.assessed_on, r.created_at, r.level "
               "FROM risk_assessments r JOIN case_facts f ON f.case_id = r.case_id")
    with op.batch_alter_table('fact_risks', schema=None) as batch_op:
        batch_op.alter_column('created_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.create_index('ix_fact_risks_latest', ['fact_id', 'assessed_on', 'created_at'], unique=False)
