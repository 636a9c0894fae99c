"""change requests for the two-person rule

A change that could open case content to someone (adviser role for an account with another
role, a transfer, a second-factor reset, a password reset of a person without one, a further
emergency access) is kept as a request until a second person decides it; notifications can
name the request they tell of.

Revision ID: b7e21f4c9a10
Revises: ca28200136e6
Create Date: 2026-12-07 18:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e21f4c9a10'
down_revision = 'ca28200136e6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('change_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_by_id', sa.Uuid(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('receiver_id', sa.Uuid(), nullable=True),
    sa.Column('case_ids', sa.Text(), nullable=True),
    sa.Column('roles', sa.String(length=64), nullable=True),
    sa.Column('emergency_id', sa.Uuid(), nullable=True),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('decided_by_name', sa.String(length=120), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['users.id'], name=op.f('fk_change_requests_account_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_change_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['emergency_id'], ['emergency_accesses.id'],
                            name=op.f('fk_change_requests_emergency_id_emergency_accesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['receiver_id'], ['users.id'], name=op.f('fk_change_requests_receiver_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                            name=op.f('fk_change_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_requests'))
    )
    op.create_index(op.f('ix_change_requests_account_id'), 'change_requests', ['account_id'], unique=False)
    op.create_index(op.f('ix_change_requests_status'), 'change_requests', ['status'], unique=False)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_notifications_request_id_change_requests'), 'change_requests',
                                    ['request_id'], ['id'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notifications_request_id_change_requests'), type_='foreignkey')
        batch_op.drop_column('request_id')
    op.drop_index(op.f('ix_change_requests_status'), table_name='change_requests')
    op.drop_index(op.f('ix_change_requests_account_id'), table_name='change_requests')
    op.drop_table('change_requests')
