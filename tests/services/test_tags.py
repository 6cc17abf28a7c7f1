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


@pytest.mark.parametrize("bad", ["x" * 51, "ok, bad\x07tag", ",".join(f"t{n}" for n in range(21))])
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
