"""Speed of the pooling engine beside PyMARE 0.0.13 and R metafor 3.8 on the same data.

Run: ``.venv/bin/python benchmarks/pooling.py`` (metafor columns need ``Rscript``).
Times REML random-effects fits at k = 10, 100, 1,000, 10,000 and 10,000 separate
meta-analyses of k = 20 fitted together. Each figure is the best of several repeats of
wall time per fit (seconds). Data are simulated with a fixed seed and written to a
temporary CSV that R reads, so all three engines fit exactly the same numbers; metafor
times itself inside R (``proc.time`` around a loop), so R start-up is not counted.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence.stats.pooling import TauConvergenceWarning, fit_batch, pool  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    from pymare.estimators import VarianceBasedLikelihoodEstimator  # noqa: E402

SIZES = (10, 100, 1_000, 10_000)
BATCH = (10_000, 20)
METAFOR_BATCH = 1_000  # metafor fits this many of the batch (a loop) and we scale per fit
#: metafor's rma.uni builds k x k matrices (800 MB each at k = 10,000); above this k it
#: is not run.
METAFOR_MAX_K = 1_000


def simulate(n: int, k: int, seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    """yi ~ N(0.3, vi + 0.05) with vi ~ U(0.01, 0.3)."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.3, size=(n, k))
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    return yi, vi


def best_time(function: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def repeats_for(k: int) -> int:
    return 50 if k <= 100 else 10 if k <= 1000 else 5


def pymare_fit(yi: np.ndarray, vi: np.ndarray) -> None:
    estimator = VarianceBasedLikelihoodEstimator(method="REML", small_sample_correction="wald")
    estimator.fit(y=yi.T, v=vi.T, X=np.ones((yi.shape[1], 1)))


R_SCRIPT = r"""
suppressMessages(library(metafor))
args <- commandArgs(TRUE)
d <- read.csv(args[1]); n <- as.integer(args[2]); repeats <- as.integer(args[3])
inner <- as.integer(args[4])
parts <- rep(split(d, d$row)[seq_len(n)], inner)
best <- Inf
failed <- 0
for (r in seq_len(repeats)) {
  failed <- 0
  t0 <- proc.time()[["elapsed"]]
  for (s in parts) {
    fit <- try(rma(s$yi, s$vi, method = "REML"), silent = TRUE)
    if (inherits(fit, "try-error")) failed <- failed + 1
  }
  best <- min(best, proc.time()[["elapsed"]] - t0)
}
cat(sprintf("%.9f %g\n", best / (n * inner), failed / inner))
"""


def metafor_time(
    yi: np.ndarray, vi: np.ndarray, n: int, repeats: int, inner: int = 1
) -> float | None:
    """Seconds per metafor REML fit over the first ``n`` rows, or None without Rscript."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.csv"
        rows = np.repeat(np.arange(yi.shape[0]), yi.shape[1])
        table = np.column_stack([rows, yi.ravel(), vi.ravel()])
        np.savetxt(data, table, delimiter=",", header="row,yi,vi", comments="", fmt="%.17g")
        script = Path(folder) / "time.R"
        script.write_text(R_SCRIPT)
        result = subprocess.run(
            ["Rscript", str(script), str(data), str(n), str(repeats), str(inner)],
            capture_output=True,
            text=True,
            check=True,
        )
    seconds, failed = result.stdout.strip().splitlines()[-1].split()
    failed = str(int(float(failed)))
    if int(failed):
        print(f"metafor: {failed} of {n} REML fits stopped with an error (not converged)")
    return float(seconds)


def time_single(k: int) -> tuple:
    """Per-fit seconds at one k: (name, fit_batch, pool(), PyMARE, metafor)."""
    yi, vi = simulate(1, k)
    repeats = repeats_for(k)
    ours = best_time(lambda: fit_batch(yi, vi, method="REML"), repeats)
    full = best_time(lambda: pool(yi[0], vi[0], method="REML"), repeats)
    theirs = best_time(lambda: pymare_fit(yi, vi), repeats)
    inner = 50 if k <= 100 else 1  # fits per timed loop, so proc.time's 1 ms tick is small
    r_time = metafor_time(yi, vi, 1, 3, inner) if k <= METAFOR_MAX_K else None
    return (f"k = {k:,}", ours, full, theirs, r_time)


def time_batch() -> tuple:
    """Per-fit seconds for the 10,000 x k = 20 batch fitted together."""
    yi, vi = simulate(*BATCH)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TauConvergenceWarning)
        fit_batch(yi, vi, method="REML")
    for warning in caught:
        print(f"evidence: {warning.message}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TauConvergenceWarning)
        ours = best_time(lambda: fit_batch(yi, vi, method="REML"), 3) / BATCH[0]
    theirs = best_time(lambda: pymare_fit(yi, vi), 3) / BATCH[0]
    r_time = metafor_time(yi, vi, METAFOR_BATCH, 1)
    return (f"{BATCH[0]:,} x k = {BATCH[1]}, per fit", ours, None, theirs, r_time)


def main() -> None:
    rows = [time_single(k) for k in SIZES] + [time_batch()]
    print(
        "| data | evidence fit_batch | evidence pool() | PyMARE REML | metafor rma | "
        "metafor / evidence | PyMARE / evidence |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, ours, full, theirs, r_time in rows:
        cells = [
            name,
            _ms(ours),
            _ms(full),
            _ms(theirs),
            _ms(r_time),
            _ratio(r_time, ours),
            _ratio(theirs, ours),
        ]
        print("| " + " | ".join(cells) + " |")
    batch_total = rows[-1][1] * BATCH[0]
    print(f"\nbatch total: evidence {batch_total:.3f} s for {BATCH[0]:,} fits of k = {BATCH[1]}")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.3f} ms"


def _ratio(slow: float | None, fast: float | None) -> str:
    return "-" if slow is None or fast is None else f"{slow / fast:.1f}x"


if __name__ == "__main__":
    main()
