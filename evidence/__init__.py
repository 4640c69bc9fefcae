"""evidence: a living evidence base on social ties and health, and the toolkit that runs it.

Data flows one way, one package per layer: records -> effects -> stats -> analyses ->
report (plots, book) -> commands/cli. ARCHITECTURE.md describes each layer and what it
may import (checked by import-linter).
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_studies"]


def __getattr__(name: str) -> Any:
    """Import :func:`evidence.records.validate.load_studies` on first use (keeps imports light)."""
    if name == "load_studies":
        from evidence.records.validate import load_studies

        return load_studies
    raise AttributeError(f"module 'evidence' has no attribute {name!r}")
