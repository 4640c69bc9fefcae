"""Time building the evidence site: the shipped corpus and a synthetic 500-study corpus.

1. Shipped corpus: `evidence run` (not timed) writes build/results, then `make book` is
   timed as a user runs it (`make -o .venv/.installed book`, so make never reinstalls).
2. Synthetic corpus: 500 valid records (written by benchmarks/validate_records.py's
   `write_corpus`, seeded) and 20 analyses whose results files are RENDERING fixtures made
   from one shipped results file (each analysis lists 40 synthetic studies' effects; the
   numbers are the template's, never evidence). Timed: `evidence book` with the same
   arguments `make book` passes, pointed at the synthetic inputs and a copy of book/.

Run from the repository root:

    .venv/bin/python benchmarks/book.py [--studies 500] [--analyses 20] [--skip-shipped]

The figures are recorded in benchmarks/README.md ("Site").
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = ROOT / ".venv" / "bin" / "evidence"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate_records import write_corpus  # noqa: E402


def timed(command: list[str], cwd: Path) -> float:
    """Run ``command`` and return its wall time in seconds (failing loudly on error)."""
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    return elapsed


def shipped() -> tuple[float, int, int]:
    """Run the analyses, then time `make book` on the repository's own inputs."""
    from evidence.analyses.runner import run_analyses

    documents = run_analyses(
        ROOT / "studies", ROOT / "analyses", ROOT / "build", progress=io.StringIO()
    )
    seconds = timed(["make", "-s", "-o", ".venv/.installed", "book"], ROOT)
    return seconds, len(documents), len(list((ROOT / "studies").glob("*.yaml")))


def synthetic_results(
    template_dir: Path, studies_dir: Path, out: Path, analyses: int, per_analysis: int
) -> None:
    """Write ``analyses`` results files modelled on one shipped results file."""
    template = json.loads((template_dir / "results" / "isolation-mortality.json").read_text())
    with (template_dir / "results" / "isolation-mortality-effects.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0].keys())
    stems = sorted(path.stem for path in studies_dir.glob("*.yaml"))
    results, figures = out / "results", out / "figures"
    results.mkdir(parents=True)
    figures.mkdir(parents=True)
    index = []
    for number in range(analyses):
        identifier = f"synthetic-analysis-{number:02d}"
        document = json.loads(json.dumps(template))
        document["id"], document["title"] = identifier, f"Synthetic analysis {number}"
        document["figures"] = {}
        for name, relative in template["figures"].items():
            target = f"{identifier}-{name}.svg"
            shutil.copyfile(template_dir / relative, figures / target)
            document["figures"][name] = f"figures/{target}"
        (results / f"{identifier}.json").write_text(json.dumps(document, indent=2) + "\n")
        chosen = [stems[(number * per_analysis + i) % len(stems)] for i in range(per_analysis)]
        with (results / f"{identifier}-effects.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for i, stem in enumerate(chosen):
                row = dict(rows[i % len(rows)])
                row.update(study=stem, effect="effect-0", label=f"{stem}: effect-0")
                writer.writerow(row)
        index.append({"id": identifier, "title": document["title"], "status": "ok"})
    (results / "index.json").write_text(json.dumps(index, indent=2) + "\n")


def synthetic(studies: int, analyses: int) -> float:
    """Time `evidence book` on a synthetic corpus of ``studies`` records, ``analyses``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        studies_dir = root / "studies"
        studies_dir.mkdir()
        write_corpus(studies_dir, studies)
        synthetic_results(ROOT / "build", studies_dir, root / "build", analyses, 40)
        book = root / "book"
        shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_generated", "_build"))
        return timed(
            [
                str(EVIDENCE),
                "book",
                "--results",
                str(root / "build" / "results"),
                "--studies",
                str(studies_dir),
                "--out",
                str(root / "build" / "site"),
                "--book",
                str(book),
            ],
            ROOT,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--analyses", type=int, default=20)
    parser.add_argument("--skip-shipped", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs")
    if not args.skip_shipped:
        seconds, n_analyses, n_studies = shipped()
        print(
            f"shipped corpus ({n_studies} studies, {n_analyses} analyses): "
            f"make book {seconds:.1f} s"
        )
    elif not (ROOT / "build" / "results" / "isolation-mortality.json").exists():
        raise SystemExit("run `evidence run` first: the synthetic results use its files")
    seconds = synthetic(args.studies, args.analyses)
    print(
        f"synthetic corpus ({args.studies} studies, {args.analyses} analyses): "
        f"evidence book {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
