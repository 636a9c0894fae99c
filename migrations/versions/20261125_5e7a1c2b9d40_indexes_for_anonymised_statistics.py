"""indexes for anonymised statistics

Covering indexes for the report's two statements: the cases counted (by month opened, with
their codes), the consultations of a period (by day held, with their codes), and the valid
statistics consents. Each lets the report read a narrow index instead of wide rows of ciphertext.

Revision ID: 5e7a1c2b9d40
Revises: cddeaca0a79e
Create Date: 2026-11-25 18:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5e7a1c2b9d40'
down_revision = 'cddeaca0a79e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_cases_statistics', 'cases',
                    ['opened_month', 'site_id', 'closed_month', 'id', 'age_band', 'country', 'residence_status',
                     'perpetrator_relation', 'referral_source'], unique=False)
    op.create_index('ix_consultations_statistics', 'consultations',
                    ['held_on', 'case_id', 'channel', 'interpreting', 'minutes', 'id'], unique=False)
    op.create_index('ix_consents_statistics', 'consents',
                    ['purpose', 'case_id', 'given_on', 'expires_on', 'withdrawn_on'], unique=False)


def downgrade():
    op.drop_index('ix_consents_statistics', table_name='consents')
    op.drop_index('ix_consultations_statistics', table_name='consultations')
    op.drop_index('ix_cases_statistics', table_name='cases')
