"""The API's date range is the one rule the forms and the timesheet use (validation.check_end)."""

from __future__ import annotations

from datetime import timedelta

from app.models.types import utcnow
from app.services.validation import TOO_FAR_AHEAD

from .conftest import error_of


def _times(days_ahead: int) -> dict:
    start = utcnow() + timedelta(days=days_ahead)
    return {"started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=30)).isoformat()}


def test_an_end_up_to_366_days_ahead_is_accepted_and_no_further(user_api, make_project):
    pid = make_project("Website", "Acme")["project_id"]
    ahead = user_api.post("/api/v1/time-entries", json={"project_id": pid, **_times(365)})
    assert ahead.status_code == 201, ahead.get_json()
    too_far = user_api.post("/api/v1/time-entries", json={"project_id": pid, **_times(367)})
    assert too_far.status_code == 400, too_far.get_json()
    error = error_of(too_far)
    assert error["message"] == TOO_FAR_AHEAD and error["field"] == "ended_at"
    # An entry booked within the range stays editable: the same rule on the way back in.
    url = f"/api/v1/time-entries/{ahead.get_json()['id']}"
    assert user_api.patch(url, json={"notes": "planned"}).status_code == 200
