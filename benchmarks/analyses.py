"""Time the `make analyses` work: `evidence run` on the shipped corpus and on a synthetic one.

Run: .venv/bin/python benchmarks/analyses.py [--studies 2000] [--analyses 50] [--seed 2026]

1. Shipped corpus (studies/, analyses/): a cold run with figures (what `make analyses` does
   on a clean checkout), then a rerun with nothing changed (every analysis skipped).
2. Synthetic corpus generated in a temporary directory (seeded): N study records, each a
   cohort study with one or two ratio effects (log-normal estimates around a true log ratio
   per construct/outcome cell, standard errors from the cohort size), a references.bib, and
   M analyses, each selecting one construct x outcome-domain cell (plus a few cohorts shared
   between studies so the three-level model is used). Timed cold with figures, cold without
   figures, and unchanged rerun.

Each phase runs `evidence.analyses.runner.run_analyses` in this process (loading + validating every
record, harmonising, fitting, writing); progress lines are discarded.
"""

from __future__ import annotations

import argparse
import io
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evidence.analyses.runner import run_analyses  # noqa: E402
from evidence.report.plots import render_all, summary_forest  # noqa: E402

CONSTRUCTS = (
    "social-isolation",
    "loneliness",
    "social-support",
    "social-integration",
    "living-alone",
)
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

RECORD = """\
id: {id}
citation: {id}
year: {year}
design: prospective-cohort
{cohort}population: {{description: synthetic adults, sex: mixed, n: {n}}}
follow_up_years: {follow_up}
risk_of_bias: {{tool: not-assessed, judgement: not-assessed}}
extraction: {{status: needs-verification, source_type: abstract}}
effects:
{effects}"""

EFFECT = """\
  - id: effect-{index}
    exposure:
      construct: {construct}
      contrast: exposed vs not
      higher_means: fewer-ties
    outcome: {{domain: {domain}, name: {domain} outcome, higher_is: harmful}}
    adjustment: {adjustment}
    statistic: {{measure: HR, value: {value}, ci: [{lo}, {hi}]}}
    source: {{locator: abstract, quote: "synthetic estimate {value} ({lo} to {hi})"}}
"""

SPEC = """\
id: {id}
title: Synthetic {construct} and {domain}
question:
  population: synthetic adults
  exposure: {construct}
  comparator: not exposed
  outcome: {domain}
select: {{exposure.construct: {construct}, outcome.domain: {domain}}}
metric: log-risk-ratio
orient: fewer-ties-harmful
adjustment: most-adjusted
dependence: multilevel
model: {{method: REML, test: knha}}
subgroups: [adjustment]
moderators: [follow_up_years]
sensitivity: [leave-one-out, influence, cumulative]
bias: [funnel, egger, begg, trimfill, failsafe]
"""


def write_synthetic(root: Path, n_studies: int, n_analyses: int, seed: int) -> tuple[Path, Path]:
    """Write N records, references.bib and M specs under ``root``; return both folders."""
    rng = np.random.default_rng(seed)
    studies, analyses = root / "studies", root / "analyses"
    studies.mkdir(parents=True)
    analyses.mkdir(parents=True)
    cells = [(c, d) for d in DOMAINS for c in CONSTRUCTS][:n_analyses]
    truth = {cell: rng.normal(0.2, 0.1) for cell in cells}
    bib = []
    for number in range(n_studies):
        sid = f"study{number:05d}"
        n = int(rng.integers(200, 20000))
        effects = []
        for index in range(int(rng.integers(1, 3))):
            construct, domain = cells[int(rng.integers(len(cells)))]
            se = 2 / math.sqrt(n * 0.1)
            estimate = rng.normal(truth[(construct, domain)], math.sqrt(se**2 + 0.01))
            value = round(math.exp(estimate), 2)
            lo = round(math.exp(estimate - 1.96 * se), 2)
            hi = round(math.exp(estimate + 1.96 * se), 2)
            lo, hi = min(lo, value), max(hi, value)
            if lo == hi or lo <= 0:
                lo, hi = round(value * 0.9, 3), round(value * 1.1, 3)
            effects.append(
                EFFECT.format(
                    index=index,
                    construct=construct,
                    domain=domain,
                    adjustment=("fully-adjusted", "minimally-adjusted")[int(rng.integers(2))],
                    value=value,
                    lo=lo,
                    hi=hi,
                )
            )
        cohort = f"cohort: shared{number // 7:04d}\n" if number % 10 == 0 else ""
        (studies / f"{sid}.yaml").write_text(
            RECORD.format(
                id=sid,
                year=int(rng.integers(1975, 2024)),
                cohort=cohort,
                n=n,
                follow_up=round(float(rng.uniform(1, 20)), 1),
                effects="".join(effects),
            ),
            encoding="utf-8",
        )
        bib.append(f"@misc{{{sid},\n  author = {{Synthetic}},\n  year = {{2000}}\n}}\n")
    (studies / "references.bib").write_text("\n".join(bib), encoding="utf-8")
    for number, (construct, domain) in enumerate(cells):
        spec_id = f"synthetic-{number:02d}"
        (analyses / f"{spec_id}.yaml").write_text(
            SPEC.format(id=spec_id, construct=construct, domain=domain), encoding="utf-8"
        )
    return studies, analyses


def timed(label: str, studies: Path, analyses: Path, out: Path, **options: bool) -> float:
    """Run once and print the wall time."""
    start = time.perf_counter()
    documents = run_analyses(
        studies,
        analyses,
        out,
        progress=io.StringIO(),
        render=render_all,
        render_summary=summary_forest,
        **options,
    )
    seconds = time.perf_counter() - start
    effects = sum((d.get("effects") or {}).get("included", 0) for d in documents)
    print(f"{label:<58} {seconds:8.2f} s  ({len(documents)} analyses, {effects} effects)")
    return seconds


def main() -> None:
    """Run the three phases and print a table (copied into benchmarks/README.md)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--analyses", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        out = root / "shipped-build"
        timed("shipped corpus: cold, with figures", ROOT / "studies", ROOT / "analyses", out)
        timed("shipped corpus: rerun, nothing changed", ROOT / "studies", ROOT / "analyses", out)
        start = time.perf_counter()
        studies, analyses = write_synthetic(
            root / "synthetic", args.studies, args.analyses, args.seed
        )
        print(f"{'synthetic corpus written':<58} {time.perf_counter() - start:8.2f} s")
        out = root / "synthetic-build"
        timed(
            f"synthetic {args.studies} studies x {args.analyses} analyses: cold, no figures",
            studies,
            analyses,
            out,
            figures=False,
        )
        shutil.rmtree(out)
        timed(
            f"synthetic {args.studies} x {args.analyses}: cold, with figures",
            studies,
            analyses,
            out,
        )
        timed(
            f"synthetic {args.studies} x {args.analyses}: rerun, nothing changed",
            studies,
            analyses,
            out,
        )


if __name__ == "__main__":
    main()
