"""Speed of leave-one-out + influence diagnostics at k = 1,000 beside R metafor 3.8.

Run: ``.venv/bin/python benchmarks/diagnostics.py`` (the metafor column needs ``Rscript``).

Ours: :func:`evidence.stats.sensitivity.diagnostics` computes leave-one-out, influence and Baujat
statistics together from one vectorised batch of k REML deletion fits; timed with and
without the Q-profile tau2/I2/H2 intervals of every leave-one-out row (metafor's
``leave1out`` reports none, so "without" is the like-for-like figure). Best of 3 runs.

metafor: ``leave1out(fit)`` and ``influence(fit)`` each refit the model k times. A full run
at k = 1,000 takes tens of minutes, so R times (a) both functions in full at k = 100 and
(b) a few single REML fits at k = 1,000, and the k = 1,000 figure is extrapolated as
2 k x (time per fit): ``leave1out`` and ``influence`` refit k times each. Data are
simulated with a fixed seed and written to a temporary CSV that R reads, so both sides
fit the same numbers; R times itself (``proc.time``), so its start-up is not counted.

Second table: the three-level model (REML) plus CR2 cluster-robust inference with
Satterthwaite df (:func:`evidence.stats.dependence.three_level`, :func:`robust_cr2`) beside
``rma.mv(yi, vi, random = ~ 1 | cluster/effect, sparse = TRUE)`` and
``robust(fit, cluster, clubSandwich = TRUE)``, for 200 and 1,000 clusters of 1-10 effects.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence.stats.dependence import robust_cr2, three_level  # noqa: E402
from evidence.stats.sensitivity import diagnostics  # noqa: E402

K = 1_000
K_SMALL = 100
R_SINGLE_FITS = 3
CLUSTER_COUNTS = (200, 1_000)

R_MULTILEVEL = r"""
suppressPackageStartupMessages({library(metafor); library(clubSandwich)})
d <- read.csv(commandArgs(TRUE)[1])
t0 <- proc.time()[["elapsed"]]
fit <- rma.mv(yi, vi, random = ~ 1 | cluster / effect, data = d, sparse = TRUE)
t1 <- proc.time()[["elapsed"]]
rob <- robust(fit, cluster = d$cluster, clubSandwich = TRUE)
t2 <- proc.time()[["elapsed"]]
cat(sprintf("%.17g %.17g\n", t1 - t0, t2 - t1))
"""

R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(TRUE)
big <- read.csv(args[1]); small <- read.csv(args[2]); n <- as.integer(args[3])
tight <- list(threshold = 1e-10, maxiter = 1000)
fit <- rma(yi, vi, data = small, method = "REML", control = tight)
t0 <- proc.time()[["elapsed"]]
l1 <- leave1out(fit); inf <- influence(fit)
small_time <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
for (i in seq_len(n)) fitb <- rma(yi, vi, data = big, method = "REML", control = tight)
per_fit <- (proc.time()[["elapsed"]] - t0) / n
cat(sprintf("%.17g %.17g\n", small_time, per_fit))
"""


def simulate(k: int, seed: int = 2026) -> tuple[np.ndarray, np.ndarray]:
    """yi ~ N(0.2, vi + 0.05) with vi ~ U(0.01, 0.2)."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    return rng.normal(0.2, np.sqrt(vi + 0.05)), vi


def best_time(yi: np.ndarray, vi: np.ndarray, intervals: bool, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        diagnostics(yi, vi, intervals=intervals).to_dict()
        times.append(time.perf_counter() - start)
    return min(times)


def metafor_times(
    big: tuple[np.ndarray, np.ndarray], small: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, (yi, vi) in (("big", big), ("small", small)):
            path = Path(folder) / f"{name}.csv"
            lines = ["yi,vi"] + [f"{y:.17g},{v:.17g}" for y, v in zip(yi, vi, strict=True)]
            path.write_text("\n".join(lines) + "\n")
            paths.append(str(path))
        script = Path(folder) / "time.R"
        script.write_text(R_SCRIPT)
        output = subprocess.run(
            ["Rscript", str(script), *paths, str(R_SINGLE_FITS)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    small_time, per_fit = (float(x) for x in output.split())
    return small_time, per_fit


def simulate_clusters(m: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m clusters of 1-10 effects; sigma2 = (0.04, 0.0225) plus sampling error."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(m), rng.integers(1, 11, m))
    vi = rng.uniform(0.01, 0.1, cluster.size)
    yi = (
        0.2
        + rng.normal(0, 0.2, m)[cluster]
        + rng.normal(0, 0.15, cluster.size)
        + rng.normal(0, np.sqrt(vi))
    )
    return yi, vi, cluster


def multilevel_times(m: int) -> tuple[int, float, float, tuple[float, float] | None]:
    """Best-of-3 seconds for our fit and CR2, and metafor's (fit, robust) if R is there."""
    yi, vi, cluster = simulate_clusters(m)
    fits, robusts = [], []
    for _ in range(3):
        start = time.perf_counter()
        fit = three_level(yi, vi, cluster)
        middle = time.perf_counter()
        robust_cr2(fit)
        fits.append(middle - start)
        robusts.append(time.perf_counter() - middle)
    if shutil.which("Rscript") is None:
        return cluster.size, min(fits), min(robusts), None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        rows = [
            f"{c},{i},{float(y)!r},{float(v)!r}"
            for i, (c, y, v) in enumerate(zip(cluster, yi, vi, strict=True))
        ]
        path.write_text("cluster,effect,yi,vi\n" + "\n".join(rows) + "\n")
        script = Path(folder) / "multilevel.R"
        script.write_text(R_MULTILEVEL)
        output = subprocess.run(
            ["Rscript", str(script), str(path)], check=True, capture_output=True, text=True
        ).stdout
    r_fit, r_robust = (float(x) for x in output.split())
    return cluster.size, min(fits), min(robusts), (r_fit, r_robust)


def main() -> None:
    big, small = simulate(K), simulate(K_SMALL, seed=2027)
    ours = best_time(*big, intervals=False)
    ours_intervals = best_time(*big, intervals=True)
    ours_small = best_time(*small, intervals=False)
    print(
        f"evidence k={K}: leave-one-out + influence + Baujat {ours:.3f} s "
        f"(with Q-profile intervals {ours_intervals:.3f} s)"
    )
    print(f"evidence k={K_SMALL}: {ours_small:.4f} s")
    for m in CLUSTER_COUNTS:
        n, fit, robust, metafor = multilevel_times(m)
        line = f"three-level + CR2, {m} clusters (N = {n}): evidence {fit:.3f} s + {robust:.3f} s"
        if metafor is not None:
            ratio = (metafor[0] + metafor[1]) / (fit + robust)
            line += f"; metafor {metafor[0]:.2f} s + {metafor[1]:.2f} s (ratio {ratio:.0f}x)"
        print(line)
    times = metafor_times(big, small)
    if times is None:
        print("Rscript not found: metafor not timed")
        return
    small_time, per_fit = times
    extrapolated = 2 * K * per_fit
    print(
        f"metafor k={K_SMALL}: leave1out + influence measured {small_time:.3f} s "
        f"(ratio {small_time / ours_small:.0f}x)"
    )
    print(
        f"metafor k={K}: one REML fit {per_fit:.3f} s (mean of {R_SINGLE_FITS}); "
        f"leave1out + influence extrapolated 2k fits = {extrapolated:.0f} s "
        f"(ratio {extrapolated / ours:.0f}x)"
    )


if __name__ == "__main__":
    main()
