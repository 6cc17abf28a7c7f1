"""Scenario 1 of issue 7 (targets of issue 12): observability overhead, and the limit.

    .venv/bin/python -m bench.obs_overhead [--quick]

One PostgreSQL database and one data directory (migrated, set up with detailed
analytics opted in, seeded with 9 users, 3 clients, 12 projects and 400 finished
entries over the last 30 days) are served by two gunicorn instances of the same
code, both up for the whole run, 2 workers each (``gunicorn.conf.py``, gthread, 4
threads), differing only in their environment:

- **off**: ``METRICS_ENABLED=false`` (no /metrics, no request hooks for it),
  ``TELEMETRY_DISABLED=true`` (the kill switch: no sink, no page-view hook),
  ``LOG_LEVEL=WARNING`` (the per-request INFO access lines and event lines are
  not written; warnings still are), no ``SENTRY_DSN``;
- **on**: JSON logs at INFO to stdout and ``LOG_DIR/app.jsonl`` (one access line
  per request plus event lines), metrics on in multiprocess mode, the telemetry
  sink pointed at a real OTLP/HTTP receiver (``tests/support/otlp.py``, decoding
  every protobuf) with the stored opt-in choice, and ``SENTRY_DSN`` pointed at a
  local receiver (``SENTRY_TRACES_RATE=0``: errors only).

A third instance, **bare**, is the limit: ``bench/bare_app.py``, a Flask app with
no extensions answering each route below with the response "off" gave for it
(captured at start), under the same gunicorn configuration.

Six loads, each from ``wrk`` in its own process (8 connections):

1. ``dashboard``: ``GET /`` of the signed-in admin (session cookie);
2. ``api_list``: ``GET /api/v1/time-entries`` (admin's Bearer token, page of 50);
3. ``timer_start_stop``: ``POST /api/v1/timer/start`` then ``/stop``, alternating,
   one user and one connection per wrk thread (``bench/wrk/timer.lua``), 8 users;
4. ``api_me``: ``GET /api/v1/me`` (Bearer token);
5. ``readyz`` and 6. ``healthz``: the probes, as a load balancer sends them.

Every response outside 2xx is counted (``bench/wrk/report.lua``). Per load, after a
warm-up of each instance, rounds run the three instances back to back, the order
reversed every other round (off, on, bare; bare, on, off; ...) so that a drift of
the shared machine hits them alike. Each round gives its own ratios: throughput
on/off, worker CPU seconds per request on/off (from /proc: steadier than
throughput on a shared machine) and throughput off/bare (the limit). A figure is
the median of the rounds' ratios, printed with their min and max. ``quick=True``
runs one round of 1 s slices: a smoke run whose figures are not comparable with
the targets.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import check, postgres_database, run_alone, scenario_result  # noqa: E402
from bench._server import (  # noqa: E402
    WRK_DIR, app_context, create_api_token, gunicorn_server, http_exchange, http_request,
    prepare_database, run_wrk, sentry_receiver, sign_in,
)

NUMBER = 1
TITLE = "Observability overhead"
TARGET_RATIO = 0.95  # throughput on/off
TARGET_CPU_RATIO = 1.05  # worker CPU per request on/off
TARGET_LIMIT_RATIO = 0.5  # throughput off/bare on GET /api/v1/me
LIMIT_TARGET_LOADS = ("api_me",)
WORKERS = 2
CONNECTIONS = 8
TIMER_USERS = 8  # one per wrk thread for the timer load
USER_PASSWORD = "bench-user-password-123"
ENTRIES = 400
ROUNDS = 3
ORDERS = (("off", "on", "bare"), ("bare", "on", "off"))

OFF_ENV = {
    "METRICS_ENABLED": "false",
    "TELEMETRY_DISABLED": "true",
    "LOG_LEVEL": "WARNING",
}


def on_env(otlp_url: str, sentry_dsn: str) -> dict[str, str]:
    return {
        "METRICS_ENABLED": "true",
        "LOG_LEVEL": "INFO",
        "GRAFANA_OTLP_ENDPOINT": otlp_url,
        "SENTRY_DSN": sentry_dsn,
        "SENTRY_TRACES_RATE": "0",
    }


def seed(url: str, data_dir: Path) -> dict:
    """Users, clients, projects and finished entries through the services (a few seconds)."""
    from app.services import catalog, entries, users

    now = datetime.now().replace(microsecond=0)
    with app_context(url, data_dir):
        admin = users.find_by_username("admin")
        timer_users = [users.create_user(username=f"bench{i}", password=USER_PASSWORD, role="user")
                       for i in range(1, TIMER_USERS + 1)]
        clients = [catalog.create_client(name=f"Client {i}") for i in range(1, 4)]
        projects = [catalog.create_project(name=f"Project {i}", client_id=clients[i % 3].id,
                                           billable=i % 4 != 0) for i in range(1, 13)]
        for i in range(1, 13, 3):
            catalog.create_task(actor=None, project_id=projects[i].id, name=f"Task {i}")
        people = [admin, *timer_users]
        for i in range(ENTRIES):
            user = people[0] if i % 4 == 0 else people[1 + i % TIMER_USERS]
            started = now - timedelta(days=i % 30, hours=1 + i % 7, minutes=i % 50)
            entries.create_entry(user, project_id=projects[i % len(projects)].id,
                                 started_at=started, ended_at=started + timedelta(minutes=15 + i % 90),
                                 notes=f"work item {i}" if i % 3 else None)
        return {"users": len(people), "clients": len(clients), "projects": len(projects),
                "entries": ENTRIES, "project_id": projects[0].id,
                "timer_usernames": [u.username for u in timer_users]}


class Target:
    """One running instance and what the loads need to talk to it."""

    def __init__(self, name: str, server, cookie: str | None):
        self.name, self.server, self.cookie = name, server, cookie

    def worker_cpu(self) -> float:
        return sum(seconds for pid, seconds in self.server.cpu_seconds().items()
                   if pid != self.server.pid)


def loads(admin_token: str, timer_tokens: list[str], project_id: int) -> list[dict]:
    bearer = {"Authorization": f"Bearer {admin_token}"}
    return [
        {"name": "dashboard", "path": "/", "threads": 2, "cookie": True},
        {"name": "api_list", "path": "/api/v1/time-entries", "threads": 2, "headers": bearer},
        {"name": "timer_start_stop", "path": "/", "threads": CONNECTIONS,
         "lua": WRK_DIR / "timer.lua",
         "env": {"WRK_TOKENS": ",".join(timer_tokens), "WRK_PROJECT_ID": str(project_id)},
         "tokens": timer_tokens},
        {"name": "api_me", "path": "/api/v1/me", "threads": 2, "headers": bearer},
        {"name": "readyz", "path": "/readyz", "threads": 2},
        {"name": "healthz", "path": "/healthz", "threads": 2},
    ]


def canned_responses(base_url: str, cookie: str, admin_token: str, timer_token: str,
                     project_id: int) -> dict[str, dict]:
    """What the real app answers to each load's requests: the bare app serves the same."""
    bearer = {"Authorization": f"Bearer {admin_token}"}
    timer = {"Authorization": f"Bearer {timer_token}"}
    requests = [
        ("GET", "/", {"Cookie": cookie}, None),
        ("GET", "/api/v1/time-entries", bearer, None),
        ("GET", "/api/v1/me", bearer, None),
        ("GET", "/readyz", {}, None),
        ("GET", "/healthz", {}, None),
        ("POST", "/api/v1/timer/start", timer, {"project_id": project_id}),
        ("POST", "/api/v1/timer/stop", timer, None),
    ]
    canned = {}
    for method, path, headers, body in requests:
        status, response_headers, payload = http_exchange(base_url + path, method=method,
                                                          headers=headers, json_body=body)
        if status >= 300:
            raise RuntimeError(f"{method} {path} answered {status} while capturing responses")
        canned[f"{method} {path}"] = {"status": status,
                                      "content_type": response_headers.get("Content-Type", ""),
                                      "body": payload.decode("utf-8")}
    return canned


