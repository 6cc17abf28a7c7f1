"""time_entries: an index in the CSV export's order, (started_at, id) (ix_time_entries_started_id)

Revision ID: 0010_export_order_index
Revises: 0009_consent_version
Create Date: 2026-12-02 12:00:00

The export lists entries oldest first, the id breaking ties. Without an index in
that order PostgreSQL sorts every matching row before it can send the first one
(~1.4 s for 1,000,000 entries); with it, the export's cursor reads the rows in
order and the download starts at once. ``ix_time_entries_report`` cannot serve:
it leaves out running timers, which the export lists. The index takes about
30 MB per million entries; building it takes ~0.5 s per million rows and blocks
writes to time_entries meanwhile.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010_export_order_index'
down_revision = '0009_consent_version'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_time_entries_started_id', ['started_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_time_entries_started_id')
