"""tags: a stored name key with a unique index; existing look-alike tags merged

Revision ID: 0011_tag_name_key
Revises: 0010_entry_order_indexes
Create Date: 2026-12-03 08:00:00

Two tags are one when their names share a key (app.services.validation.name_key:
case, width, invisible characters and TR39 look-alikes folded). Tags created
before this revision may already collide ("Urgent" and "urgent" made at the same
moment, "Ｕrgent"): they are merged here, the oldest (lowest id) kept, every entry
of the others moved to it, so no entry loses a tag. The kept tag's name loses the
characters the sanitiser strips (U+202E, zero-width, controls) when something is
left. A downgrade drops the key; merged tags stay merged.

On SQLite both directions rebuild the tags table (batch mode), and dropping the old
table with foreign keys on cascades to time_entry_tags: the links are read before
the rebuild and written back after it, in the same transaction.
"""
import contextlib

from alembic import op
import sqlalchemy as sa

from app.services.validation import name_key, strip_unsafe_characters

# revision identifiers, used by Alembic.
revision = '0011_tag_name_key'
down_revision = '0010_entry_order_indexes'
branch_labels = None
depends_on = None

KEY_LENGTH = 200

tags = sa.table('tags', sa.column('id', sa.Integer), sa.column('name', sa.String),
                sa.column('name_key', sa.String))
links = sa.table('time_entry_tags', sa.column('entry_id', sa.Integer),
                 sa.column('tag_id', sa.Integer))


@contextlib.contextmanager
def _links_kept(bind):
    """time_entry_tags as it was before a SQLite table rebuild of tags, after it."""
    if bind.dialect.name != 'sqlite':
        yield
        return
    kept = [dict(row._mapping) for row in bind.execute(sa.select(links))]
    yield
    bind.execute(links.delete())
    if kept:
        bind.execute(links.insert(), kept)


def upgrade():
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=KEY_LENGTH), nullable=True))

    bind = op.get_bind()
    groups: dict[str, list[tuple[int, str]]] = {}
    for tag_id, name in bind.execute(sa.select(tags.c.id, tags.c.name).order_by(tags.c.id)):
        groups.setdefault(name_key(name)[:KEY_LENGTH], []).append((tag_id, name))
    for key, members in groups.items():
        (keep_id, keep_name), others = members[0], members[1:]
        for other_id, _name in others:
            # Entries already tagged with the kept tag would get a second, equal link.
            tagged = sa.select(links.c.entry_id).where(links.c.tag_id == keep_id)
            bind.execute(links.update().where(links.c.tag_id == other_id,
                                              links.c.entry_id.not_in(tagged))
                         .values(tag_id=keep_id))
            bind.execute(links.delete().where(links.c.tag_id == other_id))
            bind.execute(tags.delete().where(tags.c.id == other_id))
        cleaned = " ".join(strip_unsafe_characters(keep_name).split())
        bind.execute(tags.update().where(tags.c.id == keep_id)
                     .values(name_key=key, name=cleaned or keep_name))

    with _links_kept(bind), op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.alter_column('name_key', existing_type=sa.String(length=KEY_LENGTH),
                              nullable=False)
        batch_op.create_index(batch_op.f('ix_tags_name_key'), ['name_key'], unique=True)


def downgrade():
    with _links_kept(op.get_bind()), op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tags_name_key'))
        batch_op.drop_column('name_key')
