"""installation.json mirrors the settings row: lost or corrupt, it is rebuilt with the same
install id and consent, and Admin → Telemetry says it was repaired."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Settings
from app.telemetry.installation import parse
from tests.conftest import ADMIN_PASSWORD, login
from tests.support.polling import wait_for

from .conftest import client_of, complete_setup

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
_REPAIRED = re.compile(r'data-testid="installation-file">Repaired: ([^<]*)<')


def _path(app) -> Path:
    return Path(app.config["DATA_DIR"]) / "installation.json"


def _row(app) -> tuple[str, bool | None]:
    with app.app_context():
        row = db.session.execute(select(Settings.install_id, Settings.allow_analytics)
                                 .where(Settings.id == 1)).one()
    return row.install_id, row.allow_analytics


def _opted_in_install(telemetry_app_factory):
    """A set-up install whose admin opted in; returns the app and an admin client."""
    app = telemetry_app_factory()
    complete_setup(app, allow_analytics=True)
    admin = app.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    install_id, consent = _row(app)
    assert install_id and consent is True
    assert json.loads(_path(app).read_text())["install_id"] == install_id
    return app, admin


def _assert_rebuilt(app, admin, install_id: str, problem: str) -> None:
    page = admin.get("/admin/telemetry").get_data(as_text=True)
    note = _REPAIRED.search(page)
    assert note, "Admin → Telemetry does not say installation.json was repaired"
    assert problem in note.group(1) and "install id and consent kept" in note.group(1)
    stored = json.loads(_path(app).read_text())
    assert (stored["install_id"], stored["telemetry_enabled"]) == (install_id, True)
    assert stored["setup_complete"] is True
    assert _row(app) == (install_id, True)
    assert install_id in page


def _lose_file(path: Path, case: str) -> str:
    """Delete or corrupt the file; returns (part of) the problem the repair note names."""
    if case == "deleted":
        path.unlink()
        return "does not exist"
    path.write_bytes(CORRUPT[case])
    return "installation.json"


@pytest.mark.parametrize("case", ["deleted", "not_json"])
def test_a_file_lost_while_the_app_runs_is_rebuilt_with_the_same_id_and_consent(
        case, telemetry_app_factory):
    app, admin = _opted_in_install(telemetry_app_factory)
    install_id, _ = _row(app)
    problem = _lose_file(_path(app), case)

    def rebuilt_by_ordinary_requests() -> bool:
        # Every response checks consent (at most once a second), which mirrors the row.
        assert admin.get("/clients").status_code == 200
        try:
            return json.loads(_path(app).read_text())["install_id"] == install_id
        except (OSError, ValueError):
            return False

    assert wait_for(rebuilt_by_ordinary_requests, timeout=3.0, interval=0.1)
    _assert_rebuilt(app, admin, install_id, problem)
    assert client_of(app).analytics_layer().enabled is True  # nothing was switched off


@pytest.mark.parametrize("case", ["deleted", *sorted(CORRUPT)])
def test_a_file_lost_before_a_restart_is_rebuilt_at_start_with_the_same_id_and_consent(
        case, telemetry_app_factory):
    app, _admin = _opted_in_install(telemetry_app_factory)
    install_id, _ = _row(app)
    client_of(app).shutdown(1.0)
    problem = _lose_file(_path(app), case)
    restarted = telemetry_app_factory()
    # Rebuilt at start, before anybody looks at the admin page.
    stored = json.loads(_path(restarted).read_text())
    assert (stored["install_id"], stored["telemetry_enabled"]) == (install_id, True)
    assert "rebuilt from the database" in stored["repaired"]
    admin = restarted.test_client()
    assert login(admin, "admin", ADMIN_PASSWORD).status_code == 302
    _assert_rebuilt(restarted, admin, install_id, problem)


def test_a_new_install_creates_the_file_without_calling_it_repaired(telemetry_app_factory):
    app = telemetry_app_factory()
    install_id, _ = _row(app)
    stored = json.loads(_path(app).read_text())
    assert stored["install_id"] == install_id
    uuid.UUID(install_id, version=4)
    assert stored["repaired"] is None and stored["telemetry_enabled"] is None


def test_an_upgrade_adopts_the_install_id_of_the_existing_file(telemetry_app_factory):
    """The upgrade path: a row without an install id takes the file's, and its deliveries."""
    from app.services.setup import complete_setup as setup

    app = telemetry_app_factory(GRAFANA_OTLP_ENDPOINT=None)
    with app.app_context():
        db.session.execute(Settings.__table__.update().values(install_id=None))
        db.session.commit()
        setup(admin_username="admin", admin_password=ADMIN_PASSWORD, allow_analytics=False)
    _path(app).write_text(json.dumps({**GOOD, "setup_complete": True,
                                      "first_seen_sent_at": "2026-01-02T03:04:05Z"}))
    with app.app_context():
        db.session.execute(Settings.__table__.update().values(install_id=None))
        db.session.commit()
    client_of(app).invalidate()
    state = client_of(app).state()
    assert state.install_id == KEPT_ID
    assert state.first_seen_sent_at == "2026-01-02T03:04:05Z"
    assert _row(app)[0] == KEPT_ID


