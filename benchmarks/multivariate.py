"""Speed of the multivariate model beside R metafor 3.8 ``rma.mv`` on the same data.

Run: ``.venv/bin/python benchmarks/multivariate.py`` (metafor columns need
``Rscript``). Simulates 100 and 1,000 studies with 3 outcomes each (seed 2026): true
effects with an unstructured 3 x 3 between-study covariance (tau2 = 0.04, 0.06, 0.08;
rho = 0.5, 0.3, 0.6), sampling variances ~ U(0.01, 0.1) and within-study sampling
correlation 0.6 (``vcalc(vi, study, obs = outcome, rho = 0.6)``); about a tenth of the
outcomes are dropped at random so that studies differ in size. Fits
``rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | study, struct = "UN")``
(REML) on both sides: ``evidence.stats.multivariate.rma_mv`` (best of 3 wall times, V
built by ``evidence.stats.vcalc.vcalc``) and metafor in the same run through a temporary
CSV, timed inside R with ``proc.time`` around ``rma.mv`` (R start-up and vcalc not
counted), once with dense matrices (metafor's default) and once with ``sparse = TRUE``.
Estimates are compared too: the largest relative difference of the coefficients and
variance components, and the log-likelihoods.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence.stats.multivariate import rma_mv  # noqa: E402
from evidence.stats.vcalc import vcalc  # noqa: E402

SIZES = (100, 1_000)
TAU2 = np.array([0.04, 0.06, 0.08])
RHO = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.6], [0.3, 0.6, 1.0]])
MU = np.array([0.2, 0.3, 0.4])
#: metafor with dense matrices at 1,000 studies (~2,700 rows) takes many minutes a fit;
#: it is run only up to this many studies.
DENSE_MAX = 100

R_CODE = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
dat$outcome <- factor(dat$outcome)
V <- vcalc(vi, cluster = study, obs = outcome, rho = 0.6, data = dat)
out <- list()
for (sparse in if (args[2] == "TRUE") c(FALSE, TRUE) else TRUE) {
  t <- proc.time()
  fit <- rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | study, struct = "UN",
                data = dat, sparse = sparse)
  elapsed <- (proc.time() - t)[["elapsed"]]
  out[[if (sparse) "sparse" else "dense"]] <- list(
    seconds = elapsed, beta = as.numeric(fit$beta), tau2 = fit$tau2, rho = fit$rho,
    loglik = as.numeric(logLik(fit)))
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def simulate(studies: int, seed: int = 2026) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cov = RHO * np.sqrt(np.outer(TAU2, TAU2))
    rows = []
    for study in range(studies):
        keep = rng.random(3) > 0.1
        if not keep.any():
            keep[rng.integers(3)] = True
        theta = rng.multivariate_normal(MU, cov)
        vi = rng.uniform(0.01, 0.1, 3)
        sampling = 0.6 * np.sqrt(np.outer(vi, vi))
        np.fill_diagonal(sampling, vi)
        yi = rng.multivariate_normal(theta, sampling)
        for j in np.flatnonzero(keep):
            rows.append((study + 1, j + 1, yi[j], vi[j]))
    array = np.array(rows)
    return {
        "study": array[:, 0].astype(int),
        "outcome": array[:, 1].astype(int),
        "yi": array[:, 2],
        "vi": array[:, 3],
    }


def fit_ours(data: dict[str, np.ndarray]):
    v = vcalc(data["vi"], data["study"], obs=data["outcome"], rho=0.6)
    x = (data["outcome"][:, None] == np.arange(1, 4)[None, :]).astype(float)
    return rma_mv(data["yi"], v, X=x, inner=data["outcome"], outer=data["study"], struct="UN")


def best_time(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def run_metafor(data: dict[str, np.ndarray], dense: bool) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        script = Path(tmp) / "fit.R"
        script.write_text(R_CODE)
        with csv.open("w") as handle:
            handle.write("study,outcome,yi,vi\n")
            for s, o, y, v in zip(
                data["study"], data["outcome"], data["yi"], data["vi"], strict=True
            ):
                handle.write(f"{s},{o},{float(y)!r},{float(v)!r}\n")
        done = subprocess.run(
            ["Rscript", str(script), str(csv), "TRUE" if dense else "FALSE"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return None
        return json.loads(done.stdout)


def relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def main() -> None:
    print(
        "| studies (rows) | evidence rma_mv | metafor rma.mv dense | metafor sparse | "
        "ratio (sparse) | max rel. diff (beta, tau2, rho) | logLik evidence - metafor |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for studies in SIZES:
        data = simulate(studies)
        seconds, fit = best_time(lambda data=data: fit_ours(data), 3)
        ref = run_metafor(data, dense=studies <= DENSE_MAX)
        if ref is None:
            print(f"| {studies} ({data['yi'].size}) | {seconds:.3f} s | - | - | - | - | - |")
            continue
        sparse = ref["sparse"]
        dense = ref.get("dense")
        diff = max(
            relative(fit.beta, sparse["beta"]),
            relative(fit.tau2, sparse["tau2"]),
            relative(fit.rho, sparse["rho"]),
        )
        dense_text = f"{dense['seconds']:.2f} s" if dense else "not run"
        print(
            f"| {studies:,} ({data['yi'].size:,}) | {seconds:.3f} s | {dense_text} | "
            f"{sparse['seconds']:.2f} s | {sparse['seconds'] / seconds:,.0f}x | {diff:.1e} | "
            f"{fit.loglik - sparse['loglik']:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
