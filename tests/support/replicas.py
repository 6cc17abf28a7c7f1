"""Two replicas of the app, as operators run them: two real gunicorn instances, each with
its own DATA_DIR, logs and metrics directory, on one PostgreSQL database.

Nothing on disk is shared between them; whatever they agree on must come from the
database. ``two_replicas`` completes setup once (``flask setup`` in A's environment),
starts both, and yields what a test needs to talk to each.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .gunicorn import gunicorn_env, run_flask, run_setup, serving

ADMIN_PASSWORD = "gunicorn-admin-password"  # what run_setup gives the admin


@dataclass
class Replica:
    name: str
    url: str
    env: dict[str, str]
    folder: Path

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DATA_DIR"])

    def api(self, method: str, path: str, token: str, body: dict | None = None,
            timeout: float = 10) -> tuple[int, object]:
        """One JSON call to this replica's /api/v1 with a bearer token."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/v1{path}", data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def create_token(replica: Replica) -> str:
    """A personal API token for ``admin`` (``flask create-token``, in the replica's env)."""
    return run_flask(replica.env, "create-token", "admin", "--name", replica.name).stdout.strip()


@contextlib.contextmanager
def two_replicas(folder: Path, database_url: str, *, workers: int = 1,
                 setup_env: dict[str, str] | None = None, setup_args: tuple[str, ...] = (),
                 **settings: str) -> Iterator[tuple[Replica, Replica]]:
    """Replicas A and B on ``database_url``; ``settings`` go to both environments,
    ``setup_env`` and ``setup_args`` only to the ``flask setup`` run (e.g. to keep
    telemetry off there, or ``--analytics``)."""
    replicas = []
    for name in ("a", "b"):
        own = folder / f"replica-{name}"
        own.mkdir(parents=True)
        env = gunicorn_env(own, database_url, workers=workers,
                           XDG_RUNTIME_DIR=str(own / "run"), **settings)
        replicas.append(Replica(name, "", env, own))
    a, b = replicas
    run_setup({**a.env, **(setup_env or {})}, *setup_args)
    with contextlib.ExitStack() as stack:
        # Both boot at once (a boot is seconds of imports); each is stopped on leaving.
        managers = [serving(replica.env, replica.folder) for replica in replicas]
        with ThreadPoolExecutor(max_workers=2) as pool:
            starts = [pool.submit(manager.__enter__) for manager in managers]
        for manager, start in zip(managers, starts):
            if start.exception() is None:
                stack.push(manager)
        for replica, start in zip(replicas, starts):
            replica.url = start.result()  # raises the failed start's error, after cleanup is set
        yield a, b
