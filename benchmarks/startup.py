"""Start-up: wall and CPU time of short commands, beside PyMARE and metafor doing the same.

Run: ``.venv/bin/python benchmarks/startup.py [--evidence PATH/TO/evidence] [--repeat N]``.
Each command runs ``N`` times in a fresh process; the best wall time and the CPU time
(user + system, of that process and its children) of that run are printed. CPU time is
the steadier figure on a shared machine. ``--evidence`` times another installation (e.g.
an older checkout's ``.venv/bin/evidence``) for the before/after columns.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = Path(sys.executable).with_name("evidence")

PYMARE = """
import numpy as np, pandas as pd
from pymare import Dataset
from pymare.estimators import VarianceBasedLikelihoodEstimator
d = pd.read_csv({path!r})
VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(
    Dataset(y=d["yi"].to_numpy(), v=d["vi"].to_numpy())
).summary()
"""
METAFOR = (
    "suppressMessages(library(metafor)); d <- read.csv({path!r}); print(rma(yi, vi, data = d))"
)


def ten_rows(folder: Path) -> Path:
    """A 10-row CSV of yi and vi (fixed numbers)."""
    path = folder / "ten.csv"
    rows = [f"s{i},{0.05 + 0.03 * i:.3f},{0.01 + 0.004 * i:.3f}" for i in range(10)]
    path.write_text("study,yi,vi\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def timed(argv: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time over ``repeat`` runs and the CPU time of that run (seconds)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, (wall, cpu))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evidence", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        csv = ten_rows(Path(scratch))
        cases = {
            "evidence --version": [str(args.evidence), "--version"],
            "evidence --help": [str(args.evidence), "--help"],
            "evidence pool (10 rows)": [str(args.evidence), "pool", str(csv)],
            "python -c pass (interpreter alone)": [sys.executable, "-c", "pass"],
            "PyMARE REML (10 rows, import + fit)": [
                sys.executable,
                "-c",
                PYMARE.format(path=str(csv)),
            ],
        }
        if shutil.which("Rscript"):
            cases["metafor rma (10 rows, Rscript)"] = [
                "Rscript",
                "-e",
                METAFOR.format(path=str(csv)),
            ]
        print(f"load average {os.getloadavg()[0]:.1f}; best of {args.repeat}")
        print("| command | wall | CPU |\n| --- | --- | --- |")
        for name, argv in cases.items():
            wall, cpu = timed(argv, args.repeat)
            print(f"| {name} | {wall:.3f} s | {cpu:.3f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
