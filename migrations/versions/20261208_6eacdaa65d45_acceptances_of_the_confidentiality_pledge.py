"""acceptances of the confidentiality pledge

Each account accepts the installation's confidentiality pledge, in its current version, before
it first reaches a case (issue 12). Accounts that exist already have accepted none: advisers
among them are asked at their next case page.

Revision ID: 6eacdaa65d45
Revises: c3f8d2a61e57
Create Date: 2026-12-08 00:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '6eacdaa65d45'
down_revision = 'c3f8d2a61e57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pledge_acceptances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pledge_acceptances_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pledge_acceptances')),
    sa.UniqueConstraint('user_id', 'version', name=op.f('uq_pledge_acceptances_user_id'))
    )
    with op.batch_alter_table('pledge_acceptances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pledge_acceptances_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('pledge_acceptances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledge_acceptances_user_id'))
    op.drop_table('pledge_acceptances')
