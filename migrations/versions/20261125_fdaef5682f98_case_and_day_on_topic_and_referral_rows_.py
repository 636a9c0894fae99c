"""case and day on topic and referral rows for statistics

Each topic and referral row carries its consultation's case and day (copies kept by the
model), so the statistics count them from one narrow index instead of joining two million
rows to the consultations. Existing rows are filled from their consultations.

Revision ID: fdaef5682f98
Revises: 5e7a1c2b9d40
Create Date: 2026-11-25 17:25:15.364320

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fdaef5682f98'
down_revision = '5e7a1c2b9d40'
branch_labels = None
depends_on = None

TABLES = (("consultation_topics", "topic"), ("consultation_referrals", "referral"))


def upgrade():
    for table, code in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('case_id', sa.Uuid(), nullable=True))
            batch_op.add_column(sa.Column('held_on', sa.Date(), nullable=True))
        for column in ("case_id", "held_on"):
            op.execute(f"UPDATE {table} SET {column} = (SELECT consultations.{column} FROM consultations "
                       f"WHERE consultations.id = {table}.consultation_id)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('case_id', existing_type=sa.Uuid(), nullable=False)
            batch_op.alter_column('held_on', existing_type=sa.Date(), nullable=False)
            batch_op.create_index(f'ix_{table}_statistics', ['held_on', 'case_id', code], unique=False)
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_case_id_cases'), 'cases', ['case_id'], ['id'],
                                        ondelete='CASCADE')


def downgrade():
    for table, _ in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_case_id_cases'), type_='foreignkey')
            batch_op.drop_index(f'ix_{table}_statistics')
            batch_op.drop_column('held_on')
            batch_op.drop_column('case_id')