def test_unwritable_installation_file_still_boots_serves_and_keeps_consent_in_the_row(
        telemetry_app_factory, tmp_path, caplog):
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    # Running as root, permissions do not stop writes: a directory in the file's place does.
    (data_dir / "installation.json").mkdir()
    app = telemetry_app_factory()
    assert app.test_client().get("/login").headers["Location"] == "/setup"
    complete_setup(app, allow_analytics=True)
    client = client_of(app)
    assert client.state().telemetry_enabled is True
    assert client.status()["installation_file"]["problem"]
    assert any(r.getMessage() == "telemetry.installation_file_unwritable" for r in caplog.records)


def test_settings_and_installation_file_always_agree(admin_client):
    app = admin_client.application
    for value in (True, False, True):
        form = {"company_name": "TimeTracker", "default_timezone": "UTC", "currency": "EUR"}
        if value:
            form["allow_analytics"] = "y"
        assert admin_client.post_form("/admin/settings", form,
                                      token_page="/admin/settings").status_code == 302
        stored = json.loads(_path(app).read_text())
        assert _row(app)[1] is value
        assert stored["telemetry_enabled"] is value
        assert stored["telemetry_changed_by"].startswith("user:")


def test_setup_is_mirrored_into_the_file_at_once_also_without_a_sink(app):
    """The file follows each change of the row, not only the next check (fixed in 0311285)."""
    complete_setup(app, allow_analytics=True)
    stored = json.loads(_path(app).read_text())
    assert (stored["setup_complete"], stored["telemetry_enabled"]) == (True, True)


def test_get_requests_never_write_a_file_that_is_in_step(admin_client):
    path = _path(admin_client.application)
    before = path.stat().st_mtime_ns, path.read_bytes()
    for url in ("/", "/admin/settings", "/admin/telemetry", "/entries", "/login", "/clients"):
        admin_client.get(url)
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_parse_refuses_values_that_would_grant_consent():
    assert parse(b'{"install_id": "x", "telemetry_enabled": true}').telemetry_enabled is None
    assert parse(json.dumps({**GOOD, "telemetry_enabled": 1}).encode()).telemetry_enabled is None
    assert parse(json.dumps(GOOD).encode()).telemetry_enabled is True


def test_an_upgrade_never_changes_the_install_id_or_the_stored_choice(admin_client):
    """Re-running the migrations (down past the install state and up again) keeps the
    admin's choice, and the install id comes back from installation.json."""
    from flask_migrate import downgrade, upgrade

    app = admin_client.application
    form = {"company_name": "TimeTracker", "default_timezone": "UTC", "currency": "EUR",
            "allow_analytics": "y"}
    assert admin_client.post_form("/admin/settings", form,
                                  token_page="/admin/settings").status_code == 302
    install_id, _ = _row(app)
    with app.app_context():
        downgrade(revision="0004_report_index")
        upgrade()
    assert _row(app) == (None, True)  # the column came back empty; the choice survived
    client_of(app).invalidate()
    assert client_of(app).state().install_id == install_id
    assert _row(app) == (install_id, True)
