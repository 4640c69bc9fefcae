"""``evidence pool`` on a CSV of 10^6 rows: reading the file against pooling it.

Run: ``.venv/bin/python benchmarks/csv_input.py [--evidence CMD] [--source DIR] [--rows N]``
(``--evidence`` and ``--source`` time another checkout, for the before/after columns).
Writes a seeded CSV (``study,yi,vi``; vi ~ U(0.01, 0.3), yi ~ N(0.3, vi + 0.05)), then
times, each in a fresh process (best of 3, wall and CPU):

- ``evidence pool FILE --method DL`` and ``--method REML`` (the whole command);
- the reading alone: ``read_table`` + ``compute_effects`` in the same interpreter, and that
  interpreter's imports alone (start-up, numpy, the package; the difference is the reading,
  which includes importing pyarrow where the fast reader is used);
- PyMARE: ``pandas.read_csv`` + its DerSimonian-Laird estimator;
- R: ``read.csv`` alone (metafor's ``rma`` builds k x k matrices, so it cannot pool 10^6
  rows; the reading is what is compared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from startup import timed  # the same best-of-N timer (benchmarks/ is the script's path)

DEFAULT = Path(sys.executable).with_name("evidence")

IMPORTS = """
import sys, time
try:
    from evidence.effects.csvinput import read_table, compute_effects
except ModuleNotFoundError:  # a checkout from before the layers (aa75a9d)
    from evidence.effect_csv import read_table, compute_effects
"""
READ_ONLY = (
    IMPORTS
    + """
table = read_table(sys.argv[1])
compute_effects(table, None)
"""
)
PYMARE = """
import sys, numpy as np, pandas as pd
from pymare.estimators import DerSimonianLaird
d = pd.read_csv(sys.argv[1])
y, v = d["yi"].to_numpy()[:, None], d["vi"].to_numpy()[:, None]
DerSimonianLaird().fit(y=y, v=v, X=np.ones_like(y)).summary()
"""
R_READ = "d <- read.csv(commandArgs(TRUE)[1]); cat(nrow(d), '\\n')"


def write_csv(path: Path, rows: int) -> None:
    """The seeded CSV of ``rows`` effects."""
    rng = np.random.default_rng(2026)
    vi = rng.uniform(0.01, 0.3, rows)
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    with path.open("w", encoding="utf-8") as handle:
        handle.write("study,yi,vi\n")
        handle.writelines(f"s{i},{yi[i]:.6f},{vi[i]:.6f}\n" for i in range(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evidence", type=Path, default=DEFAULT)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="checkout whose evidence package the read-only case imports (PYTHONPATH)",
    )
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = str(args.source)
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "effects.csv"
        write_csv(path, args.rows)
        cases = {
            "evidence pool --method DL": [str(args.evidence), "pool", str(path), "--method", "DL"],
            "evidence pool --method REML": [str(args.evidence), "pool", str(path)],
            "evidence: read_table + compute_effects": [python, "-P", "-c", READ_ONLY, str(path)],
            "evidence: the same process's imports alone": [python, "-P", "-c", IMPORTS, str(path)],
            "PyMARE: pandas.read_csv + DerSimonianLaird": [
                sys.executable,
                "-c",
                PYMARE,
                str(path),
            ],
        }
        if shutil.which("Rscript"):
            cases["R: read.csv only"] = ["Rscript", "-e", R_READ, str(path)]
        print(f"{args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB; best of 3")
        print("| work | wall | CPU |\n| --- | --- | --- |")
        for name, argv in cases.items():
            wall, cpu = timed(argv, 3)
            print(f"| {name} | {wall:.2f} s | {cpu:.2f} s |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
