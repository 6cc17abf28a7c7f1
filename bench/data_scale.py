"""Scenario 4 of issue 7, data at scale: 1,000,000 time entries in PostgreSQL.

    .venv/bin/python -m bench.data_scale [--quick]

A fresh PostgreSQL database is migrated with the app's own migrations and set up
with ``complete_setup``; then SQL (``INSERT ... SELECT generate_series``, never ORM
objects) seeds 100 users, 40 clients, 500 projects (750 tasks), and 1,000,000 entries
over the last two years: one user has 50,000 of them, five users have a running
timer, notes are realistic (some empty, some with commas, quotes, newlines or a
leading ``=``), three in four entries billable. ``VACUUM ANALYZE`` follows, as
autovacuum would after a bulk load.

Then, through the real app (``create_app`` + the WSGI test client, so every
middleware, hook and template runs):

1. the summary report for one year (the last 365 days), seen by an admin who sees
   everyone, grouped by project and by day: ``GET /api/v1/reports/summary``;
   also the reports page (HTML) grouped by project, reported only;
2. the CSV export of all rows, ``GET /api/v1/time-entries/export.csv``, streamed
   in a child process that serves nothing else: the time to its first byte (from the
   request to the first chunk of the body: the route, the query's first batch and the
   first 500 rows written), its peak RSS (VmHWM), its RSS just before the download
   (after one warm-up request), and rows/s; plus whether PostgreSQL's plan for the
   export's cursor sorts the rows first (it should not: they stream from an index);
3. the dashboard ``GET /`` for the user with 50,000 entries, signed in through the
   login form: median and p95 of 20 warm requests.

Times are wall clock around the test client's request, body read included: the time
the app spends on the request, without a network or a web server. Each report figure
is the median of 5 warm runs; the first run after seeding is reported as ``first_ms``
(the app's caches are cold; PostgreSQL's buffers hold what the seed just wrote).

``quick=True`` seeds 20,000 entries (1,000 for the heavy user): a smoke run whose
figures are not comparable with the targets.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    ROOT, check, percentile, postgres_database, rss_mib, run_alone, scenario_result,
)

TITLE = "Data at scale"
ADMIN_PASSWORD = "bench-password-123"
USER_PASSWORD = "bench-user-password-123"
USERS, CLIENTS, PROJECTS = 100, 40, 500
HEAVY_USER_ID = 2  # the admin is 1; the heavy user gets every 20th entry
RUNNING_TIMER_USERS = (2, 3, 4, 5, 6)
ADMIN_TIMEZONE = "Europe/Berlin"  # a zone with DST, so day buckets cross two changes
REPORT_RUNS = 5
DASHBOARD_RUNS = 20
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

# A 32-bit multiplicative hash of the row number: deterministic "randomness" so two
# runs seed the same rows.
_H = "((g::bigint * 2654435761) % 4294967296)"

SEED_SQL = f"""
INSERT INTO time_entries (user_id, project_id, task_id, started_at, ended_at,
                          duration_seconds, notes, billable, source, created_at, updated_at)
SELECT u, p,
       CASE WHEN p % 2 = 0 AND (h >> 4) % 3 <> 0 THEN (p / 2 - 1) * 3 + 1 + (h >> 12) % 3 END,
       s, s + make_interval(secs => d), d,
       CASE (h >> 16) % 8
         WHEN 0 THEN NULL
         WHEN 1 THEN 'Meeting'
         WHEN 2 THEN 'Review of "' || substr(md5(g::text), 1, 6) || '", comments addressed'
         WHEN 3 THEN 'Call with client' || chr(10) || 'follow-up: send the estimate'
         WHEN 4 THEN '=SUM(A1:A' || (h % 90 + 10) || ')'
         ELSE 'Ticket #' || (h % 10000) || ': ' || substr(md5(g::text) || md5(h::text), 1,
                                                           (8 + (h >> 8) % 48)::int)
       END,
       (h >> 20) % 4 <> 0,
       CASE WHEN (h >> 22) % 3 = 0 THEN 'timer' ELSE 'manual' END,
       s + make_interval(secs => d), s + make_interval(secs => d)
FROM (
  SELECT g, h, u,
         1 + (u * 37 + ((h >> 8) % 8) * 61) % {PROJECTS} AS p,
         %(first)s::timestamp + (g - 1) * %(spacing)s::interval
           + make_interval(secs => h % 600) AS s,
         900 + ((h >> 24) % 28) * 450 AS d
  FROM (
    SELECT g, h, CASE WHEN g % 20 = 0 THEN {HEAVY_USER_ID} ELSE 3 + h % 98 END AS u
    FROM (SELECT g, {_H} AS h FROM generate_series(1, %(count)s) AS g) AS numbered
  ) AS owned
) AS shaped
"""


def _sql(text: str) -> str:
    """SQL written with ``%`` as modulo, made safe for psycopg's ``%(name)s`` parameters."""
    return re.sub(r"%(?!\()", "%%", text)


