"""Figure kinds: one registry, filled by the figure modules themselves.

Each module of :mod:`evidence.report.plots` that draws a figure of an analysis registers
its kind with :func:`register`: a :class:`FigureKind` names the figure (the file is
``figures/<id>-<name>.svg``), orders it, says when it applies to a results document and
renders it into one or more drawings (:class:`Drawing`).
:func:`evidence.report.plots.render_all` draws every kind that applies, in ``order``; a
stale figure of a registered kind is removed when its analysis no longer produces it.

Adding a figure kind is one module in ``report/plots/`` (imported automatically) that
calls :func:`register`, and its test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas

from evidence.report.plots.data import EffectRow, Pooled
from evidence.report.plots.scale import Scale


@dataclass(frozen=True)
class FigureInput:
    """What every figure of one analysis is drawn from (results-file data only).

    ``multiverse`` is the analysis's ``results/<id>-multiverse.parquet`` table when its
    results name one (the specification curve is drawn from it); ``families`` holds, by
    file-name slug, the table of each outcome family's own multiverse of a by-family result.
    """

    result: dict[str, Any]
    effects: pandas.DataFrame
    rows: list[EffectRow]
    scale: Scale
    pooled: Pooled | None
    multiverse: pandas.DataFrame | None = None
    families: dict[str, pandas.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Drawing:
    """One figure file to write: its name, SVG title prefix, alt text and the drawing.

    ``build()`` returns a matplotlib figure, or None when nothing can be drawn after all.
    """

    name: str
    title: str
    description: str
    build: Callable[[], Any]


@dataclass(frozen=True)
class FigureKind:
    """A kind of figure: its name, place in the order, when it applies, how it is drawn.

    The file is ``<id>-<name>.svg``, or ``<id>-<name>-<suffix>.svg`` when ``suffixed``
    (one per moderator, say). A kind with ``unpooled`` is also drawn for an analysis that
    pooled nothing (status ``insufficient-evidence`` or ``by-family``), from its studies.
    """

    name: str
    order: int
    applies: Callable[[FigureInput], bool]
    render: Callable[[FigureInput], Sequence[Drawing]]
    suffixed: bool = field(default=False)
    unpooled: bool = field(default=False)

    def owns(self, name: str) -> bool:
        """Return True when ``name`` (the file name between ``<id>-`` and ``.svg``) is ours.

        That is the kind's name, or (``suffixed``) its name, a hyphen and a file-name suffix.
        """
        if not self.suffixed:
            return name == self.name
        return name.startswith(f"{self.name}-") and bool(
            _SUFFIX.fullmatch(name[len(self.name) + 1 :])
        )


_KINDS: dict[str, FigureKind] = {}
#: A file-name suffix (``follow-up-years``): what a suffixed kind adds to its name.
_SUFFIX = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def register(kind: FigureKind) -> FigureKind:
    """Add a figure kind to the registry (its name must be new); return it."""
    if kind.name in _KINDS:
        raise ValueError(f"figure kind {kind.name!r} is registered twice")
    _KINDS[kind.name] = kind
    return kind


def figure_kinds() -> list[FigureKind]:
    """Every registered kind, in drawing order."""
    return sorted(_KINDS.values(), key=lambda kind: (kind.order, kind.name))


def is_figure_name(name: str) -> bool:
    """Return True when a registered kind writes figures named ``name`` (``forest``, ...)."""
    return any(kind.owns(name) for kind in _KINDS.values())
