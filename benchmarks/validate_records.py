"""Time validating and loading 5,000 synthetic study records.

Writes 5,000 valid records (1-3 effects each, seeded) and their references.bib to a
temporary directory, then times `validate_paths` and `load_studies` over it (best of
`--repeats` runs), beside a plain baseline on the same files: PyYAML's C loader
(`yaml.load(text, Loader=yaml.CSafeLoader)`) plus one compiled jsonschema validator, which
checks the schema only (no positions, no rules, no bibliography). Run from the repository
root:

    .venv/bin/python benchmarks/validate_records.py [--records 5000] [--repeats 3]

The figure is recorded in benchmarks/README.md ("Validation").
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evidence.errors import errors_in
from evidence.records.validate import load_studies, validate_paths

CONSTRUCTS = ["social-isolation", "loneliness", "social-support", "social-integration"]
DOMAINS = ["mortality", "cardiovascular", "depression", "inflammation"]
DESIGNS = ["prospective-cohort", "cross-sectional", "case-control", "registry-cohort"]

RECORD = """\
# yaml-language-server: $schema=../evidence/schema/study.schema.json
id: {id}
citation: {id}
doi: 10.1000/synthetic.{index}
year: {year}
design: {design}
cohort: cohort-{cohort}
countries: [GB, US]
population:
  description: synthetic adults, record {index}
  age_group: adult
  sex: mixed
  n: {n}
follow_up_years: {follow_up}
risk_of_bias: {{tool: NOS, judgement: low, notes: synthetic}}
extraction: {{status: double, source_type: full-text}}
effects:
{effects}"""

EFFECT = """\
  - id: effect-{k}
    exposure:
      construct: {construct}
      dimension: structural
      tie_types: [family, friend]
      contrast: most vs least isolated
      higher_means: fewer-ties
    outcome: {{domain: {domain}, name: synthetic outcome, higher_is: harmful}}
    adjustment: fully-adjusted
    covariates: [age, sex]
    statistic: {{measure: HR, value: {value}, ci: [{low}, {high}]}}
    source:
      locator: Table 2
      url: https://example.org/synthetic/{index}
      quote: "HR {value} (95% CI {low} to {high})"
"""


def write_corpus(directory: Path, count: int, seed: int = 20261125) -> None:
    """Write ``count`` valid records and their bibliography into ``directory``."""
    rng = random.Random(seed)
    bib = []
    for index in range(count):
        record_id = f"synthetic{index:05d}"
        effects = []
        n = rng.randint(50, 50000)
        for k in range(rng.randint(1, 3)):
            log_value = rng.uniform(-0.3, 0.8)
            # a CI no narrower than n allows (the ci-too-narrow rule)
            se = rng.uniform(max(0.03, 0.7 / n**0.5), 0.3)
            value, low, high = (
                round(2.718281828**x, 2)
                for x in (log_value, log_value - 1.96 * se, log_value + 1.96 * se)
            )
            effects.append(
                EFFECT.format(
                    k=k,
                    construct=rng.choice(CONSTRUCTS),
                    domain=rng.choice(DOMAINS),
                    value=value,
                    low=low,
                    high=high,
                    index=index,
                )
            )
        text = RECORD.format(
            id=record_id,
            index=index,
            year=rng.randint(1970, 2024),
            design=rng.choice(DESIGNS),
            cohort=index % 997,
            n=n,
            follow_up=rng.randint(1, 20),
            effects="".join(effects),
        )
        (directory / f"{record_id}.yaml").write_text(text, encoding="utf-8")
        bib.append(
            f"@article{{{record_id},\n  author = {{Doe, Jane}},\n"
            f"  title = {{Synthetic record {index}}},\n  year = {{2020}},\n}}\n"
        )
    (directory / "references.bib").write_text("\n".join(bib), encoding="utf-8")


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the validation workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best_of(repeats: int, run) -> tuple[float, float, object]:
    """Run ``run`` ``repeats`` times; return the fastest wall and CPU times, last result.

    CPU includes the worker processes that check records in parallel (from
    ``PARALLEL_MIN_RECORDS`` files on), so it is the work done, not the wall time.
    """
    best_wall, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, cpu_seconds() - cpu)
    return best_wall, best_cpu, result


def baseline(directory: Path) -> int:
    """Load every record with PyYAML's C loader and validate it with jsonschema alone."""
    import yaml
    from jsonschema import Draft202012Validator

    from evidence.records.vocabulary import study_schema

    validator = Draft202012Validator(study_schema())
    errors = 0
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        errors += sum(1 for _ in validator.iter_errors(data))
    return errors


