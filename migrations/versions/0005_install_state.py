"""install state and base-telemetry delivery in the settings row (one owner of consent)

Revision ID: 0005_install_state
Revises: 0004_report_index
Create Date: 2026-12-02 07:00:00

The install id, who changed the analytics choice and when, and the base events'
confirmed deliveries move from installation.json into the settings row, which every
process and replica shares. Existing installs adopt their installation.json at the
next start (app/telemetry/store.py ``adopt``), so the install id never changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_install_state'
down_revision = '0004_report_index'
branch_labels = None
depends_on = None

_COLUMNS = (
    ('install_id', sa.String(length=36)),
    ('analytics_changed_by', sa.String(length=80)),
    ('analytics_changed_at', sa.DateTime()),
    ('first_seen_sent_at', sa.DateTime()),
    ('first_seen_claimed_until', sa.DateTime()),
    ('last_heartbeat_day', sa.Date()),
    ('last_heartbeat_at', sa.DateTime()),
    ('heartbeat_claimed_until', sa.DateTime()),
)


def upgrade():
    with op.batch_alter_table('settings', schema=None) as batch_op:
        for name, type_ in _COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade():
    with op.batch_alter_table('settings', schema=None) as batch_op:
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
