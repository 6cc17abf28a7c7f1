"""Open a CSV file with the real LibreOffice Calc (headless) and read its cells back.

Python's csv module cannot tell whether a spreadsheet would run a cell as a
formula; LibreOffice can: ``soffice --convert-to fods`` imports the CSV like a
user opening it, and the flat XML it writes says, per cell, whether the cell
is a formula (``table:formula``) and what it shows.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_or_skip

_NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}
_FORMULA = f"{{{_NS['table']}}}formula"
_REPEAT = f"{{{_NS['table']}}}number-columns-repeated"


@dataclass(frozen=True)
class Cell:
    text: str
    formula: str | None


def soffice() -> str:
    path = shutil.which("soffice")
    require_or_skip(path is not None,
                    "LibreOffice is not installed (scripts/install-system-deps.sh installs "
                    "libreoffice-calc-nogui)")
    return path


def open_csv(csv_path: Path, workdir: Path) -> list[list[Cell]]:
    """The rows of ``csv_path`` as LibreOffice Calc reads them."""
    out = workdir / "lo-out"
    # Its own profile: the first start writes one, and tests must not share $HOME's.
    profile = (workdir / "lo-profile").as_uri()
    subprocess.run(
        [soffice(), f"-env:UserInstallation={profile}", "--headless", "--norestore",
         "--convert-to", "fods", "--outdir", str(out), str(csv_path)],
        check=True, capture_output=True, timeout=120,
    )
    tree = ET.parse(out / (csv_path.stem + ".fods"))
    rows = []
    for row in tree.iter(f"{{{_NS['table']}}}table-row"):
        cells = []
        for cell in row.findall("table:table-cell", _NS):
            text = "\n".join("".join(p.itertext()) for p in cell.findall("text:p", _NS))
            repeat = int(cell.get(_REPEAT, "1"))
            if not text and cell.get(_FORMULA) is None and repeat > 1:
                continue  # the empty tail of a row
            cells.extend([Cell(text, cell.get(_FORMULA))] * repeat)
        if cells:
            rows.append(cells)
    return rows
