"""evidence: a living evidence base on social ties and health, and the toolkit that runs it.

Data flows one way, one package per layer: records -> effects -> stats -> analyses ->
report (plots, book) -> commands/cli. ARCHITECTURE.md describes each layer and what it
may import (checked by import-linter).
"""

from functools import cache
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "code_fingerprint", "load_studies"]


@cache
def code_fingerprint() -> str:
    """sha256 over the package's Python files and schemas: a code change reruns and rebuilds.

    ``evidence run`` records it in every results file's provenance and ``evidence book`` in
    its site state, so neither keeps results or pages made by other code.
    """
    import hashlib
    from pathlib import Path

    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".json", ".yaml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def __getattr__(name: str) -> Any:
    """Import :func:`evidence.records.validate.load_studies` on first use (keeps imports light)."""
    if name == "load_studies":
        from evidence.records.validate import load_studies

        return load_studies
    raise AttributeError(f"module 'evidence' has no attribute {name!r}")
