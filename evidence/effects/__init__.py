"""effects: reported statistics -> effect sizes ``yi`` and sampling variances ``vi``.

``escalc`` holds the measure registry (metafor ``escalc`` names: function, scale and
back-transform of each measure); ``reported`` the tested converters for what papers
print (ratio with CI, estimate with p, t/F, r <-> d, OR <-> SMD); ``conversions`` puts
one recorded :class:`~evidence.records.model.Statistic` on an analysis metric;
``csvinput`` reads metafor-style CSV files for ``evidence pool`` and ``evidence effects``
(``csvfast`` reads large clean ones with pyarrow to the same table).

May import: numpy, scipy, the standard library, :mod:`evidence.records` and
:mod:`evidence.errors`; pyarrow in ``csvfast`` only (imported for large CSV files alone).
Not :mod:`evidence.stats`: a measure *names* its back-transform (``"exp"``, ``"tanh"``,
...) and ``stats.transforms`` applies it (a test checks every name is registered there).
Never analyses or report.

Add here: an effect measure (one :class:`~evidence.effects.escalc.Measure` in
``escalc.MEASURE_REGISTRY`` and its test).
"""
