"""Start-up: a command imports what it needs and nothing else (issue 17).

Speed itself is measured in ``benchmarks/startup.py``, never asserted here; these tests
pin down the cause of a slow start: which libraries a command loads. Each case runs in a
fresh interpreter and lists the modules loaded when the command returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.cli import COMMANDS, build_parser
from evidence.commands import SUMMARIES

SCRIPT = """
import contextlib, io, json, sys
from evidence.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""

HEAVY = ("numpy", "scipy", "pandas", "matplotlib", "yaml", "jsonschema", "pybtex", "sphinx")


def _loaded(*argv: str, cwd: Path | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *argv],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return {name.split(".")[0] for name in json.loads(done.stdout)} | set(json.loads(done.stdout))


@pytest.mark.parametrize("argv", [["--version"], ["--help"], [], ["nosuchcommand"]])
def test_version_and_help_import_no_library(argv: list[str]) -> None:
    loaded = _loaded(*argv)
    assert not loaded & set(HEAVY)
    assert not {m for m in loaded if m.startswith("evidence.commands.")}


def test_pool_on_a_small_file_loads_only_the_pooling_path(tmp_path: Path) -> None:
    path = tmp_path / "ten.csv"
    rows = "\n".join(f"s{i},{0.1 * i},{0.01 * (i + 1)}" for i in range(10))
    path.write_text(f"study,yi,vi\n{rows}\n", encoding="utf-8")
    loaded = _loaded("pool", str(path))
    assert "evidence.stats.pooling" in loaded
    # no diagnostics asked for: their modules (and scipy.stats) stay out; nor the
    # record loaders (YAML, JSON Schema, BibTeX), the figures or pandas
    for name in (
        "evidence.stats.bias",
        "evidence.stats.sensitivity",
        "evidence.stats.dependence",
        "evidence.stats.moderators",
        "scipy.stats",
        "yaml",
        "jsonschema",
        "pybtex",
        "matplotlib",
        "pandas",
        "evidence.commands.validate",
        "evidence.commands.run",
    ):
        assert name not in loaded, name


def test_only_the_named_command_is_imported() -> None:
    loaded = _loaded("validate", "--help")
    assert "evidence.commands.validate" in loaded
    assert not {f"evidence.commands.{c}" for c in COMMANDS if c != "validate"} & loaded


def test_every_command_has_a_module_and_its_summary() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert tuple(sub.choices) == COMMANDS == tuple(SUMMARIES)
    listed = {action.dest: action.help for action in sub._choices_actions}
    assert listed == SUMMARIES


BLAS_SCRIPT = """
import os
from evidence import cli
cli.one_blas_thread()
print(os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "1"),  # nobody chose: one thread
        ({"OPENBLAS_NUM_THREADS": "4"}, "4"),  # the user's choice is kept
        ({"OMP_NUM_THREADS": "3"}, "None"),  # so is a choice made through OpenMP
    ],
)
def test_the_command_line_runs_blas_on_one_thread_unless_told(environment, expected) -> None:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    done = subprocess.run(
        [sys.executable, "-c", BLAS_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env={**inherited, **environment},
    )
    assert done.stdout.strip() == expected
