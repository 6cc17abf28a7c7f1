"""Admin → Telemetry and ``flask telemetry``: the operator sees and sets every byte."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import delete

from app.extensions import db
from app.telemetry import service
from app.telemetry.outbox import OUTBOX_MAX_ROWS, OUTBOX_ROWS_PER_BATCH, TelemetryOutbox, recent, record_sent
from tests.conftest import ADMIN_PASSWORD, login


def _clear_outbox(app):
    with app.app_context():
        db.session.execute(delete(TelemetryOutbox))
        db.session.commit()


def _ready(app, allow_analytics=False):
    from app.services.setup import complete_setup

    with app.app_context():
        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD,
                       allow_analytics=allow_analytics)
    _clear_outbox(app)
    client = app.test_client()
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


def test_users_get_403_and_anonymous_visitors_the_login_page(user_client, client):
    assert user_client.get("/admin/telemetry").status_code == 403
    assert user_client.post("/admin/telemetry/detailed-analytics",
                            data={"enabled": "on"}).status_code in (400, 403)
    assert client.get("/admin/telemetry").status_code == 302


def test_admin_page_shows_states_install_id_next_heartbeat_and_sent_payloads(
        telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    admin = _ready(app)
    with app.app_context():
        service.send_base_heartbeat()
    service.flush(5.0, app=app)
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    install_id = app.extensions["telemetry"].installation.read().install_id
    assert install_id in page
    assert "on: sending to " + otlp_receiver.url + "/v1/logs" in page
    assert "off: opted out by" in page
    assert "base_telemetry.heartbeat" in page and "&#34;scheduled_at&#34;" in page
    assert "auth.login_failed" in page  # the catalogue
    assert page.count("<details>") == 2  # what was actually sent: first_seen + heartbeat


def test_the_control_sets_a_value_and_is_csrf_protected(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    admin = _ready(app)
    # Without a CSRF token nothing changes.
    assert admin.post("/admin/telemetry/detailed-analytics", data={"enabled": "on"}).status_code == 400
    with app.app_context():
        assert service.get_telemetry_preference() is False
    for _ in range(2):  # posting "on" twice leaves it on: a value, not a flip
        response = admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "on"},
                                   token_page="/admin/telemetry")
        assert response.status_code == 303
        with app.app_context():
            assert service.get_telemetry_preference() is True
            from app.services.settings import get_settings

            assert get_settings().allow_analytics is True
    assert admin.get("/clients").status_code == 200
    service.flush(5.0, app=app)
    assert "page.viewed" in otlp_receiver.names("analytics")
    admin.post_form("/admin/telemetry/detailed-analytics", {"enabled": "off"},
                    token_page="/admin/telemetry")
    with app.app_context():
        assert service.is_detailed_analytics_enabled() is False
    stored = json.loads((Path(app.config["DATA_DIR"]) / "installation.json").read_text())
    assert stored["telemetry_enabled"] is False


def test_cli_status_enable_disable_preview(telemetry_app_factory, otlp_receiver):
    app = telemetry_app_factory()
    _ready(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["telemetry", "status"])
    assert result.exit_code == 0, result.output
    assert "install_id: " in result.output and "stored choice: opted out" in result.output
    assert "detailed analytics: on: opted in by cli" in runner.invoke(
        args=["telemetry", "enable"]).output
    with app.app_context():
        from app.services.settings import get_settings

        assert get_settings().allow_analytics is True
    assert "Detailed analytics disabled." in runner.invoke(args=["telemetry", "disable"]).output
    preview = json.loads(runner.invoke(args=["telemetry", "preview"]).output)
    assert preview["event"] == "base_telemetry.heartbeat"
    assert set(preview["attributes"]) >= {"install_id", "app_version", "platform", "heartbeat_at"}


def test_outbox_keeps_the_newest_of_each_batch_and_only_the_newest_rows(telemetry_app_factory):
    app = telemetry_app_factory()
    _clear_outbox(app)
    from tests.conftest import count_rows

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
    service.flush(5.0, app=app)
    # Opted out: the sign-in in _ready and this event are filtered; the page view of /clients
    # is not even built (the hook checks consent first).
    admin.get("/clients")
    with app.test_request_context("/"):
        service.send_analytics_event("auth.logout", {"source": "web"})
    body = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'tt_telemetry_events_total{layer="base",result="sent"} 1.0' in body
    assert 'tt_telemetry_events_total{layer="analytics",result="filtered"} 2.0' in body
    assert "tt_telemetry_queue_size 0.0" in body
