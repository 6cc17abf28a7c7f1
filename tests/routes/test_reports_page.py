"""The reports page (stable ids for the browser test), its CSV link, the vendored chart."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone

from app.extensions import db
from app.models import TimeEntry, User


def _book(app, username, project_id, start, minutes, **extra):
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == username))
        db.session.add(TimeEntry(user_id=user.id, project_id=project_id, started_at=start,
                                 ended_at=start.replace(minute=start.minute + minutes),
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
    assert 'id="total-hours">0.75<' in html
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
    assert response.status_code == 200  # more than a year: flashed, this week shown
    assert "at most 366 days" in response.get_data(as_text=True)


def test_the_export_link_downloads_the_reports_entries(ready_app, user_client, make_project):
    ids = make_project("Website", "Acme")
    _book(ready_app, "alice", ids["project_id"], datetime(2026, 11, 17, 9, tzinfo=timezone.utc), 30,
          notes="=SUM(A1:A9)")
    _book(ready_app, "alice", ids["project_id"], datetime(2026, 11, 25, 9, tzinfo=timezone.utc), 30)
    html = user_client.get("/reports?preset=custom&start=2026-11-16&end=2026-11-22").get_data(as_text=True)
    href = re.search(r'id="export-csv" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    response = user_client.get(href)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["notes"] for r in rows] == ["'=SUM(A1:A9)"]


def test_entries_list_links_to_the_export_with_its_filters(user_client):
    html = user_client.get("/entries?start=2026-11-01&end=2026-11-30").get_data(as_text=True)
    href = re.search(r'id="export-csv" href="([^"]+)"', html).group(1)
    assert "/reports/export.csv?" in href and "start=2026-11-01" in href


def test_chart_library_is_served_by_the_app(client):
    response = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert response.status_code == 200
    assert b"Chart.js v4" in response.data[:200]
    response.close()


def test_nav_has_a_reports_link(user_client):
    assert 'href="/reports"' in user_client.get("/").get_data(as_text=True)
