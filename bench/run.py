"""``make bench``: the five scenarios of docs/performance.md, each in its own process.

    .venv/bin/python -m bench.run [--quick] [--only 1,3]

Every scenario runs in a fresh interpreter (so memory figures and Prometheus'
process-wide mode never leak from one to the next) and returns the dict of
``bench/_common.scenario_result``. The run writes ``bench/results/latest.json``
(everything) and ``bench/results/latest.md`` (the table), and refreshes the table
in ``docs/performance.md`` between its markers. Exits 1 if a scenario crashed;
a missed target is reported, not an error (the note says what would close it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from ._common import RESULTS, ROOT, print_result, save_result

SCENARIOS = {  # number → module in bench/
    1: "obs_overhead",
    2: "telemetry_sink_faults",
    3: "track_event_cost",
    4: "data_scale",
    5: "scrape_cost",
}
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:latest:begin -->", "<!-- bench:latest:end -->"

_CHILD = """
import json, sys
from importlib import import_module
result = import_module("bench." + sys.argv[1]).run(quick=sys.argv[2] == "1")
with open(sys.argv[3], "w") as out:
    json.dump(result, out)
"""


def run_scenario(number: int, quick: bool) -> dict:
    module = SCENARIOS[number]
    print(f"== scenario {number}: bench/{module}.py", flush=True)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        process = subprocess.run([sys.executable, "-c", _CHILD, module, "1" if quick else "0", out.name],
                                 cwd=ROOT, check=False)
        seconds = round(time.monotonic() - started, 1)
        if process.returncode != 0:
            return {"number": number, "title": module, "error": f"exit status {process.returncode}",
                    "checks": [], "figures": {}, "seconds": seconds}
        result = json.loads(Path(out.name).read_text())
    result["seconds"] = seconds
    if not quick:  # smoke figures never replace measured ones
        save_result(module, result)
    return result


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown")
    try:
        import psycopg

        from ._common import PG_ADMIN_DSN

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3) as conn:
            postgres = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:
        postgres = "unreachable"
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "os": platform.platform(terse=True), "postgresql": postgres}


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def table(results: list[dict]) -> str:
    rows = ["| # | Scenario | Figure | Value | Target | Met |", "|---|---|---|---|---|---|"]
    for result in results:
        if "error" in result:
            rows.append(f"| {result['number']} | {result['title']} | crashed: {result['error']} | | | ✗ |")
            continue
        for c in result["checks"]:
            met = "" if c["met"] is None else ("✓" if c["met"] else "✗")
            rows.append(f"| {result['number']} | {result['title']} | {c['label']} | "
                        f"{_value(c['value'])} {c['unit']} | {c['target']} | {met} |")
    return "\n".join(rows)


def markdown(report: dict) -> str:
    m = report["machine"]
    quick = " (quick smoke run: sizes shrunk, figures not comparable with the targets)" if report["quick"] else ""
    times = ", ".join(f"{r['number']}: {r['seconds']:.0f} s" for r in report["scenarios"])
    return (f"Run {report['generated_at']} on commit `{report['commit']}`{quick}: {m['cpus']} CPUs "
            f"({m['cpu']}), Python {m['python']}, PostgreSQL {m['postgresql']}; "
            f"{report['seconds']:.0f} s in all ({times}).\n\n"
            + table(report["scenarios"]) + "\n")


def refresh_doc(md: str) -> None:
    """Put the table into docs/performance.md between its markers (a test keeps them equal)."""
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + md + text[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shrunk sizes, for a smoke run")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers")
    args = parser.parse_args()
    numbers = [int(n) for n in args.only.split(",") if n] or sorted(SCENARIOS)
    started = time.monotonic()
    results = []
    for number in numbers:
        results.append(run_scenario(number, args.quick))
        print_result(results[-1])
    report = {"generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "commit": commit(), "quick": args.quick, "machine": machine(),
              "seconds": round(time.monotonic() - started, 1), "scenarios": results}
    md = markdown(report)
    print("\n" + md)
    if numbers == sorted(SCENARIOS):  # a partial run never replaces the published table
        (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / "latest.md").write_text(md)
        if not args.quick:
            refresh_doc(md)
    missed = [f"{r['number']}: {c['label']}" for r in results for c in r["checks"] if c["met"] is False]
    if missed:
        print("targets missed: " + "; ".join(missed))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
