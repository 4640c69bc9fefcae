"""Every specification of an analysis's multiverse, fitted together (``evidence multiverse``).

A specification is one option of each choice of :mod:`evidence.analyses.choices`
(adjustment rule, dependence, inclusion, sample left out, tau^2 estimator, inference).
The work is split by the choices' stages:

1. **tables** (:func:`build_design`): the effect table is harmonised
   (:func:`evidence.analyses.harmonise.harmonise`) once per combination of the table-stage
   options, the inclusion options acting as exclusions *before* the adjustment and
   dependence rules. The included rows of every table form one *universe* of effects
   (one ``yi``, ``vi`` and sample per distinct row), and each table is a boolean mask over it.
2. **selections**: a table with one sample (cluster) left out is that mask and the
   sample's complement; a selection is fitted once per estimator and inference.
3. **fits** (:func:`fit_block`), a block of selections at a time: the masks are packed
   into padded arrays, the two-level fits go through the batched engine
   (:func:`evidence.stats.pooling.fit_batch`, one call per estimator and test) and the
   three-level fits through :func:`evidence.stats.multilevel_batch.fit_three_level_batch`;
   no Python loop runs over specifications.

A selection the model cannot take is pruned with a reason, for every specification it
would give: fewer than two effects, or fewer independent samples than the analysis pools
(``eligibility.min_samples``); effects of more than one outcome family when the analysis
keeps families apart (``eligibility.across_families: separate``: a specification never
pools what ``evidence run`` refuses to pool); a sample left out that the selection
does not hold (the same specification as leaving none out); an estimator other than REML
where the three-level model is used (it is fitted by REML, as ``evidence run`` does); a
three-level fit that does not converge; an inclusion rule of :data:`QUALITY_INCLUSIONS`
(extraction verified, low risk of bias) that leaves too few samples to pool.

Numbers are those of ``evidence run``/``evidence pool`` on the same selection and options:
two-level rows are :func:`~evidence.stats.pooling.pool`'s estimate, CI, prediction
interval, tau^2, I^2 and p; three-level rows follow :mod:`evidence.analyses.fit` (under
``knha`` or ``adhoc`` a t distribution with the containment df, samples - 1; I^2 of both
levels, Cheung 2014).

Blocks are a fixed number of selections, so a run in one process and a run on a Dask
cluster (:func:`run_multiverse` with a ``distributed.Client``) compute the same blocks and
write identical tables. Results stream block by block to Parquet and CSV
(:class:`TableWriter`), so memory is bounded by the block size, not the multiverse.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import itertools
import math
import os
import re
import secrets
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from evidence.analyses.choices import CHOICES, DEPENDENCE_RULES, KEEP_ALL, SPEC_DEPENDENCE
from evidence.analyses.harmonise import harmonise, select
from evidence.analyses.spec import RATIO_FAMILIES, Analysis, Exclusion
from evidence.records.model import Effect, Study
from evidence.stats.multilevel_batch import fit_three_level_batch
from evidence.stats.pooling import fit_batch
from evidence.stats.transforms import TRANSFORMS

#: Choices in table-column (and specification-index) order.
CHOICE_ORDER = tuple(CHOICES)
#: Specifications per block unless told otherwise (about 100 MB of working arrays at k = 20).
BLOCK_SPECIFICATIONS = 65_536
#: Confidence level of every CI and prediction interval.
LEVEL = 0.95
#: Model of a fitted row, as the table's ``model`` column names it.
MODELS = ("two-level", "three-level")

#: Why a specification was pruned, by code (the table of a block counts codes).
PRUNE_REASONS = (
    "fewer than two effects",
    "effects from fewer independent samples than the analysis pools",
    "the sample left out is not in this selection (the same as leaving none out)",
    "the three-level model is fitted by REML only",
    "the three-level REML fit did not converge",
    "effects of more than one kind of outcome, which this analysis keeps apart",
    "too few records meet the inclusion rule (extraction verified, or judged at low risk "
    "of bias) to pool",
)
(
    _FEW_EFFECTS,
    _FEW_SAMPLES,
    _ABSENT_SAMPLE,
    _NOT_REML,
    _NO_CONVERGENCE,
    _MIXED_OUTCOMES,
    _FEW_QUALIFY,
) = range(7)
#: Inclusion options that keep only records meeting a quality rule: a table they leave
#: with too few samples is pruned with :data:`PRUNE_REASONS` ``[_FEW_QUALIFY]``.
QUALITY_INCLUSIONS = ("verified-only", "low-risk-of-bias")

#: Inferences that give the three-level model a t test (as :mod:`evidence.analyses.fit`).
T_INFERENCES = ("knha", "adhoc", "t")

#: Float columns of the table, in order.
NUMBER_COLUMNS = (
    "estimate",
    "se",
    "ci_lower",
    "ci_upper",
    "pi_lower",
    "pi_upper",
    "tau2",
    "i2",
    "p",
)

#: Inclusion option -> (predicate of an effect to leave out, reason it is left out).
_INCLUSION: dict[str, tuple[Callable[[Study, Effect], bool], str] | None] = {
    "all": None,
    "primary-sources": (
        lambda study, effect: (
            study.extraction.source_type == "review-table" or effect.source.citation is not None
        ),
        "multiverse inclusion primary-sources: numbers copied from a review",
    ),
    "adjusted-only": (
        lambda study, effect: effect.adjustment in ("unadjusted", "not-reported"),
        "multiverse inclusion adjusted-only: unadjusted or adjustment not reported",
    ),
    "verified-only": (
        lambda study, effect: study.extraction.status != "verified",
        "multiverse inclusion verified-only: extraction not verified",
    ),
    "low-risk-of-bias": (
        lambda study, effect: study.risk_of_bias.judgement != "low",
        "multiverse inclusion low-risk-of-bias: not judged at low risk of bias",
    ),
    "fully-adjusted": (
        lambda study, effect: effect.adjustment != "fully-adjusted",
        "multiverse adjustment fully-adjusted-only: not fully adjusted",
    ),
}


#: Adjustment options that are a rule plus exclusions: ``fully-adjusted-only`` keeps the
#: most adjusted estimate and leaves out studies whose most adjusted one is not fully
#: adjusted (as the adjustment sensitivity analysis of ``evidence run`` does); leaving
#: out the estimates not fully adjusted before the rule gives the same table.
_ADJUSTMENT: dict[str, tuple[str, tuple[str, ...]]] = {
    "fully-adjusted-only": ("most-adjusted", ("fully-adjusted",)),
}


@dataclass(frozen=True)
class Design:
    """Everything the blocks of one multiverse are fitted from (picklable, sent once).

    Attributes
    ----------
    analysis : str
        The analysis id.
    options : tuple of (choice, option names)
        Every choice in :data:`CHOICE_ORDER` with its options; ``leave_out`` lists
        ``"none"`` and then (with ``leave_one_sample_out``) every sample of the universe,
        in the order of ``samples``.
    yi, vi : ndarray (U,)
        The universe: every distinct included row of any table.
    cluster : ndarray of int (U,)
        Sample (cluster) of each universe row, an index into ``samples``.
    samples : tuple of str
        Sample names.
    tables : ndarray of bool (T, U)
        Which universe rows each table holds; tables in the order of the table-stage
        options (mixed radix, the last choice fastest).
    three_level : ndarray of bool (T,)
        Whether a table's dependence option fits the three-level model.
    prespecified : int or None
        Specification index of the analysis as specified (``None`` if it is not in the
        multiverse).
    min_samples : int
        Independent samples a selection needs (the analysis's ``eligibility.min_samples``,
        at least 2), as ``evidence run`` needs them to pool.
    family : ndarray of int (U,) or None
        Outcome family of each universe row when the analysis keeps families apart
        (``across_families: separate``): a selection holding two is pruned. ``None``:
        families may be pooled together (one family, or pre-specified subgroups).
    quality : ndarray of bool (T,) or None
        Whether a table's inclusion option is one of :data:`QUALITY_INCLUSIONS` (a table
        of too few samples is then pruned with that reason, not as too few effects).
    """

    analysis: str
    options: tuple[tuple[str, tuple[str, ...]], ...]
    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    cluster: NDArray[np.int64]
    samples: tuple[str, ...]
    tables: NDArray[np.bool_]
    three_level: NDArray[np.bool_]
    prespecified: int | None
    rho: float = 0.5
    min_samples: int = 2
    family: NDArray[np.int64] | None = None
    quality: NDArray[np.bool_] | None = None

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of options of each choice."""
        return tuple(len(names) for _, names in self.options)

    @property
    def selections(self) -> int:
        """Number of selections (tables x samples left out)."""
        return len(self.tables) * self.per_table

    @property
    def per_table(self) -> int:
        """Selections per table: every sample kept, then each left out in turn (if asked)."""
        return len(self.choice("leave_out"))

    @property
    def per_selection(self) -> int:
        """Specifications per selection (estimators x inferences)."""
        sizes = self.sizes
        return sizes[-2] * sizes[-1]

    @property
    def specifications(self) -> int:
        """Number of specifications before pruning."""
        return self.selections * self.per_selection

    def choice(self, name: str) -> tuple[str, ...]:
        """Options of choice ``name``."""
        return dict(self.options)[name]