def one_slice(target: Target, load: dict, seconds: float) -> dict:
    headers = dict(load.get("headers", {}))
    if load.get("cookie") and target.cookie:
        headers["Cookie"] = target.cookie
    cpu_before = target.worker_cpu()
    result = run_wrk(target.server.base_url + load["path"], seconds, CONNECTIONS, load["threads"],
                     headers=headers, lua_script=load.get("lua"), env=load.get("env"))
    result["worker_cpu_seconds"] = round(target.worker_cpu() - cpu_before, 3)
    result["worker_cpu_ms_per_request"] = (round(1000 * result["worker_cpu_seconds"]
                                                 / result["requests"], 4)
                                           if result["requests"] else None)
    if load.get("tokens") and target.name != "bare":
        time.sleep(0.3)  # requests wrk left in flight finish first (a late start would stay)
        for token in load["tokens"]:  # a slice may end with timers running: stop them
            http_request(f"{target.server.base_url}/api/v1/timer/stop", method="POST",
                         headers={"Authorization": f"Bearer {token}"})
    return result


def summarise(slices: list[dict]) -> dict:
    requests = sum(s["requests"] for s in slices)
    seconds = sum(s["duration_seconds"] for s in slices)
    cpu = sum(s["worker_cpu_seconds"] for s in slices)
    return {
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(statistics.median(s["p50_ms"] for s in slices), 2),
        "p99_ms": round(statistics.median(s["p99_ms"] for s in slices), 2),
        "errors": sum(s["errors"] for s in slices),
        "non_2xx": sum(s["non_2xx"] for s in slices),
        "worker_cpu_ms_per_request": round(1000 * cpu / requests, 4) if requests else None,
        "wrk_cpu_share_max": max(s["wrk_cpu_share"] for s in slices),
        "slice_rps": [s["requests_per_second"] for s in slices],
    }


