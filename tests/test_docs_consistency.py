"""Every environment variable the app reads is documented in env.example and the docs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _variables_read_by_config() -> set[str]:
    source = (ROOT / "app" / "config.py").read_text()
    return set(re.findall(r'get\("([A-Z][A-Z0-9_]+)"\)', source))


def _documented(path: Path) -> set[str]:
    text = path.read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_config_reads_variables_at_all():
    assert {"DATABASE_URL", "DATA_DIR", "SECRET_KEY", "PORT"} <= _variables_read_by_config()


def test_env_example_lists_every_variable_the_app_reads():
    missing = _variables_read_by_config() - _documented(ROOT / "env.example")
    assert not missing, f"add these to env.example with a one-line comment: {sorted(missing)}"


def test_configuration_doc_lists_every_variable():
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = {name for name in _variables_read_by_config() if f"`{name}`" not in text}
    assert not missing, f"document these in docs/configuration.md: {sorted(missing)}"


def test_performance_doc_shows_the_latest_bench_table():
    """docs/performance.md carries bench/results/latest.md verbatim (bench/run.py writes both)."""
    latest = ROOT / "bench" / "results" / "latest.md"
    doc = (ROOT / "docs" / "performance.md").read_text()
    begin, end = "<!-- bench:latest:begin -->", "<!-- bench:latest:end -->"
    published = doc[doc.index(begin) + len(begin):doc.index(end)].strip()
    assert published == latest.read_text().strip(), "run `make bench` (it refreshes both)"
