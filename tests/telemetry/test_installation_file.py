"""installation.json: corrupt files boot with consent off; writes are atomic and locked."""

from __future__ import annotations

import json
import multiprocessing
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from app.telemetry import service
from app.telemetry.installation import Installation, parse
from tests.conftest import ADMIN_PASSWORD

KEPT_ID = str(uuid.uuid4())
GOOD = {"install_id": KEPT_ID, "setup_complete": True, "telemetry_enabled": True}

CORRUPT = {
    "empty": b"",
    "truncated": json.dumps(GOOD).encode()[:-9],
    "not_json": b"\x00\xffnot json at all",
    "a_list": b"[1, 2, 3]",
    "wrong_types": json.dumps({**GOOD, "telemetry_enabled": "yes"}).encode(),
    "bad_install_id": json.dumps({**GOOD, "install_id": "host-1234"}).encode(),
}


def _data_dir(app_factory_config_dir: Path) -> Path:
    app_factory_config_dir.mkdir(parents=True, exist_ok=True)
    return app_factory_config_dir


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_installation_file_boots_with_consent_off_and_is_repaired(
        case, app_factory, tmp_path, otlp_receiver, caplog):
    data_dir = _data_dir(tmp_path / "data")
    (data_dir / "installation.json").write_bytes(CORRUPT[case])
    app = app_factory(GRAFANA_OTLP_ENDPOINT=otlp_receiver.url)
    try:
        with app.app_context():
            assert service.is_telemetry_enabled() is False
            assert service.is_detailed_analytics_enabled() is False
        assert app.test_client().get("/login").status_code in (200, 302)
        repaired = json.loads((data_dir / "installation.json").read_text())
        assert repaired["telemetry_enabled"] is None
        uuid.UUID(repaired["install_id"], version=4)
        if case == "wrong_types":
            assert repaired["install_id"] == KEPT_ID  # a readable id is kept
        assert any("installation_file_problem" in r.getMessage() for r in caplog.records)
    finally:
        service.shutdown(app=app)


def test_unwritable_installation_file_still_boots_and_serves(app_factory, tmp_path, caplog):
    data_dir = _data_dir(tmp_path / "data")
    # Running as root, permissions do not stop writes: a directory in the file's place does.
    (data_dir / "installation.json").mkdir()
    app = app_factory()
    assert app.test_client().get("/login").status_code in (200, 302)
    with app.app_context():
        assert service.is_telemetry_enabled() is False
        from app.services.setup import complete_setup

        complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=True)
        assert service.is_detailed_analytics_enabled() is False
    assert any("installation_file" in r.getMessage() or "setup_not_recorded" in r.getMessage()
               for r in caplog.records)


def test_settings_and_installation_file_always_agree(admin_client):
    app = admin_client.application
    for value in (True, False, True):
        form = {"company_name": "TimeTracker", "default_timezone": "UTC", "currency": "EUR"}
        if value:
            form["allow_analytics"] = "y"
        assert admin_client.post_form("/admin/settings", form,
                                      token_page="/admin/settings").status_code == 302
        stored = json.loads((Path(app.config["DATA_DIR"]) / "installation.json").read_text())
        with app.app_context():
            from app.services.settings import get_settings

            assert get_settings().allow_analytics is value
        assert stored["telemetry_enabled"] is value
        assert stored["telemetry_changed_by"].startswith("user:")


def test_get_requests_never_write_the_file(admin_client):
    path = Path(admin_client.application.config["DATA_DIR"]) / "installation.json"
    before = path.stat().st_mtime_ns, path.read_bytes()
    for url in ("/", "/admin/settings", "/entries", "/login", "/clients"):
        admin_client.get(url)
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def _bump(args):
    data_dir, rounds = args
    installation = Installation(data_dir)
    for _ in range(rounds):
        installation.update(lambda s: replace(
            s, last_heartbeat_day=str(int(s.last_heartbeat_day or "0") + 1)))
    return True


def test_concurrent_writers_in_separate_processes_never_lose_an_update(tmp_path):
    Installation(tmp_path).repair()
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert all(pool.map(_bump, [(str(tmp_path), 25)] * 4))
    state = Installation(tmp_path).read()
    assert state.problem is None
    assert state.last_heartbeat_day == "100"


def test_parse_refuses_values_that_would_grant_consent():
    assert parse(b'{"install_id": "x", "telemetry_enabled": true}').telemetry_enabled is None
    assert parse(json.dumps({**GOOD, "telemetry_enabled": 1}).encode()).telemetry_enabled is None
    assert parse(json.dumps(GOOD).encode()).telemetry_enabled is True


def test_an_upgrade_never_changes_the_stored_choice(admin_client):
    """Re-running the migrations (down past ours and up again) keeps the admin's choice."""
    from flask_migrate import downgrade, upgrade

    app = admin_client.application
    form = {"company_name": "TimeTracker", "default_timezone": "UTC", "currency": "EUR",
            "allow_analytics": "y"}
    assert admin_client.post_form("/admin/settings", form,
                                  token_page="/admin/settings").status_code == 302
    path = Path(app.config["DATA_DIR"]) / "installation.json"
    before = path.read_bytes()
    with app.app_context():
        downgrade(revision="0002_api_tokens")
        upgrade()
        from app.extensions import db
        from app.services.settings import get_settings

        db.session.expire_all()
        assert get_settings().allow_analytics is True
        assert service.get_telemetry_preference() is True
    assert path.read_bytes() == before
