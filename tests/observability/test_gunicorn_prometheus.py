"""The real thing: gunicorn with 3 workers in multiprocess mode, scraped by a real Prometheus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_or_skip
from tests.observability.conftest import read_log_lines
from tests.support.gunicorn import ROOT, free_port, gunicorn_env, run_setup, serving, stop_process
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow

TOKEN = "scrape-token-for-tests"
WORKERS = 3
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

# A counter file as a previous run would leave it: 1000 /healthz requests, in the
# PROMETHEUS_MULTIPROC_DIR the operator gave. Each master reads only its own directory
# below it (emptied at start), or the sums below are off by 1000.
_STALE_RUN = textwrap.dedent("""
    from prometheus_client import Counter
    c = Counter("tt_requests", "stale", ["method", "endpoint", "http_status"])
    c.labels("GET", "/healthz", "200").inc(1000)
""")


def get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def healthz_total(base_url: str) -> float:
    status, body = get(f"{base_url}/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    families = list(text_string_to_metric_families(body.decode()))
    assert not [s for f in families for s in f.samples if s.labels.get("endpoint") == "/metrics"]
    return sum(sample.value for family in families for sample in family.samples
               if sample.name == "tt_requests_total" and sample.labels["endpoint"] == "/healthz")


@pytest.fixture(scope="module")
def gunicorn_server(sqlite_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gunicorn")
    database = folder / "timetracker.db"
    shutil.copy(sqlite_template, database)
    multiproc_dir = folder / "prometheus-multiproc"
    multiproc_dir.mkdir()
    env = gunicorn_env(folder, database, workers=WORKERS,
                       PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir), METRICS_TOKEN=TOKEN)
    subprocess.run([sys.executable, "-c", _STALE_RUN], env=env, cwd=ROOT, check=True)
    assert list(multiproc_dir.glob("counter_*.db"))
    run_setup(env)
    with serving(env, folder) as base_url:
        yield {"base_url": base_url, "port": int(base_url.rsplit(":", 1)[1]),
               "log_dir": folder / "logs",
               "folder": folder}


def test_counters_sum_over_all_workers_whichever_worker_answers_the_scrape(gunicorn_server):
    base_url = gunicorn_server["base_url"]
    # Every worker is serving (serving() waited for each), but which one the kernel hands a
    # connection to is its choice: burst again, up to a deadline, until the log shows the
    # requests spread over two workers or more; the sums must hold whatever the spread.
    def healthz_access_lines() -> list[dict]:
        return [line for line in read_log_lines(gunicorn_server["log_dir"])
                if line["logger"] == "app.access" and line["route"] == "/healthz"]

    sent = []

    def burst_reaches_two_workers() -> bool:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda _: get(f"{base_url}/healthz")[0], range(300)))
        assert statuses == [200] * 300
        sent.append(len(statuses))
        return len({line["pid"] for line in healthz_access_lines()}) >= 2

    wait_for(burst_reaches_two_workers, timeout=30, interval=0)  # the spread is asserted below
    requests = sum(sent)

    totals = [healthz_total(base_url) for _ in range(12)]
    assert totals == [requests] * 12

    # The same requests, seen in the shared log file: every line parses, one access
    # line per request, written by more than one worker (each writes its lines in
    # batches, LOG_FLUSH_SECONDS apart).
    wait_for(lambda: len(healthz_access_lines()) >= requests, timeout=10, interval=0.1)
    access = healthz_access_lines()
    assert len(access) == requests
    assert len({line["pid"] for line in access}) >= 2, "one worker answered everything"
    assert get(f"{base_url}/metrics")[0] == 401


def test_a_real_prometheus_scrapes_the_app_and_serves_the_counts_back(gunicorn_server, tmp_path):
    require_or_skip(Path(PROMETHEUS).exists(), "prometheus not installed (make test installs it)")
    base_url = gunicorn_server["base_url"]
    for _ in range(25):
        assert get(f"{base_url}/healthz")[0] == 200
    expected = healthz_total(base_url)
    assert expected >= 25

    config = tmp_path / "prometheus.yml"
    config.write_text(textwrap.dedent(f"""
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: timetracker
            metrics_path: /metrics
            authorization:
              type: Bearer
              credentials: {TOKEN}
            static_configs:
              - targets: ["127.0.0.1:{gunicorn_server['port']}"]
    """))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        query = urllib.parse.quote('sum(tt_requests_total{job="timetracker",endpoint="/healthz"})')
        url = f"http://127.0.0.1:{port}/api/v1/query?query={query}"
        def scraped_total() -> float | None:
            try:
                status, body = get(url, timeout=2)
            except OSError:
                return None
            result = json.loads(body)["data"]["result"] if status == 200 else []
            return float(result[0]["value"][1]) if result else None

        # The first scrape takes ~6 s on these machines.
        wait_for(lambda: scraped_total() == expected, timeout=30, interval=0.5)
        value = scraped_total()
        assert value == expected, (value, expected, (tmp_path / "prometheus.log").read_text()[-2000:])

        up = urllib.parse.quote('up{job="timetracker"}')
        status, body = get(f"http://127.0.0.1:{port}/api/v1/query?query={up}")
        assert json.loads(body)["data"]["result"][0]["value"][1] == "1"
        info = urllib.parse.quote("tt_app_info")
        status, body = get(f"http://127.0.0.1:{port}/api/v1/query?query={info}")
        assert json.loads(body)["data"]["result"][0]["metric"]["version"]
    finally:
        stop_process(process, timeout=20)
        log.close()


def _own_directories(parent: Path) -> list[Path]:
    return sorted(path for path in parent.iterdir() if path.is_dir())


def test_replicas_sharing_a_volume_neither_wipe_nor_sum_each_others_counters(sqlite_template,
                                                                             tmp_path):
    """Issue 16: a replica starting on a shared metrics volume wiped the other's counters
    (a request total fell from 42 to 1). A sets PROMETHEUS_MULTIPROC_DIR to the shared
    parent; B leaves it unset and gets the default below XDG_RUNTIME_DIR, the same place."""
    shared = tmp_path / "shared-volume"
    parent = shared / "timetracker-prometheus"
    envs = []
    for name, settings in (("a", {"PROMETHEUS_MULTIPROC_DIR": str(parent)}),
                           ("b", {"XDG_RUNTIME_DIR": str(shared)})):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(sqlite_template, folder / "timetracker.db")
        envs.append((folder, gunicorn_env(folder, folder / "timetracker.db", workers=2,
                                          METRICS_TOKEN=TOKEN, **settings)))
    (folder_a, env_a), (folder_b, env_b) = envs
    with serving(env_a, folder_a) as replica_a:
        for _ in range(42):
            assert get(f"{replica_a}/healthz")[0] == 200
        assert healthz_total(replica_a) == 42
        [dir_a] = _own_directories(parent)
        with serving(env_b, folder_b) as replica_b:
            for _ in range(5):
                assert get(f"{replica_b}/healthz")[0] == 200
            assert healthz_total(replica_a) == 42  # B's start left A's files alone
            assert healthz_total(replica_b) == 5   # and B does not sum A's
            dirs = _own_directories(parent)
            assert len(dirs) == 2 and dir_a in dirs
            assert all(path.name.rsplit("-", 1)[1].isdigit() for path in dirs)
        assert _own_directories(parent) == [dir_a]  # B removed its own directory at exit
        assert healthz_total(replica_a) == 42
    assert _own_directories(parent) == []
    for folder in (folder_a, folder_b):
        assert not list((folder / "data").rglob("*.db")), "metrics files in DATA_DIR"
