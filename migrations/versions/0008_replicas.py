"""instance_secrets: the session signing key every replica shares

Revision ID: 0008_replicas
Revises: 0007_timesheet_tags
Create Date: 2026-12-02 07:10:00

When SECRET_KEY is not set in the environment, the key is generated once into this
table (a conditional insert: of several replicas starting together one wins), so
every replica signs sessions alike without a shared disk. An existing
DATA_DIR/secret_key is adopted at the next start (app/services/secret_key.py), so
sessions survive the upgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_replicas'
down_revision = '0007_timesheet_tags'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'instance_secrets',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=256), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade():
    op.drop_table('instance_secrets')
