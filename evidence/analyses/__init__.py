"""analyses: an analysis spec + study records -> results files (``evidence run``, ``diff``).

``spec`` loads and checks ``analyses/*.yaml``; ``harmonise`` puts the selected effects
on the analysis metric; ``fit`` runs the statistics of one analysis; ``certainty`` makes
the GRADE-style proposal; ``runner`` writes ``build/results``; ``published`` reads the
shipped headline table; ``compare`` and ``gitdiff`` power ``evidence diff``.

May import: records, effects, stats and :mod:`evidence.errors`. Never report (figures are
drawn through the ``render`` callback the command passes to
:func:`evidence.analyses.runner.run_analyses`). Turns
:class:`~evidence.stats.errors.InputError` into ``file:line:col: message [rule-id]``
problems naming the spec.

Add here: a new spec field (``schema/analysis.schema.json`` and ``spec.py``), a new
results section (``fit.py``, then ``runner.build_document``).
"""