@dataclass
class Block:
    """The fitted specifications of one block, in specification order.

    ``codes`` holds one int array per choice (option index), ``numbers`` one float array
    per :data:`NUMBER_COLUMNS`; ``pruned`` counts pruned specifications per reason code
    and ``warnings`` counts the messages of warnings raised while fitting.
    """

    spec: NDArray[np.int64]
    codes: dict[str, NDArray[np.int16]]
    model: NDArray[np.int8]
    k: NDArray[np.int32]
    samples: NDArray[np.int32]
    numbers: dict[str, NDArray[np.float64]]
    pruned: NDArray[np.int64] = field(default_factory=lambda: np.zeros(len(PRUNE_REASONS), int))
    warnings: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        """Return the number of fitted specifications."""
        return len(self.spec)


# --------------------------------------------------------------------------- design


def build_design(studies: Sequence[Study], analysis: Analysis, family: str | None = None) -> Design:
    """Harmonise every table of the multiverse and gather their rows into one universe.

    With ``family``, only the effects of that outcome family are kept in every table: the
    multiverse of one family of a ``by-family`` analysis, whose pre-specified
    specification is that family's own headline (:func:`evidence.analyses.fit.family_block`
    pools the same rows of the same table).

    Raises
    ------
    ValueError
        When the analysis has no multiverse (``multiverse: false``).
    """
    multiverse = analysis.multiverse
    if multiverse is None:
        raise ValueError(f"analysis {analysis.id} has no multiverse")
    chosen = [(s, e) for s, e in select(studies, analysis)]
    relevant = sorted({s.id for s, _ in chosen})
    by_id = {s.id: s for s in studies}
    pool_of_studies = [by_id[i] for i in relevant]
    table_choices = [c.name for c in CHOICES.values() if c.stage == "table"]
    universe: dict[tuple[Any, ...], int] = {}
    rows: list[tuple[float, float, str, str]] = []
    members: list[list[int]] = []
    three_level: list[bool] = []
    quality: list[bool] = []
    cache: dict[tuple[str, ...], list[int]] = {}
    for combination in itertools.product(*(multiverse.of(name) for name in table_choices)):
        options = dict(zip(table_choices, combination, strict=True))
        rule, model = DEPENDENCE_RULES[options["dependence"]]
        key = (options["adjustment"], rule, options["inclusion"], options["families"])
        if key not in cache:
            adjustment, only = _ADJUSTMENT.get(options["adjustment"], (options["adjustment"], ()))
            exclusions = _inclusion_exclusions(chosen, options["inclusion"])
            exclusions += _inclusion_exclusions(chosen, *only)
            variant = replace(
                _families(analysis, options["families"]),
                adjustment=adjustment,
                dependence=rule,
                rho=multiverse.rho,
                exclude=analysis.exclude + exclusions,
            )
            table = harmonise(pool_of_studies, variant)
            indices = []
            for row in table.included:
                if family is not None and row.outcome_family != family:
                    continue
                identity = (row.study, row.effect, row.cluster, row.yi, row.vi)
                if identity not in universe:
                    universe[identity] = len(rows)
                    rows.append(
                        (
                            float(row.yi or 0.0),
                            float(row.vi or 1.0),
                            row.cluster,
                            row.outcome_family,
                        )
                    )
                indices.append(universe[identity])
            cache[key] = indices
        members.append(cache[key])
        three_level.append(model == "three-level")
        quality.append(options["inclusion"] in QUALITY_INCLUSIONS)
    samples = tuple(sorted({r[2] for r in rows}))
    families = sorted({r[3] for r in rows})
    apart = analysis.rules.across_families == "separate" and len(families) > 1
    code = {name: index for index, name in enumerate(samples)}
    tables = np.zeros((len(members), len(rows)), dtype=bool)
    for index, chosen_rows in enumerate(members):
        tables[index, chosen_rows] = True
    leaving = samples if multiverse.leave_one_sample_out else ()
    options_all = tuple(
        (name, (KEEP_ALL, *leaving) if name == "leave_out" else multiverse.of(name))
        for name in CHOICE_ORDER
    )
    design = Design(
        analysis=analysis.id,
        options=options_all,
        yi=np.array([r[0] for r in rows], dtype=float),
        vi=np.array([r[1] for r in rows], dtype=float),
        cluster=np.array([code[r[2]] for r in rows], dtype=np.int64),
        samples=samples,
        tables=tables,
        three_level=np.array(three_level, dtype=bool),
        prespecified=None,
        rho=multiverse.rho,
        min_samples=max(2, analysis.rules.min_samples),
        family=np.array([families.index(r[3]) for r in rows], dtype=np.int64) if apart else None,
        quality=np.array(quality, dtype=bool),
    )
    return replace(design, prespecified=_prespecified_index(design, analysis))


