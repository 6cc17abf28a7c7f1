"""Client, project and task names: a stored key, unique indexes that decide, migration 0012."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Client, Project, Task, TimeEntry
from app.services import catalog
from app.services.errors import Conflict
from app.services.validation import name_key, name_key_digest

ACME = name_key_digest("Acme")


def _refused(row) -> bool:
    """True when the database refuses ``row`` (added straight through the ORM, past
    the service): the guard is the index, not code before the write."""
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return True
    return False


def test_the_indexes_refuse_a_second_row_with_one_key_in_one_scope(ready_app):
    with ready_app.app_context():
        acme = catalog.create_client(name="Acme")
        other = catalog.create_client(name="Other")
        assert _refused(Client(name="\u0391cme", name_key=ACME, archived=False))
        web = catalog.create_project(name="Acme", client_id=acme.id)
        assert _refused(Project(name="ACME", name_key=ACME, client_id=acme.id, color="#3b82f6"))
        assert not _refused(Project(name="ACME", name_key=ACME, client_id=other.id,
                                    color="#3b82f6"))
        catalog.create_project(name="Acme")  # no client
        assert _refused(Project(name="Ａｃｍｅ", name_key=ACME, client_id=None, color="#3b82f6"))
        catalog.create_task(actor=None, project_id=web.id, name="Acme")
        assert _refused(Task(name="Acm\u0435", name_key=ACME, project_id=web.id))
        assert db.session.scalar(select(db.func.count(Client.id))) == 2
        assert db.session.scalar(select(db.func.count(Project.id))) == 3
        assert db.session.scalar(select(db.func.count(Task.id))) == 1


def test_the_service_writes_the_key_with_the_name_on_create_and_rename(ready_app):
    with ready_app.app_context():
        client = catalog.create_client(name="\u202eAcme\u200b")
        assert (client.name, client.name_key) == ("Acme", ACME)
        catalog.update_client(client.id, name="Beta")
        assert db.session.get(Client, client.id).name_key == name_key_digest("Beta")
        project = catalog.create_project(name="Web", client_id=client.id)
        task = catalog.create_task(actor=None, project_id=project.id, name="Design")
        catalog.update_task(task.id, actor=None, name="Review", status="todo")
        assert db.session.get(Task, task.id).name_key == name_key_digest("Review")


def test_a_long_name_whose_key_is_many_times_longer_is_stored_and_guarded(ready_app):
    """199 Hangul syllables and a letter: a key of ~1,400 characters, ~4,200 bytes (over
    the 80 characters of the column, over PostgreSQL's 2,704-byte B-tree entry before
    compression); the stored digest fits, and the index still refuses the fullwidth twin."""
    name = "\ucb8a" * 199 + "A"
    assert len(name_key(name).encode()) > 4000
    with ready_app.app_context():
        client = catalog.create_client(name=name)
        assert client.name_key == name_key_digest(name)
        with pytest.raises(Conflict):
            catalog.create_client(name=name[:-1] + "Ａ")


def test_a_look_alike_in_another_scope_is_another_name(ready_app):
    with ready_app.app_context():
        first, second = catalog.create_client(name="One"), catalog.create_client(name="Two")
        a = catalog.create_project(name="Web", client_id=first.id)
        b = catalog.create_project(name="WEB", client_id=second.id)
        catalog.create_task(actor=None, project_id=a.id, name="Design")
        catalog.create_task(actor=None, project_id=b.id, name="DESIGN")
        with pytest.raises(Conflict) as exc:  # b moved next to a: now in a's scope
            catalog.update_project(b.id, name="WEB", client_id=first.id)
        assert exc.value.message == catalog.PROJECT_NAME_TAKEN
        db.session.rollback()
        assert db.session.get(Project, b.id).client_id == second.id


def _insert(conn, table: str, **values) -> int:
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({params})"), values)
    return conn.execute(text(f"SELECT max(id) FROM {table}")).scalar()


def test_the_migration_keeps_existing_look_alikes_under_their_names(ready_app):
    """Rows written before 0012 may share a key: the upgrade succeeds, nothing is merged
    or renamed, the oldest keeps the plain key and the later ones a key marked with
    their id; from then on the indexes refuse every new look-alike."""
    from flask_migrate import downgrade, upgrade

    created = datetime(2026, 3, 1)
    with ready_app.app_context():
        admin_id = db.session.execute(text("SELECT id FROM users")).scalar()
        db.session.remove()
        downgrade(revision="0011_tag_name_key")
        with db.engine.begin() as conn:
            client = {name: _insert(conn, "clients", name=name, archived=False,
                                    created_at=created)
                      for name in ["Acme", "ACME", "\u0391cme", "Other"]}
            project = {}
            for name, owner in [("Web", "Acme"), ("WEB", "Acme"), ("W\u0435b", "ACME"),
                                ("Solo", None), ("ＳＯＬＯ", None)]:
                project[name] = _insert(conn, "projects", name=name, billable=True,
                                        client_id=client[owner] if owner else None,
                                        color="#3b82f6", archived=False, created_at=created)
            task = {name: _insert(conn, "tasks", name=name, project_id=project[on],
                                  status="todo", created_at=created)
                    for name, on in [("Design", "Web"), ("D\u0435sign", "Web"),
                                     ("Design ", "WEB")]}
            _insert(conn, "time_entries", user_id=admin_id, project_id=project["WEB"],
                    task_id=task["Design "], started_at=created, ended_at=created,
                    duration_seconds=0, billable=True, source="manual", created_at=created,
                    updated_at=created)
        upgrade()
        db.session.remove()

        def stored(model):
            return {row.name: row.name_key for row in db.session.scalars(select(model))}

        def marked(name, ident):
            return f"{name_key_digest(name)}#{ident}"

        assert stored(Client) == {"Acme": ACME, "ACME": marked("ACME", client["ACME"]),
                                  "\u0391cme": marked("Acme", client["\u0391cme"]),
                                  "Other": name_key_digest("Other")}
        assert stored(Project) == {
            "Web": name_key_digest("Web"), "WEB": marked("Web", project["WEB"]),
            "W\u0435b": name_key_digest("Web"),  # another client's: not a look-alike
            "Solo": name_key_digest("Solo"), "ＳＯＬＯ": marked("Solo", project["ＳＯＬＯ"])}
        assert stored(Task) == {"Design": name_key_digest("Design"),
                                "D\u0435sign": marked("Design", task["D\u0435sign"]),
                                "Design ": name_key_digest("Design")}
        entry = db.session.scalars(select(TimeEntry)).one()
        assert (entry.project_id, entry.task_id) == (project["WEB"], task["Design "])

        # From now on the index refuses every new look-alike, in every scope.
        for create, message in [
            (lambda: catalog.create_client(name="acme"), catalog.CLIENT_NAME_TAKEN),
            (lambda: catalog.create_project(name="web", client_id=client["Acme"]),
             catalog.PROJECT_NAME_TAKEN),
            (lambda: catalog.create_project(name="solo"), catalog.PROJECT_NAME_TAKEN),
            (lambda: catalog.create_task(actor=None, project_id=project["Web"], name="DESIGN"),
             catalog.TASK_NAME_TAKEN),
        ]:
            with pytest.raises(Conflict) as exc:
                create()
            assert exc.value.message == message
        # A look-alike found by the migration is still edited under its name...
        catalog.update_client(client["ACME"], name="ACME", default_hourly_rate="50",
                              archived=True)
        assert db.session.get(Client, client["ACME"]).name_key == marked("ACME", client["ACME"])
        # ...but a rename, or a move to another client, computes its key again: it cannot
        # take a name that is taken there, nor go back once renamed.
        with pytest.raises(Conflict):
            catalog.update_project(project["WEB"], name="WEB", client_id=client["ACME"])
        db.session.rollback()
        assert db.session.get(Project, project["WEB"]).client_id == client["Acme"]
        catalog.update_client(client["ACME"], name="Acme North")
        with pytest.raises(Conflict):
            catalog.update_client(client["ACME"], name="ACME")
        db.session.rollback()
        assert db.session.get(Client, client["ACME"]).name == "Acme North"
        # Back down and up with these rows: both directions work on filled tables.
        db.session.remove()
        downgrade(revision="0011_tag_name_key")
        with db.engine.connect() as conn:
            columns = conn.execute(text("SELECT * FROM clients")).keys()
        upgrade()
        assert "name_key" not in columns
        db.session.remove()
        assert stored(Client)["\u0391cme"] == marked("Acme", client["\u0391cme"])
        assert stored(Client)["Acme North"] == name_key_digest("Acme North")
