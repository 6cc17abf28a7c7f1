"""The multiprocess ``/metrics`` exposition, kept cheap enough to scrape often.

prometheus-client's ``MultiProcessCollector`` + ``generate_latest`` re-read every
worker's file from scratch on each scrape: JSON-decode every key, build Metric and
Sample objects, escape every label, format every line. With 3 workers and a few
hundred series that is 40 ms of CPU per scrape (docs/performance.md, scenario 5).

What changes between two scrapes is only the values. The files are append-only
(``MmapedDict`` never moves or removes an entry, and bumps its ``used`` header
only after an entry is complete), so for each file this module keeps where each
value sits and which series it belongs to, and re-parses only the bytes appended
since the last scrape. A scrape then reads each file, unpacks all its values with
one precompiled ``struct`` call, adds them up per series, and writes lines whose
``name{labels} `` prefix was formatted once, by the library itself
(``generate_latest`` on a one-sample metric), so the text is the library's.

The merge rules are the library's (``MultiProcessCollector._accumulate_metrics``):
counters, summaries and histograms are summed over files, histogram buckets are
cumulated in ``le`` order and give ``_count``; gauges follow their multiprocess
mode (sum, min, max, most recent, or one series per pid for all/liveall).
"""

from __future__ import annotations

import json
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

_HEADER = struct.Struct("<i")
_ENTRY_LENGTH = struct.Struct("<i")
_SUMMED_GAUGE_MODES = {"sum", "livesum"}
_PID_GAUGE_MODES = {"all", "liveall"}
_MIN_MODES, _MAX_MODES = {"min", "livemin"}, {"max", "livemax"}
_RECENT_MODES = {"mostrecent", "livemostrecent"}


@dataclass
class _Family:
    """One metric family: its type and its HELP/TYPE lines (text format 0.0.4)."""

    name: str
    kind: str
    header: str
    order: int
    series: list[int] = field(default_factory=list)  # slot ids, in first-seen order
    plan: list[tuple] = field(default_factory=list)  # see MultiProcessExposition._plan
    plan_size: int = -1


@dataclass
class _Slot:
    """One output series (histogram buckets: one slot per bucket)."""

    family: str
    prefix: str  # "name{labels} ", formatted by prometheus_client
    mode: str  # how values from several files combine: sum, min, max, recent, last
    bucket_of: tuple | None = None  # (labels without le, le as float) for histogram buckets
    count_slot: int | None = None  # for a bucket's label set: the slot of its _count


@dataclass
class _FileIndex:
    inode: int
    used: int
    slots: list[int]
    offsets: list[int]
    with_timestamps: bool
    unpack: Any = None


