"""gunicorn settings for `make run` and the container; values come from app.config."""

import importlib.util
import os
import re
import shutil
import socket
import sys
from pathlib import Path


def _load_app_config():
    """``app/config.py`` loaded on its own, without importing the ``app`` package.

    The package imports modules that import prometheus_client, and that library
    picks single- or multi-process mode at import time: nothing of the app may be
    imported in the master before PROMETHEUS_MULTIPROC_DIR is set below.
    """
    path = Path(__file__).resolve().parent / "app" / "config.py"
    spec = importlib.util.spec_from_file_location("_timetracker_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_config = _load_app_config().from_environ()

bind = f"{_config['HOST']}:{_config['PORT']}"
workers = _config["WEB_CONCURRENCY"]
worker_class = "gthread"
threads = 4
timeout = 60
graceful_timeout = 20
# gunicorn's own access log is off: the app writes one structured line per request.
accesslog = None
errorlog = "-"
wsgi_app = "app:create_app()"
# No max_requests: every recycled worker leaves its counter files behind in the
# multiprocess directory (they must stay, or counters would drop), so scrapes get
# slower the more workers have ever lived. See docs/observability.md.

# Prometheus multiprocess mode: every worker writes its metrics to mmap files in
# this directory and /metrics sums them, whichever worker answers. The variable
# must be in the environment before any worker imports prometheus_client (the
# library picks its mode at import time), so it is set here, in the master,
# before the workers are forked.
#
# Each gunicorn master (each replica) gets a directory of its own, named after its
# host and pid, below PROMETHEUS_MULTIPROC_DIR if set, else below the per-user runtime
# directory (XDG_RUNTIME_DIR, else the temp dir), never below DATA_DIR: replicas that
# share a volume must not sum, or wipe, each other's files (docs/deployment.md).
PROMETHEUS_MULTIPROC_PARENT = Path(
    _config["PROMETHEUS_MULTIPROC_DIR"] or Path(_config["RUNTIME_DIR"]) / "timetracker-prometheus"
)
PROMETHEUS_MULTIPROC_DIR = str(
    PROMETHEUS_MULTIPROC_PARENT / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', socket.gethostname())}-{os.getpid()}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
if "prometheus_client" in sys.modules:  # would have chosen single-process mode already
    raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")


def on_starting(server):
    """Once per master start (not on reload): begin with an empty metrics directory.

    Only this master's own directory is emptied: files there can only be left by a
    previous run with the same host name and pid (a restarted container), whose
    processes are gone; summing them would add the old run's counters to this one's.
    """
    PROMETHEUS_MULTIPROC_PARENT.mkdir(parents=True, exist_ok=True)
    directory = Path(PROMETHEUS_MULTIPROC_DIR)
    directory.mkdir(mode=0o700, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def on_exit(server):
    """The master stops: its directory goes with it (nobody else reads it)."""
    shutil.rmtree(PROMETHEUS_MULTIPROC_DIR, ignore_errors=True)


def child_exit(server, worker):
    """A worker died: drop its live gauges (counters and histograms keep counting)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, PROMETHEUS_MULTIPROC_DIR)
