r"""Sampling covariance matrices of dependent effect sizes (metafor ``vcalc``).

Effects computed from the same sample are correlated. When only the variances ``v_i``
are reported, the usual working model (Viechtbauer's ``vcalc``, metafor 3.8) imputes
the covariances from an assumed correlation ``rho``:

.. math::

    V_{ij} = R_{ij} \sqrt{v_i v_j}, \qquad
    R_{ij} = \begin{cases}
      1 & i = j \text{, or same cluster, same type and same obs} \\
      \rho_{obs} & \text{same cluster, same type, different obs} \\
      \rho_{type} & \text{same cluster, different type} \\
      0 & \text{different clusters}
    \end{cases}

``obs`` distinguishes several observations (e.g. different outcomes or measures) of the
same construct within a cluster and ``type`` different constructs; as in metafor, rows of
one cluster with the same ``type`` and the same (or no) ``obs`` are taken to be the same
observation (correlation 1). ``rho`` is a number when only one of ``obs``/``type`` is
given and a pair ``(rho_obs, rho_type)`` when both are. ``subgroup`` splits clusters
into independent subgroups (``cluster.subgroup``).

The matrix is block diagonal by cluster, so it is returned as blocks
(:class:`SamplingCovariance`); :meth:`SamplingCovariance.matrix` assembles the dense
``N x N`` matrix when it is wanted. Not covered: metafor's ``grp1``/``grp2``,
``time1``/``time2``, ``w1``/``w2`` (contrasts sharing a group, autocorrelated time
points) and ``rvars``.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software 36(3), 1-48 (metafor 3.8 ``vcalc``).
Gleser LJ, Olkin I (2009). Stochastically dependent effect sizes. In Cooper H, Hedges LV,
Valentine JC (eds), The Handbook of Research Synthesis and Meta-Analysis, 2nd ed.,
357-376.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.errors import InputError

__all__ = ["SamplingCovariance", "VcalcError", "vcalc"]

Array = NDArray[np.float64]


class VcalcError(InputError):
    """Invalid input to :func:`vcalc`."""


@dataclass(frozen=True)
class SamplingCovariance:
    """A block-diagonal sampling covariance matrix, one block per cluster.

    Attributes
    ----------
    clusters : tuple of str
        Cluster labels in order of first appearance.
    rows : tuple of ndarray of int
        Rows (of the input order) of each cluster, in input order.
    blocks : tuple of ndarray
        ``len(rows[c]) x len(rows[c])`` covariance block of each cluster.
    n : int
        Number of effects.
    """

    clusters: tuple[str, ...]
    rows: tuple[NDArray[np.int64], ...]
    blocks: tuple[Array, ...]
    n: int

    def matrix(self) -> Array:
        """Return the dense ``N x N`` matrix (rows in input order)."""
        out = np.zeros((self.n, self.n))
        for rows, block in zip(self.rows, self.blocks, strict=True):
            out[np.ix_(rows, rows)] = block
        return out

    def not_positive_definite(self) -> tuple[str, ...]:
        """Clusters whose block has an eigenvalue at or below machine epsilon."""
        bad = []
        for label, block in zip(self.clusters, self.blocks, strict=True):
            scale = np.sqrt(np.diag(block))
            corr = block / np.outer(scale, scale)
            if np.linalg.eigvalsh(corr).min() <= np.finfo(float).eps:
                bad.append(label)
        return tuple(bad)

    def to_dict(self) -> dict[str, object]:
        """JSON form: ``{"n", "blocks": [{"cluster", "rows", "matrix"}]}``."""
        return {
            "n": self.n,
            "blocks": [
                {
                    "cluster": label,
                    "rows": [int(r) for r in rows],
                    "matrix": [[float(x) for x in row] for row in block],
                }
                for label, rows, block in zip(self.clusters, self.rows, self.blocks, strict=True)
            ],
        }


def _labels(values: ArrayLike | None, n: int, name: str) -> NDArray[np.str_] | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=object).ravel()
    if array.size != n:
        raise VcalcError(f"{name} has {array.size} values but vi has {n}", "vcalc-length")
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in array):
        raise VcalcError(f"{name} has missing values", "vcalc-missing")
    return np.asarray([str(v) for v in array])


def vcalc(
    vi: ArrayLike,
    cluster: ArrayLike,
    *,
    obs: ArrayLike | None = None,
    type: ArrayLike | None = None,  # noqa: A002 - metafor's argument name
    rho: float | Sequence[float] | None = None,
    subgroup: ArrayLike | None = None,
) -> SamplingCovariance:
    """Build the sampling covariance matrix from variances and a working correlation.

    Parameters
    ----------
    vi : array_like, shape (N,)
        Sampling variances (finite, ``>= 0``).
    cluster : array_like, shape (N,)
        Cluster (study or sample) of each effect; effects of different clusters are
        independent.
    obs, type : array_like, shape (N,), optional
        Observation and construct labels (see the module docstring).
    rho : float or (float, float)
        Correlation of different observations (``obs``) or of different constructs
        (``type``); with both, ``(rho_obs, rho_type)``. Each in ``[-1, 1]``.
    subgroup : array_like, shape (N,), optional
        Independent subgroups within clusters.

    Returns
    -------
    SamplingCovariance

    Raises
    ------
    VcalcError
        For inputs of the wrong length, missing labels, variances that are negative or
        not finite, or a missing or out-of-range ``rho``.

    Examples
    --------
    >>> v = vcalc([0.04, 0.09, 0.05], cluster=["a", "a", "b"], obs=[1, 2, 1], rho=0.5)
    >>> v.matrix().round(3).tolist()
    [[0.04, 0.03, 0.0], [0.03, 0.09, 0.0], [0.0, 0.0, 0.05]]
    """
    v = np.asarray(vi, dtype=float).ravel()
    n = v.size
    if n == 0:
        raise VcalcError("vi is empty", "vcalc-empty")
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise VcalcError("vi must be finite and non-negative", "vcalc-variance")
    clusters = _labels(cluster, n, "cluster")
    assert clusters is not None
    groups = _labels(subgroup, n, "subgroup")
    if groups is not None:
        clusters = np.asarray([f"{c}.{g}" for c, g in zip(clusters, groups, strict=True)])
    obs_labels = _labels(obs, n, "obs")
    type_labels = _labels(type, n, "type")
    if obs_labels is not None and type_labels is not None:
        values = np.atleast_1d(np.asarray(rho if rho is not None else [], dtype=float))
        if values.size != 2:
            raise VcalcError("with both obs and type, rho must be (rho_obs, rho_type)", "vcalc-rho")
        rho_obs, rho_type = float(values[0]), float(values[1])
    elif obs_labels is not None or type_labels is not None:
        values = np.atleast_1d(np.asarray(rho if rho is not None else [], dtype=float))
        if values.size != 1:
            raise VcalcError(
                "rho must be a single correlation when only obs or type is given", "vcalc-rho"
            )
        rho_obs = float(values[0]) if obs_labels is not None else 0.0
        rho_type = float(values[0]) if type_labels is not None else 0.0
    else:
        rho_obs = rho_type = 0.0
    if not (-1 <= rho_obs <= 1 and -1 <= rho_type <= 1):
        raise VcalcError("rho must lie in [-1, 1]", "vcalc-rho")
    obs_labels = obs_labels if obs_labels is not None else np.full(n, "1")
    type_labels = type_labels if type_labels is not None else np.full(n, "1")

    _, first, codes = np.unique(clusters, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    labels, rows, blocks = [], [], []
    sd = np.sqrt(v)
    by_code = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes))])
    for code in order:
        members = by_code[bounds[code] : bounds[code + 1]]
        same_type = type_labels[members][:, None] == type_labels[members][None, :]
        same_obs = obs_labels[members][:, None] == obs_labels[members][None, :]
        corr = np.where(same_type, np.where(same_obs, 1.0, rho_obs), rho_type)
        np.fill_diagonal(corr, 1.0)
        labels.append(str(clusters[members[0]]))
        rows.append(members)
        blocks.append(corr * np.outer(sd[members], sd[members]))
    return SamplingCovariance(tuple(labels), tuple(rows), tuple(blocks), n)
