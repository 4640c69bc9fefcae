"""Safe file handling shared by the commands: inputs, output directories and atomic writes.

Three promises, each a function here:

- :func:`input_problem`: an input file (a record, a spec, ``references.bib``, a CSV) is a
  regular file, and, when a root directory is given, inside it after every symbolic link
  is followed. Anything else (a link out of the repository, a link loop, a dangling link, a
  FIFO, a device, a directory) is one :class:`~evidence.errors.Problem` that names the
  link and its target or the kind of file, and never shows the file's content.
- :func:`output_dir_problem` and :func:`claim_output_dir`: a command only replaces or
  writes into a directory it created itself (a marker file it left there), and never the
  working directory, a directory containing it, a git repository, a directory holding
  records or specs, or a directory an input of the command lives in.
- :func:`atomic_write`: every output is written to a temporary file beside it and renamed
  into place, so a reader (or a later run) never sees half a file, and a symbolic link
  at the target is replaced, never written through.

Nothing here reads a file's content except :func:`sha256_of`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from evidence.errors import EvidenceError, Problem
from evidence.errors import display_path as display

#: Rule of an input that is a symbolic link leading out of its directory.
LINK_OUTSIDE = "link-outside"
#: Rule of an input that is not a regular file (or cannot be reached).
UNREADABLE = "file-unreadable"
#: Rule of an output directory a command refuses to write into or replace.
OUTPUT_UNSAFE = "output-dir-unsafe"
#: Rule of a command that finds another run of itself holding the lock.
LOCKED = "output-locked"

#: File names that mark a directory as holding records, specs or a bibliography.
_RECORD_PATTERNS = ("*.yaml", "*.yml", "references.bib")


def safe_resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve ``path`` like :meth:`Path.resolve`, but a link loop gives the absolute path.

    Python raises ``RuntimeError`` (or ``OSError``) on a symbolic-link loop; callers that
    only need a key to compare paths by use this and never see a traceback.
    """
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def file_kind(mode: int) -> str:
    """Name the kind of a file from its ``st_mode`` in words (``'a FIFO (named pipe)'``).

    Examples
    --------
    >>> file_kind(stat.S_IFIFO)
    'a FIFO (named pipe)'
    """
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _link_text(path: Path) -> str:
    """Return what a symbolic link says it points to (never what the target holds)."""
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def input_problem(
    path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, rule: str = UNREADABLE
) -> Problem | None:
    """Return a problem unless ``path`` is a regular file (inside ``root``, when given).

    Only the file's metadata is looked at (``lstat``, ``stat``, ``readlink``): the
    problem names the file, the link's target or the kind of file, never the content.

    Parameters
    ----------
    path : str or path-like
        The input file, as the user or a directory listing named it.
    root : str or path-like, optional
        The directory the file must stay in once every link is followed (the studies or
        analyses directory); ``None`` checks only that it is a regular file.
    rule : str
        Rule of every problem but a link out of ``root`` (``bib-unreadable`` for a
        bibliography, say).

    Returns
    -------
    Problem or None
        ``link-outside`` for a link out of ``root``; ``rule`` (``file-unreadable``) for a
        loop, a dangling link, a directory, a FIFO, a device or a missing file.

    Examples
    --------
    >>> input_problem("no/such/file.yaml").message
    'no such file'
    """
    path = Path(path)
    try:
        own = os.lstat(path)
    except OSError as exc:
        shown = display(path)
        reason = (
            "no such file" if exc.errno == errno.ENOENT else ((exc.strerror or str(exc)).lower())
        )
        return Problem(shown, 0, 0, reason, rule)
    is_link = stat.S_ISLNK(own.st_mode)
    if not is_link and stat.S_ISREG(own.st_mode) and (root is None or _listed_in(path, root)):
        return None  # a regular file named in root itself: nothing to follow
    shown = display(path)
    link = f"is a symbolic link to {_link_text(path)}" if is_link else ""
    try:
        resolved = path.resolve(strict=True)
    except RuntimeError:
        return Problem(
            shown,
            0,
            0,
            f"{link}, which never reaches a file (a loop of links); "
            "replace the link with the file itself",
            rule,
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(
                shown,
                0,
                0,
                f"{link}, which never reaches a file (a loop of links); "
                "replace the link with the file itself",
                rule,
            )
        if exc.errno == errno.ENOENT and is_link:
            return Problem(
                shown,
                0,
                0,
                f"{link}, which does not exist; replace the link with the file itself",
                rule,
            )
        return Problem(
            shown, 0, 0, f"cannot read the file: {(exc.strerror or str(exc)).lower()}", rule
        )
    if root is not None:
        inside = safe_resolve(root)
        if resolved != inside and inside not in resolved.parents:
            start, where = link or "resolves to a file", display(root)
            where = "the working directory" if where in ("", ".") else where
            return Problem(
                shown,
                0,
                0,
                f"{start}, outside {where}; input files must be "
                f"regular files inside {where} (copy the file there instead of "
                "linking to it)",
                LINK_OUTSIDE,
            )
    try:
        mode = os.stat(resolved).st_mode
    except OSError as exc:
        return Problem(
            shown, 0, 0, f"cannot read the file: {(exc.strerror or str(exc)).lower()}", rule
        )
    if not stat.S_ISREG(mode):
        if is_link:
            return Problem(
                shown, 0, 0, f"{link}, which is {file_kind(mode)}, not a regular file", rule
            )
        return Problem(shown, 0, 0, f"is {file_kind(mode)}, not a regular file", rule)
    return None


def _listed_in(path: Path, root: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``root/<name>`` (a name from a listing of ``root``, no ``..``)."""
    return path.name not in ("", ".", "..") and path.parent == Path(root)


def check_input(
    path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, rule: str = UNREADABLE
) -> None:
    """Raise :class:`EvidenceError` with :func:`input_problem`'s problem, if there is one."""
    problem = input_problem(path, root, rule)
    if problem is not None:
        raise EvidenceError([problem])


# --------------------------------------------------------------------------- writing


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    The temporary file is renamed over ``path`` with :func:`os.replace`, so ``path`` holds
    either the old bytes or the new ones, never a part; a symbolic link at ``path`` is
    replaced by the file, not written through. Text is encoded as UTF-8 as given (no
    newline translation). The file gets the usual permissions (``0o666`` less the umask).
    Parent directories are created.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - a 32-bit random name taken
            continue
        break
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def sha256_of(path: str | os.PathLike[str]) -> str | None:
    """sha256 (hex) of a regular file's bytes; ``None`` when it is missing or not regular."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


# --------------------------------------------------------------------------- output dirs


def _holds_records(directory: Path) -> str | None:
    """Name one record, spec or bibliography file directly in ``directory``, if any."""
    for pattern in _RECORD_PATTERNS:
        for found in sorted(directory.glob(pattern)):
            return found.name
    return None


def _marked(directory: Path, marker: str) -> bool:
    """Whether ``directory`` holds ``marker`` as a regular file (a link does not count)."""
    try:
        return stat.S_ISREG(os.lstat(directory / marker).st_mode)
    except OSError:
        return False


def _file_on_the_way(out: Path) -> str | None:
    """Return the first existing parent of ``out`` (shown) if it is not a directory."""
    for parent in out.parents:
        if parent.exists() or parent.is_symlink():
            return None if parent.is_dir() else display(parent)
    return None


def output_dir_problem(
    out: str | os.PathLike[str],
    marker: str,
    command: str,
    *,
    inputs: Sequence[str | os.PathLike[str]] = (),
    owned: frozenset[str] = frozenset(),
    replace: bool = False,
) -> Problem | None:
    """Return why ``command`` must not write into (or replace) ``out``, or ``None``.

    Refused, whatever is in it: the working directory or a directory containing it, a
    git repository (a ``.git`` inside), a directory holding records, specs or
    ``references.bib``, and a directory that is or contains one of ``inputs``. An existing
    directory is accepted when it is empty, holds ``marker`` (a regular file this command
    wrote there) or, for directories from before markers, when every name in it is one of
    ``owned``. With ``replace`` (the directory is deleted and rebuilt) a symbolic link is
    refused too. Nothing is written.

    Parameters
    ----------
    out : str or path-like
        The output directory as given (``--out``).
    marker : str
        File name of the marker the command leaves in directories it owns.
    command : str
        The command, for the message (``"evidence book"``).
    inputs : sequence of path-like
        Directories the command reads; the output must not be or contain one.
    owned : frozenset of str
        Names the command itself writes into the directory: an unmarked directory holding
        only these is adopted.
    replace : bool
        The command deletes the directory before writing it again.
    """
    out = Path(out)
    shown = display(out) or "."
    try:
        target = out.resolve(strict=False)
    except (OSError, RuntimeError):
        return Problem(
            shown,
            0,
            0,
            f"is a symbolic link loop; pass a real directory to {command} --out",
            OUTPUT_UNSAFE,
        )

    def refuse(why: str, fix: str = "") -> Problem:
        return Problem(
            shown,
            0,
            0,
            f"{command} will not write here: {why}; pass a new or empty directory with --out{fix}",
            OUTPUT_UNSAFE,
        )

    here = Path.cwd().resolve()
    if target == here or target in here.parents:
        return refuse(
            "it is the working directory" if target == here else "it contains the working directory"
        )
    for given in inputs:
        source = safe_resolve(given)
        if target == source or target in source.parents:
            return refuse(
                f"it {'is' if target == source else 'contains'} "
                f"{display(given) or '.'}, an input of {command}"
            )
    if replace and out.is_symlink():
        return refuse(
            f"it is a symbolic link to {_link_text(out)}, and {command} deletes "
            "and rebuilds its output directory"
        )
    if not out.exists():
        if out.is_symlink():
            return refuse("it is a dangling symbolic link")
        blocking = _file_on_the_way(out)
        return None if blocking is None else refuse(f"{blocking} is a file, not a directory")
    if not out.is_dir():
        return refuse("it is a file, not a directory")
    if (target / ".git").exists():
        return refuse("it is a git repository")
    record = _holds_records(target)
    if record is not None:
        return refuse(f"it holds {record} (records, analysis specs or a bibliography)")
    try:
        names = {entry.name for entry in target.iterdir()}
    except OSError as exc:
        return refuse(f"it cannot be listed ({(exc.strerror or str(exc)).lower()})")
    if not names or _marked(target, marker):
        return None
    foreign = sorted(names - owned)
    if not foreign:
        return None
    listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
    return refuse(
        f"it already holds files {command} did not write ({listed}) and no {marker} marker",
        " (or delete this one yourself if nothing in it is needed)",
    )


def claim_output_dir(
    out: str | os.PathLike[str], marker: str, note: str, clear: bool = False
) -> None:
    """Create ``out`` (emptied first with ``clear``) and leave the ``marker`` file in it.

    Call only after :func:`output_dir_problem` returned ``None``: ``clear`` deletes the
    directory with everything in it.
    """
    import shutil

    out = Path(out)
    if clear and out.is_dir() and not out.is_symlink():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if not _marked(out, marker):
        atomic_write(out / marker, note)


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], busy: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the ``with`` body.

    Raises
    ------
    EvidenceError
        ``output-locked`` with the message ``busy`` when another process holds the lock.
        The lock file is left in place (deleting it would let a third run lock another
        file of the same name).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:  # e.g. a symbolic link there, or a read-only directory
        reason = (exc.strerror or str(exc)).lower()
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link: never written through
            hint = "remove the link (the lock file is never written through one)"
        else:
            hint = f"make {display(path.parent)} writable or pass another directory with --out"
        raise EvidenceError(
            [Problem(display(path), 0, 0, f"cannot open the lock file: {reason}; {hint}", LOCKED)]
        ) from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EvidenceError([Problem(display(path), 0, 0, busy, LOCKED)]) from None
        yield
    finally:
        os.close(descriptor)
