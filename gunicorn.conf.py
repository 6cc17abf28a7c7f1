"""gunicorn settings for `make run` and the container; values come from app.config."""

import hashlib
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


def _require_writable_data_dir(path: str) -> None:
    """Stop with one clear line when DATA_DIR cannot be written.

    The database, the secret key and the metrics files live there; without this a
    read-only folder surfaced as a traceback from deep inside a worker's start.
    SystemExit passes through gunicorn's config loader (it catches Exception).
    """
    probe = Path(path) / ".write-test"
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        sys.stderr.write(
            f"TimeTracker cannot start: DATA_DIR {path} is not writable ({exc.strerror}). "
            "Point DATA_DIR at a writable folder.\n")
        sys.stderr.flush()
        raise SystemExit(1) from None


_require_writable_data_dir(_config["DATA_DIR"])

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


def _control_socket_path(data_dir: str) -> str | None:
    """This instance's own control socket (for ``gunicornc``), or None for none.

    gunicorn's default, ``$XDG_RUNTIME_DIR/gunicorn.ctl`` or ``$HOME/.gunicorn/gunicorn.ctl``,
    is one path for every instance a user runs on a host (tests, bench, a second
    checkout): the second instance takes it over and stopping either deletes it.
    Here the path is per DATA_DIR (one DATA_DIR is one installation): in the runtime
    directory (XDG_RUNTIME_DIR, as gunicorn and the container use) named after a hash
    of DATA_DIR, else inside DATA_DIR. A path too long for a Unix socket (107 bytes)
    disables the socket rather than failing the start.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
        path = os.path.join(runtime, f"timetracker-{digest}.ctl")
    else:
        path = os.path.join(data_dir, "gunicorn.ctl")
    return path if len(path.encode()) < 100 else None


_control_socket = _control_socket_path(_config["DATA_DIR"])
if _control_socket is None:
    control_socket_disable = True
else:
    control_socket = _control_socket
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


def post_worker_init(worker):
    """One line per worker once it has loaded the app and is about to serve.

    gunicorn's "Booting worker" comes before the app is imported; this line says the
    worker answers now (tests wait for one per worker before they measure anything).
    """
    worker.log.info("Worker ready (pid: %s)", worker.pid)


def on_exit(server):
    """The master stops: its directory goes with it (nobody else reads it)."""
    shutil.rmtree(PROMETHEUS_MULTIPROC_DIR, ignore_errors=True)


def child_exit(server, worker):
    """A worker died: drop its live gauges (counters and histograms keep counting)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, PROMETHEUS_MULTIPROC_DIR)
