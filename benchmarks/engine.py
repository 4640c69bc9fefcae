"""Issue 17's engine figures: one large fit, many small fits, leave-one-out at large k.

Run: ``.venv/bin/python -P benchmarks/engine.py`` (metafor needs ``Rscript``; PyMARE is
the ``test`` extra). Run the same file from another checkout's ``benchmarks/`` folder to
time that checkout's engine (the script imports the package beside it, and only it: the
venv's editable-install finder is removed first), which is how the "old" and "before"
columns of benchmarks/README.md are made.

1. One fit at k = 10^6 (seed 2024: vi ~ U(0.01, 0.3), yi ~ N(0.3, vi + 0.05)): REML and
   DL through ``fit_batch`` (the model fit) and ``pool()`` (plus checks, prediction and
   tau2 intervals), and PyMARE's REML on the same arrays. metafor's ``rma.uni`` builds k x
   k matrices and is not run at this size (see pooling.py for k <= 1,000).
2. 100,000 meta-analyses of k = 20 fitted together (``fit_batch`` on a 100,000 x 20 array),
   beside PyMARE's batch estimator.
3. Leave-one-out + influence + Baujat (``sensitivity.diagnostics``, REML, with and without
   the tau2 intervals of every row) at k = 1,000, 10,000 and 100,000 (``--loo-max`` caps
   it: an engine with k x k batches needs GBs), each in a fresh process whose peak
   resident memory is reported (``VmHWM`` of ``/proc/self/status``; ``ru_maxrss`` would
   include this script's own peak, which Linux carries into a child across fork and exec).

Times are the best of several repeats: wall clock, and in brackets the process's CPU time,
which is the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
#: Drops the virtual environment's editable-install finder, which resolves a package this
#: checkout lacks (an old checkout has no ``evidence.stats``) from the worktree the venv was
#: made for: without this an old checkout's "fallback" imports timed today's engine.
ONLY_THIS_CHECKOUT = (
    "sys.meta_path[:] = [f for f in sys.meta_path"
    " if 'Editable' not in getattr(f, '__name__', type(f).__name__)]"
)
exec(ONLY_THIS_CHECKOUT)

try:
    from evidence.stats.pooling import fit_batch, pool  # noqa: E402

    SENSITIVITY = "evidence.stats.sensitivity"
except ModuleNotFoundError:  # a checkout from before the layers (e.g. aa75a9d)
    from evidence.pooling import fit_batch, pool  # type: ignore[no-redef]  # noqa: E402

    SENSITIVITY = "evidence.sensitivity"

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    from pymare.estimators import VarianceBasedLikelihoodEstimator  # noqa: E402

LOO_SIZES = (1_000, 10_000, 100_000)


def simulate(n: int, k: int, seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.3, size=(n, k))
    return rng.normal(0.3, np.sqrt(vi + 0.05)), vi


def best(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and best CPU seconds over ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def pymare(yi: np.ndarray, vi: np.ndarray) -> None:
    estimator = VarianceBasedLikelihoodEstimator(method="REML", small_sample_correction="wald")
    estimator.fit(y=yi.T, v=vi.T, X=np.ones((yi.shape[1], 1)))


def fmt(pair: tuple[float, float] | None, scale: float = 1000.0, unit: str = "ms") -> str:
    if pair is None:
        return "-"
    return f"{pair[0] * scale:.1f} {unit} ({pair[1] * scale:.1f})"


def large_fits() -> None:
    yi, vi = simulate(1, 1_000_000)
    print("| k = 10^6 | REML | DL |\n| --- | --- | --- |")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = {
            "fit_batch": [best(lambda m=m: fit_batch(yi, vi, method=m), 7) for m in ("REML", "DL")],
            "pool()": [best(lambda m=m: pool(yi[0], vi[0], method=m), 3) for m in ("REML", "DL")],
        }
        rows["PyMARE"] = [best(lambda: pymare(yi, vi), 3), None]
    for name, (reml, dl) in rows.items():
        print(f"| {name} | {fmt(reml)} | {fmt(dl)} |")


def many_fits() -> None:
    yi, vi = simulate(100_000, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = best(lambda: fit_batch(yi, vi, method="REML"), 3)
        theirs = best(lambda: pymare(yi, vi), 2)
    print(f"\n100,000 x k = 20 REML: evidence {fmt(ours, 1, 's')}; PyMARE {fmt(theirs, 1, 's')}")


def leave_one_out_child(k: int, intervals: bool) -> dict[str, float]:
    """Run in a fresh process: time diagnostics at k and report the peak memory."""
    code = (
        "import json, resource, sys, time, numpy as np\n"
        f"{ONLY_THIS_CHECKOUT}\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"from {SENSITIVITY} import diagnostics\n"
        f"rng = np.random.default_rng(2026); k = {k}\n"
        "vi = rng.uniform(0.01, 0.2, k); yi = rng.normal(0.2, np.sqrt(vi + 0.05))\n"
        "t, c = time.perf_counter(), time.process_time()\n"
        f"diagnostics(yi, vi, intervals={intervals}).to_dict()\n"
        "wall, cpu = time.perf_counter() - t, time.process_time() - c\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "try:\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    peak = int(status.split()[0]) / 1024\n"
        "except (OSError, IndexError):\n"
        "    pass\n"
        "print(json.dumps({'wall': wall, 'cpu': cpu, 'mb': peak}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=3600
    )
    if output.returncode:
        return {"error": output.returncode}
    return json.loads(output.stdout.strip().splitlines()[-1])


def leave_one_out(largest: int) -> None:
    print("\n| leave-one-out + influence (REML) | no intervals | with tau2 intervals |")
    print("| --- | --- | --- |")
    for k in (size for size in LOO_SIZES if size <= largest):
        cells = []
        for intervals in (False, True):
            found = leave_one_out_child(k, intervals)
            if "error" in found:
                cells.append(f"failed ({found['error']})")
            else:
                cells.append(f"{found['wall']:.2f} s ({found['cpu']:.2f}), {found['mb']:.0f} MB")
        print(f"| k = {k:,} | {cells[0]} | {cells[1]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--loo-max",
        type=int,
        default=max(LOO_SIZES),
        help="largest leave-one-out k (a k x k engine needs 8 k^2 bytes per array)",
    )
    args = parser.parse_args()
    large_fits()
    many_fits()
    leave_one_out(args.loo_max)


if __name__ == "__main__":
    main()
