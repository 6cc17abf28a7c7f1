"""Scenario 5 of issue 7, scrape cost: ``/metrics`` with 3 workers and 200 label series.

    .venv/bin/python -m bench.scrape_cost [--quick]

The real app under gunicorn (``gunicorn.conf.py``, 3 workers, prometheus-client's
multiprocess mode, a fresh PostgreSQL database, setup done, telemetry off) first
gets traffic that creates label series: every URL rule of the app (ids filled in)
is requested with GET, HEAD, OPTIONS, POST and DELETE, signed out, each three times
from 8 threads, so that every worker's file holds most series. That yields
``tt_requests_total{method,endpoint,http_status}`` and
``tt_request_latency_seconds{endpoint}`` label sets; the figure counted is the
number of distinct label sets of ``tt_*`` metrics (a histogram's buckets, sum and
count are one label set), and the sample lines are reported too.

Then ``/metrics`` is scraped sequentially over one keep-alive connection on
127.0.0.1 (as Prometheus does), and the client-side wall time from sending the
request to having read the whole body is taken for each scrape: median and p99.
The check is p99 ≤ 20 ms (the median is reported alongside). ``quick=True``
scrapes 60 times instead of 400: a smoke run.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import check, percentile, postgres_database, run_alone, scenario_result  # noqa: E402
from bench._server import gunicorn_server, http_request  # noqa: E402

NUMBER = 5
TITLE = "Scrape cost"
WORKERS = 3
TARGET_SERIES = 200
TARGET_MS = 20.0
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "DELETE")
REPEATS = 3  # each request several times, so every worker's file holds most series
ENV = {"METRICS_ENABLED": "true", "TELEMETRY_DISABLED": "true"}  # logs at the default INFO


def url_paths(base_url: str) -> list[str]:
    """Every URL rule of the app with its converters filled in, read from the running app."""
    from app import create_app

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app({"TESTING": False, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                          "DATA_DIR": scratch, "LOG_DIR": scratch, "LOG_LEVEL": "WARNING",
                          "METRICS_ENABLED": False, "TELEMETRY_DISABLED": True,
                          "SCHEDULER_ENABLED": False, "SENTRY_DSN": None})
        rules = sorted({rule.rule for rule in app.url_map.iter_rules()})
    paths = []
    for rule in rules:
        path = re.sub(r"<int:[^>]+>", "1", rule)
        path = re.sub(r"<path:[^>]+>", "css/app.css", path)
        paths.append(re.sub(r"<[^>]+>", "x", path))
    return paths + ["/no-such-page", "/wp-login.php"]


def drive_traffic(base_url: str, paths: list[str]) -> dict:
    jobs = [(method, path) for path in paths for method in METHODS] * REPEATS
    statuses: dict[int, int] = {}

    def send(job):
        method, path = job
        status, _ = http_request(base_url + path, method=method, timeout=30)
        return status

    with ThreadPoolExecutor(max_workers=8) as pool:
        for status in pool.map(send, jobs):
            statuses[status] = statuses.get(status, 0) + 1
    return {"requests": len(jobs), "statuses": dict(sorted(statuses.items()))}


def count_series(exposition: str) -> dict:
    """Distinct label sets of tt_* metrics (histogram buckets folded), and tt_* sample lines."""
    from prometheus_client.parser import text_string_to_metric_families

    label_sets, samples = set(), 0
    per_family: dict[str, int] = {}
    for family in text_string_to_metric_families(exposition):
        if not family.name.startswith("tt_"):
            continue
        before = len(label_sets)
        for sample in family.samples:
            samples += 1
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            label_sets.add((family.name, labels))
        per_family[family.name] = len(label_sets) - before
    return {"label_sets": len(label_sets), "samples": samples, "per_family": per_family,
            "bytes": len(exposition.encode())}


def time_scrapes(port: int, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    timings = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read()
            timings.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or not body:
                raise RuntimeError(f"/metrics answered {response.status}")
    finally:
        connection.close()
    return timings


def run(quick: bool = False) -> dict:
    started = time.perf_counter()
    scrapes = 60 if quick else 400
    figures: dict = {"workers": WORKERS, "scrapes": scrapes, "env": ENV}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_database("tt_bench_scrape"))
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="tt-scrape-"))
        server = stack.enter_context(gunicorn_server(url, data_dir, workers=WORKERS, env=ENV,
                                                     name="scrape", analytics=False))
        figures["traffic"] = drive_traffic(server.base_url, url_paths(server.base_url))
        status, body = http_request(server.base_url + "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        figures["series"] = count_series(body.decode())
        # gunicorn.conf.py keeps the files in a directory of the master's own below this one.
        figures["multiprocess_files"] = sorted(p.name for p in server.multiproc_dir.glob("*/*.db"))
        time_scrapes(server.port, 10)  # warm-up: imports and caches of every worker
        timings = time_scrapes(server.port, scrapes)
    ordered = sorted(timings)
    median, p99 = statistics.median(ordered), percentile(ordered, 0.99)
    figures["scrape_ms"] = {"median": round(median, 2), "p90": round(percentile(ordered, 0.9), 2),
                            "p99": round(p99, 2), "max": round(ordered[-1], 2)}
    checks = [
        check("tt_* label sets in the exposition", figures["series"]["label_sets"], "series",
              at_least=TARGET_SERIES),
        check("scrape wall time, median", round(median, 2), "ms", at_most=TARGET_MS),
        check("scrape wall time, p99", round(p99, 2), "ms", at_most=TARGET_MS),
    ]
    return scenario_result(NUMBER, TITLE, checks, figures,
                           seconds=round(time.perf_counter() - started, 1))


def main(argv: list[str] | None = None) -> int:
    return run_alone("scrape_cost", run, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
