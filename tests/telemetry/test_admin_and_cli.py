"""Admin → Telemetry and ``flask telemetry``: the operator sees and sets every byte."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete

from app.extensions import db
from app.telemetry.client import FIRST_SEEN, HEARTBEAT
from app.telemetry.outbox import OUTBOX_MAX_ROWS, OUTBOX_ROWS_PER_BATCH, TelemetryOutbox, recent, record_sent
from tests.conftest import ADMIN_PASSWORD, count_rows, login

from .conftest import client_of, complete_setup, flush

TOMORROW_0300 = (datetime.now(timezone.utc) + timedelta(days=1)).replace(
    hour=3, minute=0, second=0, microsecond=0)


def _clear_outbox(app):
    with app.app_context():
        db.session.execute(delete(TelemetryOutbox))
        db.session.commit()


def _ready(app, allow_analytics=False):
    complete_setup(app, allow_analytics=allow_analytics)
    client = app.test_client()
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


def _stored_choice(app) -> bool | None:
    with app.app_context():
        from app.services.settings import get_settings

        return get_settings().allow_analytics


def test_users_get_403_and_anonymous_visitors_the_login_page(user_client, client):
    assert user_client.get("/admin/telemetry").status_code == 403
    assert user_client.post("/admin/telemetry/detailed-analytics",
                            data={"enabled": "on"}).status_code in (400, 403)
    assert client.get("/admin/telemetry").status_code == 302


def test_admin_page_shows_states_install_id_next_heartbeat_and_sent_payloads(
        telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    admin = _ready(app)
    flush(app)
    assert client_of(app).send_due_base_events(now=TOMORROW_0300) == [HEARTBEAT]
    flush(app)
    assert otlp_receiver.names() == [FIRST_SEEN, HEARTBEAT]
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    assert client_of(app).state().install_id in page
    assert "on: sending to " + otlp_receiver.url + "/v1/logs" in page
    assert "off: opted out by" in page
    heartbeat = re.search(r'data-testid="next-heartbeat">(.*?)</pre>', page, re.S).group(1)
    assert "base_telemetry.heartbeat" in heartbeat and "&#34;scheduled_at&#34;" in heartbeat
    assert "auth.login_failed" in page  # the catalogue
    # What was actually sent (the outbox, written on the receiver's ack): first_seen + heartbeat.
    sent = re.findall(r"<details><summary>[^<]*— ([\w.]+) \((\w+)\)</summary>", page)
    assert sorted(sent) == [(FIRST_SEEN, "base"), (HEARTBEAT, "base")]


def test_the_control_sets_a_value_and_is_csrf_protected(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    admin = _ready(app)
    # Without a CSRF token nothing changes.
    assert admin.post("/admin/telemetry/detailed-analytics", data={"enabled": "on"}).status_code == 400
    assert _stored_choice(app) is False
    for _ in range(2):  # posting "on" twice leaves it on: a value, not a flip
        response = admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "on"},
                                   token_page="/admin/telemetry")
        assert response.status_code == 303
        assert _stored_choice(app) is True
        assert client_of(app).state().telemetry_enabled is True
    assert admin.get("/clients").status_code == 200
    flush(app)
    assert "page.viewed" in otlp_receiver.names("analytics")
    assert otlp_receiver.names("analytics").count("telemetry.preference_changed") == 1
    admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "off"},
                    token_page="/admin/telemetry")
    assert client_of(app).is_detailed_analytics_enabled() is False
    stored = json.loads(client_of(app).installation.path.read_text())
    assert stored["telemetry_enabled"] is False


def test_cli_status_enable_disable_preview(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    _ready(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["telemetry", "status"])
    assert result.exit_code == 0, result.output
    install_id = client_of(app).state().install_id
    assert f"install_id: {install_id}" in result.output
    assert "stored choice: opted out" in result.output
    enabled = runner.invoke(args=["telemetry", "enable"])
    assert enabled.exit_code == 0, enabled.output
    assert "detailed analytics: on: opted in by cli" in enabled.output
    assert _stored_choice(app) is True
    # The opt-in is reported from the CLI like from anywhere else (flushed before it returns).
    changes = [r for r in otlp_receiver.events("analytics")
               if r["event_name"] == "telemetry.preference_changed"]
    assert [r["attributes"]["source"] for r in changes] == ["cli"]
    disabled = runner.invoke(args=["telemetry", "disable"])
    assert "Detailed analytics disabled." in disabled.output
    assert _stored_choice(app) is False
    preview = json.loads(runner.invoke(args=["telemetry", "preview"]).output)
    assert preview["event"] == HEARTBEAT
    assert {"platform", "os_version", "heartbeat_at"} <= set(preview["attributes"])
    assert preview["resource"]["timetracker.install_id"] == install_id


def test_outbox_keeps_the_newest_of_each_batch_and_only_the_newest_rows(telemetry_app_factory):
    app = telemetry_app_factory()
    _clear_outbox(app)

    def batch(first: int, size: int) -> list[dict]:
        return [{"event": "page.viewed", "layer": "analytics",
                 "attributes": {"route": f"/r{n}", "source": "web"}} for n in range(first, first + size)]

    record_sent(app, batch(0, OUTBOX_ROWS_PER_BATCH + 30))
    assert count_rows(app, TelemetryOutbox) == OUTBOX_ROWS_PER_BATCH
    with app.app_context():
        routes = [item["payload"]["attributes"]["route"] for item in recent(OUTBOX_ROWS_PER_BATCH)]
    assert routes[0] == f"/r{OUTBOX_ROWS_PER_BATCH + 29}"  # newest first
    assert routes[-1] == "/r30"  # the oldest 30 of the batch were not stored
    for n in range(1, OUTBOX_MAX_ROWS // OUTBOX_ROWS_PER_BATCH + 2):
        record_sent(app, batch(n * 1000, OUTBOX_ROWS_PER_BATCH))
    assert count_rows(app, TelemetryOutbox) == OUTBOX_MAX_ROWS


def test_pipeline_metrics_are_in_metrics(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    admin = _ready(app)
    flush(app)
    # Opted out: the sign-in in _ready and this event are filtered; the page view of /clients
    # is not even built (the hook checks consent first).
    assert admin.get("/clients").status_code == 200
    with app.test_request_context("/"):
        assert client_of(app).track("auth.logout") is False
    body = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'tt_telemetry_events_total{layer="base",result="sent"} 1.0' in body
    assert 'tt_telemetry_events_total{layer="analytics",result="filtered"} 2.0' in body
    assert "tt_telemetry_queue_size 0.0" in body