def _families(analysis: Analysis, option: str) -> Analysis:
    """Return the analysis as it pools the ratio families of ``option``.

    ``all-ratios`` pools hazard, risk, odds and rate ratios together, odds ratios read as
    risk ratios (and the reverse) under the rare-outcome approximation, as a spec with
    those ``measure_families`` and ``assume_rare_outcome: true`` would.
    """
    if option == "as-specified":
        return analysis
    rules = replace(analysis.rules, measure_families=tuple(sorted(RATIO_FAMILIES)))
    return replace(analysis, eligibility=rules, assume_rare_outcome=True)


def _inclusion_exclusions(
    chosen: Iterable[tuple[Study, Effect]], option: str = "all"
) -> tuple[Exclusion, ...]:
    """Return the effects an inclusion option leaves out, as exclusions with its reason."""
    rule = _INCLUSION[option]
    if rule is None:
        return ()
    predicate, reason = rule
    return tuple(
        Exclusion(study.id, reason, effect.id)
        for study, effect in chosen
        if predicate(study, effect)
    )


def _prespecified_index(design: Design, analysis: Analysis) -> int | None:
    """Specification index of the analysis as specified (every sample kept)."""
    own = {
        "adjustment": analysis.adjustment,
        "dependence": SPEC_DEPENDENCE[analysis.dependence],
        "inclusion": "all",
        "families": "as-specified",
        "estimator": analysis.method,
        "inference": analysis.test,
        "leave_out": KEEP_ALL,
    }
    index = 0
    for (name, names), size in zip(design.options, design.sizes, strict=True):
        if own[name] not in names:
            return None
        index = index * size + names.index(own[name])
    return index


def decode(design: Design, spec: NDArray[np.int64]) -> dict[str, NDArray[np.int64]]:
    """Option index of every choice for specification indices (mixed radix)."""
    codes: dict[str, NDArray[np.int64]] = {}
    rest = np.asarray(spec, dtype=np.int64)
    for (name, _), size in reversed(list(zip(design.options, design.sizes, strict=True))):
        codes[name] = rest % size
        rest = rest // size
    return {name: codes[name] for name, _ in design.options}


# --------------------------------------------------------------------------- blocks


