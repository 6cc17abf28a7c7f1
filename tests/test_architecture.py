"""The layer contracts in ``.importlinter`` hold (import-linter), and they can break."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess:
    args = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run([str(LINT_IMPORTS), "--no-logo", "--no-cache", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_every_layer_contract_is_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("services/timer.py", "from ..telemetry import client", "services-are-plain"),
    ("services/timer.py", "from ..observability import metrics", "services-are-plain"),
    ("telemetry/client.py", "from ..services import settings", "instrumentation-listens"),
    ("observability/domain.py", "from ..routes import auth", "instrumentation-listens"),
    ("models/user.py", "from ..services import users", "layers"),
    ("events.py", "from .telemetry import client", "events-are-neutral"),
    ("observability/metrics.py", "from ..telemetry import client", "no-cycles"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, contract):
    # A copy of the package with one forbidden import added: the linter must refuse it.
    shutil.copytree(ROOT / "app", tmp_path / "app",
                    ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    assert _lint(tmp_path, contract).returncode == 0, "the copy is not clean before the change"
    target = tmp_path / "app" / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")
    result = _lint(tmp_path, contract)
    assert result.returncode != 0 and "1 broken" in result.stdout, result.stdout
