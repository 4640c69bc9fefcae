"""Shared test helpers: figure callbacks for the runner, builders of records and tables."""

from __future__ import annotations

from typing import Any

import pytest

from evidence.report.plots import render_all, summary_forest


@pytest.fixture
def draw_figures() -> dict[str, Any]:
    """Keyword arguments that make ``run_analyses`` draw figures, as ``evidence run`` does."""
    return {"render": render_all, "render_summary": summary_forest}
