"""The benchmark harness keeps working (the figures themselves are for `make bench`, not tests)."""

from __future__ import annotations

from bench import run as bench_run
from bench._common import check, percentile, scenario_result


def test_checks_compare_against_their_bound():
    assert check("a", 19.9, "µs", at_most=20).met is True
    assert check("a", 20.1, "µs", at_most=20).met is False
    assert check("b", 0.95, "×", at_least=0.95).met is True
    assert check("c", 3, "MiB").met is None


def test_percentile_is_nearest_rank():
    ordered = list(range(1, 101))
    assert (percentile(ordered, 0.5), percentile(ordered, 0.99), percentile(ordered, 1.0)) == (50, 99, 100)


def test_the_table_marks_met_missed_and_crashed_scenarios():
    results = [
        scenario_result(3, "Per-event cost", [check("median", 18.5, "µs", at_most=20),
                                              check("p99", 40.0, "µs")], {}),
        scenario_result(5, "Scrape cost", [check("p99", 25.0, "ms", at_most=20)], {}),
        {"number": 4, "title": "data_scale", "error": "exit status 1", "checks": [], "figures": {}},
    ]
    lines = bench_run.table(results).splitlines()
    assert lines[2] == "| 3 | Per-event cost | median | 18.5 µs | ≤ 20 µs | ✓ |"
    assert lines[3] == "| 3 | Per-event cost | p99 | 40 µs |  |  |"
    assert lines[4].endswith("| ≤ 20 ms | ✗ |")
    assert "crashed: exit status 1" in lines[5]


def test_a_quick_scenario_runs_end_to_end_in_its_own_process():
    result = bench_run.run_scenario(3, quick=True)
    assert "error" not in result
    assert result["figures"]["accepted"] == result["figures"]["events"] == 2000
    assert result["figures"]["receiver_records"] >= 2000  # every tracked event reached the receiver
    assert result["checks"][0]["label"] == "track_event median"
