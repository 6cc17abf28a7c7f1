"""MultiProcessExposition says exactly what prometheus-client's MultiProcessCollector says.

The files are written the way worker processes write them (``MmapedDict`` with
``mmap_key``), for several fake pids, so every merge rule is exercised without
starting processes: counters, histograms and summaries summed, buckets cumulated,
each gauge multiprocess mode, label values that need escaping, files that grow,
gain series, or disappear between two scrapes.
"""

from __future__ import annotations

import os
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from app.observability.multiprocess import MultiProcessExposition

BUCKETS = ("0.005", "0.01", "0.1", "1.0", "+Inf")
AWKWARD = 'quote " backslash \\ newline \n unicode é ✓'


class Files:
    """Writes metric values into a multiprocess directory as the workers would."""

    def __init__(self, directory):
        self.directory = directory
        self.open: dict[str, MmapedDict] = {}

    def _file(self, name: str) -> MmapedDict:
        if name not in self.open:
            self.open[name] = MmapedDict(os.path.join(self.directory, name))
        return self.open[name]

    def counter(self, pid, name, labels, value):
        key = mmap_key(name, f"{name}_total", list(labels), list(labels.values()), f"{name} help")
        self._add(f"counter_{pid}.db", key, value)

    def histogram(self, pid, name, labels, observation):
        for bound in BUCKETS:
            key = mmap_key(name, f"{name}_bucket", [*labels, "le"], [*labels.values(), bound],
                           "latency \\ help\nsecond line")
            self._add(f"histogram_{pid}.db", key, 1.0 if observation <= float(bound) else 0.0)
        key = mmap_key(name, f"{name}_sum", list(labels), list(labels.values()),
                       "latency \\ help\nsecond line")
        self._add(f"histogram_{pid}.db", key, observation)

    def summary(self, pid, name, value):
        for suffix, amount in (("_count", 1.0), ("_sum", value)):
            self._add(f"summary_{pid}.db", mmap_key(name, name + suffix, [], [], "a summary"), amount)

    def gauge(self, pid, mode, name, labels, value, timestamp=None):
        key = mmap_key(name, name, list(labels), list(labels.values()), f"{mode} gauge")
        self._file(f"gauge_{mode}_{pid}.db").write_value(key, value, timestamp or time.time())

    def _add(self, file_name, key, amount):
        mmap = self._file(file_name)
        value, timestamp = mmap.read_value(key)
        mmap.write_value(key, value + amount, timestamp)

    def close(self):
        for mmap in self.open.values():
            mmap.close()
        self.open.clear()


@pytest.fixture
def files(tmp_path):
    writer = Files(str(tmp_path))
    yield writer
    writer.close()


def library_text(directory) -> str:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry).decode("utf-8")


def assert_same_exposition(ours: str, directory) -> None:
    expected = library_text(directory)
    assert sorted(ours.splitlines()) == sorted(expected.splitlines())
    # Each family stays one contiguous group, HELP and TYPE first.
    seen_families = []
    for line in ours.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in seen_families
            seen_families.append(name)


def write_everything(files: Files, pids=(101, 102, 103)) -> None:
    for number, pid in enumerate(pids):
        for endpoint in ("/", "/api/v1/time-entries", "/entries/<int:entry_id>/edit", AWKWARD):
            files.counter(pid, "tt_requests", {"method": "GET", "endpoint": endpoint,
                                               "http_status": "200"}, 3 + number)
            files.histogram(pid, "tt_request_latency_seconds", {"endpoint": endpoint},
                            0.004 * (number + 1) ** 3)
        files.counter(pid, "tt_no_labels", {}, 0.1 * (number + 1))
        files.summary(pid, "tt_export_seconds", 1.5 * number)
        for mode in ("all", "liveall", "livesum", "sum", "max", "livemax", "min", "livemin",
                     "mostrecent", "livemostrecent"):
            files.gauge(pid, mode, f"tt_gauge_{mode}", {"layer": "base"}, 10.0 * number - 7,
                        timestamp=1000.0 + number)


def test_the_text_is_the_librarys_for_every_metric_type_and_gauge_mode(files, tmp_path):
    write_everything(files)
    assert_same_exposition(MultiProcessExposition(tmp_path).render(), tmp_path)


def test_growing_files_new_series_and_new_workers_between_scrapes(files, tmp_path):
    exposition = MultiProcessExposition(tmp_path)
    write_everything(files, pids=(101,))
    assert_same_exposition(exposition.render(), tmp_path)

    # The same files grow (values change, series are appended), and a worker appears.
    write_everything(files, pids=(101, 104))
    files.counter(101, "tt_requests", {"method": "POST", "endpoint": "/timer/start",
                                       "http_status": "302"}, 1)
    files.histogram(101, "tt_request_latency_seconds", {"endpoint": "/timer/start"}, 0.3)
    assert_same_exposition(exposition.render(), tmp_path)
    assert 'endpoint="/timer/start"' in exposition.render()

    # Values change in place only: the cached layout is reused.
    files.counter(104, "tt_requests", {"method": "GET", "endpoint": "/", "http_status": "200"}, 5)
    assert_same_exposition(exposition.render(), tmp_path)


def test_a_removed_file_leaves_the_exposition(files, tmp_path):
    exposition = MultiProcessExposition(tmp_path)
    write_everything(files, pids=(101, 102))
    assert 'pid="102"' in exposition.render()
    files.close()
    # What mark_process_dead does for a dead worker's live gauges.
    for name in os.listdir(tmp_path):
        if name.startswith("gauge_live") and name.endswith("_102.db"):
            os.remove(tmp_path / name)
    text = exposition.render()
    assert_same_exposition(text, tmp_path)
    assert 'tt_gauge_liveall{layer="base",pid="102"}' not in text
    assert 'tt_gauge_all{layer="base",pid="102"}' in text  # not a live mode: stays


def test_a_file_replaced_by_a_new_one_at_the_same_path_is_read_afresh(files, tmp_path):
    exposition = MultiProcessExposition(tmp_path)
    write_everything(files, pids=(101,))
    exposition.render()
    files.close()
    for name in os.listdir(tmp_path):
        os.remove(tmp_path / name)
    files.counter(101, "tt_fresh", {"a": "b"}, 2)
    text = exposition.render()
    assert_same_exposition(text, tmp_path)
    assert "tt_requests_total" not in text and 'tt_fresh_total{a="b"} 2.0' in text


def test_an_empty_directory_renders_nothing(tmp_path):
    assert MultiProcessExposition(tmp_path).render() == ""
