"""users: hours format and theme preferences; tags on time entries

Revision ID: 0007_timesheet_tags
Revises: 0006_hardening
Create Date: 2026-12-02 07:00:00

Both new user columns have a server default, so existing rows take the
previous behaviour (durations as h:mm, the browser's colour scheme) without a
data migration. Tags are shared by everyone; the association table cascades
from both sides, so deleting an entry or a tag never leaves a dangling link.
"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0007_timesheet_tags'
down_revision = '0006_hardening'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hours_format', sa.String(length=8), nullable=False,
                                      server_default='hm'))
        batch_op.add_column(sa.Column('theme', sa.String(length=8), nullable=False,
                                      server_default='auto'))
        batch_op.create_check_constraint(batch_op.f('ck_users_hours_format_valid'), "hours_format IN ('hm', 'decimal')")
        batch_op.create_check_constraint(batch_op.f('ck_users_theme_valid'), "theme IN ('auto', 'light', 'dark')")

    op.create_table(
        'tags',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
        sa.UniqueConstraint('name', name=op.f('uq_tags_name')),
    )
    op.create_table(
        'time_entry_tags',
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('tag_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['time_entries.id'],
                                name=op.f('fk_time_entry_tags_entry_id_time_entries'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_time_entry_tags_tag_id_tags'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('entry_id', 'tag_id', name=op.f('pk_time_entry_tags')),
    )
    with op.batch_alter_table('time_entry_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_time_entry_tags_tag_id'), ['tag_id'], unique=False)


def downgrade():
    with op.batch_alter_table('time_entry_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_time_entry_tags_tag_id'))
    op.drop_table('time_entry_tags')
    op.drop_table('tags')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_theme_valid'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_users_hours_format_valid'), type_='check')
        batch_op.drop_column('theme')
        batch_op.drop_column('hours_format')
