"""Scenario 2: detailed analytics on, and the OTLP receiver healthy, refusing connections,
accepting and never answering, or answering 500 slowly.

    .venv/bin/python -m bench.telemetry_sink_faults [--quick]

One app per mode (SQLite in a temp dir, setup done, analytics opted in, production
sink defaults), each pointed at its own receiver (tests/support/otlp.py in a child
process; "refused" is a port nothing listens on). Two measurements:

1. Latency: a signed-in admin loads /clients (each load emits a page view). The
   modes take turns in rounds (order reversed every round) so drift on a shared
   machine hits them alike. Each round gives each mode's p99 and its ratio to the
   healthy sink's p99 in the same round; the figure is the median of the rounds'
   ratios (target ≤ 1.05), printed with their min and max. p50/p99 over all rounds
   are reported too.
2. Memory and drops: 1,000,000 track_event calls per mode in a request context, as
   fast as the loop goes (far faster than any sink drains: most are dropped).
   Resident memory before and after (target: growth ≤ 20 MB), and the drop counter
   read back from the app's own /metrics (it must equal the calls not queued).
"""

from __future__ import annotations

import contextlib
import gc
import re
import statistics
import sys
import tempfile
import time

from ._common import check, percentile, rss_mib, run_alone, scenario_result
from ._receiver import child_receiver

MODES = ("ok", "refused", "hang", "slow500")
PASSWORD = "bench-password-123"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DROPPED = re.compile(r'^tt_telemetry_events_total\{layer="analytics",result="dropped"\} (\S+)$', re.M)


def _app(url: str, data_dir: str):
    from flask_migrate import upgrade

    from app import create_app
    from app.services.setup import complete_setup

    app = create_app({"TESTING": False, "SCHEDULER_ENABLED": False, "DATA_DIR": data_dir,
                      "LOG_DIR": data_dir, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{data_dir}/db.sqlite",
                      "GRAFANA_OTLP_ENDPOINT": url, "METRICS_ENABLED": True})
    with app.app_context():
        upgrade()
        complete_setup(admin_username="admin", admin_password=PASSWORD, allow_analytics=True)
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError("bench admin could not sign in")
    return app, client


def _requests(client, count: int) -> tuple[list[float], int]:
    latencies, errors = [], 0
    for _ in range(count):
        start = time.perf_counter()
        response = client.get("/clients")
        latencies.append((time.perf_counter() - start) * 1000)
        errors += response.status_code >= 400
    return latencies, errors


def _flood(app, client, events: int) -> dict:
    """``events`` track_event calls as fast as possible; memory growth and /metrics drops."""
    from app.telemetry import track_event

    gc.collect()
    before = rss_mib()
    peak = before
    accepted = 0
    with app.test_request_context("/", headers={"User-Agent": "Mozilla/5.0 Firefox/128.0"}):
        for n in range(events):
            accepted += track_event(1, "timer.started", {"has_task": n % 2 == 0})
            if n % 50_000 == 0:
                peak = max(peak, rss_mib())
    gc.collect()
    after = rss_mib()
    body = client.get("/metrics").get_data(as_text=True)
    state = app.extensions["telemetry"]
    return {"attempted": events, "queued": accepted, "not_queued": events - accepted,
            "dropped_in_metrics": int(float(DROPPED.search(body).group(1))),
            "dropped_counter": int(state.metrics.value("analytics", "dropped")),
            "rss_before_mib": round(before, 1), "rss_after_mib": round(after, 1),
            "rss_peak_mib": round(max(peak, after), 1), "growth_mib": round(after - before, 1)}


def run(quick: bool = False) -> dict:
    from app.telemetry import client

    started = time.monotonic()
    rounds, per_round = (2, 50) if quick else (5, 500)
    flood = 50_000 if quick else 1_000_000
    figures: dict = {"rounds": rounds, "requests_per_round": per_round, "events_per_mode": flood}
    with contextlib.ExitStack() as stack:
        apps = {}
        for mode in MODES:
            receiver = stack.enter_context(child_receiver(mode, slow_seconds=1.5))
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"tt-bench-{mode}-"))
            apps[mode] = _app(receiver.url, tmp)
            stack.callback(client(apps[mode][0]).shutdown)
        latencies = {mode: [] for mode in MODES}
        round_p99 = {mode: [] for mode in MODES}
        errors = dict.fromkeys(MODES, 0)
        for mode in MODES:  # warm-up: templates, connections, first exports
            _requests(apps[mode][1], 30)
        for r in range(rounds):
            order = MODES if r % 2 == 0 else tuple(reversed(MODES))
            for mode in order:
                took, failed = _requests(apps[mode][1], per_round)
                latencies[mode] += took
                round_p99[mode].append(percentile(sorted(took), 0.99))
                errors[mode] += failed
        for mode in MODES:
            ordered = sorted(latencies[mode])
            figures[mode] = {"requests": len(ordered), "client_errors_or_5xx": errors[mode],
                             "p50_ms": round(statistics.median(ordered), 2),
                             "p99_ms": round(percentile(ordered, 0.99), 2)}
        for mode in MODES:
            figures[mode].update(_flood(*apps[mode], flood))
        for mode in MODES:
            state = apps[mode][0].extensions["telemetry"]
            figures[mode].update({f"analytics_{result}": int(state.metrics.value("analytics", result))
                                  for result in ("sent", "failed", "filtered")})
            t0 = time.monotonic()
            client(apps[mode][0]).shutdown()
            figures[mode]["shutdown_ms"] = round((time.monotonic() - t0) * 1000)
    checks = []
    for mode in MODES[1:]:
        ratios = [p99 / healthy for p99, healthy in zip(round_p99[mode], round_p99["ok"])]
        figures[mode]["p99_ratio_rounds"] = [round(r, 3) for r in ratios]
        checks.append(check(f"p99 {mode} / healthy (median of {rounds} rounds; min "
                            f"{min(ratios):.3g}, max {max(ratios):.3g})",
                            round(statistics.median(ratios), 3), "×", at_most=1.05))
    for mode in MODES:
        checks.append(check(f"memory growth, {flood:,} events, {mode}", figures[mode]["growth_mib"],
                            "MiB", at_most=20))
    checks.append(_drops_check(figures))
    if any(errors.values()):
        raise RuntimeError(f"requests failed while the sink was faulty: {errors}")
    return scenario_result(2, "Sink faults", checks, figures, seconds=round(time.monotonic() - started, 1))


def _drops_check(figures: dict):
    """Every call that was not queued shows in /metrics as dropped, in every mode."""
    mismatches = sum(abs(figures[m]["dropped_in_metrics"] - figures[m]["not_queued"]) for m in MODES)
    return check("drops missing from /metrics", mismatches, "events", at_most=0)


def main(argv: list[str] | None = None) -> int:
    return run_alone("telemetry_sink_faults", run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