def spread(values: list[float]) -> dict:
    """Median, min and max of the rounds' ratios."""
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "rounds": [round(v, 4) for v in values]}


def measure(targets: dict[str, Target], load: dict, slice_seconds: float, rounds: int,
            warmup_seconds: float) -> dict:
    for target in targets.values():
        one_slice(target, load, warmup_seconds)
    slices: dict[str, list[dict]] = {name: [] for name in targets}
    throughput, cpu, limit = [], [], []
    for index in range(rounds):
        this_round = {name: one_slice(targets[name], load, slice_seconds)
                      for name in ORDERS[index % 2]}
        for name, result in this_round.items():
            slices[name].append(result)
        off, on, bare = this_round["off"], this_round["on"], this_round["bare"]
        throughput.append(on["requests_per_second"] / off["requests_per_second"])
        cpu.append(on["worker_cpu_ms_per_request"] / off["worker_cpu_ms_per_request"])
        limit.append(off["requests_per_second"] / bare["requests_per_second"])
    return {**{name: summarise(found) for name, found in slices.items()},
            "throughput_ratio": spread(throughput), "cpu_per_request_ratio": spread(cpu),
            "limit_ratio": spread(limit)}


def evidence_on(target: Target, otlp, sentry) -> dict:
    """What shows that "on" really was on: log lines, the scrape, received telemetry."""
    lines = 0
    log_file = target.server.log_dir / "app.jsonl"
    if log_file.exists():
        with open(log_file, "rb") as handle:
            lines = sum(1 for _ in handle)
    status, body = http_request(target.server.base_url + "/metrics")
    series = sum(1 for line in body.decode().splitlines()
                 if line.startswith("tt_") and status == 200)
    return {"app_jsonl_lines": lines, "metrics_status": status, "metrics_tt_samples": series,
            "otlp_requests": otlp.request_count, "otlp_records": otlp.record_count,
            "sentry_envelopes": len(sentry.bodies)}


def _ratio_label(spread_of: dict) -> str:
    return f"(min {spread_of['min']:g}, max {spread_of['max']:g})"