def blocks_of(design: Design, block_specifications: int = BLOCK_SPECIFICATIONS) -> list[range]:
    """Split the selections into blocks of a fixed size (the same on every scheduler)."""
    step = max(1, block_specifications // design.per_selection)
    return [range(a, min(a + step, design.selections)) for a in range(0, design.selections, step)]


def fit_block(design: Design, selections: range) -> Block:
    """Fit every specification of a range of selections (see the module docstring).

    Warnings raised while fitting (a tau^2 estimator that needed its fallback) are counted
    by message in :attr:`Block.warnings`, never raised.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        block = _fit_block(design, selections)
    for message in (str(w.message) for w in caught):
        block.warnings[message] = block.warnings.get(message, 0) + 1
    return block


def _selection_masks(design: Design, chosen: NDArray[np.int64]) -> tuple[NDArray, NDArray]:
    """Masks (n, U) of selections and the table index of each."""
    per_table = design.per_table
    table, left = chosen // per_table, chosen % per_table
    masks = design.tables[table].copy()
    leaving = left > 0
    masks[leaving] &= design.cluster[None, :] != (left[leaving] - 1)[:, None]
    return masks, table


def _fit_block(design: Design, selections: range) -> Block:
    chosen = np.arange(selections.start, selections.stop, dtype=np.int64)
    masks, table = _selection_masks(design, chosen)
    left = chosen % design.per_table - 1  # -1: none left out
    onehot = np.zeros((len(design.yi), max(len(design.samples), 1)))
    onehot[np.arange(len(design.yi)), design.cluster] = 1.0
    counts = masks.astype(float) @ onehot  # (n, samples): effects of each sample
    k = masks.sum(axis=1)
    n_samples = (counts > 0).sum(axis=1)
    before = design.tables[table].astype(float) @ onehot  # the same before leaving out
    absent = (left >= 0) & (before[np.arange(len(chosen)), np.maximum(left, 0)] == 0)
    reason = np.full(len(chosen), -1)
    reason[n_samples < design.min_samples] = _FEW_SAMPLES
    if design.family is not None:
        held = np.zeros((len(design.yi), int(design.family.max()) + 1))
        held[np.arange(len(design.yi)), design.family] = 1.0
        reason[((masks.astype(float) @ held) > 0).sum(axis=1) > 1] = _MIXED_OUTCOMES
    reason[k < 2] = _FEW_EFFECTS
    if design.quality is not None:
        too_few = (before > 0).sum(axis=1) < design.min_samples
        reason[design.quality[table] & too_few] = _FEW_QUALIFY
    reason[absent] = _ABSENT_SAMPLE
    nested = design.three_level[table] & (counts > 1).any(axis=1) & (reason < 0)
    flat = (reason < 0) & ~nested
    parts = [
        _two_level(design, chosen[flat], masks[flat], k[flat], n_samples[flat]),
        _three_level(design, chosen[nested], masks[nested], k[nested], n_samples[nested]),
    ]
    pruned = np.zeros(len(PRUNE_REASONS), dtype=np.int64)
    for code in range(len(PRUNE_REASONS)):
        pruned[code] = int((reason == code).sum()) * design.per_selection
    return _merge(design, parts, pruned)


def _pack(
    yi: NDArray, vi: NDArray, masks: NDArray[np.bool_]
) -> tuple[NDArray, NDArray, NDArray[np.bool_]]:
    """Pack each row's selected universe entries to the left of (n, k_max) arrays."""
    k = masks.sum(axis=1)
    width = max(int(k.max()) if len(k) else 0, 1)
    rows, columns = np.nonzero(masks)
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    position = np.arange(len(rows)) - np.repeat(starts, k)
    y = np.zeros((len(masks), width))
    v = np.ones((len(masks), width))
    held = np.zeros((len(masks), width), dtype=bool)
    y[rows, position] = yi[columns]
    v[rows, position] = vi[columns]
    held[rows, position] = True
    return y, v, held


@dataclass
class _Part:
    """Fitted specifications of one model family within a block (before merging)."""

    spec: NDArray[np.int64]
    model: int
    k: NDArray[np.int64]
    samples: NDArray[np.int64]
    numbers: dict[str, NDArray[np.float64]]
    pruned: NDArray[np.int64] = field(default_factory=lambda: np.zeros(len(PRUNE_REASONS), int))


def _critical(inference: str, df: NDArray) -> tuple[NDArray, Callable[[NDArray], NDArray]]:
    """Critical value and two-sided p-value function: z, or t with ``df`` (knha, adhoc)."""
    if inference in T_INFERENCES:
        df = np.where(df > 0, df.astype(float), np.nan)
        return special.stdtrit(df, 1 - (1 - LEVEL) / 2), lambda s: 2 * special.stdtr(df, -np.abs(s))
    crit = np.full(len(df), -special.ndtri((1 - LEVEL) / 2))
    return crit, lambda s: 2 * special.ndtr(-np.abs(s))


def _two_level(
    design: Design, chosen: NDArray, masks: NDArray, k: NDArray, n_samples: NDArray
) -> _Part:
    """Two-level fits: one :func:`fit_batch` call per estimator and inference."""
    estimators, inferences = design.choice("estimator"), design.choice("inference")
    columns: dict[str, list[NDArray]] = {name: [] for name in NUMBER_COLUMNS}
    specs: list[NDArray] = []
    if len(chosen):
        y, v, held = _pack(design.yi, design.vi, masks)
        for e, method in enumerate(estimators):
            tau2 = None  # estimated once per estimator, shared by its inferences
            for i, test in enumerate(inferences):
                fit = fit_batch(
                    y, v, mask=held, method=method, test=test, level=LEVEL * 100, tau2=tau2
                )
                tau2 = fit.tau2
                estimate, se = fit.beta[:, 0], fit.se[:, 0]
                half = fit.crit * np.sqrt(se * se + fit.tau2)
                random = method != "FE"
                values = {
                    "estimate": estimate,
                    "se": se,
                    "ci_lower": fit.ci_lower[:, 0],
                    "ci_upper": fit.ci_upper[:, 0],
                    "pi_lower": estimate - half if random else np.full(len(k), np.nan),
                    "pi_upper": estimate + half if random else np.full(len(k), np.nan),
                    "tau2": fit.tau2,
                    "i2": fit.heterogeneity.i2,
                    "p": fit.p_value[:, 0],
                }
                for name in NUMBER_COLUMNS:
                    columns[name].append(values[name])
                specs.append((chosen * len(estimators) + e) * len(inferences) + i)
    return _assemble(specs, columns, 0, k, n_samples)


def _assemble(
    specs: list[NDArray],
    columns: dict[str, list[NDArray]],
    model: int,
    k: NDArray,
    n_samples: NDArray,
    keep: NDArray[np.bool_] | None = None,
) -> _Part:
    """Stack the per-(estimator, inference) arrays of a part into one."""
    if not specs:
        empty = np.zeros(0)
        return _Part(
            np.zeros(0, dtype=np.int64),
            model,
            empty.astype(np.int64),
            empty.astype(np.int64),
            {name: empty for name in NUMBER_COLUMNS},
        )
    times = len(specs)
    part = _Part(
        spec=np.concatenate(specs),
        model=model,
        k=np.tile(k, times),
        samples=np.tile(n_samples, times),
        numbers={name: np.concatenate(values) for name, values in columns.items()},
    )
    if keep is not None:
        mask = np.tile(keep, times)
        part = _Part(
            part.spec[mask],
            model,
            part.k[mask],
            part.samples[mask],
            {name: values[mask] for name, values in part.numbers.items()},
        )
    return part


def _three_level(
    design: Design, chosen: NDArray, masks: NDArray, k: NDArray, n_samples: NDArray
) -> _Part:
    """Three-level fits (REML only) in padded cluster blocks, one batched fit."""
    estimators, inferences = design.choice("estimator"), design.choice("inference")
    columns: dict[str, list[NDArray]] = {name: [] for name in NUMBER_COLUMNS}
    specs: list[NDArray] = []
    pruned = np.zeros(len(PRUNE_REASONS), dtype=np.int64)
    if not len(chosen):
        return _assemble(specs, columns, 1, k, n_samples)
    pruned[_NOT_REML] = len(chosen) * (len(estimators) - ("REML" in estimators)) * len(inferences)
    if "REML" not in estimators:
        part = _assemble(specs, columns, 1, k, n_samples)
        part.pruned = pruned
        return part
    used = np.flatnonzero(masks.any(axis=0))
    cluster = design.cluster[used]
    order = np.argsort(cluster, kind="stable")
    sample_codes, first = np.unique(cluster[order], return_index=True)
    position = np.empty(len(used), dtype=np.int64)
    position[order] = np.arange(len(used)) - np.repeat(first, np.diff([*first, len(used)]))
    slot = np.searchsorted(sample_codes, cluster)
    shape = (len(chosen), len(sample_codes), int(position.max()) + 1)
    y, v, held = np.zeros(shape), np.ones(shape), np.zeros(shape, dtype=bool)
    y[:, slot, position] = design.yi[used]
    v[:, slot, position] = design.vi[used]
    held[:, slot, position] = masks[:, used]
    fit = fit_three_level_batch(y, v, held)
    ok = fit.converged
    pruned[_NO_CONVERGENCE] = int((~ok).sum()) * len(inferences)
    weights = np.where(masks, 1.0 / design.vi[None, :], 0.0)
    sum_w, sum_w2 = weights.sum(axis=1), (weights * weights).sum(axis=1)
    typical = (k - 1) * sum_w / (sum_w * sum_w - sum_w2)
    total = fit.between + fit.within
    e = estimators.index("REML")
    for i, test in enumerate(inferences):
        # evidence run: a t test with the containment df, samples - 1 (metafor dfs = "contain")
        crit, p_value = _critical(test, n_samples - 1)
        se = fit.se
        half = crit * np.sqrt(se * se + total)
        statistic = fit.estimate / se
        values = {
            "estimate": fit.estimate,
            "se": se,
            "ci_lower": fit.estimate - crit * se,
            "ci_upper": fit.estimate + crit * se,
            "pi_lower": fit.estimate - half,
            "pi_upper": fit.estimate + half,
            "tau2": total,
            "i2": 100 * total / (total + typical),
            "p": p_value(statistic),
        }
        for name in NUMBER_COLUMNS:
            columns[name].append(values[name])
        specs.append((chosen * len(estimators) + e) * len(inferences) + i)
    part = _assemble(specs, columns, 1, k, n_samples, keep=ok)
    part.pruned = pruned
    return part


def _merge(design: Design, parts: Sequence[_Part], pruned: NDArray[np.int64]) -> Block:
    """Merge the parts of a block into one in specification order."""
    spec = np.concatenate([p.spec for p in parts])
    order = np.argsort(spec, kind="stable")
    spec = spec[order]
    codes = {name: values.astype(np.int16) for name, values in decode(design, spec).items()}
    model = np.concatenate([np.full(len(p.spec), p.model, dtype=np.int8) for p in parts])[order]
    return Block(
        spec=spec,
        codes=codes,
        model=model,
        k=np.concatenate([p.k for p in parts])[order].astype(np.int32),
        samples=np.concatenate([p.samples for p in parts])[order].astype(np.int32),
        numbers={
            name: np.concatenate([p.numbers[name] for p in parts])[order] for name in NUMBER_COLUMNS
        },
        pruned=pruned + sum((p.pruned for p in parts), np.zeros(len(PRUNE_REASONS), int)),
    )


# --------------------------------------------------------------------------- running


#: Called as ``progress(specifications done, specifications in all)`` after each block.
Progress = Callable[[int, int], None]


def run_multiverse(
    design: Design,
    block_specifications: int = BLOCK_SPECIFICATIONS,
    client: Any = None,
    progress: Progress | None = None,
    in_flight: int = 4,
) -> Iterator[Block]:
    """Fit every block, in block order, in this process or on a Dask cluster.

    Parameters
    ----------
    design : Design
        From :func:`build_design`.
    block_specifications : int
        Specifications per block (rounded to whole selections); the same value gives the
        same blocks, hence identical tables, on every scheduler.
    client : distributed.Client, optional
        Fit the blocks on this Dask cluster (the design is scattered to every worker once);
        at most ``in_flight`` blocks per worker are pending at a time, so memory stays
        bounded however large the multiverse.
    progress : callable, optional
        Told the specifications done after each block.
    in_flight : int
        Blocks pending per Dask worker at most.

    Yields
    ------
    Block
        In block (hence specification) order.
    """
    ranges = blocks_of(design, block_specifications)
    total, done = design.specifications, 0
    results = (
        (fit_block(design, r) for r in ranges)
        if client is None
        else _distributed(client, design, ranges, in_flight)
    )
    for selections, block in zip(ranges, results, strict=True):
        done += len(selections) * design.per_selection
        if progress is not None:
            progress(done, total)
        yield block


def _distributed(
    client: Any, design: Design, ranges: Sequence[range], in_flight: int
) -> Iterator[Block]:
    """Submit blocks to a Dask client, a bounded window at a time; yield them in order."""
    remote = client.scatter(design, broadcast=True)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = max(2, in_flight * workers)
    pending: list[Any] = []
    queue = iter(ranges)
    for selections in itertools.islice(queue, window):
        pending.append(client.submit(fit_block, remote, selections, pure=False))
    while pending:
        future = pending.pop(0)
        block = future.result()
        future.release()
        following = next(queue, None)
        if following is not None:
            pending.append(client.submit(fit_block, remote, following, pure=False))
        yield block


# --------------------------------------------------------------------------- tables


def _arrow_block(design: Design, block: Block, text: bool) -> Any:
    """One block as an Arrow table (choice columns as dictionaries, or text for CSV)."""
    import pyarrow as pa

    columns: dict[str, Any] = {"spec": pa.array(block.spec, pa.int64())}
    for name, names in design.options:
        dictionary = pa.DictionaryArray.from_arrays(
            pa.array(block.codes[name], pa.int32()), pa.array(list(names), pa.string())
        )
        columns[name] = dictionary.dictionary_decode() if text else dictionary
    models = pa.DictionaryArray.from_arrays(
        pa.array(block.model.astype(np.int32), pa.int32()), pa.array(list(MODELS), pa.string())
    )
    columns["model"] = models.dictionary_decode() if text else models
    columns["k"] = pa.array(block.k, pa.int32())
    columns["samples"] = pa.array(block.samples, pa.int32())
    for name in NUMBER_COLUMNS:
        values = block.numbers[name]
        columns[name] = pa.array(values, pa.float64(), mask=~np.isfinite(values))
    columns["prespecified"] = pa.array(block.spec == (design.prespecified or -1), pa.bool_())
    return pa.table(columns)


class TableWriter:
    """Stream blocks into ``<stem>.parquet`` and ``<stem>.csv``, each renamed into place.

    Both files are written to temporary files beside their targets and renamed only by
    :meth:`close` when every block is in, so a reader never sees a partial table.
    """

    def __init__(self, design: Design, parquet: Path, csv: Path) -> None:
        """Open the temporary files for ``parquet`` and ``csv``."""
        self.design, self.targets = design, (Path(parquet), Path(csv))
        self.temporary = tuple(
            t.parent / f".{t.name}.{secrets.token_hex(4)}.tmp" for t in self.targets
        )
        self._parquet: Any = None
        self._csv: Any = None
        for target in self.targets:
            target.parent.mkdir(parents=True, exist_ok=True)

    def write(self, block: Block) -> None:
        """Append one block (an empty block still fixes the schema)."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = _arrow_block(self.design, block, text=False)
        text = _arrow_block(self.design, block, text=True)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.temporary[0], table.schema)
            self._csv = pacsv.CSVWriter(
                self.temporary[1],
                text.schema,
                write_options=pacsv.WriteOptions(quoting_style="needed"),
            )
        self._parquet.write_table(table)
        self._csv.write_table(text)

    def close(self) -> None:
        """Finish both files and rename them into place."""
        if self._parquet is None:
            self.write(_empty_block(self.design))
        self._parquet.close()
        self._csv.close()
        for temporary, target in zip(self.temporary, self.targets, strict=True):
            if _same_bytes(temporary, target):  # unchanged: leave the file (and its mtime)
                os.unlink(temporary)
            else:
                os.replace(temporary, target)

    def abort(self) -> None:
        """Remove the temporary files (after a failure)."""
        for handle in (self._parquet, self._csv):
            if handle is not None:
                with contextlib.suppress(Exception):
                    handle.close()
        for temporary in self.temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _same_bytes(new: Path, old: Path) -> bool:
    """Return True when ``old`` is a regular file holding exactly the bytes of ``new``."""
    if old.is_symlink() or not old.is_file() or old.stat().st_size != new.stat().st_size:
        return False
    return filecmp.cmp(new, old, shallow=False)


def _empty_block(design: Design) -> Block:
    empty = np.zeros(0)
    return Block(
        spec=np.zeros(0, dtype=np.int64),
        codes={name: np.zeros(0, dtype=np.int16) for name, _ in design.options},
        model=np.zeros(0, dtype=np.int8),
        k=np.zeros(0, dtype=np.int32),
        samples=np.zeros(0, dtype=np.int32),
        numbers={name: empty for name in NUMBER_COLUMNS},
    )


# --------------------------------------------------------------------------- summary


@dataclass
class Summary:
    """What the summary needs of every fitted specification (kept as the blocks stream).

    Estimates, CI bounds and choice codes only: about 40 bytes per specification.
    """

    estimate: list[NDArray[np.float64]] = field(default_factory=list)
    lower: list[NDArray[np.float64]] = field(default_factory=list)
    upper: list[NDArray[np.float64]] = field(default_factory=list)
    codes: dict[str, list[NDArray[np.int16]]] = field(default_factory=dict)
    spec: list[NDArray[np.int64]] = field(default_factory=list)
    pruned: NDArray[np.int64] = field(default_factory=lambda: np.zeros(len(PRUNE_REASONS), int))
    warnings: dict[str, int] = field(default_factory=dict)

    def add(self, block: Block) -> None:
        """Keep what the summary needs of one block."""
        self.estimate.append(block.numbers["estimate"])
        self.lower.append(block.numbers["ci_lower"])
        self.upper.append(block.numbers["ci_upper"])
        self.spec.append(block.spec)
        for name, values in block.codes.items():
            self.codes.setdefault(name, []).append(values)
        self.pruned = self.pruned + block.pruned
        for message, count in block.warnings.items():
            self.warnings[message] = self.warnings.get(message, 0) + count


def compute(
    design: Design,
    parquet: Path,
    csv: Path,
    block_specifications: int = BLOCK_SPECIFICATIONS,
    client: Any = None,
    progress: Progress | None = None,
) -> Summary:
    """Fit every block and stream the table to ``parquet`` and ``csv``; return the summary data."""
    writer = TableWriter(design, parquet, csv)
    summary = Summary()
    try:
        for block in run_multiverse(design, block_specifications, client, progress):
            writer.write(block)
            summary.add(block)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return summary


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def variance_explained(estimate: NDArray, codes: NDArray) -> float | None:
    r"""Share of the variance of the estimates explained by one choice (eta squared).

    :math:`\eta^2 = \sum_o n_o(\bar y_o - \bar y)^2 / \sum (y - \bar y)^2` over the options
    o of the choice (one-way analysis of variance; Simonsohn, Simmons & Nelson 2020 use the
    same decomposition to say which choice moves the estimate most).
    """
    if len(estimate) < 2:
        return None
    mean = float(estimate.mean())
    total = float(((estimate - mean) ** 2).sum())
    # Estimates equal up to rounding (every selection the same) leave nothing to explain.
    if total <= len(estimate) * (1e-12 * max(1.0, float(np.abs(estimate).max()))) ** 2:
        return None
    counts = np.bincount(codes)
    sums = np.bincount(codes, weights=estimate)
    used = counts > 0
    between = float((counts[used] * (sums[used] / counts[used] - mean) ** 2).sum())
    return between / total


def summarise(design: Design, data: Summary, back: str | None) -> dict[str, Any]:
    """Return the ``multiverse`` section of the results JSON from the streamed summary data."""
    estimate = np.concatenate(data.estimate) if data.estimate else np.zeros(0)
    lower = np.concatenate(data.lower) if data.lower else np.zeros(0)
    upper = np.concatenate(data.upper) if data.upper else np.zeros(0)
    spec = np.concatenate(data.spec) if data.spec else np.zeros(0, dtype=np.int64)
    fitted = len(estimate)
    excludes = (lower > 0) | (upper < 0)
    choices: list[dict[str, Any]] = []
    for name, names in design.options:
        codes = np.concatenate(data.codes.get(name, [np.zeros(0, dtype=np.int16)])).astype(int)
        share = variance_explained(estimate, codes) if len(names) > 1 else None
        choices.append(
            {
                "name": name,
                "label": CHOICES[name].label,
                "options": [
                    {"name": o, "label": CHOICES[name].option(o).label, "specifications": int(c)}
                    for o, c in zip(names, np.bincount(codes, minlength=len(names)), strict=True)
                ],
                "variance_explained": share,
            }
        )
    ranked = [c for c in choices if c["variance_explained"] is not None]
    most = max(ranked, key=lambda c: c["variance_explained"])["name"] if ranked else None
    section: dict[str, Any] = {
        "specifications": int(fitted),
        "candidates": int(design.specifications),
        "pruned": [
            {"reason": reason, "specifications": int(count)}
            for reason, count in zip(PRUNE_REASONS, data.pruned, strict=True)
            if count
        ],
        "share_ci_excludes_null": _finite(excludes.mean()) if fitted else None,
        "share_above_null": _finite((estimate > 0).mean()) if fitted else None,
        "median": _finite(float(np.median(estimate))) if fitted else None,
        "range": [_finite(estimate.min()), _finite(estimate.max())] if fitted else None,
        "quartiles": ([_finite(q) for q in np.percentile(estimate, [25, 75])] if fitted else None),
        "prespecified": _prespecified(design, spec, estimate, lower, upper),
        "choices": choices,
        "most_influential": most,
        "notes": [
            f"warning while fitting ({count} times): {message}"
            for message, count in sorted(data.warnings.items())
        ],
    }
    section["back_transformed"] = _back(section, back)
    return section


def _prespecified(
    design: Design, spec: NDArray, estimate: NDArray, lower: NDArray, upper: NDArray
) -> dict[str, Any] | None:
    """Return the pre-specified specification's numbers and its percentile among the others."""
    if design.prespecified is None:
        return None
    found = np.flatnonzero(spec == design.prespecified)
    if not len(found):
        return None
    at = int(found[0])
    value = float(estimate[at])
    return {
        "spec": int(design.prespecified),
        "estimate": _finite(value),
        "ci": [_finite(lower[at]), _finite(upper[at])],
        "percentile": _finite(
            100 * float((estimate < value).mean() + 0.5 * (estimate == value).mean())
        ),
    }


def _back(section: Mapping[str, Any], back: str | None) -> dict[str, Any] | None:
    """Median, range, quartiles and the pre-specified estimate back-transformed."""
    if back is None or section["median"] is None:
        return None
    function = TRANSFORMS[back].scalar

    def apply(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [apply(v) for v in value]
        return function(value)

    pre = section["prespecified"]
    return {
        "median": apply(section["median"]),
        "range": apply(section["range"]),
        "quartiles": apply(section["quartiles"]),
        "prespecified": None
        if pre is None
        else {"estimate": apply(pre["estimate"]), "ci": apply(pre["ci"])},
    }


def table_paths(results_dir: Path, identifier: str, family: str | None = None) -> tuple[Path, Path]:
    """``results/<id>-multiverse.parquet`` and ``.csv`` (``<id>-multiverse-family-<slug>.*``)."""
    stem = f"{identifier}-multiverse" + ("" if family is None else f"-family-{family_slug(family)}")
    return results_dir / f"{stem}.parquet", results_dir / f"{stem}.csv"


def family_slug(family: str) -> str:
    """File-name slug of an outcome family: lower case, runs of other characters as ``-``.

    A short hash of the name follows, so two families that slug alike never share a file.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")[:40] or "family"
    return f"{slug}-{hashlib.sha256(family.encode('utf-8')).hexdigest()[:6]}"


def multiverse_section(
    studies: Sequence[Study],
    analysis: Analysis,
    out_dir: Path,
    block_specifications: int = BLOCK_SPECIFICATIONS,
    client: Any = None,
    progress: Progress | None = None,
    family: str | None = None,
) -> dict[str, Any]:
    """Run an analysis's multiverse, write its tables under ``out_dir/results``, summarise it.

    With ``family``, the multiverse of that outcome family alone (:func:`build_design`),
    written to :func:`table_paths` of the family; its summary names the ``family``.

    Returns
    -------
    dict
        The results JSON's ``multiverse`` section (:func:`summarise`) with ``files``, the
        tables' paths relative to ``out_dir``.
    """
    from evidence.analyses.fit import METRIC_INFO

    design = build_design(studies, analysis, family)
    parquet, csv = table_paths(Path(out_dir) / "results", analysis.id, family)
    data = compute(design, parquet, csv, block_specifications, client, progress)
    section = summarise(design, data, METRIC_INFO[analysis.metric][2])
    if family is not None:
        section["family"] = family
        section["slug"] = family_slug(family)
    section["files"] = {
        "parquet": f"results/{parquet.name}",
        "csv": f"results/{csv.name}",
    }
    return section


def pooled_families(studies: Sequence[Study], analysis: Analysis) -> list[str] | None:
    """Outcome families with a multiverse of their own, as ``evidence run`` decides them.

    ``None`` when the analysis is not ``by-family`` (one multiverse of the whole analysis);
    otherwise the families it pools, in its order (possibly none).
    """
    from evidence.analyses.fit import fit_analysis

    sections = fit_analysis(harmonise(studies, analysis), analysis)
    if sections["status"] != "by-family":
        return None
    return [b["family"] for b in sections["by_family"] or [] if b["status"] == "ok"]


def remove_multiverse_tables(results_dir: Path, identifier: str) -> None:
    """Remove an analysis's multiverse tables (its spec turned the multiverse off)."""
    for path in (*table_paths(results_dir, identifier), *family_tables(results_dir, identifier)):
        if path.is_file() or path.is_symlink():
            path.unlink()


def family_tables(results_dir: Path, identifier: str, keep: Iterable[str] = ()) -> list[Path]:
    """Per-family multiverse tables of an analysis on disk, except those named in ``keep``."""
    kept = set(keep)
    if not Path(results_dir).is_dir():
        return []
    return sorted(
        path
        for pattern in (
            f"{identifier}-multiverse-family-*.parquet",
            f"{identifier}-multiverse-family-*.csv",
        )
        for path in Path(results_dir).glob(pattern)
        if path.name not in kept
    )
