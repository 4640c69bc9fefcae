"""Multiverse throughput: a million specifications on a synthetic 2,000-study corpus.

Run: .venv/bin/python benchmarks/multiverse.py [--studies 2000] [--cells 100] [--seed 2026]
(the metafor line needs ``Rscript``). Phases, each on the same work:

1. **corpus** (in memory, seeded): N cohort studies, each in one construct x outcome cell
   (``--cells`` cells, so about 20 studies a cell); every study reports a fully adjusted
   risk ratio and, for about half of them, a minimally adjusted or unadjusted one of the
   same effect; one in seven is read from a review table; one study in ten shares its cohort
   with two others (so the three-level model is used). One analysis per cell with the default
   multiverse, every random-effects tau^2 estimator (DL, HE, HS, SJ, PM, EB, ML, REML), z
   and Knapp-Hartung, each sample left out in turn.
2. **single process**: :func:`evidence.analyses.multiverse.compute` for every analysis
   (design, fits, Parquet and CSV tables written to a temporary directory), timed, in a
   child process whose peak resident memory is read from ``getrusage``.
3. **Dask**: the same on a ``distributed.LocalCluster`` with 2 single-threaded worker
   processes (cluster start-up not counted); tables checked byte-identical to phase 2;
   peak memory of the client and of each worker.
4. **beside it, the same fits elsewhere**: PyMARE 0.0.13's vectorised REML
   (``VarianceBasedLikelihoodEstimator``, one call per distinct k) on every two-level REML
   selection of the multiverse, against our ``fit_batch`` on the same selections; and
   metafor 3.8 ``rma()`` (REML) per fit on 1,000 of those selections and ``rma.mv`` on 200
   three-level selections, timed inside R, extrapolated to the whole multiverse.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evidence.analyses import multiverse  # noqa: E402
from evidence.analyses.spec import Analysis, Multiverse  # noqa: E402
from evidence.records.model import (  # noqa: E402
    Effect,
    Exposure,
    Extraction,
    Outcome,
    Population,
    RiskOfBias,
    Source,
    Statistic,
    Study,
)
from evidence.stats.pooling import fit_batch  # noqa: E402

CONSTRUCTS = ("social-isolation", "loneliness", "social-support", "social-integration")
DOMAINS = (
    "mortality",
    "cardiovascular",
    "depression",
    "cancer",
    "functional-decline",
    "cognitive-decline",
    "inflammation",
    "wellbeing",
    "self-rated-health",
    "health-behaviour",
)
ESTIMATORS = ("DL", "HE", "HS", "SJ", "PM", "EB", "ML", "REML")
BLOCK = 4096


def corpus(n_studies: int, n_cells: int, seed: int) -> tuple[list[Study], list[Analysis]]:
    """Synthetic records and one analysis per cell (module docstring)."""
    rng = np.random.default_rng(seed)
    cells = [(c, d, o) for o in ("a", "b", "c") for d in DOMAINS for c in CONSTRUCTS][:n_cells]
    truth = {cell: rng.normal(0.2, 0.1) for cell in cells}
    studies = []
    for number in range(n_studies):
        construct, domain, name = cells[number % len(cells)]
        n = int(rng.integers(200, 20000))
        se = 2 / math.sqrt(n * 0.1)
        levels = ["fully-adjusted"]
        if rng.random() < 0.5:
            levels.append(("minimally-adjusted", "unadjusted")[int(rng.integers(2))])
        effects = []
        for index, level in enumerate(levels):
            estimate = rng.normal(truth[(construct, domain, name)], math.sqrt(se**2 + 0.01))
            effects.append(
                Effect(
                    f"e{index}",
                    Exposure(construct, "exposed vs not", "fewer-ties"),
                    Outcome(domain, f"{domain} {name}", "harmful"),
                    level,
                    Statistic(
                        "RR",
                        round(math.exp(estimate), 3),
                        (
                            round(math.exp(estimate - 1.96 * se), 3),
                            round(math.exp(estimate + 1.96 * se), 3),
                        ),
                    ),
                    Source("abstract", "synthetic"),
                )
            )
        studies.append(
            Study(
                f"s{number:05d}",
                f"s{number:05d}",
                "prospective-cohort",
                Population("synthetic adults", n=n),
                RiskOfBias("not-assessed", "not-assessed"),
                Extraction("needs-verification", "review-table" if number % 7 == 3 else "abstract"),
                tuple(effects),
                cohort=f"shared{number // (3 * len(cells))}-{number % len(cells)}"
                if (number // len(cells)) % 10 < 3
                else None,
                year=2000,
            )
        )
    block = Multiverse(
        (
            ("adjustment", ("most-adjusted", "least-adjusted", "all")),
            ("dependence", ("three-level", "two-level", "aggregate", "one-per-cohort")),
            ("inclusion", ("all", "primary-sources", "adjusted-only")),
            ("families", ("as-specified",)),
            ("estimator", ESTIMATORS),
            ("inference", ("z", "knha")),
        )
    )
    analyses = [
        Analysis(
            id=f"cell-{index:03d}",
            title=f"{c} and {d} ({o})",
            question={},
            select=({"exposure.construct": (c,), "outcome.name": (f"{d} {o}",)},),
            metric="log-risk-ratio",
            orient="fewer-ties-harmful",
            adjustment="most-adjusted",
            dependence="multilevel",
            method="REML",
            test="knha",
            multiverse=block,
        )
        for index, (c, d, o) in enumerate(cells)
    ]
    return studies, analyses


def designs(args: argparse.Namespace) -> list[multiverse.Design]:
    studies, analyses = corpus(args.studies, args.cells, args.seed)
    return [multiverse.build_design(studies, a) for a in analyses]


def run_all(
    found: list[multiverse.Design], out: Path, client=None, block: int = BLOCK
) -> tuple[int, int, float]:
    """Compute every multiverse; return (fitted, candidates, seconds)."""
    start = time.perf_counter()
    fitted = candidates = 0
    for design in found:
        parquet, csv = multiverse.table_paths(out, design.analysis)
        data = multiverse.compute(design, parquet, csv, block, client)
        fitted += sum(len(e) for e in data.estimate)
        candidates += design.specifications
    return fitted, candidates, time.perf_counter() - start


def single_process(args: argparse.Namespace, out: str, queue) -> None:
    """Child process: build the designs, compute them, report time and peak memory."""
    start = time.perf_counter()
    found = designs(args)
    built = time.perf_counter() - start
    cpu = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted, candidates, seconds = run_all(found, Path(out))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "fitted": fitted,
            "candidates": candidates,
            "seconds": seconds,
            "cpu": time.process_time() - cpu,
            "design": built,
            "peak_mb": peak,
        }
    )


def _worker_peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dask_run(args: argparse.Namespace, out: Path) -> dict:
    from distributed import Client, LocalCluster

    found = designs(args)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: warnings.simplefilter("ignore"))
        fitted, candidates, seconds = run_all(found, out, client)
        peaks = client.run(_worker_peak)
    return {
        "fitted": fitted,
        "candidates": candidates,
        "seconds": seconds,
        "worker_peak_mb": sorted(peaks.values()),
        "client_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def reml_selections(found: list[multiverse.Design]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every two-level selection a REML specification of the multiverse pools (yi, vi)."""
    chosen = []
    for design in found:
        masks, table = multiverse._selection_masks(design, np.arange(design.selections))
        k = masks.sum(axis=1)
        clusters = np.array([len(set(design.cluster[m])) for m in masks])
        nested = design.three_level[table] & np.array(
            [len(design.cluster[m]) > len(set(design.cluster[m])) for m in masks]
        )
        for mask in masks[(k >= 2) & (clusters >= 2) & ~nested]:
            chosen.append((design.yi[mask], design.vi[mask]))
    return chosen


