"""Promtail's pipeline against real lines of the app's ``app.jsonl``.

No Promtail binary is packaged for our machines, so its two format-sensitive
stages are checked here: the ``json`` stage's expressions must name keys the
app writes, and the ``timestamp`` stage's Go layout must parse the app's
timestamps to the instant they denote. Go's layout rules are reimplemented for
the reference tokens we use (with Go's "a fractional second is accepted after
the seconds even if the layout has none" rule), and tested on both sides.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from app.observability.logging import LOG_FILE_NAME
from tests.deploy.conftest import generate_traffic, load_yaml, running_app

# Go's named layouts (time package) and Promtail's own Unix* formats.
GO_NAMED_LAYOUTS = {
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00",
    "ANSIC": "Mon Jan _2 15:04:05 2006",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
}
_GO_TOKENS = [  # longest first
    ("Z07:00", r"(?P<tz>Z|[+-]\d{2}:\d{2})"),
    ("-07:00", r"(?P<tz>[+-]\d{2}:\d{2})"),
    ("Z0700", r"(?P<tz>Z|[+-]\d{4})"),
    ("-0700", r"(?P<tz>[+-]\d{4})"),
    ("2006", r"(?P<year>\d{4})"),
    ("01", r"(?P<month>\d{2})"),
    ("02", r"(?P<day>\d{2})"),
    ("15", r"(?P<hour>\d{2})"),
    ("04", r"(?P<minute>\d{2})"),
    ("05", r"(?P<second>\d{2})"),
]
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def go_layout_regex(layout: str) -> re.Pattern[str]:
    """A regex accepting what Go's ``time.Parse(layout, value)`` accepts, for numeric layouts."""
    layout = GO_NAMED_LAYOUTS.get(layout, layout)
    pattern, index = "", 0
    while index < len(layout):
        fraction = re.match(r"[.,](0+|9+)", layout[index:])
        if fraction and pattern.endswith("(?P<second>\\d{2})"):
            digits = fraction.group(1)
            if digits[0] == "0":  # .000: exactly that many digits
                pattern += rf"[.,](?P<fraction>\d{{{len(digits)}}})"
            else:  # .999: optional, any number of digits
                pattern += r"(?:[.,](?P<fraction>\d+))?"
            index += fraction.end()
            continue
        for token, regex in _GO_TOKENS:
            if layout.startswith(token, index):
                pattern += regex
                index += len(token)
                if token == "05" and not re.match(r"[.,][09]", layout[index:]):
                    pattern += r"(?:[.,](?P<fraction>\d+))?"  # Go accepts one anyway
                break
        else:
            pattern += re.escape(layout[index])
            index += 1
    return re.compile(pattern + r"\Z")


def go_parse(layout: str, value: str) -> datetime:
    match = go_layout_regex(layout).match(value)
    if match is None:
        raise ValueError(f"{value!r} does not match Go layout {layout!r}")
    parts = match.groupdict()
    tz = parts.get("tz") or "Z"
    offset = timedelta(0) if tz == "Z" else (1 if tz[0] == "+" else -1) * timedelta(
        hours=int(tz[1:3]), minutes=int(tz[-2:]))
    micro = int((parts.get("fraction") or "0")[:6].ljust(6, "0"))
    return datetime(int(parts["year"]), int(parts["month"]), int(parts["day"]), int(parts["hour"]),
                    int(parts["minute"]), int(parts["second"]), micro, tzinfo=timezone(offset))


def test_the_go_layout_parser_follows_go():
    assert go_parse("RFC3339Nano", "2026-11-23T09:34:24.680Z") == datetime(
        2026, 11, 23, 9, 34, 24, 680000, tzinfo=timezone.utc)
    assert go_parse("RFC3339Nano", "2026-11-23T09:34:24Z").microsecond == 0
    assert go_parse("RFC3339", "2026-11-23T10:34:24.5+01:00") == datetime(
        2026, 11, 23, 9, 34, 24, 500000, tzinfo=timezone.utc)
    assert go_parse("2006-01-02T15:04:05.000Z07:00", "2026-11-23T09:34:24.680Z").microsecond == 680000
    for layout, value in [
        ("RFC3339Nano", "2026-11-23 09:34:24,680"),        # the stdlib logging default
        ("RFC3339Nano", "2026-11-23T09:34:24.680"),        # no zone
        ("RFC3339Nano", "1795426464.68"),                  # epoch seconds
        ("2006-01-02T15:04:05.000Z07:00", "2026-11-23T09:34:24.68Z"),  # .000 wants 3 digits
    ]:
        with pytest.raises(ValueError):
            go_parse(layout, value)


