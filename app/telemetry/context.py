"""Facts about this process and the request that telemetry may describe, each coarse.

A User-Agent becomes a browser family and a device class; the host becomes an OS
family, a kernel release and a CPU architecture. The raw values never leave.
"""

from __future__ import annotations

import functools
import locale
import platform
from pathlib import Path
from typing import Any, Mapping

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm32", "i386": "x86", "i686": "x86", "ppc64le": "ppc64", "s390x": "s390x"}


def host_arch() -> str:
    """CPU architecture as an OpenTelemetry semconv ``host.arch`` value."""
    return _ARCH.get(platform.machine().lower(), "other")


def os_type() -> str:
    """Operating system as a semconv ``os.type`` value."""
    system = platform.system().lower()
    return system if system in ("linux", "darwin", "windows") else "other"


def short(value: str) -> str:
    """A machine-made string cut to what the catalogue's ``short`` type accepts."""
    cleaned = "".join(ch for ch in value if ch.isalnum() or ch in "_.+:/-")[:64]
    return cleaned or "unknown"


def os_version() -> str:
    return short(platform.release())


def server_locale() -> str:
    try:
        value = locale.getlocale()[0]
    except ValueError:
        value = None
    return short(value or "C")


def deployment_type(config: Mapping[str, Any]) -> str:
    """docker or native (``DEPLOYMENT_TYPE``; ``auto`` looks for ``/.dockerenv``)."""
    value = config.get("DEPLOYMENT_TYPE") or "auto"
    if value == "auto":
        return "docker" if Path("/.dockerenv").exists() else "native"
    return value


def browser_family(user_agent: str) -> str:
    """A coarse browser family; the User-Agent itself never leaves the process."""
    if not user_agent:
        return "none"
    if "Edg/" in user_agent:
        return "edge"
    if "Firefox/" in user_agent:
        return "firefox"
    if "Chrome/" in user_agent or "Chromium/" in user_agent:
        return "chrome"
    if "Safari/" in user_agent:
        return "safari"
    return "other"


def device_type(user_agent: str) -> str:
    """desktop, mobile, tablet, bot, or none (no User-Agent)."""
    if not user_agent:
        return "none"
    lowered = user_agent.lower()
    if any(word in lowered for word in ("bot", "crawl", "spider")):
        return "bot"
    if "ipad" in lowered or "tablet" in lowered:
        return "tablet"
    if "mobi" in lowered or "android" in lowered:
        return "mobile"
    return "desktop"


@functools.lru_cache(maxsize=256)
def agent_context(user_agent: str) -> dict[str, str]:
    """Browsers send the same few User-Agent strings over and over: classify each once."""
    return {"browser_family": browser_family(user_agent), "device_type": device_type(user_agent)}