def beside(found: list[multiverse.Design]) -> dict:
    """PyMARE's vectorised REML and ours on the same two-level REML selections, per fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymare.estimators import VarianceBasedLikelihoodEstimator

    selections = reml_selections(found)
    by_k: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for y, v in selections:
        by_k.setdefault(len(y), []).append((y, v))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, group in by_k.items():
            estimator = VarianceBasedLikelihoodEstimator(
                method="REML", small_sample_correction="wald"
            )
            estimator.fit(
                y=np.array([g[0] for g in group]).T,
                v=np.array([g[1] for g in group]).T,
                X=np.ones((k, 1)),
            )
    pymare = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for group in by_k.values():
            fit_batch(
                np.array([g[0] for g in group]), np.array([g[1] for g in group]), method="REML"
            )
    ours = time.perf_counter() - start
    return {
        "fits": len(selections),
        "pymare_s": pymare,
        "evidence_s": ours,
        "selections": selections,
    }


R_SCRIPT = r"""
suppressMessages(library(metafor))
args <- commandArgs(TRUE)
d <- read.csv(args[1]); m <- read.csv(args[2])
timed <- function(parts, fit) {
  failed <- 0
  t0 <- proc.time()[["elapsed"]]
  for (s in parts) if (inherits(try(fit(s), silent = TRUE), "try-error")) failed <- failed + 1
  c((proc.time()[["elapsed"]] - t0) / length(parts), length(parts), failed)
}
uni <- timed(split(d, d$row), function(s) rma(s$yi, s$vi, method = "REML"))
mv <- timed(split(m, m$row), function(s) rma.mv(yi, vi, random = ~ 1 | cluster/effect, data = s))
cat(sprintf(paste0('{"rma": %.6f, "rma_n": %d, "rma_failed": %d, ',
                   '"rma_mv": %.6f, "rma_mv_n": %d, "rma_mv_failed": %d}\n'),
            uni[1], uni[2], uni[3], mv[1], mv[2], mv[3]))