@pytest.fixture(scope="module")
def app_log_lines(sqlite_template, tmp_path_factory) -> tuple[list[dict], datetime, datetime]:
    """Lines the real app wrote to LOG_DIR/app.jsonl while serving some requests."""
    folder = tmp_path_factory.mktemp("promtail")
    started = datetime.now(timezone.utc)
    with running_app(sqlite_template, folder) as live:
        generate_traffic(live.url)
        with requests.get(live.url + "/healthz", timeout=10,
                          headers={"X-Request-ID": "promtail-pipeline-check-1"}):
            pass
        log_file = live.log_dir / LOG_FILE_NAME
    finished = datetime.now(timezone.utc)
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    assert len(lines) >= 10
    return lines, started, finished


def _pipeline() -> tuple[dict, list[dict]]:
    config = load_yaml("promtail/promtail-config.yml")
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "timetracker"]
    return job, job["pipeline_stages"]


def _stage(stages: list[dict], name: str) -> dict:
    found = [stage[name] for stage in stages if name in stage]
    assert len(found) == 1, f"expected one {name} stage"
    return found[0]


def test_json_stage_names_keys_the_app_writes(app_log_lines):
    lines, _, _ = app_log_lines
    _, stages = _pipeline()
    expressions = _stage(stages, "json")["expressions"]
    written = set().union(*(line.keys() for line in lines))
    for name, expression in expressions.items():
        key = expression or name  # an empty expression means "the key of the same name"
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), f"not a plain key: {key!r}"
        assert key in written, f"promtail extracts {key!r}, which no app.jsonl line has"
    # What the timestamp and labels stages use must be on every line.
    for key in ("timestamp", "level"):
        assert all(key in line for line in lines), key
    assert any(line.get("request_id") == "promtail-pipeline-check-1" for line in lines)


def test_timestamp_stage_parses_the_apps_timestamps_to_the_right_instant(app_log_lines):
    lines, started, finished = app_log_lines
    _, stages = _pipeline()
    stage = _stage(stages, "timestamp")
    expressions = _stage(stages, "json")["expressions"]
    assert stage["source"] in expressions
    source_key = expressions[stage["source"]] or stage["source"]
    for line in lines:
        value = line[source_key]
        parsed = go_parse(stage["format"], value)
        assert parsed == datetime.fromisoformat(value.replace("Z", "+00:00")), value
        # Millisecond precision, and UTC: the instant is within the run.
        assert started - timedelta(seconds=1) <= parsed <= finished + timedelta(seconds=1), value


def test_labels_stay_low_cardinality_and_match_the_dashboard(app_log_lines):
    lines, _, _ = app_log_lines
    job, stages = _pipeline()
    labels = set(_stage(stages, "labels"))
    static_labels = {key for target in job["static_configs"] for key in target["labels"]
                     if not key.startswith("__")}
    assert labels | static_labels == {"job", "level"}
    assert {line["level"] for line in lines} <= LEVELS
    metadata = set(_stage(stages, "structured_metadata"))
    assert metadata <= set(_stage(stages, "json")["expressions"])
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "grafana/dashboards/timetracker.json")
                           .read_text())
    (logs_panel,) = [panel for panel in dashboard["panels"] if panel["type"] == "logs"]
    selector = re.match(r"\{([^}]*)\}", logs_panel["targets"][0]["expr"]).group(1)
    used = {matcher.split("=")[0].strip().rstrip("=~!") for matcher in selector.split(",")}
    assert used <= labels | static_labels
    assert 'job="timetracker"' in selector
    level_variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "level")
    assert set(level_variable["query"].split(",")) == LEVELS


def test_promtail_tails_the_file_the_app_writes():
    job, _ = _pipeline()
    (path,) = [target["labels"]["__path__"] for target in job["static_configs"]]
    assert Path(path).name == LOG_FILE_NAME
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    assert f"LOG_DIR={Path(path).parent}" in dockerfile
