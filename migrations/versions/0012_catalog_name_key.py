"""clients, projects, tasks: a stored name key with unique indexes; existing look-alikes kept

Revision ID: 0012_catalog_name_key
Revises: 0011_tag_name_key
Create Date: 2026-12-04 08:00:00

Two clients (two projects of one client, two projects without a client, two tasks
of one project) are one name when their names share a key
(app.services.validation.name_key: case, width, invisible characters and TR39
look-alikes folded). Each row stores the key's SHA-256 digest in ``name_key``
(name_key_digest: a key can be up to 18 times as long as its name), and unique
indexes on it decide from now on, instead of a lookup before the write that two
requests could pass at once:

- ``ix_clients_name_key`` (name_key),
- ``uq_projects_client_name_key`` (client_id, name_key) and
  ``uq_projects_name_key_no_client`` (name_key WHERE client_id IS NULL: a unique
  index counts every NULL as another client),
- ``uq_tasks_project_name_key`` (project_id, name_key).

Rows written before this revision may already collide ("Acme" and "ACME" created
at the same moment, Greek "Αcme"). Unlike tags (0011), they are not merged: a
client, project or task carries entries, rates and archive state, and a merge could
join two real customers that only look alike. Nothing is renamed either (names show
in reports, invoices and API clients). In each group of rows sharing a key the
oldest (lowest id) keeps the plain digest; each later one stores the digest followed
by "#" and its own id, which no name can produce, so the indexes can be built and
the names stay exactly as they were. The upgrade logs every such row by table and
id (never the name), so an admin can rename the look-alikes apart. Such a row can be
edited under its name (the catalog service keeps a row's stored key while its name
keeps the same key in the same scope); renaming it, or moving the project to another
client, computes the key again, so it cannot take another row's name.

The old unique constraints on the exact name stay (the key's imply them): dropping
one on SQLite rebuilds the table, and tables that others reference with RESTRICT,
CASCADE or SET NULL cannot be rebuilt with foreign keys on. For the same reason the
column is added on SQLite as NOT NULL DEFAULT '' (SQLite adds a NOT NULL column only
with a default) and keeps that default; PostgreSQL adds it nullable, fills it and
makes it NOT NULL. The catalog service always writes the key. A downgrade drops the
indexes and the column (SQLite 3.35+ drops a column in place).
"""
import logging

from alembic import op
import sqlalchemy as sa

from app.services.validation import name_key_digest

# revision identifiers, used by Alembic.
revision = '0012_catalog_name_key'
down_revision = '0011_tag_name_key'
branch_labels = None
depends_on = None

KEY_LENGTH = 80
# Each table and the column that scopes its names (None: one scope for the table).
SCOPES = {'clients': None, 'projects': 'client_id', 'tasks': 'project_id'}
NO_CLIENT = sa.text('client_id IS NULL')

log = logging.getLogger('alembic.runtime.migration')


def _fill_keys(bind, table_name: str, scope: str | None) -> None:
    columns = [sa.column('id', sa.Integer), sa.column('name', sa.String),
               sa.column('name_key', sa.String)]
    if scope:
        columns.append(sa.column(scope, sa.Integer))
    table = sa.table(table_name, *columns)
    selected = [table.c.id, table.c.name] + ([table.c[scope]] if scope else [])
    first_of: dict[tuple, int] = {}
    keys = []
    for row in bind.execute(sa.select(*selected).order_by(table.c.id)):
        digest = name_key_digest(row.name)
        group = (row[2] if scope else None, digest)
        if group in first_of:
            log.warning('%s %s looks like %s %s (one name key): kept under its name; '
                        'rename one of them to tell them apart', table_name, row.id,
                        table_name, first_of[group])
            digest = f'{digest}#{row.id}'
        else:
            first_of[group] = row.id
        keys.append({'row_id': row.id, 'key': digest})
    if keys:
        bind.execute(table.update().where(table.c.id == sa.bindparam('row_id'))
                     .values(name_key=sa.bindparam('key')), keys)


def upgrade():
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    for table_name, scope in SCOPES.items():
        if sqlite:
            op.add_column(table_name, sa.Column('name_key', sa.String(length=KEY_LENGTH),
                                                nullable=False, server_default=''))
        else:
            op.add_column(table_name, sa.Column('name_key', sa.String(length=KEY_LENGTH),
                                                nullable=True))
        _fill_keys(bind, table_name, scope)
        if not sqlite:
            op.alter_column(table_name, 'name_key', existing_type=sa.String(length=KEY_LENGTH),
                            nullable=False)
    op.create_index('ix_clients_name_key', 'clients', ['name_key'], unique=True)
    op.create_index('uq_projects_client_name_key', 'projects', ['client_id', 'name_key'],
                    unique=True)
    op.create_index('uq_projects_name_key_no_client', 'projects', ['name_key'], unique=True,
                    sqlite_where=NO_CLIENT, postgresql_where=NO_CLIENT)
    op.create_index('uq_tasks_project_name_key', 'tasks', ['project_id', 'name_key'],
                    unique=True)


def downgrade():
    op.drop_index('uq_tasks_project_name_key', table_name='tasks')
    op.drop_index('uq_projects_name_key_no_client', table_name='projects')
    op.drop_index('uq_projects_client_name_key', table_name='projects')
    op.drop_index('ix_clients_name_key', table_name='clients')
    for table_name in SCOPES:
        op.drop_column(table_name, 'name_key')
