"""What ``make`` costs when nothing changed, and when one record changed (issues 12 and 17).

Run: ``.venv/bin/python benchmarks/noop_make.py [--evidence CMD]``. The shipped
``studies/``, ``analyses/`` and ``book/`` are copied to a temporary directory; there the
steps of ``make`` (``evidence validate studies``, ``evidence run``, ``evidence history``,
``evidence book``; the copy is a git repository with one commit) run once cold, then
three times with nothing changed (the no-op ``make``; best of 3), then once after one
record's text changed and once after one study was added (a copy of a record under a new
id and bib key, selected by some analyses only). Each step is timed in its own process
(wall and CPU of the process). ``--evidence`` times another checkout (e.g. a wrapper
running ``python -P -m evidence`` with ``PYTHONPATH`` at an older commit; ``-P`` keeps a
newer ``evidence/`` in the working directory from shadowing it).
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

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = Path(sys.executable).with_name("evidence")
STEPS = (("validate", "studies"), ("run",), ("history",), ("book",))
#: ``make analyses`` runs ``evidence history`` after ``run`` (since the living-review
#: pages); it reads git history, so the copy is made a repository. Checkouts without the
#: command skip the step.


def timed(command: str, repo: Path, *argv: str) -> tuple[float, float]:
    """Wall and CPU seconds of ``command argv`` run in ``repo`` (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([command, *argv], cwd=repo, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _has_history(command: str) -> bool:
    """Whether this ``evidence`` has the ``history`` command."""
    listed = subprocess.run([command, "--help"], capture_output=True, text=True, check=False)
    return " history " in listed.stdout


def _commit(repo: Path, message: str) -> None:
    """Commit everything in ``repo`` (``evidence history`` reads the git history)."""
    for argv in (["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm"]):
        subprocess.run(
            ["git", *argv, *([message] if argv[0] == "-c" else [])], cwd=repo, check=True
        )


def make(command: str, repo: Path) -> dict[str, tuple[float, float]]:
    """Time the steps of ``make``; return them and their total."""
    steps = [step for step in STEPS if step != ("history",) or _has_history(command)]
    found = {" ".join(step): timed(command, repo, *step) for step in steps}
    found["make (total)"] = (
        sum(wall for wall, _cpu in found.values()),
        sum(cpu for _wall, cpu in found.values()),
    )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evidence", default=str(DEFAULT))
    args = parser.parse_args()
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        repo.mkdir()
        for name in ("studies", "analyses", "book"):
            shutil.copytree(
                ROOT / name, repo / name, ignore=shutil.ignore_patterns("_generated", "_build")
            )
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        _commit(repo, "base")
        for step, (wall, cpu) in make(args.evidence, repo).items():
            rows.append(("cold", step, wall, cpu))
        best: dict[str, tuple[float, float]] = {}
        for _ in range(3):
            for step, figures in make(args.evidence, repo).items():
                best[step] = min(best.get(step, figures), figures)
        rows += [("no change (best of 3)", step, wall, cpu) for step, (wall, cpu) in best.items()]
        record = repo / "studies" / "steptoe2013.yaml"
        text = record.read_text(encoding="utf-8")
        record.write_text(text.replace("  description: ", "  description: (edited) ", 1))
        for step, (wall, cpu) in make(args.evidence, repo).items():
            rows.append(("one record's text edited", step, wall, cpu))
        added = (
            "\n".join(
                line
                for line in text.replace("steptoe2013", "steptoe2099").splitlines()
                if not line.startswith(("doi:", "url:"))  # a second record of one DOI is refused
            )
            + "\n"
        )
        (repo / "studies" / "steptoe2099.yaml").write_text(added, encoding="utf-8")
        own = repo / "studies" / "steptoe2013.bib"  # the study's own entry (issue 12 on)
        if own.is_file():
            (repo / "studies" / "steptoe2099.bib").write_text(
                own.read_text(encoding="utf-8").replace("steptoe2013", "steptoe2099")
            )
        else:  # older checkouts: every entry in references.bib
            bib = repo / "studies" / "references.bib"
            entry = bib.read_text(encoding="utf-8").split("@")
            copied = next(
                e
                for e in entry
                if e.lstrip().lower().startswith(("article{steptoe2013", "misc{steptoe2013"))
            )
            bib.write_text(
                bib.read_text(encoding="utf-8")
                + "\n@"
                + copied.replace("steptoe2013", "steptoe2099")
            )
        for step, (wall, cpu) in make(args.evidence, repo).items():
            rows.append(("one study added", step, wall, cpu))
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| state | step | wall | CPU |\n| --- | --- | --- | --- |")
    for state, step, wall, cpu in rows:
        print(f"| {state} | {step} | {wall:.2f} s | {cpu:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
