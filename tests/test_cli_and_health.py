"""Operator entry points: the headless setup command and the health probes."""

from __future__ import annotations

from app.extensions import db
from app.models import Settings, User
from tests.conftest import ADMIN_PASSWORD


def test_headless_setup_completes_once_and_fails_clearly_the_second_time(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["setup", "--admin-username", "ops", "--admin-password-stdin",
                                 "--analytics"], input=ADMIN_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Setup complete" in result.output and ADMIN_PASSWORD not in result.output
    with app.app_context():
        admin = db.session.query(User).one()
        assert admin.username == "ops" and admin.is_admin and admin.check_password(ADMIN_PASSWORD)
        assert db.session.get(Settings, 1).allow_analytics is True
    again = runner.invoke(args=["setup", "--admin-username", "ops2", "--admin-password-stdin"],
                          input=ADMIN_PASSWORD + "\n")
    assert again.exit_code != 0
    assert "already been completed" in again.output
    with app.app_context():
        assert db.session.query(User).count() == 1


def test_headless_setup_defaults_to_no_analytics(app):
    result = app.test_cli_runner().invoke(
        args=["setup", "--admin-username", "ops", "--admin-password-stdin"], input=ADMIN_PASSWORD + "\n"
    )
    assert result.exit_code == 0
    with app.app_context():
        assert db.session.get(Settings, 1).allow_analytics is False


def test_headless_setup_refuses_a_short_password_and_writes_nothing(app):
    result = app.test_cli_runner().invoke(
        args=["setup", "--admin-username", "ops", "--admin-password-stdin"], input="short\n"
    )
    assert result.exit_code != 0 and "at least 8" in result.output
    with app.app_context():
        assert db.session.query(User).count() == 0
        assert db.session.get(Settings, 1).setup_completed_at is None


def test_health_probes_need_no_session_or_auth(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    assert "Set-Cookie" not in response.headers
    assert client.get("/readyz").status_code == 200


def test_readyz_reports_an_unreachable_database(tmp_path):
    from app import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "DATA_DIR": str(tmp_path), "TESTING": True,
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
    })
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert app.test_client().get("/healthz").status_code == 200
