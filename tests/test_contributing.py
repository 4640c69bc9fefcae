"""CONTRIBUTING.md cannot go stale: every ``console`` block in it is run and compared.

The guide walks a contributor through adding a real study (giles2005, from
tests/fixtures/new-studies/). This test copies the analyses listed in
tests/fixtures/guide-analyses.txt and the records listed in tests/fixtures/guide-studies.txt
(those present when the guide's outputs were taken: a study or analysis added since does not
move them) into a temporary git repository on
``main`` and runs every ``$ command`` of every
``console`` block in the order the guide gives them, with the guide's hidden steps (HTML
comments ``<!-- test: ... -->`` before a block: make the repository, put the BibTeX file
there, fill the record in as a reader would) done in between. What each command prints
(standard output and error) must equal the lines shown, after normalising the temporary
path and commit hashes; a line ``...`` matches any number of lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "CONTRIBUTING.md"
NEW_STUDIES = Path(__file__).parent / "fixtures" / "new-studies"
DIRECTIVE = re.compile(r"<!-- test: (.+?) -->")
#: Ids of the records the guide's example outputs were taken with.
GUIDE_STUDIES = frozenset(
    (Path(__file__).parent / "fixtures" / "guide-studies.txt").read_text().split()
)
#: Ids of the analyses the guide's example outputs were taken with (``evidence diff``
#: lists every analysis, so one added since must not change them).
GUIDE_ANALYSES = frozenset(
    (Path(__file__).parent / "fixtures" / "guide-analyses.txt").read_text().split()
)


def steps(text: str) -> list[tuple[list[str], list[tuple[str, list[str]]]]]:
    """The guide as (hidden steps, [(command, expected output lines)]) per console block."""
    found, pending = [], []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        directive = DIRECTIVE.search(line)
        if directive:
            pending.append(directive.group(1))
        if line.strip() == "```console":
            indent = line[: len(line) - len(line.lstrip())]
            block: list[tuple[str, list[str]]] = []
            index += 1
            while lines[index].strip() != "```":
                body = lines[index].removeprefix(indent)
                if body.startswith("$ "):
                    block.append((body[2:], []))
                else:
                    block[-1][1].append(body)
                index += 1
            found.append((pending, block))
            pending = []
        index += 1
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` lines equal ``expected``, a ``...`` line matching any run of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def normalise(text: str, root: Path) -> list[str]:
    text = text.replace(str(root) + os.sep, "").replace(str(root), ".")
    text = re.sub(r"commit [0-9a-f]{7,40}", "commit <sha>", text)
    return [line.rstrip() for line in text.splitlines()]


def hidden_step(step: str, root: Path) -> None:
    if step == "setup-repository":
        # the records and analyses present when the guide's outputs were taken (those
        # added since must not change them); the code and the rest of studies/ as they are
        (root / "analyses").mkdir()
        for path in (REPO / "analyses").iterdir():
            if path.suffix != ".yaml" or path.stem in GUIDE_ANALYSES:
                shutil.copy(path, root / "analyses" / path.name)
        (root / "studies").mkdir()
        for path in (REPO / "studies").iterdir():
            if not path.is_file():
                continue
            if path.suffix not in (".yaml", ".bib") or path.stem in GUIDE_STUDIES:
                shutil.copy(path, root / "studies" / path.name)
            elif path.name == "references.bib":
                shutil.copy(path, root / "studies" / path.name)
        git = ["git", "-c", "user.name=Guide", "-c", "user.email=guide@example.org"]
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=root, check=True)
    elif step == "copy giles2005.bib":
        shutil.copy(NEW_STUDIES / "giles2005.bib", root / "giles2005.bib")
    elif step.startswith("fill giles2005"):
        text = (NEW_STUDIES / "giles2005.yaml").read_text(encoding="utf-8")
        if step.endswith("with value 0.79"):
            text = text.replace("value: 0.78", "value: 0.79")
        (root / "studies" / "giles2005.yaml").write_text(text, encoding="utf-8")
    else:
        raise AssertionError(f"unknown hidden step in CONTRIBUTING.md: {step}")


def test_the_guide_has_the_walk_through():
    commands = [command for _, block in steps(GUIDE.read_text()) for command, _ in block]
    assert "evidence new giles2005 --bib giles2005.bib" in commands
    assert "evidence diff" in commands and "evidence show giles2005" in commands


@pytest.mark.slow
def test_every_console_block_prints_what_the_guide_shows(tmp_path):
    root = tmp_path / "evidence"
    root.mkdir()
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Guide",
        "GIT_AUTHOR_EMAIL": "guide@example.org",
        "GIT_COMMITTER_NAME": "Guide",
        "GIT_COMMITTER_EMAIL": "guide@example.org",
        "COLUMNS": "100",
    }
    for hidden, block in steps(GUIDE.read_text()):
        for step in hidden:
            hidden_step(step, root)
        for command, expected in block:
            done = subprocess.run(
                command,
                shell=True,
                cwd=root,
                env=environment,
                capture_output=True,
                text=True,
                timeout=600,
            )
            printed = normalise(done.stdout + done.stderr, root)
            assert matches(expected, printed), (
                f"$ {command}\nguide shows:\n"
                + "\n".join(expected)
                + "\nrun prints:\n"
                + "\n".join(printed)
            )