"""


def metafor(found: list[multiverse.Design], selections, folder: Path) -> dict | None:
    """metafor's per-fit time: rma() on 1,000 selections, rma.mv() on 200 three-level ones."""
    if shutil.which("Rscript") is None:
        return None
    rows = ["row,yi,vi"]
    for number, (y, v) in enumerate(selections[:: max(1, len(selections) // 1000)][:1000]):
        rows += [f"{number},{float(a)!r},{float(b)!r}" for a, b in zip(y, v, strict=True)]
    (folder / "uni.csv").write_text("\n".join(rows) + "\n")
    rows, count = ["row,yi,vi,cluster,effect"], 0
    for design in found:
        masks, table = multiverse._selection_masks(design, np.arange(design.selections))
        for mask, t in zip(masks, table, strict=True):
            clusters = design.cluster[mask]
            if (
                design.three_level[t]
                and len(clusters) > len(set(clusters))
                and len(set(clusters)) > 1
            ):
                rows += [
                    f"{count},{float(a)!r},{float(b)!r},{c},{e}"
                    for e, (a, b, c) in enumerate(
                        zip(design.yi[mask], design.vi[mask], clusters, strict=True)
                    )
                ]
                count += 1
                break
        if count >= 200:
            break
    (folder / "mv.csv").write_text("\n".join(rows) + "\n")
    (folder / "bench.R").write_text(R_SCRIPT)
    done = subprocess.run(
        ["Rscript", str(folder / "bench.R"), str(folder / "uni.csv"), str(folder / "mv.csv")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=single_process, args=(args, str(folder / "one"), queue))
        child.start()
        one = queue.get()
        child.join()
        print(
            f"single process: {one['fitted']:,} specifications fitted of {one['candidates']:,} "
            f"in {one['seconds']:.1f} s, {one['cpu']:.1f} s CPU "
            f"({one['fitted'] / one['seconds']:,.0f} per second); "
            f"designs built in {one['design']:.1f} s; peak memory {one['peak_mb']:.0f} MB"
        )
        if not args.no_dask:
            spread = dask_run(args, folder / "dask")
            identical = all(
                (folder / "one" / p.name).read_bytes() == p.read_bytes()
                for p in sorted((folder / "dask").iterdir())
            )
            print(
                f"Dask LocalCluster, 2 workers: {spread['fitted']:,} in {spread['seconds']:.1f} s "
                f"({spread['fitted'] / spread['seconds']:,.0f} per second); peak memory client "
                f"{spread['client_peak_mb']:.0f} MB, workers "
                f"{', '.join(f'{m:.0f}' for m in spread['worker_peak_mb'])} MB; tables identical "
                f"to the single process: {identical}"
            )
        found = designs(args)
        compared = beside(found)
        print(
            f"two-level REML selections: {compared['fits']:,}; PyMARE vectorised "
            f"{1000 * compared['pymare_s'] / compared['fits']:.4f} ms per fit, evidence fit_batch "
            f"{1000 * compared['evidence_s'] / compared['fits']:.4f} ms per fit"
        )
        r = metafor(found, compared["selections"], folder)
        if r is not None:
            hours = (one["fitted"] * r["rma"]) / 3600
            print(
                f"metafor 3.8: rma() {1000 * r['rma']:.2f} ms per fit ({r['rma_n']} fits, "
                f"{r['rma_failed']} failed), rma.mv() {1000 * r['rma_mv']:.1f} ms per fit "
                f"({r['rma_mv_n']} fits, {r['rma_mv_failed']} failed); {one['fitted']:,} rma() "
                f"fits would take ~{hours:.1f} h"
            )


if __name__ == "__main__":
    main()
