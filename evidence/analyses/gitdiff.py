"""Run the analyses at a git ref and on the working tree, for ``evidence diff``.

The base side is checked out with ``git worktree add --detach`` into a temporary
directory, which is removed afterwards even when the run fails (``git worktree remove``,
then ``git worktree prune``); worktrees left by runs that were killed are removed at the
start of the next run (:func:`prune_stale_worktrees`). The user's working tree, index and
branch are never touched: only the repository's private worktree bookkeeping under
``.git/worktrees/`` changes, and only while the command runs. Results go to temporary
directories, never ``build/``.

Both sides run with the installed (working-tree) code, so the comparison shows how the
*records and analysis specs* move the evidence; changes to the code itself are checked by
the test suite, which compares with R metafor.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError, Problem, errors_in
from evidence.records.safefs import safe_resolve
from evidence.records.yamlio import display_path

#: Branch whose merge base with HEAD is the default ``--base``.
MAIN_BRANCH = "main"


class GitUsageError(Exception):
    """A git precondition failed (not a repository, unknown ref); one line for people."""


@dataclass(frozen=True)
class DiffSides:
    """The results dictionaries of both sides, and the commit the base was taken from.

    ``base_ref`` is the ref as given, ``"HEAD"``, or ``"merge base with main"``.
    """

    base_ref: str
    base_commit: str
    base: list[dict[str, Any]]
    head: list[dict[str, Any]]
    new_studies: tuple[str, ...] = ()


def git(repository: Path, *arguments: str) -> str:
    """Run ``git -C repository ARGUMENTS`` and return its standard output, stripped.

    Raises
    ------
    GitUsageError
        When git is missing or exits non-zero; the message is git's first error line.
    """
    try:
        completed = subprocess.run(
            ["git", "-C", str(repository), *arguments],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitUsageError("git is not installed or not on PATH") from exc
    if completed.returncode != 0:
        first_line = (completed.stderr.strip().splitlines() or ["git failed"])[0]
        raise GitUsageError(f"git {arguments[0]}: {first_line}")
    return completed.stdout.strip()


def repository_root(path: Path) -> Path:
    """Return the top-level directory of the git working tree containing ``path``."""
    try:
        return Path(git(path, "rev-parse", "--show-toplevel"))
    except GitUsageError as exc:
        raise GitUsageError(f"not a git repository: {path}") from exc


def resolve_commit(repository: Path, ref: str) -> str:
    """Return the full commit id a ref names, or raise :class:`GitUsageError`."""
    try:
        return git(
            repository, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        )
    except GitUsageError as exc:
        if ref == "HEAD":
            raise GitUsageError(
                "no commit to compare with: the repository has no commits "
                "yet (commit once, or pass --base REF)"
            ) from exc
        raise GitUsageError(f"unknown git ref: {ref}") from exc


def default_base(repository: Path) -> str:
    """Return the default base: the merge base of HEAD with ``main``, or HEAD itself.

    HEAD is used when the current branch is ``main``, when there is no ``main`` branch, or
    when HEAD and ``main`` share no history.
    """
    branch = _current_branch(repository)
    if branch == MAIN_BRANCH:
        return "HEAD"
    for candidate in (MAIN_BRANCH, f"origin/{MAIN_BRANCH}"):
        with contextlib.suppress(GitUsageError):
            resolve_commit(repository, candidate)
            with contextlib.suppress(GitUsageError):
                return git(repository, "merge-base", "HEAD", candidate)
    return "HEAD"


#: Prefix of the temporary directory of each diff run (``<tmp>/evidence-diff-XXXX/base``).
WORKTREE_PREFIX = "evidence-diff-"
#: Lock file a running diff holds in its temporary directory (see :func:`prune_stale_worktrees`).
WORKTREE_LOCK = ".lock"


@contextlib.contextmanager
def temporary_worktree(repository: Path, commit: str) -> Iterator[Path]:
    """Check out ``commit`` (detached) in a temporary worktree; remove it on exit.

    The worktree is removed with ``git worktree remove --force`` and the directory deleted
    even when the body raises; ``git worktree prune`` clears any stale bookkeeping. While
    the worktree exists, an exclusive lock on ``<parent>/.lock`` says the run is alive, so
    that :func:`prune_stale_worktrees` in another run leaves it alone.
    """
    parent = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX))
    worktree = parent / "base"
    lock = os.open(parent / WORKTREE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        git(repository, "worktree", "add", "--detach", "--quiet", str(worktree), commit)
        yield worktree
    finally:
        with contextlib.suppress(GitUsageError):
            git(repository, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(GitUsageError):
            git(repository, "worktree", "prune")
        os.close(lock)


def prune_stale_worktrees(repository: Path) -> list[Path]:
    """Remove the worktrees that killed ``evidence diff`` runs left registered; return them.

    A run killed with SIGKILL cannot clean up: its ``<tmp>/evidence-diff-XXXX/base``
    stays checked out and registered in ``.git/worktrees/``, and ``git worktree prune``
    alone keeps it because the directory still exists. A worktree of that form whose
    ``.lock`` no process holds (flock) is removed, with its temporary directory; worktrees
    of live runs, and every worktree elsewhere, are left alone. Then ``git worktree prune``
    clears the bookkeeping of directories that are gone.
    """
    removed: list[Path] = []
    try:
        listing = git(repository, "worktree", "list", "--porcelain")
    except GitUsageError:
        return removed
    temporary = safe_resolve(Path(tempfile.gettempdir()))
    for line in listing.splitlines():
        if not line.startswith("worktree "):
            continue
        worktree = Path(line.removeprefix("worktree "))
        parent = worktree.parent
        if (
            worktree.name != "base"
            or not parent.name.startswith(WORKTREE_PREFIX)
            or safe_resolve(parent.parent) != temporary
            or _in_use(parent / WORKTREE_LOCK)
        ):
            continue
        with contextlib.suppress(GitUsageError):
            git(repository, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(parent, ignore_errors=True)
        removed.append(worktree)
    with contextlib.suppress(GitUsageError):
        git(repository, "worktree", "prune")
    return removed


def _in_use(lock: Path) -> bool:
    """Whether a live process holds ``lock`` (a missing lock file: nobody does)."""
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def run_tree(
    studies_dir: Path, analyses_dir: Path, label: str = "", tree: Path | None = None
) -> list[dict[str, Any]]:
    """Validate the records in ``studies_dir`` and run every analysis, without figures.

    Results are written to a temporary directory that is deleted afterwards; the results
    dictionaries are returned. A missing ``analyses_dir`` (e.g. at a ref older than the
    first analysis) gives no results; a missing ``studies_dir`` is left to the runner.

    Raises
    ------
    EvidenceError
        When records are invalid; problems keep their ``file:line:col``. Paths under
        ``tree`` (the temporary worktree) are made relative to it and prefixed with
        ``label`` (e.g. ``"main: "``).
    """
    if studies_dir.is_dir():
        _check_records(studies_dir, label, tree)
    if not analyses_dir.is_dir():
        return []
    from evidence.analyses.runner import run_analyses

    with tempfile.TemporaryDirectory(prefix="evidence-diff-results-") as out_dir:
        try:
            # The runner's progress lines are not the diff.
            return list(
                run_analyses(
                    studies_dir,
                    analyses_dir,
                    Path(out_dir),
                    figures=False,
                    force=True,
                    progress=io.StringIO(),
                )
            )
        except EvidenceError as exc:
            raise EvidenceError([_relabel(p, label, tree) for p in exc.problems]) from exc


def diff_sides(repository: Path, base_ref: str | None, studies: Path, analyses: Path) -> DiffSides:
    """Run the analyses at ``base_ref`` (in a temporary worktree) and on the working tree.

    Parameters
    ----------
    repository : Path
        Any directory inside the git working tree.
    base_ref : str or None
        The ref to compare with; ``None`` means :func:`default_base`.
    studies, analyses : Path
        Directories of the working tree (a relative path missing from the working directory
        is taken from the repository root); the base side uses the same paths relative to
        the repository root.
    """
    root = repository_root(repository)
    prune_stale_worktrees(root)  # left by runs that were killed (SIGKILL) mid-way
    ref = base_ref or default_base(root)
    commit = resolve_commit(root, ref)
    if base_ref is None and ref != "HEAD":
        ref = f"merge base with {MAIN_BRANCH}"
    studies, analyses = _from_root(studies, root), _from_root(analyses, root)
    studies_relative = _relative_to_root(studies, root)
    analyses_relative = _relative_to_root(analyses, root)
    missing = [
        Problem(
            display_path(path), 0, 0, "no such directory in the working tree", "file-unreadable"
        )
        for path in (studies, analyses)
        if not path.is_dir()
    ]
    if missing:  # otherwise both sides run nothing and the diff says "no change"
        raise EvidenceError(missing)
    head = run_tree(studies, analyses)
    with temporary_worktree(root, commit) as worktree:
        base = run_tree(
            worktree / studies_relative, worktree / analyses_relative, f"{ref}: ", worktree
        )
        base = [_strip_worktree_paths(document, worktree) for document in base]
        before = {p.stem for p in (worktree / studies_relative).glob("*.yaml")}
    added = tuple(sorted({p.stem for p in studies.glob("*.yaml")} - before))
    return DiffSides(base_ref=ref, base_commit=commit, base=base, head=head, new_studies=added)


def _check_records(studies_dir: Path, label: str, tree: Path | None) -> None:
    try:
        from evidence.records.validate import load_studies
    except ImportError:  # validation arrives with the records module; the runner checks too
        return
    _, problems = load_studies(studies_dir)
    if errors_in(problems):
        raise EvidenceError([_relabel(problem, label, tree) for problem in problems])


def _relabel(problem: Problem, label: str, tree: Path | None) -> Problem:
    path = problem.path
    if tree is not None:
        path = _strip_worktree_paths(path, tree.resolve())
        path = _strip_worktree_paths(path, tree)
    if path == problem.path and not label:
        return problem
    return Problem(
        f"{label}{path}",
        problem.line,
        problem.column,
        problem.message,
        problem.rule,
        problem.severity,
    )


def _from_root(path: Path, root: Path) -> Path:
    """Read a relative path missing from the working directory from the repository root."""
    if path.is_absolute() or path.exists() or not (root / path).exists():
        return path
    return root / path


def _relative_to_root(path: Path, root: Path) -> Path:
    absolute = safe_resolve(path)  # a link loop: checked as a missing directory next
    try:
        return absolute.relative_to(safe_resolve(root))
    except ValueError as exc:
        raise GitUsageError(f"{path} is outside the git repository {root}") from exc


def _strip_worktree_paths(document: Any, worktree: Path) -> Any:
    """Replace the temporary worktree prefix in provenance paths so both sides compare."""
    prefix = str(worktree) + "/"
    if isinstance(document, dict):
        return {
            _strip_worktree_paths(key, worktree): _strip_worktree_paths(value, worktree)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_strip_worktree_paths(item, worktree) for item in document]
    if isinstance(document, str) and document.startswith(prefix):
        return document[len(prefix) :]
    return document


def _current_branch(repository: Path) -> str | None:
    try:
        return git(repository, "symbolic-ref", "--quiet", "--short", "HEAD")
    except GitUsageError:
        return None