class MultiProcessExposition:
    """Renders a ``PROMETHEUS_MULTIPROC_DIR`` as Prometheus text, remembering the layout.

    One instance per app (worker); ``render()`` is thread-safe.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._files: dict[str, _FileIndex] = {}
        self._keys: dict[tuple[str, str, str], int] = {}  # (file kind, key, pid or "") -> slot
        self._slots: list[_Slot] = []
        self._families: dict[str, _Family] = {}
        self._histogram_series: dict[tuple[str, tuple], dict] = {}

    def render(self) -> str:
        """The text exposition of every metric in the directory."""
        with self._lock:
            values, stamps = self._read_values()
            return self._format(values, stamps)

    # -- reading -------------------------------------------------------------------

    def _read_values(self) -> tuple[dict[int, float], dict[int, float]]:
        values: dict[int, float] = {}
        stamps: dict[int, float] = {}
        seen = set()
        # Directory order, as MultiProcessCollector's glob: floats then add up in the same order.
        with os.scandir(self._path) as entries:
            names = [(entry.path, entry.name) for entry in entries if entry.name.endswith(".db")]
        for path, name in names:
            data, inode = _read_file(path)
            if data is None:  # a dead worker's live gauge file, removed meanwhile
                continue
            seen.add(path)
            index = self._index(path, name, data, inode)
            if not index.slots:
                continue
            numbers = index.unpack.unpack_from(data, 0)
            if index.with_timestamps:
                self._merge_gauges(index, numbers, values, stamps)
            else:
                for slot, value in zip(index.slots, numbers):
                    values[slot] = values.get(slot, 0.0) + value
        for gone in self._files.keys() - seen:
            del self._files[gone]
        return values, stamps

    def _merge_gauges(self, index: _FileIndex, numbers, values, stamps) -> None:
        for position, slot in enumerate(index.slots):
            value, stamp = numbers[2 * position], numbers[2 * position + 1]
            mode = self._slots[slot].mode
            if slot not in values:
                values[slot], stamps[slot] = value, stamp
            elif mode == "sum":
                values[slot] += value
            elif mode == "min":
                values[slot] = min(values[slot], value)
            elif mode == "max":
                values[slot] = max(values[slot], value)
            elif mode == "recent":
                if stamp > stamps[slot]:
                    values[slot], stamps[slot] = value, stamp
            else:
                values[slot] = value

    def _index(self, path: str, name: str, data: bytes, inode: int) -> _FileIndex:
        used = len(data)
        index = self._files.get(path)
        if index is None or index.inode != inode or index.used > used:
            parts = name[:-3].split("_")
            index = _FileIndex(inode=inode, used=8, slots=[], offsets=[],
                               with_timestamps=parts[0] == "gauge")
            self._files[path] = index
        if index.used < used:
            self._parse_entries(index, name, data, index.used)
            index.used = used
            index.unpack = _compile(index.offsets, index.with_timestamps)
        return index

    def _parse_entries(self, index: _FileIndex, name: str, data: bytes, start: int) -> None:
        parts = name[:-3].split("_")
        kind = parts[0]
        gauge_mode = parts[1] if kind == "gauge" else ""
        pid = parts[-1] if gauge_mode in _PID_GAUGE_MODES else ""
        position, end = start, len(data)
        while position < end:
            length = _ENTRY_LENGTH.unpack_from(data, position)[0]
            if length <= 0 or position + 4 + length > end:
                raise ValueError(f"{name}: corrupt entry at byte {position}")
            key = data[position + 4:position + 4 + length].decode("utf-8")
            position += 4 + length + (8 - (length + 4) % 8)
            index.slots.append(self._slot_for(kind, gauge_mode, key, pid))
            index.offsets.append(position)
            position += 16

    # -- series ------------------------------------------------------------------

    def _slot_for(self, kind: str, gauge_mode: str, key: str, pid: str) -> int:
        cache_key = (kind if kind != "gauge" else f"gauge_{gauge_mode}", key, pid)
        slot = self._keys.get(cache_key)
        if slot is not None:
            return slot
        metric_name, sample_name, labels, help_text = json.loads(key)
        family = self._family(metric_name, kind, help_text)
        if pid:
            labels = {**labels, "pid": pid}
        mode = "sum"
        if kind == "gauge":
            mode = ("sum" if gauge_mode in _SUMMED_GAUGE_MODES else "min" if gauge_mode in _MIN_MODES
                    else "max" if gauge_mode in _MAX_MODES else "recent" if gauge_mode in _RECENT_MODES
                    else "last")
        bucket_of = None
        if kind == "histogram" and "le" in labels:
            without_le = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            le = float(labels["le"])
            labels = {**dict(without_le), "le": floatToGoString(le)}
            bucket_of = (without_le, le)
        slot = self._new_slot(family, sample_name, labels, mode, bucket_of)
        self._keys[cache_key] = slot
        if bucket_of is not None:
            series = self._histogram_series.setdefault((metric_name, bucket_of[0]), {})
            if "count" not in series:
                series["count"] = self._new_slot(family, metric_name + "_count",
                                                 dict(bucket_of[0]), "sum", None, listed=False)
            self._slots[slot].count_slot = series["count"]
        return slot

    def _new_slot(self, family: _Family, sample_name: str, labels: dict, mode: str,
                  bucket_of, listed: bool = True) -> int:
        slot = len(self._slots)
        self._slots.append(_Slot(family.name, _line_prefix(family, sample_name, labels), mode,
                                 bucket_of))
        if listed:
            family.series.append(slot)
        return slot

    def _family(self, metric_name: str, kind: str, help_text: str) -> _Family:
        family = self._families.get(metric_name)
        if family is None:
            family = _Family(metric_name, kind, _header(metric_name, kind, help_text),
                             len(self._families))
            self._families[metric_name] = family
        return family

    # -- writing -------------------------------------------------------------------

    def _plan(self, family: _Family) -> list[tuple]:
        """What a family's lines are, in order: ("line", slot) or ("buckets", slots, count slot).

        Rebuilt only when the family gained series; histogram buckets sorted by ``le``.
        """
        if family.plan_size == len(family.series):
            return family.plan
        plan: list[tuple] = []
        groups: dict[tuple, list[tuple[float, int]]] = {}
        for slot in family.series:
            bucket_of = self._slots[slot].bucket_of
            if bucket_of is None:
                plan.append(("line", slot))
                continue
            if bucket_of[0] not in groups:
                groups[bucket_of[0]] = []
                plan.append(("buckets", groups[bucket_of[0]], self._slots[slot].count_slot))
            groups[bucket_of[0]].append((bucket_of[1], slot))
        for item in plan:
            if item[0] == "buckets":
                item[1].sort()
        family.plan = [item if item[0] == "line" else ("buckets", [slot for _le, slot in item[1]], item[2])
                       for item in plan]
        family.plan_size = len(family.series)
        return family.plan

    def _format(self, values: dict[int, float], _stamps: dict[int, float]) -> str:
        slots = self._slots
        formatted: dict[float, str] = {}  # many values repeat (0.0, equal bucket counts)

        def number(value: float) -> str:
            text = formatted.get(value)
            if text is None:
                text = formatted[value] = floatToGoString(value)
            return text

        out: list[str] = []
        for family in self._families.values():
            lines: list[str] = []
            for item in self._plan(family):
                if item[0] == "line":
                    value = values.get(item[1])
                    if value is not None:
                        lines.append(f"{slots[item[1]].prefix}{number(value)}\n")
                    continue
                cumulative, any_bucket = 0.0, False
                for slot in item[1]:
                    value = values.get(slot)
                    if value is None:
                        continue
                    any_bucket = True
                    cumulative += value
                    lines.append(f"{slots[slot].prefix}{number(cumulative)}\n")
                if any_bucket:
                    lines.append(f"{slots[item[2]].prefix}{number(cumulative)}\n")
            if lines:
                out.append(family.header)
                out.extend(lines)
        return "".join(out)


def _read_file(path: str) -> tuple[bytes | None, int]:
    """The used part of a metrics file (``used`` from its header), and its inode."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None, 0
    try:
        inode = os.fstat(fd).st_ino
        head = os.read(fd, 65536)
        used = _HEADER.unpack_from(head, 0)[0] if len(head) >= 8 else 8
        if used > len(head):
            head += os.pread(fd, used - len(head), len(head))
        return head[:max(used, 8)], inode
    finally:
        os.close(fd)


def _compile(offsets: list[int], with_timestamps: bool) -> struct.Struct:
    """One struct that unpacks every value (and timestamp, for gauges) of a file at once."""
    parts, cursor = ["<"], 0
    for offset in offsets:
        if offset > cursor:
            parts.append(f"{offset - cursor}x")
        parts.append("dd" if with_timestamps else "d8x")
        cursor = offset + 16
    return struct.Struct("".join(parts))


class _OneMetric:
    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self):
        return [self._metric]


def _header(metric_name: str, kind: str, help_text: str) -> str:
    """``# HELP`` and ``# TYPE`` lines exactly as generate_latest writes them."""
    return generate_latest(_OneMetric(Metric(metric_name, help_text, kind))).decode("utf-8")


def _line_prefix(family: _Family, sample_name: str, labels: dict[str, str]) -> str:
    """``name{labels} `` exactly as generate_latest writes it (value and newline cut off)."""
    metric = Metric(family.name, "", family.kind)
    metric.add_sample(sample_name, labels, 0.0)
    line = generate_latest(_OneMetric(metric)).decode("utf-8").splitlines()[-1]
    return line[: -len("0.0")]