def _catalog_sql(password_hash: str) -> list[tuple[str, dict]]:
    """Users 2..100, clients, projects and tasks with explicit ids, then the sequences."""
    return [
        ("""INSERT INTO users (id, username, email, display_name, password_hash, role, active,
                               timezone, created_at)
            SELECT i, 'user' || lpad(i::text, 3, '0'), 'user' || i || '@example.org',
                   CASE WHEN i % 3 = 0 THEN 'User ' || i END, %(hash)s,
                   CASE WHEN i % 25 = 0 THEN 'admin' ELSE 'user' END, i % 30 <> 0,
                   (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'])[1 + i % 4],
                   now() AT TIME ZONE 'UTC'
            FROM generate_series(2, %(users)s) AS i""",
         {"hash": password_hash, "users": USERS}),
        ("""INSERT INTO clients (id, name, name_key, default_hourly_rate, archived, created_at)
            SELECT i, 'Client ' || lpad(i::text, 2, '0') || CASE WHEN i % 7 = 0 THEN ', Inc.' ELSE '' END,
                   'seed-' || i,
                   CASE WHEN i % 4 <> 0 THEN 60 + i * 2.5 END, i % 20 = 0,
                   now() AT TIME ZONE 'UTC'
            FROM generate_series(1, %(clients)s) AS i""", {"clients": CLIENTS}),
        ("""INSERT INTO projects (id, name, name_key, client_id, billable, hourly_rate, color,
                                  archived, created_at)
            SELECT i, 'Project ' || lpad(i::text, 3, '0'), 'seed-' || i,
                   CASE WHEN i % 10 <> 0 THEN 1 + i % %(clients)s END, i % 5 <> 0,
                   CASE WHEN i % 3 = 0 THEN 80 + i % 50 END,
                   '#' || substr(md5(i::text), 1, 6), i % 50 = 0, now() AT TIME ZONE 'UTC'
            FROM generate_series(1, %(projects)s) AS i""",
         {"clients": CLIENTS, "projects": PROJECTS}),
        ("""INSERT INTO tasks (id, project_id, name, name_key, status, hourly_rate, created_at)
            SELECT (p / 2 - 1) * 3 + k, p, (ARRAY['Design', 'Build', 'Support'])[k], 'seed-' || k,
                   (ARRAY['todo', 'in_progress', 'done'])[1 + (p + k) % 3],
                   CASE WHEN k = 3 THEN 120 END, now() AT TIME ZONE 'UTC'
            FROM generate_series(2, %(projects)s, 2) AS p, generate_series(1, 3) AS k""",
         {"projects": PROJECTS}),
        ("SELECT setval('users_id_seq', (SELECT max(id) FROM users))", {}),
        ("SELECT setval('clients_id_seq', (SELECT max(id) FROM clients))", {}),
        ("SELECT setval('projects_id_seq', (SELECT max(id) FROM projects))", {}),
        ("SELECT setval('tasks_id_seq', (SELECT max(id) FROM tasks))", {}),
    ]


def _fill_name_keys(conn) -> None:
    """The seeded catalogue's stored name keys, computed as the catalog service does
    (app.services.validation.name_key_digest: SQL cannot fold look-alike letters)."""
    from app.services.validation import name_key_digest

    for table in ("clients", "projects", "tasks"):
        rows = conn.execute(f"SELECT id, name FROM {table}").fetchall()
        conn.execute(
            f"UPDATE {table} AS t SET name_key = v.key"
            " FROM unnest(%s::int[], %s::text[]) AS v(id, key) WHERE t.id = v.id",
            ([ident for ident, _ in rows], [name_key_digest(name) for _, name in rows]))


