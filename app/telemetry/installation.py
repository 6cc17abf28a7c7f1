"""``installation.json`` in ``DATA_DIR``: the on-disk mirror of the install state.

The settings row in the database owns the install id, setup, the consent choice
and the base-event deliveries (``app/telemetry/store.py``); this file mirrors it
so an operator can read the state without a database client, and it is what the
telemetry gate reads between its once-a-second checks of the row. The telemetry
client is its one writer: after each change, and whenever its check finds the file
out of step with the row (rewritten, with a note saying it was repaired).

Every write happens under a file lock (``installation.json.lock``, the pinned
``filelock`` package) and replaces the file atomically (temp file, fsync,
``os.replace``), so several gunicorn workers never see a half-written file. Reads
take no lock: ``os.replace`` makes them atomic. A missing, empty, truncated,
non-JSON or wrongly-typed file never stops the app: it is reported as a problem
(consent off until the row is read) and rebuilt from the row.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

FILE_NAME = "installation.json"
LOCK_TIMEOUT_SECONDS = 5.0

log = logging.getLogger("app.telemetry")


class InstallationWriteError(RuntimeError):
    """installation.json could not be written (unwritable directory, lock timeout)."""


@dataclass(frozen=True)
class InstallState:
    """What ``installation.json`` holds; ``problem`` is set when the file was unreadable."""

    install_id: str
    setup_complete: bool = False
    # Detailed analytics consent: None = not asked (off), True = opted in, False = opted out.
    telemetry_enabled: bool | None = None
    telemetry_changed_by: str | None = None
    telemetry_changed_at: str | None = None
    first_seen_sent_at: str | None = None
    last_heartbeat_at: str | None = None
    last_heartbeat_day: str | None = None
    # The catalogue version an opt-in was given for (app/telemetry/catalogue.py).
    consented_catalogue_version: str | None = None
    # When and why the file was last rebuilt from the database (shown on Admin → Telemetry).
    repaired: str | None = field(default=None, compare=False)
    problem: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("problem")
        return data


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "setup_complete": (bool,),
    "telemetry_enabled": (bool, type(None)),
    "telemetry_changed_by": (str, type(None)),
    "telemetry_changed_at": (str, type(None)),
    "first_seen_sent_at": (str, type(None)),
    "last_heartbeat_at": (str, type(None)),
    "last_heartbeat_day": (str, type(None)),
    "consented_catalogue_version": (str, type(None)),
    "repaired": (str, type(None)),
}


def _valid_uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value, version=4))
    except ValueError:
        return None


def parse(raw: bytes, fallback_id: str | None = None) -> InstallState:
    """Parse the file's bytes; never raises. A bad file yields consent off and ``problem`` set.

    ``fallback_id`` is used when no readable install_id is left in the file."""
    fallback_id = fallback_id or _new_id()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return InstallState(install_id=fallback_id, problem="installation.json is not valid JSON")
    if not isinstance(data, dict):
        return InstallState(install_id=fallback_id, problem="installation.json is not a JSON object")
    install_id = _valid_uuid(data.get("install_id"))
    problem = None if install_id else "installation.json has no valid install_id"
    values: dict[str, Any] = {}
    for name, types in _FIELD_TYPES.items():
        value = data.get(name)
        if name in data and not isinstance(value, types):
            problem = f"installation.json field {name!r} has the wrong type"
            continue
        if value is not None:
            values[name] = value
    if problem:
        # Keep the readable parts that do not grant anything; consent is off.
        values.pop("telemetry_enabled", None)
    return InstallState(install_id=install_id or fallback_id, problem=problem, **values)


def _new_id() -> str:
    return str(uuid.uuid4())


class Installation:
    """Reads and writes one ``installation.json``; safe across threads and processes."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_SECONDS,
                              thread_local=False)
        self._thread_lock = threading.Lock()
        self._cache_key: tuple[int, int, int] | None = None
        self._cache: InstallState | None = None
        self._checked_at = 0.0
        self._ephemeral_id: str | None = None
        self._warned: str | None = None

    # -- reading -------------------------------------------------------------

    def read(self, max_age_seconds: float = 0.0) -> InstallState:
        """The current state. Cached by (inode, mtime, size) so a write by any worker is seen
        with the next check.

        ``max_age_seconds`` lets a hot path skip the ``stat`` when the file was checked
        that recently (per event it costs more than everything else the gate does, and
        it releases the GIL to the exporter thread). A write from this process clears
        the cache, so its own changes are always seen at once; another worker's are seen
        within ``max_age_seconds``, and the sink re-checks consent before every export.
        """
        if max_age_seconds > 0:
            with self._thread_lock:
                if self._cache is not None and \
                        time.monotonic() - self._checked_at < max_age_seconds:
                    return self._cache
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._fallback(InstallState(install_id=self._ephemeral(),
                                               problem="installation.json does not exist yet"))
        except OSError as exc:
            return self._fallback(InstallState(install_id=self._ephemeral(),
                                               problem=f"installation.json unreadable: {exc.strerror}"))
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._thread_lock:
            if key == self._cache_key and self._cache is not None:
                self._checked_at = time.monotonic()
                return self._cache
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            return self._fallback(InstallState(install_id=self._ephemeral(),
                                               problem=f"installation.json unreadable: {exc.strerror}"))
        state = parse(raw, self._ephemeral())
        if state.problem:
            return self._fallback(state)
        with self._thread_lock:
            self._cache_key, self._cache, self._checked_at = key, state, time.monotonic()
        return state

    def _ephemeral(self) -> str:
        # Until the file can be written, one id per process (never derived from the host).
        if self._ephemeral_id is None:
            self._ephemeral_id = _new_id()
        return self._ephemeral_id

    def _fallback(self, state: InstallState) -> InstallState:
        if state.problem != self._warned and "does not exist" not in (state.problem or ""):
            log.warning("telemetry.installation_file_problem",
                        extra={"problem": state.problem, "consent": "off"})
            self._warned = state.problem
        return state

    # -- writing -------------------------------------------------------------

    def mirror(self, state: InstallState, *, repaired: str | None = None) -> bool:
        """Make the file say ``state`` (the database row's view); returns whether it wrote.

        Under the file lock: a file that already agrees is left alone, so every
        worker may call this after every check without rewriting anything. The
        repair note is kept across writes until a new one replaces it. Raises
        :class:`InstallationWriteError` if the directory is unwritable or the lock
        times out.
        """
        try:
            with self._lock:
                current = self._read_locked()
                if current == state and current.problem is None and repaired is None:
                    return False
                note = repaired or (current.repaired if current.problem is None else None)
                self._write(replace(state, repaired=note, problem=None))
                return True
        except Timeout as exc:
            raise InstallationWriteError(f"lock on {self.path} timed out") from exc
        except OSError as exc:
            raise InstallationWriteError(f"cannot write {self.path}: {exc.strerror}") from exc

    def _read_locked(self) -> InstallState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return InstallState(install_id=self._ephemeral(), problem="missing")
        state = parse(raw, self._ephemeral())
        if state.problem:
            self._fallback(state)
        return state

    def _write(self, state: InstallState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(state.to_json(), indent=2, sort_keys=True).encode() + b"\n"
        fd, tmp = tempfile.mkstemp(prefix=".installation.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(self.path.parent)
        with self._thread_lock:
            self._cache_key, self._cache = None, None
        self._warned = None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def isoformat(moment: datetime) -> str:
    """RFC 3339 UTC with seconds, as stored in the file."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
