"""users.session_generation; api_tokens.expires_at and scope (issue 13)

Revision ID: 0006_hardening
Revises: 0005_install_state
Create Date: 2026-12-02 07:00:00

session_generation is part of every session and remember-me cookie's user id:
a logout, password change or reset, or a deactivation increments it, and every
cookie carrying the old number stops working. Tokens get an optional expiry and
a scope ("full" or "read"). Existing rows: generation 0, no expiry, full scope,
so nobody is signed out and no token changes by the upgrade itself.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_hardening'
down_revision = '0005_install_state'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('scope', sa.String(length=16), nullable=False,
                                      server_default='full'))


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scope')
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