def seed(url: str, entries: int, now: datetime) -> dict:
    """Users, catalogue and ``entries`` time entries (running timers included), then VACUUM ANALYZE."""
    import psycopg
    from werkzeug.security import generate_password_hash

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    finished = entries - len(RUNNING_TIMER_USERS)
    span = timedelta(days=730)
    first = (now - span - timedelta(hours=4)).replace(tzinfo=None, microsecond=0)
    timings = {}
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        for sql, params in _catalog_sql(generate_password_hash(USER_PASSWORD)):
            conn.execute(_sql(sql), params)
        _fill_name_keys(conn)
        # A bulk load, as pg_restore does it: the secondary indexes are built after the
        # rows, and (as a superuser) without the per-row foreign-key triggers; the data
        # is consistent by construction and CHECK constraints still apply.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'time_entries'"
            " AND indexname <> 'pk_time_entries'").fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                                 ).fetchone()[0]
        if superuser:
            conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(_sql(SEED_SQL), {"first": first, "spacing": span / finished, "count": finished})
        if superuser:
            conn.execute("SET LOCAL session_replication_role = DEFAULT")
        for _name, definition in indexes:
            conn.execute(definition)
        for n, user_id in enumerate(RUNNING_TIMER_USERS):
            start = (now - timedelta(minutes=10 + 7 * n)).replace(tzinfo=None)
            conn.execute(
                "INSERT INTO time_entries (user_id, project_id, started_at, notes, billable,"
                " source, created_at, updated_at) VALUES (%s, %s, %s, %s, true, 'timer', %s, %s)",
                (user_id, 1 + (user_id * 37) % PROJECTS, start, "Running", start, start),
            )
        conn.commit()
        timings["insert_seconds"] = round(time.perf_counter() - started, 1)
        conn.autocommit = True
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_seconds"] = round(time.perf_counter() - started, 1)
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE user_id = %s),"
            " count(*) FILTER (WHERE ended_at IS NULL), count(DISTINCT user_id),"
            " count(DISTINCT project_id), pg_total_relation_size('time_entries')"
            " FROM time_entries", (HEAVY_USER_ID,)).fetchone()
    return {"entries": counts[0], "heavy_user_entries": counts[1], "running_timers": counts[2],
            "users_with_entries": counts[3], "projects_with_entries": counts[4],
            "table_with_indexes_mib": round(counts[5] / 2**20, 1), **timings}


def make_app(url: str, data_dir: str):
    from app import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir, "LOG_DIR": data_dir,
        "TESTING": True, "RATELIMIT_STORAGE_URI": "memory://", "SERVER_NAME": None,
    })
    logging.getLogger("app.access").setLevel(logging.WARNING)  # no log line per request
    return app


def sign_in(app, username: str, password: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": CSRF.search(page).group(1)})
    assert response.status_code == 302, f"sign-in as {username} failed: {response.status_code}"
    return client


def timed_get(client, url: str, runs: int, **kwargs) -> dict:
    """One first request, then ``runs`` timed ones: milliseconds, body read included."""
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = client.get(url, **kwargs)
        body = response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, body[:300])
    warm = sorted(times[1:])
    return {"first_ms": round(times[0], 1), "median_ms": round(statistics.median(warm), 1),
            "p95_ms": round(percentile(warm, 0.95), 1), "min_ms": round(warm[0], 1),
            "runs": runs, "bytes": len(body), "body": body}


# -- the CSV export, in a child process that does nothing else ----------------------------


