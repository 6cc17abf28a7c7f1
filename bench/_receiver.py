"""The OTLP receiver of tests/support/otlp.py in a child process, so its protobuf
decoding never shares a GIL or CPU accounting with the process being measured."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Iterator

from ._common import ROOT


@dataclass
class ChildReceiver:
    url: str
    request_count: int = 0
    record_count: int = 0


@contextlib.contextmanager
def child_receiver(mode: str = "ok", slow_seconds: float = 1.0) -> Iterator[ChildReceiver]:
    """A receiver in ``mode`` in its own process; after the block its counts are filled in."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.otlp", "--mode", mode, "--slow-seconds", str(slow_seconds)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        receiver = ChildReceiver(url=process.stdout.readline().strip())
        if not receiver.url.startswith("http://"):
            raise RuntimeError("the OTLP receiver did not start")
        yield receiver
        out, _ = process.communicate(timeout=40)  # closes stdin: the child prints its counts
        counts = json.loads(out.strip().splitlines()[-1])
        receiver.request_count, receiver.record_count = counts["requests"], counts["records"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
