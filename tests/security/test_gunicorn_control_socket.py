"""Item 13: two instances on one host never share gunicorn's control socket: each has its
own (per DATA_DIR), and stopping one leaves the other's in place. Also the test harness's
readiness rule: serving() returns once every worker is ready, on a port gunicorn picked."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.gunicorn import gunicorn_env, run_setup, serving


@pytest.fixture
def short_dirs():
    """Unix socket paths are limited to 107 bytes: pytest's tmp_path is too long."""
    made = [Path(tempfile.mkdtemp(prefix="tt-ctl-", dir="/tmp")) for _ in range(3)]
    yield made
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def test_two_instances_have_their_own_control_sockets(short_dirs, sqlite_template):
    home, first, second = short_dirs
    envs = []
    for folder in (first, second):
        shutil.copy(sqlite_template, folder / "tt.db")
        env = gunicorn_env(folder, folder / "tt.db", workers=2, HOME=str(home))
        env.pop("XDG_RUNTIME_DIR", None)
        run_setup(env)
        envs.append(env)
    first_socket = first / "data" / "gunicorn.ctl"
    second_socket = second / "data" / "gunicorn.ctl"
    with serving(envs[1], second) as second_url:
        with serving(envs[0], first) as first_url:
            assert first_socket.is_socket() and second_socket.is_socket()
            # Both bound port 0 and got different ports; both workers of each were ready.
            assert first_url != second_url and not first_url.endswith(":0")
            for folder in (first, second):
                log = (folder / "gunicorn.out").read_text()
                assert len(set(re.findall(r"Worker ready \(pid: (\d+)\)", log))) == 2
        assert not first_socket.exists()  # the first removed its own...
        assert second_socket.is_socket()  # ...and not the second's
    assert not (home / ".gunicorn" / "gunicorn.ctl").exists()


def test_in_a_runtime_directory_each_data_dir_gets_its_own_name(short_dirs, sqlite_template):
    runtime, first, second = short_dirs
    names = []
    for folder in (first, second):
        shutil.copy(sqlite_template, folder / "tt.db")
        env = gunicorn_env(folder, folder / "tt.db", workers=1, XDG_RUNTIME_DIR=str(runtime))
        run_setup(env)
        with serving(env, folder):
            names.append(sorted(p.name for p in runtime.iterdir() if p.is_socket()))
    assert len(names[0]) == 1 and len(names[1]) == 1 and names[0] != names[1]
    assert names[0][0].startswith("timetracker-") and "gunicorn.ctl" not in names[0]
