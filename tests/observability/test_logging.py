"""JSON log lines, request ids, the access line, named events, rotation across processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.observability.logging import format_timestamp, is_sane_request_id
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD, login
from tests.observability.conftest import TIMESTAMP_PATTERN, read_log_lines

ROOT = Path(__file__).resolve().parents[2]
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def lines_for(log_dir, request_id):
    return [line for line in read_log_lines(log_dir) if line.get("request_id") == request_id]


def test_every_line_of_a_request_carries_the_request_id_of_the_response(client, log_dir):
    response = login(client, "nobody-here", "wrong-password-1")
    assert response.status_code == 200  # the form again, with its error (FORM_INVALID)
    request_id = response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(request_id)

    lines = lines_for(log_dir, request_id)
    messages = [line["message"] for line in lines]
    assert "login failed" in messages and "request" in messages
    # Every line of the file parsed as JSON (read_log_lines) and has the core fields.
    for line in read_log_lines(log_dir):
        assert {"timestamp", "level", "logger", "message", "pid"} <= set(line)
        assert re.fullmatch(TIMESTAMP_PATTERN, line["timestamp"])


def test_a_sane_incoming_request_id_is_reused_and_echoed(client, log_dir):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21.0042"})
    assert response.headers["X-Request-ID"] == "lb-7f3a9c21.0042"
    (access,) = lines_for(log_dir, "lb-7f3a9c21.0042")
    assert access["logger"] == "app.access"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=300).filter(lambda value: not is_sane_request_id(value)))
@example("a" * 65)
@example("x" * 10_000)
@example("abcdefgh\r\nSet-Cookie: session=evil")
@example("abcdefgh\x00\x1b[31m")
@example("请求-标识符-１２３４５６７８")
@example("abcdefgh ijklmnop")
@example("short")
def test_a_fuzzed_request_id_is_replaced_not_echoed(client, log_dir, incoming):
    # Set in the WSGI environ directly: a real server hands us whatever bytes came in.
    response = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": incoming})
    echoed = response.headers["X-Request-ID"]
    assert echoed != incoming and GENERATED_ID.fullmatch(echoed)
    assert lines_for(log_dir, echoed)
    assert all(incoming not in line.values() for line in read_log_lines(log_dir))
    if len(incoming) >= 16:  # long enough not to occur in a log line by chance
        log_text = (log_dir / "app.jsonl").read_text(encoding="utf-8")
        assert json.dumps(incoming, ensure_ascii=False)[1:-1] not in log_text


def test_the_access_line_names_the_route_template_status_duration_and_user(
        user_client, make_project, log_dir):
    ids = make_project(name="Website")
    response = user_client.post_form(
        "/timer/start", {"timer-project_id": str(ids["project_id"]), "timer-notes": "secret-note-text"},
    )
    assert response.status_code == 302
    response = user_client.get("/entries/987654/edit")
    assert response.status_code == 404
    (access,) = [line for line in lines_for(log_dir, response.headers["X-Request-ID"])
                 if line["logger"] == "app.access"]
    assert access["method"] == "GET"
    assert access["route"] == "/entries/<int:entry_id>/edit"
    assert access["status"] == 404
    assert isinstance(access["duration_ms"], (int, float)) and access["duration_ms"] >= 0
    assert isinstance(access["user_id"], int)
    text = (log_dir / "app.jsonl").read_text()
    assert "987654" not in text and "secret-note-text" not in text


def test_the_user_id_of_a_line_costs_no_query_even_after_a_commit(ready_app, make_user):
    # A commit expires every attribute of the signed-in user; reading is_authenticated
    # or id for the access line used to reload the row: one SELECT per request.
    from flask import g
    from flask_login import AnonymousUserMixin
    from sqlalchemy import event

    from app.extensions import db
    from app.models import User
    from app.auth import authenticated_user_id

    user_id = make_user("dora")
    with ready_app.test_request_context("/"):
        g._login_user = db.session.get(User, user_id)
        db.session.commit()
        statements = []

        def record(_conn, _cursor, statement, *_args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert authenticated_user_id() == user_id
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert statements == []
        g._login_user = AnonymousUserMixin()
        assert authenticated_user_id() is None


def test_unmatched_paths_are_logged_as_one_fixed_route(client, log_dir):
    response = client.get("/wp-admin/setup-config.php?step=1")
    (access,) = [line for line in lines_for(log_dir, response.headers["X-Request-ID"])
                 if line["logger"] == "app.access"]
    assert access["route"] == "<unmatched>" and access["status"] == 404
    assert "wp-admin" not in (log_dir / "app.jsonl").read_text()


def test_failed_login_logs_the_reason_but_never_what_was_typed(client, make_user, log_dir):
    make_user("carol", email="carol@example.org")
    login(client, "typed-user-name", "Secret-Password-42")
    login(client, "carol", "Secret-Password-43")
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 302
    lines = read_log_lines(log_dir)
    reasons = [line.get("reason") for line in lines if line["message"] == "login failed"]
    assert len(reasons) == 2 and all(reasons)
    text = (log_dir / "app.jsonl").read_text()
    for secret in ("typed-user-name", "Secret-Password-42", "Secret-Password-43", ADMIN_PASSWORD,
                   USER_PASSWORD, "carol", "carol@example.org"):
        assert secret not in text
    session_cookie = client.get_cookie("session")
    assert session_cookie is not None and session_cookie.value not in text


def test_log_event_is_importable_from_app_and_carries_its_fields(app, log_dir):
    from app import log_event

    with app.test_request_context("/", headers={"X-Request-ID": "evt-request-0001"}):
        app.preprocess_request()
        log_event("project.created", project_id=42, billable=True, message="collides", password="x")
    (line,) = [line for line in read_log_lines(log_dir) if line.get("event") == "project.created"]
    assert line["message"] == "project.created" and line["logger"] == "app.events"
    assert line["project_id"] == 42 and line["billable"] is True
    assert line["request_id"] == "evt-request-0001"
    assert line["message_"] == "collides"  # a field may not overwrite a core field
    assert line["password"] == "[redacted]"


def test_log_event_outside_a_request_has_no_request_id(app, log_dir):
    from app import log_event

    with app.app_context():
        log_event("user.deactivated", user_id=3)
    (line,) = [line for line in read_log_lines(log_dir) if line.get("event") == "user.deactivated"]
    assert "request_id" not in line and line["user_id"] == 3


def test_log_event_refuses_names_that_are_not_resource_action():
    from app import log_event

    for bad in ("created", "Project.Created", "project created", "project.", ""):
        try:
            log_event(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_log_level_comes_from_config(app_factory, log_dir):
    app = app_factory(LOG_LEVEL="WARNING")
    app.test_client().get("/healthz")
    with app.app_context():
        app.logger.warning("disk nearly full")
    assert [line["message"] for line in read_log_lines(log_dir)] == ["disk nearly full"]


def test_lines_also_go_to_stdout_as_json(client, capsys):
    response = client.get("/healthz")
    out = capsys.readouterr().out
    parsed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == response.headers["X-Request-ID"] for line in parsed)


def test_timestamps_are_rfc3339_utc_with_milliseconds():
    stamp = format_timestamp(1795426200.1239)
    assert stamp == "2026-11-23T09:30:00.123Z"
    assert datetime.fromisoformat(stamp) == datetime(2026, 11, 23, 9, 30, 0, 123000, tzinfo=timezone.utc)


_WRITER = textwrap.dedent("""
    import logging, sys
    from app.observability.logging import JsonLineFormatter, SharedRotatingFileHandler
    path, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    handler = SharedRotatingFileHandler(path, max_bytes=20_000, backup_count=200)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("rotation-test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for n in range(count):
        logger.info("line", extra={"worker": worker, "n": n, "padding": "x" * 80})
    handler.close()
""")


def test_rotation_with_several_writer_processes_loses_and_mangles_no_line(tmp_path):
    path = tmp_path / "app.jsonl"
    workers, per_worker = 4, 400
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(w), str(per_worker)],
                              cwd=ROOT) for w in range(workers)]
    assert [proc.wait(timeout=120) for proc in procs] == [0] * workers

    files = sorted(tmp_path.glob("app.jsonl*"))
    files = [f for f in files if not f.name.endswith(".lock")]
    assert len(files) > 5, "the file never rotated"
    seen = set()
    for file in files:
        for raw in file.read_text().splitlines():
            line = json.loads(raw)  # an interleaved or torn line would not parse
            seen.add((line["worker"], line["n"]))
        # A file can exceed the limit only by lines written while another worker rotated.
        assert file.stat().st_size <= 20_000 + workers * 400
    assert seen == {(str(w), n) for w in range(workers) for n in range(per_worker)}


def test_a_line_is_formatted_once_for_stdout_and_the_file(app, log_dir, capsys, monkeypatch):
    from pythonjsonlogger.json import JsonFormatter

    calls = []
    original = JsonFormatter.format

    def counting(self, record):
        calls.append(record)
        return original(self, record)

    monkeypatch.setattr(JsonFormatter, "format", counting)
    with app.app_context():
        app.logger.warning("formatted once")
    out_lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
                 if line.startswith("{")]
    # The app's start wrote its own lines (telemetry.layers) before this one.
    file_lines = [line for line in read_log_lines(log_dir) if line["message"] == "formatted once"]
    assert [line["message"] for line in out_lines] == ["formatted once"]
    assert out_lines == file_lines
    assert len(calls) == 1


def test_a_log_file_moved_away_is_recreated_at_its_path_within_the_check_interval(tmp_path):
    # logrotate's "create" mode or an operator moving the file: the path is looked up
    # at most once per CHECK_SECONDS, so lines follow the path again after that.
    import logging
    import time

    from app.observability.logging import JsonLineFormatter, SharedRotatingFileHandler

    path = tmp_path / "app.jsonl"
    handler = SharedRotatingFileHandler(path, max_bytes=0, backup_count=0)
    handler.CHECK_SECONDS = 0.05
    handler.setFormatter(JsonLineFormatter())

    def line(message: str) -> None:
        handler.handle(logging.LogRecord("app", logging.INFO, __file__, 0, message, (), None))

    line("before the move")
    path.rename(tmp_path / "app.jsonl.old")
    time.sleep(0.1)  # the handler looks at the path again only once CHECK_SECONDS have passed
    line("after the move")
    handler.close()
    assert [json.loads(raw)["message"] for raw in path.read_text().splitlines()] == ["after the move"]
    assert "before the move" in (tmp_path / "app.jsonl.old").read_text()