def run(quick: bool = False) -> dict:
    from tests.support.otlp import start_receiver

    started = time.perf_counter()
    slice_seconds, rounds, warmup = (1, 1, 1) if quick else (4, ROUNDS, 2)
    figures: dict = {"workers": WORKERS, "connections": CONNECTIONS, "slice_seconds": slice_seconds,
                     "rounds": rounds, "orders": [list(o) for o in ORDERS], "off_env": OFF_ENV}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_database("tt_bench_obs"))
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tt-obs-")))
        otlp = start_receiver("ok", keep_records=False)
        stack.callback(otlp.stop)
        sentry = stack.enter_context(sentry_receiver())
        prepare_database(url, data_dir, analytics=True)
        figures["data"] = data = seed(url, data_dir)
        admin_token = create_api_token(url, data_dir, "admin")
        timer_tokens = [create_api_token(url, data_dir, name) for name in data["timer_usernames"]]
        env_on = on_env(otlp.url, sentry.dsn)
        figures["on_env"] = {k: v for k, v in env_on.items() if k not in ("SENTRY_DSN",)}
        targets = {}
        for name, env in (("off", OFF_ENV), ("on", env_on)):
            server = stack.enter_context(gunicorn_server(url, data_dir, workers=WORKERS, env=env,
                                                         name=name, prepare=False))
            targets[name] = Target(name, server, sign_in(server.base_url))
        canned = canned_responses(targets["off"].server.base_url, targets["off"].cookie,
                                  admin_token, timer_tokens[0], data["project_id"])
        canned_path = data_dir / "bare-responses.json"
        canned_path.write_text(json.dumps(canned))
        bare = stack.enter_context(gunicorn_server(
            url, data_dir, workers=WORKERS, env={**OFF_ENV, "BENCH_BARE_RESPONSES": str(canned_path)},
            name="bare", prepare=False, app_uri="bench.bare_app:create_app()"))
        targets["bare"] = Target("bare", bare, None)
        figures["setup_seconds"] = round(time.perf_counter() - started, 1)
        figures["loads"] = {}
        for load in loads(admin_token, timer_tokens, data["project_id"]):
            figures["loads"][load["name"]] = measure(targets, load, slice_seconds, rounds, warmup)
        time.sleep(1.5)  # let the last telemetry batch reach the receiver
        figures["on_evidence"] = evidence_on(targets["on"], otlp, sentry)

    per_load = figures["loads"]
    checks = []
    for name, m in per_load.items():
        for config in ("off", "on"):
            checks.append(check(f"{name}, {config}: requests/s", m[config]["requests_per_second"],
                                "req/s"))
            checks.append(check(f"{name}, {config}: p99", m[config]["p99_ms"], "ms"))
        checks.append(check(f"{name}, bare Flask: requests/s", m["bare"]["requests_per_second"],
                            "req/s"))
        t, c, lim = m["throughput_ratio"], m["cpu_per_request_ratio"], m["limit_ratio"]
        checks.append(check(f"{name}: throughput on/off {_ratio_label(t)}", t["median"], "×",
                            at_least=TARGET_RATIO))
        checks.append(check(f"{name}: worker CPU per request on/off {_ratio_label(c)}",
                            c["median"], "×", at_most=TARGET_CPU_RATIO))
        checks.append(check(f"{name}: throughput off/bare Flask {_ratio_label(lim)}",
                            lim["median"], "×",
                            at_least=TARGET_LIMIT_RATIO if name in LIMIT_TARGET_LOADS else None))
    ratios = [m["throughput_ratio"]["median"] for m in per_load.values()]
    overall = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    figures["overall_throughput_ratio"] = round(overall, 4)
    checks.append(check("overall throughput on/off (geometric mean)", round(overall, 4), "×",
                        at_least=TARGET_RATIO))
    bad = sum(m[c]["errors"] + m[c]["non_2xx"] for m in per_load.values() for c in ("off", "on"))
    checks.append(check("failed requests (socket errors + non-2xx)", bad, "requests", at_most=0))
    return scenario_result(NUMBER, TITLE, checks, figures,
                           seconds=round(time.perf_counter() - started, 1))


def main(argv: list[str] | None = None) -> int:
    return run_alone("obs_overhead", run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
