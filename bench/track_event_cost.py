"""Scenario 3: what ``track_event`` costs the request that calls it.

    .venv/bin/python -m bench.track_event_cost [--quick]

An app with detailed analytics opted in and a healthy OTLP receiver in a child
process, production defaults for the sink (batch delay, queue size). Inside a
request context (a browser User-Agent, a user id), events are tracked in bursts of
500, each call timed on its own with ``perf_counter_ns``; after each burst the sink
is flushed, outside the timing, so every timed call takes the accepted path (a full
queue would take the cheaper drop path and flatter the figure). The background
work per event (the consumer thread: record building, protobuf encoding, HTTP, the outbox) is
reported as the process CPU time beyond the timed calls, divided by the events.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from ._common import check, percentile, run_alone, scenario_result
from ._receiver import child_receiver

BURST = 500
TARGET_MEDIAN_US = 20.0


def _app(receiver_url: str, data_dir: str):
    from flask_migrate import upgrade

    from app import create_app
    from app.services.setup import complete_setup

    app = create_app({"TESTING": False, "SCHEDULER_ENABLED": False, "DATA_DIR": data_dir,
                      "LOG_DIR": data_dir, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{data_dir}/db.sqlite",
                      "GRAFANA_OTLP_ENDPOINT": receiver_url})
    with app.app_context():
        upgrade()
        complete_setup(admin_username="admin", admin_password="bench-password-123",
                       allow_analytics=True)
    return app


def measure(app, bursts: int) -> dict:
    from app.telemetry import client, track_event

    client(app).flush(10.0)  # setup's own events out of the way
    timings: list[int] = []
    accepted = 0
    cpu_start = time.process_time_ns()
    with app.test_request_context("/timer/start", method="POST",
                                  headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}):
        for burst in range(bursts):
            for n in range(BURST):
                start = time.perf_counter_ns()
                queued = track_event(42, "timer.started", {"has_task": n % 2 == 0})
                timings.append(time.perf_counter_ns() - start)
                accepted += queued
            client(app).flush(10.0)
    cpu_ns = time.process_time_ns() - cpu_start
    timings.sort()
    events = len(timings)
    return {"events": events, "accepted": accepted,
            "median_us": round(statistics.median(timings) / 1000, 2),
            "p99_us": round(percentile(timings, 0.99) / 1000, 2),
            "mean_us": round(sum(timings) / events / 1000, 2),
            "background_cpu_us_per_event": round(max(0, cpu_ns - sum(timings)) / events / 1000, 1)}


def run(quick: bool = False) -> dict:
    from app.telemetry import client

    started = time.monotonic()
    with child_receiver("ok") as receiver, tempfile.TemporaryDirectory(prefix="tt-bench-") as tmp:
        app = _app(receiver.url, tmp)
        try:
            figures = measure(app, bursts=4 if quick else 40)
            state = app.extensions["telemetry"]
            figures["sent"] = int(state.metrics.value("analytics", "sent"))
            figures["dropped"] = int(state.metrics.value("analytics", "dropped"))
        finally:
            client(app).shutdown()
    figures["receiver_records"] = receiver.record_count
    checks = [
        check("track_event median", figures["median_us"], "µs", at_most=TARGET_MEDIAN_US),
        check("track_event p99", figures["p99_us"], "µs"),
        check("background CPU per event", figures["background_cpu_us_per_event"], "µs"),
    ]
    if figures["accepted"] != figures["events"]:
        raise RuntimeError(f"only {figures['accepted']} of {figures['events']} events were queued")
    return scenario_result(3, "Per-event cost of track_event", checks, figures,
                           seconds=round(time.monotonic() - started, 1))


def main(argv: list[str] | None = None) -> int:
    return run_alone("track_event_cost", run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
