"""The evidence history of each analysis: its pooled estimate after each change to its inputs.

A living review shows how its answers moved as evidence was added. For every commit of the
repository's first-parent history that changed ``studies/`` or ``analyses/`` (oldest
first), the records and specifications as they were at that commit are read from git
(``git archive``, into a temporary directory; the working tree, index and branch are never
touched) and every analysis is run with the installed code, as ``evidence diff`` does, so
the history shows how the *records and plans* moved the estimate, not how the code did.
Only the pooled estimate is needed, so subgroup, moderator, sensitivity and small-study
analyses are left out of those runs.

A point is kept for an analysis when its inputs changed: its specification (less the
diagnostics) or one of the records it selected differs from the previous point's. Every
commit's results are cached in ``build/history/cache/<commit>-<code>.json``, where
``<code>`` fingerprints the fitting code (records, effects, stats, analyses, schemas), so a
run with nothing new costs one ``git log`` and reading the cache.

``build/history/<id>.json`` (written by :func:`write_histories`)::

    {"id", "title", "metric", "back_transform", "orient", "outcome",
     "points": [{"commit", "date", "status", "k", "samples", "studies",
                 "series": {"overall" | <outcome family>: {"status", "k", "estimate",
                                                          "ci", "pi"}}}]}

Estimates are on the natural scale (ratios, correlations). An analysis that did not exist
yet, or whose records could not be read with the current code at a commit, has no point
there.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from evidence.errors import EvidenceError

#: Folders whose history is followed, relative to the folder holding them.
TRACKED = ("studies", "analyses")
#: Spec keys that only ask for diagnostics: left out of the history runs (speed).
DIAGNOSTIC_KEYS = ("subgroups", "moderators", "sensitivity", "bias", "compare_with", "multiverse")
#: Packages whose code decides the numbers (their change invalidates the cache).
FITTING_CODE = ("records", "effects", "stats", "analyses", "schema", "data")
#: Version of the cache layout (bump to discard old caches).
CACHE_VERSION = "1"


class HistoryUnavailableError(Exception):
    """No history can be read (no git, not a repository); one line for people."""


def _git(root: Path, *arguments: str, binary: bool = False) -> Any:
    executable = shutil.which("git")
    if executable is None:
        raise HistoryUnavailableError("git is not installed")
    completed = subprocess.run(
        [executable, "-C", str(root), *arguments],
        capture_output=True,
        text=not binary,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        error = completed.stderr if not binary else completed.stderr.decode("utf-8", "replace")
        raise HistoryUnavailableError(
            error.strip().splitlines()[-1] if error.strip() else "git failed"
        )
    return completed.stdout


def code_fingerprint() -> str:
    """sha256 over the fitting code and schemas (not the report or the commands)."""
    package = Path(__file__).parents[1]
    digest = hashlib.sha256(CACHE_VERSION.encode())
    for folder in FITTING_CODE:
        for path in sorted((package / folder).rglob("*")):
            if path.suffix in (".py", ".json", ".yaml", ".tsv") and "__pycache__" not in path.parts:
                digest.update(path.relative_to(package).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def input_commits(root: Path) -> list[tuple[str, str]]:
    """Return (commit, committer date YYYY-MM-DD) of each change to the inputs, oldest first."""
    out = _git(root, "log", "--first-parent", "--reverse", "--format=%H %cs", "--", *TRACKED)
    found = []
    for line in out.splitlines():
        commit, _, date = line.strip().partition(" ")
        if commit:
            found.append((commit, date))
    return found


def _blobs(root: Path, commit: str) -> dict[str, str]:
    """Return ``{path: blob id}`` of every tracked file at ``commit`` (paths from ``root``)."""
    out = _git(root, "ls-tree", "-r", commit, "--", *TRACKED)
    blobs = {}
    for line in out.splitlines():
        meta, _, path = line.partition("\t")
        blobs[path] = meta.split()[2]
    return blobs


def _materialise(root: Path, commit: str, blobs: Mapping[str, str], target: Path) -> None:
    """Write the tracked files of ``commit`` under ``target`` (specs without diagnostics)."""
    folders = sorted({path.split("/", 1)[0] for path in blobs})
    for folder in TRACKED:
        (target / folder).mkdir(parents=True, exist_ok=True)
    if not folders:
        return
    prefix = _git(root, "rev-parse", "--show-prefix").strip()
    data = _git(root, "archive", "--format=tar", commit, "--", *folders, binary=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.startswith(prefix):
                continue
            relative = member.name[len(prefix) :]
            if relative.split("/", 1)[0] not in TRACKED or ".." in Path(relative).parts:
                continue
            source = archive.extractfile(member)
            if source is None:
                continue
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read())
            if relative.startswith("analyses/") and relative.endswith(".yaml"):
                _drop_diagnostics(path)


def _drop_diagnostics(path: Path) -> None:
    """Drop the spec keys that only ask for diagnostics (the spec stays valid).

    The spec is read with the project's own loader (YAML core schema, as ``evidence run``
    reads it) and written back with PyYAML, which quotes any string another schema could
    read differently. A spec the loader rejects is left as it is (the run reports it).
    """
    from evidence.records.yamlio import load_yaml

    loaded = load_yaml(path)
    if loaded.problems or not isinstance(loaded.data, dict):
        return
    spec = {key: value for key, value in loaded.data.items() if key not in DIAGNOSTIC_KEYS}
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), "utf-8")


def _natural(document: Mapping[str, Any], pooled: Any) -> dict[str, Any]:
    """Estimate, CI and PI of a pooled section on the natural scale (None when absent)."""
    if not isinstance(pooled, Mapping) or not pooled.get("estimable", True):
        return {"estimate": None, "ci": None, "pi": None}
    shown = pooled.get("back_transformed") if document.get("back_transform") else pooled
    shown = shown if isinstance(shown, Mapping) else {}
    return {key: shown.get(key) for key in ("estimate", "ci", "pi")}


def point_of(document: Mapping[str, Any], contents: Mapping[str, str]) -> dict[str, Any]:
    """Summarise one results document at one commit, with the fingerprint of its inputs.

    ``contents`` maps each input path to a hash of its content as run.
    """
    inputs = sorted(
        path
        for path in (document.get("provenance") or {}).get("inputs", {})
        if path.endswith(".yaml") and path.startswith(TRACKED)
    )
    fingerprint = hashlib.sha256(
        json.dumps([(path, contents.get(path)) for path in inputs]).encode()
    ).hexdigest()
    counts = document.get("effects") or {}
    series: dict[str, Any] = {}
    if document.get("status") == "by-family":
        for family in document.get("by_family") or []:
            series[str(family.get("family"))] = {
                "status": family.get("status"),
                "k": family.get("k"),
                **_natural(document, family.get("pooled")),
            }
    else:
        pooled = document.get("pooled")
        series["overall"] = {
            "status": document.get("status"),
            "k": (pooled or {}).get("k") if isinstance(pooled, Mapping) else None,
            **_natural(document, pooled if document.get("status") == "ok" else None),
        }
    return {
        "status": document.get("status"),
        "k": counts.get("included"),
        "samples": counts.get("clusters"),
        "studies": counts.get("studies"),
        "inputs": fingerprint,
        "series": series,
    }


def _run_commit(root: Path, commit: str) -> dict[str, Any]:
    """Run every analysis on the inputs of ``commit``; return ``{id: point}``."""
    from evidence.analyses.runner import run_analyses

    blobs = _blobs(root, commit)
    with tempfile.TemporaryDirectory(prefix="evidence-history-") as scratch:
        tree = Path(scratch) / "tree"
        _materialise(root, commit, blobs, tree)
        # what each input holds as run: a spec changed only in its diagnostics is the same
        contents = {
            path.relative_to(tree).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in tree.rglob("*.yaml")
        }
        build = Path(scratch) / "build"
        try:
            documents = run_analyses(
                tree / "studies",
                tree / "analyses",
                build,
                figures=False,
                force=True,
                progress=io.StringIO(),
            )
        except EvidenceError:  # records unreadable now, or some analyses failed
            documents = [
                json.loads(path.read_text("utf-8"))
                for path in sorted((build / "results").glob("*.json"))
                if path.name != "index.json"
            ]
        return {str(d["id"]): {**point_of(d, contents), "title": d.get("title")} for d in documents}


def _cached(cache: Path, root: Path, commit: str, code: str) -> dict[str, Any]:
    path = cache / f"{commit}-{code[:16]}.json"
    if path.is_file():
        try:
            return dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError):
            pass
    text = json.dumps(_run_commit(root, commit), indent=1, sort_keys=True) + "\n"
    cache.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(text, "utf-8")
    scratch.replace(path)
    # as a later run reads it back (keys sorted): the histories written from a fresh
    # computation and from the cache are the same bytes, so nothing downstream redraws
    return dict(json.loads(text))


def histories(
    root: Path, out_dir: Path, ids: Sequence[str], progress: TextIO | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Return each analysis's history points (one per change to its inputs), oldest first.

    Raises
    ------
    HistoryUnavailableError
        When ``root`` is not in a git repository (or git is missing).
    """
    code = code_fingerprint()
    cache = Path(out_dir) / "history" / "cache"
    found: dict[str, list[dict[str, Any]]] = {identifier: [] for identifier in ids}
    commits = input_commits(root)
    for number, (commit, date) in enumerate(commits, start=1):
        if progress is not None:
            print(f"[{number}/{len(commits)}] {commit[:10]} {date}", file=progress)
        points = _cached(cache, root, commit, code)
        for identifier, point in points.items():
            if identifier not in found:
                continue
            previous = found[identifier][-1] if found[identifier] else None
            if previous is not None and previous["inputs"] == point["inputs"]:
                continue
            found[identifier].append({"commit": commit, "date": date, **point})
    return found


def write_histories(
    root: Path, out_dir: Path, documents: Sequence[Mapping[str, Any]], progress: TextIO | None
) -> dict[str, Path]:
    """Write ``build/history/<id>.json`` for every analysis in ``documents``; return paths."""
    ids = [str(d["id"]) for d in documents]
    found = histories(root, out_dir, ids, progress)
    written = {}
    folder = Path(out_dir) / "history"
    folder.mkdir(parents=True, exist_ok=True)
    for document in documents:
        identifier = str(document["id"])
        question = document.get("question") or {}
        history = {
            "id": identifier,
            "title": document.get("title"),
            "metric": document.get("metric"),
            "back_transform": document.get("back_transform"),
            "orient": document.get("orient"),
            "outcome": question.get("outcome") if isinstance(question, Mapping) else None,
            "points": found.get(identifier, []),
        }
        path = folder / f"{identifier}.json"
        text = json.dumps(history, indent=2) + "\n"
        if not path.is_file() or path.read_text("utf-8") != text:
            scratch = path.with_suffix(".tmp")
            scratch.write_text(text, "utf-8")
            scratch.replace(path)
        written[identifier] = path
    return written
