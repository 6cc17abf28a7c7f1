"""Tags: created inline, shared, filtered on, grouped by, exported."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Tag, TimeEntry, User
from app.services import entries, exports, reports, tags
from app.services.errors import ValidationError
from app.services.reports import ReportFilters

START = datetime(2026, 3, 2, 9)


@pytest.fixture
def alice(ready_app, make_user):
    return make_user("alice")


def _user(user_id):
    return db.session.get(User, user_id)


def _book(user, project_id, hours, tag_names, day=0):
    start = START + timedelta(days=day)
    return entries.create_entry(user, project_id=project_id, started_at=start,
                                ended_at=start + timedelta(hours=hours), tags=tag_names)


def test_tags_are_created_inline_and_reused_whatever_the_case(ready_app, alice, make_project):
    ids = make_project()
    with ready_app.app_context():
        first = _book(_user(alice), ids["project_id"], 1, "Meeting,  remote , meeting")
        second = _book(_user(alice), ids["project_id"], 1, ["MEETING"])
        assert [t.name for t in first.tags] == ["Meeting", "remote"]
        assert [t.name for t in second.tags] == ["Meeting"]
        assert db.session.scalar(select(func.count(Tag.id))) == 2


def test_editing_replaces_the_tags_and_none_keeps_them(ready_app, alice, make_project):
    ids = make_project()
    with ready_app.app_context():
        entry = _book(_user(alice), ids["project_id"], 1, "a, b")
        kwargs = dict(project_id=ids["project_id"], started_at=START,
                      ended_at=START + timedelta(hours=1))
        entries.update_entry(_user(alice), entry.id, **kwargs)  # tags=None: unchanged
        assert [t.name for t in entry.tags] == ["a", "b"]
        entries.update_entry(_user(alice), entry.id, tags="c", **kwargs)
        assert [t.name for t in entry.tags] == ["c"]
        entries.update_entry(_user(alice), entry.id, tags="", **kwargs)
        assert entry.tags == []


@pytest.mark.parametrize("bad", ["x" * 51, "ok, " + "\u200b" * 51, ["ok", 7],
                                 ",".join(f"t{n}" for n in range(21))])
def test_bad_tags_are_refused_and_nothing_is_written(ready_app, alice, make_project, bad):
    ids = make_project()
    with ready_app.app_context():
        with pytest.raises(ValidationError) as exc:
            _book(_user(alice), ids["project_id"], 1, bad)
        assert exc.value.field == "tags"
        db.session.rollback()
        assert db.session.scalar(select(func.count(TimeEntry.id))) == 0
        assert db.session.scalar(select(func.count(Tag.id))) == 0


def test_filter_and_group_by_tag_and_the_totals_stay_true(ready_app, alice, make_project):
    ids = make_project()
    with ready_app.app_context():
        user = _user(alice)
        _book(user, ids["project_id"], 1, "meeting, remote")
        _book(user, ids["project_id"], 2, "remote", day=1)
        _book(user, ids["project_id"], 4, "", day=2)
        meeting = db.session.scalar(select(Tag).where(Tag.name == "meeting"))
        week = dict(start=date(2026, 3, 2), end=date(2026, 3, 8))
        listed = db.session.scalars(entries.filtered_entries_query(
            user, entries.EntryFilters(tag_id=meeting.id))).all()
        assert [e.duration_seconds for e in listed] == [3600]
        by_tag = reports.summary(user, ReportFilters(**week), "tag")
        assert [(r.label, r.seconds) for r in by_tag.rows] == [
            ("No tag", 4 * 3600), ("remote", 3 * 3600), ("meeting", 3600)]
        assert by_tag.total_seconds == 7 * 3600  # not 8: the two-tag entry counts once
        only = reports.summary(user, ReportFilters(**week, tag_id=meeting.id), "project")
        assert only.total_seconds == 3600


def test_the_csv_has_a_tags_column(ready_app, alice, make_project):
    ids = make_project()
    with ready_app.app_context():
        user = _user(alice)
        _book(user, ids["project_id"], 1, "remote, =cmd, Meeting")
        _book(user, ids["project_id"], 1, "", day=1)
        text = "".join(exports.csv_chunks(user, ReportFilters()))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["tags"] for r in rows] == ["'=cmd; Meeting; remote", ""]


def test_tag_names_are_cleaned(ready_app):
    assert tags.clean_tag_names("  a ,b,, A , c  d ") == ["a", "b", "c d"]
    assert tags.clean_tag_names(None) == []


# Each is "Urgent" on screen: case, fullwidth, soft hyphen, zero-width, bidi override,
# Cyrillic "е", Greek "Τ"-free look-alikes, U+034F, U+3164.
URGENT_SPELLINGS = ["urgent", "URGENT", "\uff35rgent", "Urg\u00adent", "Urg\u200bent",
                    "\u202eUrgent", "Urg\u0435nt", "Urg\u034fent", "Urgent\u3164"]


@pytest.mark.parametrize("spelling", URGENT_SPELLINGS)
def test_a_tag_spelled_another_way_reuses_the_tag(ready_app, alice, make_project, spelling):
    ids = make_project()
    with ready_app.app_context():
        first = _book(_user(alice), ids["project_id"], 1, ["Urgent"])
        second = _book(_user(alice), ids["project_id"], 1, [spelling], day=1)
        assert [t.id for t in second.tags] == [t.id for t in first.tags]
        assert db.session.scalar(select(func.count(Tag.id))) == 1


def test_tag_names_go_through_the_text_sanitiser():
    assert tags.clean_tag_names(["\u202eUrg\u00adent\u200b", "a\x00b", "\ud800"]) == [
        "Urgent", "ab"]
    assert tags.clean_tag_names("Urgent, urgent, \uff35rgent, Urg\u0435nt") == ["Urgent"]


def test_a_tag_whose_key_does_not_fit_is_refused():
    with pytest.raises(ValidationError) as exc:
        tags.clean_tag_names(["\ufdfa" * 20])  # NFKC: 18 letters each
    assert exc.value.message == tags.TAG_TOO_LONG


def test_the_migration_merges_existing_look_alike_tags_and_keeps_every_entry_tagged(
        ready_app, alice, make_project):
    """Rows written before 0011 may collide under the new key: the upgrade merges them
    into the oldest, moving entries, instead of failing on the unique index."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    ids = make_project()
    with ready_app.app_context():
        entry_ids = [_book(_user(alice), ids["project_id"], 1, [], day=day).id
                     for day in range(4)]
        db.session.remove()
        downgrade(revision="0010_entry_order_indexes")
        with db.engine.begin() as conn:
            for tag_id, name in [(1, "Urgent"), (2, "urgent"), (3, "\uff35rgent"),
                                 (4, "Other"), (5, "\u202eUrg\u0435nt")]:
                conn.execute(text("INSERT INTO tags (id, name, created_at) "
                                  "VALUES (:id, :name, '2026-03-01 00:00:00')"),
                             {"id": tag_id, "name": name})
        links = [(entry_ids[0], 1), (entry_ids[0], 2), (entry_ids[1], 3), (entry_ids[2], 4),
                 (entry_ids[3], 5), (entry_ids[3], 4)]
        with db.engine.begin() as conn:
            for entry_id, tag_id in links:
                conn.execute(text("INSERT INTO time_entry_tags (entry_id, tag_id) "
                                  "VALUES (:e, :t)"), {"e": entry_id, "t": tag_id})
        upgrade()
        db.session.remove()
        assert sorted((t.id, t.name) for t in db.session.scalars(select(Tag))) == [
            (1, "Urgent"), (4, "Other")]
        tagged = {e.id: sorted(t.id for t in e.tags) for e in db.session.scalars(select(TimeEntry))}
        assert tagged == {entry_ids[0]: [1], entry_ids[1]: [1], entry_ids[2]: [4],
                          entry_ids[3]: [1, 4]}
        # and the index holds from now on
        again = _book(_user(alice), ids["project_id"], 1, ["URG\u0415NT"], day=5)
        assert [t.id for t in again.tags] == [1]
        db.session.remove()
        downgrade(revision="0010_entry_order_indexes")  # SQLite rebuilds tags again
        with db.engine.connect() as conn:
            kept = conn.execute(text("SELECT count(*) FROM time_entry_tags")).scalar()
        upgrade()
        assert kept == 6


def test_a_new_tag_belongs_to_the_write_that_needs_it(ready_app):
    """A tag created for an entry is not committed on its own: when the entry's write is
    rolled back, so is the tag (on SQLite a savepoint's RELEASE used to commit it)."""
    with ready_app.app_context():
        [fresh] = tags.resolve_tags(["Orphan"])
        assert fresh.id is not None
        db.session.rollback()
        assert db.session.scalar(select(func.count(Tag.id))) == 0
