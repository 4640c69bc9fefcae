"""The layer contracts of ARCHITECTURE.md hold (import-linter, configured in pyproject.toml).

records -> effects -> stats -> analyses -> report -> commands/cli: a layer imports only the
layers below it; stats imports only numpy, scipy, the standard library and itself; report
never fits; only report.plots draws; nothing at run time imports PyMARE.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_stats_may_not_import_records_analyses_or_report():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    stats = contracts["stats-pure"]
    assert stats["source_modules"] == ["evidence.stats"]
    assert {"evidence.records", "evidence.analyses", "evidence.report", "evidence.errors"} <= set(
        stats["forbidden_modules"]
    )
    assert contracts["layers"]["layers"] == [
        "cli",
        "commands",
        "report",
        "analyses",
        "stats",
        "effects",
        "records",
        "errors",
    ]
