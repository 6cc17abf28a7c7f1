"""What every scenario in bench/ shares: the result shape, a throwaway PostgreSQL
database, and small process helpers.

A scenario module exposes ``run(quick: bool = False) -> dict`` returning
:func:`scenario_result`; ``bench/run.py`` calls them in order and writes
``bench/results/latest.md`` and ``latest.json``. ``quick`` shrinks sizes for a smoke
run (figures then are not comparable with the targets). Each module can also run on
its own: ``.venv/bin/python -m bench.<module>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"

from tests.support import free_port  # noqa: E402,F401  (re-exported for the scenarios)

# The maintenance database of the PostgreSQL the benchmarks use (trust auth on CI machines).
PG_ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Check:
    """One figure against its target: ``met`` is None for figures reported without a target."""

    label: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None


def check(label: str, value: float, unit: str, *, at_most: float | None = None,
          at_least: float | None = None) -> Check:
    """A figure and whether it meets an upper or lower bound (or neither: reported only)."""
    if at_most is not None:
        return Check(label, value, unit, f"≤ {at_most:g} {unit}", value <= at_most)
    if at_least is not None:
        return Check(label, value, unit, f"≥ {at_least:g} {unit}", value >= at_least)
    return Check(label, value, unit)


def scenario_result(number: int, title: str, checks: list[Check], figures: dict[str, Any],
                    *, seconds: float | None = None) -> dict[str, Any]:
    """The dict a scenario's ``run`` returns: its checks for the table, its raw figures for the JSON."""
    return {"number": number, "title": title, "checks": [asdict(c) for c in checks],
            "figures": figures, "seconds": seconds}


def print_result(result: dict[str, Any]) -> None:
    """One line per check, as the scenario finishes."""
    for c in result["checks"]:
        verdict = "" if c["met"] is None else ("  met" if c["met"] else "  MISSED")
        print(f"[{result['number']}] {c['label']}: {c['value']:g} {c['unit']}"
              f"{'  (target ' + c['target'] + ')' if c['target'] else ''}{verdict}", flush=True)


def save_result(module: str, result: dict[str, Any]) -> Path:
    """``bench/results/<module>.json``: a scenario's latest measured figures."""
    out = RESULTS / f"{module}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return out


def run_alone(module: str, run, description: str, argv: list[str] | None = None) -> int:
    """``python -m bench.<module> [--quick]``: run one scenario, print its rows, and save
    its figures (not for a quick run: smoke figures never replace measured ones)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smoke run (figures not comparable)")
    quick = parser.parse_args(argv).quick
    result = run(quick=quick)
    print_result(result)
    print(f"[{result['number']}] took {result['seconds']:g} s", flush=True)
    if not quick:
        print(f"wrote {save_result(module, result)}")
    return 0


@contextlib.contextmanager
def postgres_database(prefix: str = "tt_bench") -> Iterator[str]:
    """A fresh PostgreSQL database for one scenario, dropped afterwards; yields its SQLAlchemy URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib(pid: int | None = None) -> float:
    """Current resident memory of a process (this one by default), from /proc."""
    statm = Path(f"/proc/{pid or 'self'}/statm").read_text().split()
    return int(statm[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]
