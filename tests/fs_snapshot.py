"""Helpers for the safety tests: a small throw-away project and file-tree snapshots.

``snapshot(root)`` maps every path under ``root`` to what it is (a directory, the sha256
of a file, the target of a link), so a test can assert that a command changed nothing
outside the output it was asked to write.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from test_runner import write_corpus

REPOSITORY = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (links not followed) -> ``dir``, ``link:TARGET`` or a hash."""
    found: dict[str, str] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(directory) / name
            key = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[key] = f"link:{os.readlink(path)}"
            elif path.is_dir():
                found[key] = "dir"
            elif path.is_file():
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[key] = "special"
    return found


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Paths added, removed or modified between two snapshots."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def make_project(root: Path) -> Path:
    """A small project in ``root``: two analyses, five records, the book, a git repository."""
    root.mkdir(parents=True)
    write_corpus(root)
    shutil.copytree(
        REPOSITORY / "book", root / "book", ignore=shutil.ignore_patterns("_generated", "_build")
    )
    shutil.copyfile(REPOSITORY / "CONTRIBUTING.md", root / "CONTRIBUTING.md")
    (root / "README.md").write_text("# a project\n", encoding="utf-8")
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    return root


def make_sentinel(root: Path) -> Path:
    """A directory of someone's files that no command may touch."""
    (root / "sub").mkdir(parents=True)
    (root / "precious.txt").write_text("keep me\n", encoding="utf-8")
    (root / "sub" / "notes.md").write_text("# notes\n", encoding="utf-8")
    return root