TIMER = """
import resource, sys, time
def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
try:
    from evidence.records.validate import validate_paths
except ModuleNotFoundError:  # a checkout from before the layers (aa75a9d)
    from evidence.validate import validate_paths
best_wall = best_cpu = float("inf")
for _ in range(int(sys.argv[2])):
    wall, cpu = time.perf_counter(), cpu_seconds()
    validate_paths([sys.argv[1]])
    best_wall = min(best_wall, time.perf_counter() - wall)
    best_cpu = min(best_cpu, cpu_seconds() - cpu)
print(best_wall, best_cpu)
"""


def time_code_at(ref: str, directory: Path, repeats: int) -> tuple[float, float, float]:
    """Time ``validate_paths`` and the ``evidence validate`` command of the code at git ``ref``.

    The code is checked out in a temporary worktree and imported from there
    (``PYTHONPATH``), so both versions validate the same files in the same run. Returns
    the best wall and CPU time of ``validate_paths`` and the best wall time of the command
    (start-up included).
    """
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="evidence-bench-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(tree), ref], cwd=root, check=True
        )
        try:
            return _time_tree(tree, directory, repeats)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root)


def _time_tree(tree: Path, directory: Path, repeats: int) -> tuple[float, float, float]:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-P", "-c", TIMER, str(directory), str(repeats)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    command = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-P", "-m", "evidence", "validate", str(directory)],
            env=environment,
            capture_output=True,
        )
        command = min(command, time.perf_counter() - start)
    return float(out[0]), float(out[1]), command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--before",
        metavar="REF",
        help="also time the code at this git ref (e.g. a51becd, before issue 12) on the same files",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_corpus(directory, args.records)
        validate_wall, validate_cpu, problems = best_of(
            args.repeats, lambda: validate_paths([directory])
        )
        load_wall, load_cpu, (studies, _) = best_of(args.repeats, lambda: load_studies(directory))
        base_wall, base_cpu, _ = best_of(args.repeats, lambda: baseline(directory))
        root = Path(__file__).resolve().parents[1]
        now = _time_tree(root, directory, args.repeats)
        before = time_code_at(args.before, directory, args.repeats) if args.before else None
    errors = errors_in(problems)
    if errors:
        raise SystemExit(f"synthetic corpus has errors, e.g. {errors[0]}")
    effects = sum(len(s.effects) for s in studies)
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.records} records, {effects} effects (best of {args.repeats}; "
        f"load average {load_average:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"validate_paths: {validate_wall:.2f} s wall, {validate_cpu:.2f} s CPU")
    print(f"load_studies:   {load_wall:.2f} s wall, {load_cpu:.2f} s CPU")
    print(f"baseline (CSafeLoader + jsonschema): {base_wall:.2f} s wall, {base_cpu:.2f} s CPU")
    print(f"`evidence validate DIR` (start-up included): {now[2]:.2f} s wall")
    if before is not None:
        print(
            f"code at {args.before}: validate_paths {before[0]:.2f} s wall, {before[1]:.2f} s "
            f"CPU; `evidence validate DIR` {before[2]:.2f} s wall"
        )


if __name__ == "__main__":
    main()
