"""Streamed CSV export of 100,000 time entries: rows per second and peak memory.

    .venv/bin/python bench/csv_export.py [--entries 100000] [--database-url URL]

Builds a fresh app (SQLite in a temp dir unless --database-url names an empty,
migratable database), inserts the entries in bulk, then downloads
/api/v1/time-entries/export.csv through the WSGI test client, reading the
streamed body chunk by chunk without keeping it. Three passes:

1. timing, no tracing: rows/s, bytes and the time to the first byte of the body;
2. tracemalloc peak while streaming all entries;
3. the same peak for a tenth of them (a date filter): if the export is
   streamed, the two peaks are about the same; if it were built in memory,
   the first would be ~10x the second.

Writes the figures into bench/results/csv_export.json, one entry per database.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import TimeEntry  # noqa: E402
from app.services import api_tokens, catalog  # noqa: E402
from app.services.setup import complete_setup  # noqa: E402

FIRST_DAY = datetime(2025, 1, 1, tzinfo=timezone.utc)


def build(url: str | None, data_dir: str, entries: int):
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{data_dir}/bench.db",
        "DATA_DIR": data_dir, "LOG_DIR": data_dir, "TESTING": True,
    })
    import logging

    logging.getLogger("app.access").setLevel(logging.WARNING)  # no log line per request
    with app.app_context():
        upgrade()
        admin = complete_setup(admin_username="admin", admin_password="bench-password-123",
                               allow_analytics=False)
        client = catalog.create_client(name="Acme, Inc.", default_hourly_rate="90")
        project = catalog.create_project(name="Website", client_id=client.id)
        task = catalog.create_task(actor=None, project_id=project.id, name="Build")
        token = api_tokens.create_token(admin, "bench").secret
        batch = []
        for n in range(entries):
            start = FIRST_DAY + timedelta(minutes=17 * n)
            batch.append({
                "user_id": admin.id, "project_id": project.id,
                "task_id": task.id if n % 2 else None,
                "started_at": start, "ended_at": start + timedelta(minutes=15),
                "duration_seconds": 900,
                "notes": f'entry {n}: "quoted", with commas' if n % 3 else "=1+1",
                "billable": n % 4 != 0, "source": "manual",
                "created_at": start, "updated_at": start,
            })
            if len(batch) == 5000:
                db.session.execute(insert(TimeEntry), batch)
                batch.clear()
        if batch:
            db.session.execute(insert(TimeEntry), batch)
        db.session.commit()
    return app, token


def download(app, token: str, query: str = "") -> tuple[int, int, float]:
    """Stream the export; return (bytes, data rows, seconds to the first chunk) without
    keeping the body."""
    client = app.test_client()
    started = time.perf_counter()
    response = client.get(f"/api/v1/time-entries/export.csv{query}",
                          headers={"Authorization": f"Bearer {token}"}, buffered=False)
    assert response.status_code == 200, response.status_code
    size = lines = 0
    first_byte = None
    for chunk in response.response:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\r\n") if isinstance(chunk, bytes) else chunk.count("\r\n")
    response.close()
    return size, lines - 1, first_byte  # lines - 1: the header row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        app, token = build(args.database_url, tmp, args.entries)
        setup_s = time.perf_counter() - started

        started = time.perf_counter()
        size, rows, first_byte = download(app, token)
        elapsed = time.perf_counter() - started
        assert rows >= args.entries, rows  # notes with newlines would add lines; there are none

        tracemalloc.start()
        download(app, token)
        _, peak_all = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        tenth_end = (FIRST_DAY + timedelta(minutes=17 * args.entries // 10)).date()
        _, tenth_rows, _ = download(app, token, f"?end={tenth_end.isoformat()}")
        _, peak_tenth = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        with app.app_context():
            db.engine.dispose()

    result = {
        "database": "postgresql" if args.database_url else "sqlite",
        "entries": rows, "bytes": size, "seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed), "first_byte_ms": round(first_byte * 1000, 1),
        "peak_traced_mib_all": round(peak_all / 2**20, 2),
        "entries_tenth": tenth_rows,
        "peak_traced_mib_tenth": round(peak_tenth / 2**20, 2),
        "setup_seconds": round(setup_s, 1),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "csv_export.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous[result["database"]] = result  # one entry per database
    out.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
