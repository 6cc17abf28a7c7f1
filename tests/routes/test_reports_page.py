"""The reports page (stable ids for the browser test), its CSV link, the vendored chart."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

from app.extensions import db
from app.models import TimeEntry, User


def _book(app, username, project_id, start, minutes, **extra):
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        db.session.add(TimeEntry(user_id=user.id, project_id=project_id, started_at=start,
                                 ended_at=start + timedelta(minutes=minutes),
                                 duration_seconds=minutes * 60, source="manual", **extra))
        db.session.commit()


def _chart_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_reports_page_needs_a_login(client):
    response = client.get("/reports")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_reports_page_shows_totals_chart_and_grouping(ready_app, user_client, make_project):
    ids = make_project("Website", "Acme")
    start = datetime(2026, 11, 17, 9, 0, tzinfo=timezone.utc)
    _book(ready_app, "alice", ids["project_id"], start, 45)
    html = user_client.get("/reports?preset=custom&start=2026-11-16&end=2026-11-22").get_data(as_text=True)
    assert '<canvas id="report-chart"' in html
    assert '<select name="group_by"' in html
    assert 'id="export-csv"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert 'id="total-hours">0:45<' in html  # h:mm, the default, as on the dashboard
    assert 'id="report-timezone">UTC<' in html
    data = _chart_data(html)
    assert data["type"] == "bar" and data["labels"] == ["Website · Acme"]
    assert data["seconds"] == [2700]
    by_day = user_client.get("/reports?preset=custom&start=2026-11-16&end=2026-11-22&group_by=day")
    data = _chart_data(by_day.get_data(as_text=True))
    assert data["type"] == "line" and len(data["labels"]) == 7
    assert data["seconds"][1] == 2700


def test_presets_and_bad_filters_fall_back_to_a_week(user_client):
    from app.services.reports import preset_range

    html = user_client.get("/reports?preset=last_month&group_by=nonsense").get_data(as_text=True)
    first, last = preset_range("last_month", datetime.now(timezone.utc).date())  # alice: UTC
    assert f'name="start" id="start" value="{first.isoformat()}"' in html
    assert f'name="end" id="end" value="{last.isoformat()}"' in html
    assert '<option value="project" selected>' in html  # unknown grouping: the default
    response = user_client.get("/reports?preset=custom&start=2020-01-01&end=2026-01-01")
    assert response.status_code == 200  # more than a year: the error, the range kept
    html = response.get_data(as_text=True)
    assert "at most 366 days" in html
    assert 'value="2020-01-01"' in html and 'value="2026-01-01"' in html


def test_a_reversed_range_keeps_the_users_dates_and_shows_the_error_not_this_week(
        ready_app, user_client, make_project):
    ids = make_project()
    _book(ready_app, "alice", ids["project_id"], datetime.now(timezone.utc) - timedelta(hours=2), 60)
    html = user_client.get("/reports?start=2026-03-10&end=2026-03-01").get_data(as_text=True)
    assert 'name="start" id="start" value="2026-03-10"' in html
    assert 'name="end" id="end" value="2026-03-01"' in html
    assert 'id="range-error" role="alert">end must not be before start.' in html
    assert 'aria-invalid="true"' in html
    # No figures from another period stand in for the one asked for.
    assert 'id="total-hours"' not in html and 'id="report-chart"' not in html
    assert 'id="export-csv"' not in html


def test_an_empty_period_shows_an_empty_state_instead_of_an_empty_chart(user_client):
    html = user_client.get("/reports?start=2026-03-02&end=2026-03-08&group_by=day").get_data(
        as_text=True)
    assert 'id="report-empty"' in html and "No time in this period" in html
    assert 'id="report-chart"' not in html


def test_the_csv_file_name_carries_the_date_range(user_client):
    expected = {
        "start=2026-03-02&end=2026-03-08": "time-entries_2026-03-02_2026-03-08.csv",
        "start=2026-03-02": "time-entries_from_2026-03-02.csv",
        "end=2026-03-08": "time-entries_until_2026-03-08.csv",
        "": "time-entries_all.csv",
    }
    for query, name in expected.items():
        response = user_client.get("/reports/export.csv?" + query)
        response.get_data()  # a streamed body: read it, so its context closes in order
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'


def test_the_users_hours_format_is_used_on_reports_dashboard_and_entries(
        ready_app, user_client, make_project):
    ids = make_project("Website", "Acme")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # Started at midnight UTC today: today's, whatever the time of the run.
    midnight = now.replace(hour=0, minute=0, second=0)
    _book(ready_app, "alice", ids["project_id"], midnight, 45)
    response = user_client.post_form(
        "/profile", {"profile-timezone": "UTC", "profile-hours_format": "decimal",
                     "profile-theme": "auto"}, token_page="/profile")
    assert response.status_code == 302
    today = now.date().isoformat()
    pages = {
        "/reports?start=" + today + "&end=" + today: 'id="total-hours">0.75<',
        "/": 'id="total-today">0.75<',
        "/entries": '<td class="num">0.75</td>',
    }
    for url, expected in pages.items():
        html = user_client.get(url).get_data(as_text=True)
        assert expected in html, url
        assert ">0:45<" not in html, url
