"""stats: ``yi, vi`` -> fitted models and their result types (the numeric core).

Batches and quadratic forms (``batch``), tau^2 estimators (``tau2``, one registry; the
global maximum of the ML/REML likelihood in ``likelihood``),
heterogeneity (``heterogeneity``), pooling (``pooling``), result dataclasses
(``results``), input checks (``inputs``), back-transforms (``transforms``, one
registry), moderators, sensitivity, influence, bias, missing studies, permutation tests,
the three-level model (``multilevel``, ``dependence``), Mantel-Haenszel, Peto and GLMMs
for sparse binary data (``mantel_haenszel``, ``peto``, ``glmm``), multivariate and
multilevel models (``multivariate``: ``rma_mv``, with ``vcalc`` for the sampling
covariances), selection models (``selection``: ``selmodel``) and the one error type
(``errors.InputError``, carrying a rule id and a message, never a file position).

May import: numpy, scipy, the standard library and ``evidence.stats`` itself; nothing
else of the package (not :mod:`evidence.errors`, records, effects, analyses or report).
The layer is checked against metafor fixtures and knows nothing about files.

Add here: a tau^2 estimator (one ``Estimator`` in ``tau2.ESTIMATORS`` and its test), a
back-transform (one entry in ``transforms.TRANSFORMS``), a new statistical method (its
own module, returning a result dataclass with ``to_dict()``).
"""
