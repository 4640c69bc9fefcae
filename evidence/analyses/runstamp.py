"""The whole-run stamp: ``evidence run`` with nothing changed answers without loading anything.

A full run (every analysis, no failure) leaves ``build/.run-stamp.json`` holding

- ``key``: sha256 over the package version and code (:func:`evidence.code_fingerprint`,
  plus the package's data tables), the run's options, the working directory, the input
  directories and the name and bytes of every file under ``studies/`` and ``analyses/``;
- ``outputs``: the sha256 of every file the run wrote or kept (each analysis's results
  JSON and the outputs its provenance lists, the index, the summary forest);
- ``transcript``: what a run with nothing changed prints (the warnings, and
  "unchanged, skipped" for every analysis).

The next run computes the key before importing the statistics; when it equals the stamp's
and every output still has its recorded sha256, the transcript is printed again and
nothing else is done. Any other case (a byte changed in an input, an output edited or
removed, a symbolic link or special file among the inputs, other code, options or
directories) falls through to the usual run, which skips analyses one by one. The stamp
is strictly more cautious than the per-analysis check: every input byte is in its key.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from evidence import __version__, code_fingerprint
from evidence.analyses.builddir import BUILD_MARKER, BUILD_NAMES

#: Stamp file of a complete run, in the build directory (beside ``results/``).
STAMP_NAME = ".run-stamp.json"
#: Version of the stamp layout (bump to discard old stamps).
STAMP_VERSION = "1"


def file_digest(path: str) -> str | None:
    """sha256 of a regular file's bytes, or ``None`` when it is not one or cannot be read."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def tree_digests(directory: Path, skip: Iterable[str] = ()) -> list[tuple[str, str]] | None:
    """``(relative path, sha256)`` of every file under ``directory``, sorted.

    Top-level folders named in ``skip`` are left out (outputs kept in a source folder).
    ``None`` when anything is not a plain file or directory (a link, a FIFO, a device) or
    cannot be read: such trees always take the full run, which reports them.
    """
    found = []
    top = os.fspath(directory)
    for current, folders, files in os.walk(top, onerror=_raise):
        if current == top:
            folders[:] = [name for name in folders if name not in set(skip)]
        for name in folders:
            if os.path.islink(os.path.join(current, name)):
                return None
        for name in files:
            path = os.path.join(current, name)
            digest = file_digest(path)
            if digest is None:
                return None
            found.append((os.path.relpath(path, top).replace(os.sep, "/"), digest))
    return sorted(found)


def directory_key(directory: Path, skip: Iterable[str] = ()) -> list[Any] | str | None:
    """Return the name, resolved path and :func:`tree_digests` of a directory for a key.

    ``"absent"`` when it does not exist; ``None`` when it is a link or anything in it
    cannot be digested.
    """
    try:
        if not directory.exists() and not directory.is_symlink():
            return "absent"
        if directory.is_symlink() or not directory.is_dir():
            return None
        entries = tree_digests(directory, skip)
        resolved = str(directory.resolve())
    except OSError:
        return None
    return None if entries is None else [os.fspath(directory), resolved, entries]


def _raise(error: OSError) -> None:
    raise error


def code_key() -> list[Any]:
    """Return the package version, code fingerprint and data tables, for a stamp's key."""
    package = Path(__file__).parents[1]
    data = sorted((package / "data").glob("*"))
    return [__version__, code_fingerprint(), [(p.name, file_digest(os.fspath(p))) for p in data]]


def run_options(figures: bool, summary: bool) -> dict[str, bool]:
    """Return the options a run's outputs depend on (part of the stamp's key)."""
    return {"figures": figures, "summary": figures and summary}


def input_key(studies_dir: Path, analyses_dir: Path, options: Mapping[str, Any]) -> str | None:
    """sha256 of everything a full run reads and decides by; ``None`` when not computable."""
    described: dict[str, Any] = {
        "stamp": STAMP_VERSION,
        "code": code_key(),
        "options": dict(options),
        # problems name files relative to the working directory
        "cwd": os.getcwd(),
        "directories": [],
    }
    for directory in (studies_dir, analyses_dir):
        entries = directory_key(directory)
        if not isinstance(entries, list):
            return None
        described["directories"].append(entries)
    text = json.dumps(described, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def outputs_of(out_dir: Path, documents: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Return ``{path relative to out_dir: sha256}`` of what a run wrote or kept."""
    relative = ["results/index.json", "figures/summary-forest.svg", "figures/.summary-forest.json"]
    for document in documents:
        relative.append(f"results/{document['id']}.json")
        provenance = document.get("provenance")
        outputs = provenance.get("outputs") if isinstance(provenance, Mapping) else None
        if isinstance(outputs, Mapping):
            relative += [str(name) for name in outputs]
    return {name: file_digest(os.fspath(out_dir / name)) for name in sorted(set(relative))}


def record(
    out_dir: Path, key: str | None, documents: Sequence[Mapping[str, Any]], text: str
) -> None:
    """Write the stamp of a complete run (nothing when ``key`` is ``None``)."""
    path = Path(out_dir) / STAMP_NAME
    if key is None:
        with contextlib.suppress(OSError):  # the stamp only saves time
            path.unlink()
        return
    stamp = {"key": key, "outputs": outputs_of(Path(out_dir), documents), "transcript": text}
    scratch = path.with_name(f"{STAMP_NAME}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):  # the stamp only saves time
        scratch.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", "utf-8")
        scratch.replace(path)


def forget(out_dir: Path) -> None:
    """Remove the stamp (a run that is not complete must not leave an old one behind)."""
    record(out_dir, None, [], "")


def replay(
    studies_dir: Path,
    analyses_dir: Path,
    out_dir: Path,
    options: Mapping[str, Any],
    stream: TextIO,
) -> bool:
    """Print the last complete run's transcript and return ``True`` when nothing changed.

    Nothing is read but file metadata and bytes, and nothing is written. ``False`` (the
    caller runs as usual) whenever the stamp is missing, unreadable, for other inputs,
    code or options, or an output it lists has changed, and when ``out_dir`` is not a
    build directory marked by an earlier run.
    """
    from evidence.records.safefs import output_dir_problem

    out_dir = Path(out_dir)
    if file_digest(os.fspath(out_dir / BUILD_MARKER)) is None:
        return False
    problem = output_dir_problem(
        out_dir, BUILD_MARKER, "evidence run", inputs=[studies_dir, analyses_dir], owned=BUILD_NAMES
    )
    if problem is not None:
        return False
    try:
        stamp = json.loads((out_dir / STAMP_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or not isinstance(stamp.get("outputs"), dict):
        return False
    if not isinstance(stamp.get("transcript"), str):
        return False
    key = input_key(studies_dir, analyses_dir, options)
    if key is None or stamp.get("key") != key:
        return False
    for name, digest in stamp["outputs"].items():
        if file_digest(os.fspath(out_dir / name)) != digest:
            return False
    stream.write(stamp["transcript"])
    stream.flush()
    return True


class Tee(io.StringIO):
    """A text stream that writes to ``stream`` and keeps a copy (the run's transcript)."""

    def __init__(self, stream: TextIO):
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` to the stream and keep it."""
        super().write(text)
        return self.stream.write(text)

    def show(self, text: str, kept: str) -> None:
        """Write ``text`` to the stream and keep ``kept`` in its place."""
        super().write(kept)
        self.stream.write(text)

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()

    def text(self) -> str:
        """Return everything kept so far."""
        return self.getvalue()
