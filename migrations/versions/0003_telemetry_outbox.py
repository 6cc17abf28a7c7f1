"""telemetry_outbox (the last telemetry payloads sent) and feature_flag_overrides

Revision ID: 0003_telemetry_outbox
Revises: 0002_api_tokens
Create Date: 2026-11-23 09:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_telemetry_outbox'
down_revision = '0002_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feature_flag_overrides',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_feature_flag_overrides'))
    )
    op.create_table('telemetry_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_name', sa.String(length=64), nullable=False),
    sa.Column('layer', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_telemetry_outbox'))
    )
    with op.batch_alter_table('telemetry_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telemetry_outbox_sent_at'), ['sent_at'], unique=False)


def downgrade():
    with op.batch_alter_table('telemetry_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telemetry_outbox_sent_at'))
    op.drop_table('telemetry_outbox')
    op.drop_table('feature_flag_overrides')