def _vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def export_child(url: str, token: str, data_dir: str) -> None:
    """Serve one export in this process and print its figures as JSON (run by ``export_in_child``)."""
    app = make_app(url, data_dir)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # warm: imports, pool
    baseline = rss_mib()
    started = time.perf_counter()
    response = client.get("/api/v1/time-entries/export.csv", headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    size = lines = chunks = 0
    first_byte = None
    for chunk in response.response:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        chunk = chunk if isinstance(chunk, bytes) else chunk.encode()
        size += len(chunk)
        chunks += 1
        lines += chunk.count(b"\r\n")  # notes with newlines hold a bare \n, never \r\n
    response.close()
    elapsed = time.perf_counter() - started
    rows = lines - 1  # the header
    print(json.dumps({
        "rows": rows, "bytes": size, "chunks": chunks, "seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed), "first_byte_ms": round(first_byte * 1000, 1),
        "baseline_rss_mib": round(baseline, 1),
        "peak_rss_mib": round(_vm_kib("VmHWM") / 1024, 1),
        "end_rss_mib": round(rss_mib(), 1),
    }))


def export_plan_sorts(admin_id: int) -> bool:
    """Whether PostgreSQL's plan for the admin's full export, declared as the export's
    cursor, has a Sort node (all rows read and sorted before the first one is sent)."""
    from app.extensions import db
    from app.models import User
    from app.services import exports
    from app.services.reports import ReportFilters

    query = exports.export_query(db.session.get(User, admin_id), ReportFilters())
    sql = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = [line for (line,) in db.session.execute(
        db.text(f"EXPLAIN DECLARE bench_export CURSOR FOR {sql}"))]
    db.session.rollback()
    return any(re.match(r"\s*(->\s*)?Sort\b", line) for line in plan)


def export_in_child(url: str, token: str, data_dir: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.data_scale", "--export-child", url, token, data_dir],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"export child failed: {completed.stderr[-2000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["growth_mib"] = round(figures["peak_rss_mib"] - figures["baseline_rss_mib"], 1)
    return figures


# -- the scenario -------------------------------------------------------------------------


def run(quick: bool = False) -> dict:
    """Seed, then time the year report, the full CSV export and the heavy user's dashboard."""
    from flask_migrate import upgrade

    from app.extensions import db
    from app.services import api_tokens
    from app.services.setup import complete_setup

    entries = 20_000 if quick else 1_000_000
    scenario_started = time.perf_counter()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    figures: dict = {"quick": quick}
    with postgres_database("tt_bench_scale") as url, tempfile.TemporaryDirectory() as data_dir:
        app = make_app(url, data_dir)
        with app.app_context():
            upgrade()
            admin = complete_setup(admin_username="admin", admin_password=ADMIN_PASSWORD,
                                   allow_analytics=False, timezone=ADMIN_TIMEZONE)
            token = api_tokens.create_token(admin, "bench").secret
            admin_id = admin.id
            db.session.remove()
        started = time.perf_counter()
        figures["data"] = seed(url, entries, now)
        figures["data"]["seed_seconds"] = round(time.perf_counter() - started, 1)

        # 1. The year report, grouped by project and by day, as the admin (all users).
        end = now.astimezone(_zone(ADMIN_TIMEZONE)).date()
        start = end - timedelta(days=364)
        api = app.test_client()
        auth = {"Authorization": f"Bearer {token}"}
        figures["report"] = {"start": start.isoformat(), "end": end.isoformat()}
        for group_by in ("project", "day"):
            result = timed_get(api, f"/api/v1/reports/summary?start={start}&end={end}"
                                    f"&group_by={group_by}", REPORT_RUNS, headers=auth)
            body = json.loads(result.pop("body"))
            result["rows"] = len(body["rows"])
            result["total_hours"] = round(body["total_seconds"] / 3600)
            figures["report"][f"api_by_{group_by}"] = result
        web_admin = sign_in(app, "admin", ADMIN_PASSWORD)
        page = timed_get(web_admin, f"/reports?preset=custom&start={start}&end={end}"
                                    f"&group_by=project", REPORT_RUNS)
        page.pop("body")
        figures["report"]["page_by_project"] = page

        # 2. The CSV export of every row, in a process of its own.
        figures["export"] = export_in_child(url, token, data_dir)
        with app.app_context():
            figures["export"]["plan_sorts_rows"] = export_plan_sorts(admin_id)

        # 3. The dashboard of the user with 50,000 entries.
        heavy = sign_in(app, f"user{HEAVY_USER_ID:03d}", USER_PASSWORD)
        dashboard = timed_get(heavy, "/", DASHBOARD_RUNS)
        dashboard.pop("body")
        figures["dashboard"] = dashboard
        with app.app_context():
            db.engine.dispose()
    seconds = round(time.perf_counter() - scenario_started, 1)

    report, export = figures["report"], figures["export"]
    assert export["rows"] == figures["data"]["entries"], (export["rows"], figures["data"])
    checks = [
        check("Year report by project (median)", report["api_by_project"]["median_ms"], "ms",
              at_most=250),
        check("Year report by day (median)", report["api_by_day"]["median_ms"], "ms", at_most=250),
        check("Reports page, year by project (median)", report["page_by_project"]["median_ms"],
              "ms"),
        check("CSV export of all rows: time to first byte", export["first_byte_ms"], "ms",
              at_most=300),
        check("CSV export of all rows: peak process memory", export["peak_rss_mib"], "MiB",
              at_most=150),
        check("CSV export: memory growth while streaming", export["growth_mib"], "MiB"),
        check("CSV export rate", export["rows_per_second"], "rows/s"),
        check("Dashboard, 50,000-entry user (median)", figures["dashboard"]["median_ms"], "ms",
              at_most=100),
        check("Dashboard, 50,000-entry user (p95)", figures["dashboard"]["p95_ms"], "ms"),
    ]
    return scenario_result(4, TITLE, checks, figures, seconds=seconds)


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 entries: a smoke run")
    parser.add_argument("--export-child", nargs=3, metavar=("URL", "TOKEN", "DATA_DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export_child:
        export_child(*args.export_child)
        return 0
    return run_alone("data_scale", run, parser.description, ["--quick"] if args.quick else [])


if __name__ == "__main__":
    sys.exit(main())
