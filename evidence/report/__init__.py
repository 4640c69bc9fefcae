"""report: results files -> figures (``plots``) and the site (``book``); never re-fits.

``values`` reads numbers back from results JSON; ``plots`` draws deterministic SVG
figures (one registry of figure kinds); ``book`` generates the MyST pages (one registry
of site pages) and builds them with Jupyter Book.

May import: every layer below (records, effects, stats, analyses) and
:mod:`evidence.errors`, but never fits: reading result types and registries is fine,
calling ``stats.pooling`` or any other fitting function is not (checked by
import-linter).

Add here: a figure (a module in ``plots/`` registering a ``FigureKind``), a site page (a
generator registered in ``book/pages.py``).
"""
