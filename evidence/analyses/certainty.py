"""GRADE certainty of one pooled estimate: a proposal per domain, footnotes, reviewers' overrides.

The rating follows the GRADE approach (Schünemann H, Brożek J, Guyatt G, Oxman A, eds.
*GRADE Handbook*, 2013, section 5; the GRADE guidelines series in J Clin Epidemiol 2011,
vol. 64: 3 "Rating the quality of evidence", Balshem et al., 401-406; 4 "Risk of bias",
407-415; 5 "Publication bias", 1277-1282; 6 "Imprecision", 1283-1293; 7 "Inconsistency",
1294-1302; 8 "Indirectness", 1303-1310; 9 "Rating up", 1311-1316). Each domain gets a
proposed judgement with a technical ``reason`` and a ``footnote`` in words a reader
understands; every domain and upgrade can be overridden in the spec with a written
justification, and both the proposal and the override are kept.

The four levels (Balshem et al. 2011, Table 2; :data:`DEFINITIONS`) are shown with the
GRADE symbols (:data:`SYMBOLS`, ⊕⊕⊕⊕ high to ⊕⊝⊝⊝ very low).

Rules and thresholds (documented so they can be argued with)
------------------------------------------------------------
start
    ``high`` when every included study is randomised (rct, cluster-rct, crossover-trial),
    otherwise ``low`` (observational evidence; GRADE guidelines 3).
risk of bias
    Judged from the studies that carry the weight (GRADE guidelines 4). Down 2 when studies
    at very high (or critical) risk carry more than half of the weight; down 1 when studies
    at high risk or worse carry more than half. ``unclear`` counts as assessed. Studies not
    assessed are never counted as low risk: when they carry half of the weight or more the
    domain is "not assessed", nothing is taken off for it, and the rating is marked
    ``provisional`` (it may be lower once they are assessed) and is never rated up.
inconsistency
    Judged from the direction and overlap of the study estimates and the prediction
    interval, not from I2 alone (GRADE guidelines 7; IntHout et al. 2016, BMJ Open
    6:e010247). Down 2 when some studies find a clear association in one direction and
    others a clear association in the other (confidence intervals excluding the null on
    both sides). Down 1 when estimates carrying at least a quarter of the weight point the
    other way from the pooled estimate, or one of them clearly does, while the 95%
    prediction interval crosses the null and the confidence intervals do not all overlap
    (or I2 >= 50%). Otherwise not serious: estimates that differ in size but agree in
    direction do not change the conclusion. Not judged with a single study.
indirectness
    Judged from ``question_fields`` (GRADE guidelines 8): an effect whose population,
    exposure or outcome fields fall outside the question's is indirect. Down 1 when
    indirect effects carry more than half of the weight, down 2 when effects indirect in two
    or more elements do. Without ``question_fields`` the domain is "not judged".
imprecision
    Down 1 when the 95% CI crosses the null; down 2 when it also spans both appreciable
    benefit and appreciable harm (ratios 0.75 and 1.25, GRADE guidelines 6; SMD -0.2 and
    0.2; r -0.1 and 0.1); down 1 also when the CI is very wide (upper ratio limit more than
    3 times the lower, or an SMD/z CI wider than 1) without crossing the null.
publication bias
    Small-study effects only with k >= 10 (Sterne et al. 2011, BMJ 343:d4002): down 1 when
    Egger's test gives p < 0.10. With fewer the domain is "not judged" (undetected, not
    ruled out), and said so.
upgrades
    Only for observational evidence with no downgrade and risk of bias assessed (GRADE
    guidelines 9). Large effect: up 1 when the whole 95% CI of a ratio lies beyond 2 (or
    0.5), up 2 beyond 5 (or 0.2). Dose-response and plausible confounding are never
    proposed automatically (the records hold no dose data); reviewers add them in
    ``certainty.upgrades``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evidence.analyses.spec import Override
from evidence.stats.transforms import TRANSFORMS

LEVELS = ("very low", "low", "moderate", "high")
#: GRADE certainty symbols, high to very low.
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕⊝", "low": "⊕⊕⊝⊝", "very low": "⊕⊝⊝⊝"}
#: The GRADE definitions of the levels (Balshem et al. 2011, J Clin Epidemiol 64:401-406,
#: Table 2; GRADE Handbook 2013, Table 5.1).
DEFINITIONS = {
    "high": "We are very confident that the true effect lies close to that of the estimate "
    "of the effect.",
    "moderate": "We are moderately confident in the effect estimate: the true effect is "
    "likely to be close to the estimate of the effect, but there is a possibility that it "
    "is substantially different.",
    "low": "Our confidence in the effect estimate is limited: the true effect may be "
    "substantially different from the estimate of the effect.",
    "very low": "We have very little confidence in the effect estimate: the true effect is "
    "likely to be substantially different from the estimate of effect.",
}
#: References cited with every rating.
REFERENCES = (
    "Balshem H, Helfand M, Schünemann HJ, et al. GRADE guidelines: 3. Rating the quality "
    "of evidence. J Clin Epidemiol 2011;64:401-406.",
    "Schünemann H, Brożek J, Guyatt G, Oxman A, eds. GRADE Handbook. 2013.",
    "Santesso N, Glenton C, Dahm P, et al. GRADE guidelines 26: informative statements to "
    "communicate the findings of systematic reviews of interventions. J Clin Epidemiol "
    "2020;119:126-135.",
)
RANDOMISED = frozenset({"rct", "cluster-rct", "crossover-trial"})
HIGH_RISK = frozenset({"high", "serious", "very-high", "critical"})
VERY_HIGH_RISK = frozenset({"very-high", "critical"})
NOT_ASSESSED = frozenset({"not-assessed"})
#: Appreciable effects per metric on the model scale (lower, upper).
APPRECIABLE = {
    "log-risk-ratio": (math.log(0.75), math.log(1.25)),
    "log-odds-ratio": (math.log(0.75), math.log(1.25)),
    "smd": (-0.2, 0.2),
    "fisher-z": (math.atanh(-0.1), math.atanh(0.1)),
    "correlation": (-0.1, 0.1),
}
RATIO_METRICS = frozenset({"log-risk-ratio", "log-odds-ratio"})
DOMAIN_LABELS = {
    "risk-of-bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication-bias": "Publication bias",
}
UPGRADE_LABELS = {
    "large-effect": "Large effect",
    "dose-response": "Dose-response gradient",
    "plausible-confounding": "Plausible confounding would reduce the effect",
}
#: Reader words for a downgrade of 0, 1, 2.
RATINGS = ("not serious", "serious", "very serious")
#: The 95% critical value used for per-study intervals.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class CertaintyInputs:
    """What the rating looks at, for one pooled estimate.

    Per included effect: ``designs``, ``judgements`` (overall risk of bias), ``weights``
    (any unit), and optionally ``yi``/``vi`` (model scale) and ``indirect`` (the question
    elements it does not match, in words). ``ci``/``pi`` and ``estimate`` are on the model
    scale; ``egger_p`` is ``None`` when Egger's test was not run. ``direct_judged`` says
    whether the spec states its question in record fields. ``above_null`` says in words
    what an estimate above the null means.
    """

    metric: str
    k: int
    designs: Sequence[str]
    judgements: Sequence[str]
    weights: Sequence[float]
    ci: Sequence[float | None] | None
    pi: Sequence[float | None] | None
    i2: float | None
    egger_p: float | None = None
    yi: Sequence[float] = ()
    vi: Sequence[float] = ()
    estimate: float | None = None
    indirect: Sequence[Sequence[tuple[str, str]]] = ()
    direct_judged: bool = False
    above_null: str = "an association"


@dataclass(frozen=True)
class Domain:
    """One GRADE domain (or upgrade): proposed and final levels, reason, footnote, override."""

    domain: str
    proposed: int
    final: int
    reason: str
    override: Override | None = None
    footnote: str = ""
    rating: str = ""
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return ``{domain, label, proposed, final, rating, reason, footnote, override}``."""
        override = (
            None
            if self.override is None
            else {
                "downgrade": self.override.downgrade,
                "justification": self.override.justification,
            }
        )
        return {
            "domain": self.domain,
            "label": self.label,
            "proposed": self.proposed,
            "final": self.final,
            "rating": self.rating,
            "reason": self.reason,
            "footnote": self.footnote,
            "override": override,
        }


@dataclass(frozen=True)
class Certainty:
    """The starting level, the domains, the upgrades and the resulting level."""

    start: str
    start_reason: str
    proposed_level: str
    level: str
    domains: tuple[Domain, ...]
    upgrades: tuple[Domain, ...] = ()
    provisional: bool = False
    provisional_reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the results-JSON ``certainty`` section (footnotes lettered a, b, ...)."""
        domains = [d.to_dict() for d in self.domains]
        upgrades = [u.to_dict() for u in self.upgrades]
        footnotes: list[dict[str, str]] = []
        for item in (*domains, *upgrades):
            mark = chr(ord("a") + len(footnotes))
            item["mark"] = mark
            footnotes.append({"mark": mark, "domain": item["domain"], "text": item["footnote"]})
        return {
            "level": self.level,
            "symbol": SYMBOLS[self.level],
            "definition": DEFINITIONS[self.level],
            "start": self.start,
            "start_reason": self.start_reason,
            "proposed_level": self.proposed_level,
            "provisional": self.provisional,
            "provisional_reason": self.provisional_reason,
            "domains": domains,
            "upgrades": upgrades,
            "footnotes": footnotes,
            "levels": [
                {"level": name, "symbol": SYMBOLS[name], "definition": DEFINITIONS[name]}
                for name in reversed(LEVELS)
            ],
            "references": list(REFERENCES),
        }


def assess(
    inputs: CertaintyInputs,
    overrides: Sequence[Override] = (),
    upgrades: Sequence[Override] = (),
) -> Certainty:
    """Rate the certainty of one pooled estimate and apply the reviewers' overrides.

    The level is the start (high = 3, low = 1 on the 0-3 scale of :data:`LEVELS`) minus the
    downgrades plus the upgrades, kept within very low and high (GRADE Handbook 5.1).

    Parameters
    ----------
    inputs : CertaintyInputs
        The included effects and the pooled result.
    overrides, upgrades : sequence of Override
        From the spec; each replaces its domain's proposal, which is kept beside it.
    """
    start, start_reason = starting_level(inputs.designs)
    rob, rob_reason, rob_note, provisional = _risk_of_bias_full(inputs.judgements, inputs.weights)
    proposals = [
        ("risk-of-bias", rob, rob_reason, rob_note),
        ("inconsistency", *inconsistency_full(inputs)),
        ("indirectness", *indirectness(inputs)),
        ("imprecision", *_imprecision_full(inputs.metric, inputs.ci)),
        ("publication-bias", *_small_study_full(inputs.k, inputs.egger_p)),
    ]
    by_domain: Mapping[str, Override] = {o.domain: o for o in overrides}
    domains = tuple(
        _domain(name, proposed, reason, note, by_domain.get(name), DOMAIN_LABELS[name])
        for name, proposed, reason, note in proposals
    )
    if rob == 0 and provisional and "risk-of-bias" not in by_domain:
        domains = (
            Domain(**{**domains[0].__dict__, "rating": "not assessed"}),
            *domains[1:],
        )
    base = LEVELS.index(start)
    down_proposed = sum(d.proposed for d in domains)
    down_final = sum(d.final for d in domains)
    ups = _upgrades(inputs, start, down_final, provisional, upgrades)
    level = LEVELS[min(3, max(0, base - down_final + sum(u.final for u in ups)))]
    proposed_level = LEVELS[min(3, max(0, base - down_proposed + sum(u.proposed for u in ups)))]
    reason = None
    if provisional:
        reason = (
            "Risk of bias has not been assessed for studies carrying most of the weight, so "
            "this rating may be too high; it will be revised once they are assessed."
        )
    return Certainty(start, start_reason, proposed_level, level, domains, ups, provisional, reason)


def _domain(
    name: str, proposed: int, reason: str, note: str, override: Override | None, label: str
) -> Domain:
    final = override.downgrade if override is not None else proposed
    footnote = note
    if override is not None:
        footnote = (
            f"{note} A reviewer set this domain to {RATINGS[final]} "
            f"({_levels(final)}): {override.justification}"
        )
    rating = RATINGS[final]
    if reason.startswith("not judged") and override is None:
        rating = "not judged"
    return Domain(name, proposed, final, reason, override, footnote, rating, label)


def _levels(n: int) -> str:
    return "no change" if n == 0 else f"{n} level{'s' * (n > 1)}"


def starting_level(designs: Sequence[str]) -> tuple[str, str]:
    """``("high", reason)`` when every design is randomised, else ``("low", reason)``."""
    if designs and all(d in RANDOMISED for d in designs):
        return "high", "all included studies are randomised"
    observational = sum(d not in RANDOMISED for d in designs)
    return "low", (
        f"{observational} of {len(designs)} included effects come from observational "
        "studies, which start at low certainty in GRADE"
    )


def _shares(judgements: Sequence[str], weights: Sequence[float]) -> tuple[float, float, float]:
    """Weight shares: (high risk or worse, very high or worse, not assessed)."""
    total = float(sum(weights)) or 1.0
    pairs = list(zip(judgements, weights, strict=True))
    high = sum(w for j, w in pairs if j in HIGH_RISK) / total
    very = sum(w for j, w in pairs if j in VERY_HIGH_RISK) / total
    unknown = sum(w for j, w in pairs if j in NOT_ASSESSED) / total
    return high, very, unknown


def risk_of_bias(judgements: Sequence[str], weights: Sequence[float]) -> tuple[int, str]:
    """Downgrade for risk of bias by weight share (module rules) and the reason."""
    proposed, reason, _note, _provisional = _risk_of_bias_full(judgements, weights)
    return proposed, reason


def _risk_of_bias_full(
    judgements: Sequence[str], weights: Sequence[float]
) -> tuple[int, str, str, bool]:
    high, very, unknown = _shares(judgements, weights)
    n = len(judgements)
    n_unknown = sum(j in NOT_ASSESSED for j in judgements)
    n_high = sum(j in HIGH_RISK for j in judgements)
    reason = (
        f"{100 * high:.0f}% of the weight from studies at high risk of bias or worse; "
        f"{100 * unknown:.0f}% from studies whose risk of bias was not assessed"
    )
    provisional = unknown >= 0.5
    if very > 0.5:
        proposed = 2
    elif high > 0.5:
        proposed = 1
    else:
        proposed = 0
    if n_unknown == n:
        note = (
            f"Risk of bias has not been assessed for any of the {_count(n, 'estimate')}. We "
            "did not rate down for it, so this rating assumes no serious problems beyond "
            "those expected of observational studies; it may be lower once the studies are "
            "assessed."
        )
        return 0, "not assessed for any included study", note, True
    parts = []
    if n_high:
        parts.append(
            f"{_count(n_high, 'estimate')} ({100 * high:.0f}% of the weight) "
            f"come{'s' * (n_high == 1)} from studies at high risk of bias"
        )
    if n_unknown:
        parts.append(
            f"{_count(n_unknown, 'estimate')} ({100 * unknown:.0f}% of the weight) "
            f"come{'s' * (n_unknown == 1)} from studies not yet assessed"
        )
    described = "; ".join(parts) if parts else "no estimate comes from a study at high risk"
    verdict = (
        "rated down two levels"
        if proposed == 2
        else "rated down one level"
        if proposed == 1
        else "not rated down"
    )
    note = f"Of {_count(n, 'estimate')}, {described}: {verdict}."
    if provisional and proposed == 0:
        note += " The rating may be lower once the other studies are assessed."
    return proposed, reason, note, provisional


def crosses(interval: Sequence[float | None] | None, null: float = 0.0) -> bool | None:
    """Return True when the interval contains ``null``; ``None`` when it is undefined."""
    if interval is None or interval[0] is None or interval[1] is None:
        return None
    return interval[0] <= null <= interval[1]


def inconsistency(
    k: int, i2: float | None, ci: Sequence[float | None] | None, pi: Sequence[float | None] | None
) -> tuple[int, str]:
    """Downgrade for inconsistency from the pooled summaries only (no study estimates).

    Without the study estimates direction cannot be judged: this is the fallback of
    :func:`inconsistency_full`, which rates down only when the prediction interval crosses
    the null while the CI does not, together with I2 >= 50%.
    """
    result = inconsistency_full(
        CertaintyInputs("smd", k, (), (), (), ci, pi, i2, yi=(), vi=(), estimate=None)
    )
    return result[0], result[1]


def inconsistency_full(inputs: CertaintyInputs) -> tuple[int, str, str]:
    """Inconsistency from direction, overlap and the prediction interval (module rules)."""
    k, i2, pi = inputs.k, inputs.i2, inputs.pi
    if k < 2 or i2 is None:
        return (
            0,
            "not judged: a single estimate",
            "There is only one estimate, so consistency cannot be judged.",
        )
    pi_crosses = bool(crosses(pi))
    pi_words = _interval_words(inputs.metric, pi)
    if not inputs.yi:
        said = f"I2 = {i2:.0f}%; the 95% prediction interval {pi_words}"
        down = 1 if (i2 >= 50 and pi_crosses and not crosses(inputs.ci)) else 0
        return down, said, f"Heterogeneity: {said}."
    yi = [float(y) for y in inputs.yi]
    se = [math.sqrt(float(v)) for v in inputs.vi]
    weights = [float(w) for w in inputs.weights] or [1.0] * len(yi)
    total = sum(weights) or 1.0
    estimate = inputs.estimate if inputs.estimate is not None else sum(yi) / len(yi)
    side = 1 if estimate >= 0 else -1
    opposite = [i for i, y in enumerate(yi) if y * side < 0]
    opposite_share = sum(weights[i] for i in opposite) / total
    clear_opposite = [i for i in opposite if abs(yi[i]) > Z95 * se[i]]
    clear_same = [i for i, y in enumerate(yi) if y * side > 0 and abs(y) > Z95 * se[i]]
    lows = [y - Z95 * s for y, s in zip(yi, se, strict=True)]
    highs = [y + Z95 * s for y, s in zip(yi, se, strict=True)]
    overlap = max(lows) <= min(highs)
    reason = (
        f"{len(yi) - len(opposite)} of {len(yi)} estimates on the side of the pooled "
        f"estimate ({100 * opposite_share:.0f}% of the weight on the other side, "
        f"{len(clear_opposite)} clearly); confidence intervals "
        f"{'all overlap' if overlap else 'do not all overlap'}; I2 = {i2:.0f}%; the 95% "
        f"prediction interval {pi_words}"
    )
    if clear_opposite and clear_same:
        return (
            2,
            reason,
            (
                f"Studies disagree in direction: {_count(len(clear_same), 'estimate')} clearly "
                f"point to {inputs.above_null if side > 0 else 'the opposite'} and "
                f"{len(clear_opposite)} clearly to the opposite; rated down two levels."
            ),
        )
    serious = (opposite_share >= 0.25 or clear_opposite) and pi_crosses
    serious = serious and (not overlap or i2 >= 50)
    if serious:
        return (
            1,
            reason,
            (
                f"Estimates point in different directions: {len(opposite)} of {len(yi)} "
                f"({100 * opposite_share:.0f}% of the weight) lie on the other side of no "
                f"association, the confidence intervals "
                f"{'do not all overlap' if not overlap else 'vary widely'} (I² = {i2:.0f}%) and "
                f"the 95% prediction interval {pi_words}; rated down one level."
            ),
        )
    if not opposite:
        same = (
            f"All {len(yi)} estimates lie on the same side of no association"
            if len(yi) > 2
            else "Both estimates lie on the same side of no association"
        )
        if i2 >= 50 or pi_crosses:
            return (
                0,
                reason,
                (
                    f"{same}. They differ in size (I² = {i2:.0f}%; the 95% prediction interval "
                    f"{pi_words}), but not in direction, so we did not rate down."
                ),
            )
        return 0, reason, f"{same} and agree in size (I² = {i2:.0f}%); not rated down."
    return (
        0,
        reason,
        (
            f"{len(opposite)} of {len(yi)} estimates ({100 * opposite_share:.0f}% of the weight) "
            f"lie{'s' * (len(opposite) == 1)} on the other side of no association, "
            f"{'none of them clearly' if not clear_opposite else 'with little weight'}; the "
            f"confidence intervals {'overlap' if overlap else 'mostly overlap'} and the 95% "
            f"prediction interval {pi_words}; not rated down."
        ),
    )


def indirectness(inputs: CertaintyInputs) -> tuple[int, str, str]:
    """Indirectness from the question elements each effect does not match (module rules)."""
    if not inputs.direct_judged:
        return (
            0,
            "not judged: the analysis does not state its question in record fields",
            "The analysis does not state its question in record fields, so indirectness "
            "was not judged.",
        )
    weights = [float(w) for w in inputs.weights]
    total = sum(weights) or 1.0
    marks = list(inputs.indirect) or [()] * len(weights)
    indirect = [i for i, m in enumerate(marks) if m]
    twice = [i for i, m in enumerate(marks) if len({e for e, _ in m}) >= 2]
    share = sum(weights[i] for i in indirect) / total
    share_twice = sum(weights[i] for i in twice) / total
    reason = (
        f"{len(indirect)} of {len(marks)} estimates indirect ({100 * share:.0f}% of the weight)"
    )
    if not indirect:
        return (
            0,
            reason,
            (
                f"All {_count(len(marks), 'estimate')} match the question's population, exposure "
                "and outcome; not rated down."
            ),
        )
    counts: dict[str, int] = {}
    for i in indirect:
        for element, words in marks[i]:
            key = f"{element}: {words}"
            counts[key] = counts.get(key, 0) + 1
    listed = "; ".join(f"{key} ({n})" for key, n in sorted(counts.items()))
    if share_twice > 0.5:
        down, verdict = 2, "rated down two levels"
    elif share > 0.5:
        down, verdict = 1, "rated down one level"
    else:
        down, verdict = 0, "most of the weight is direct, so we did not rate down"
    return (
        down,
        reason,
        (
            f"{len(indirect)} of {len(marks)} estimates ({100 * share:.0f}% of the weight) differ "
            f"from the question ({listed}); {verdict}."
        ),
    )


def imprecision(metric: str, ci: Sequence[float | None] | None) -> tuple[int, str]:
    """Downgrade for a CI that crosses the null, spans both appreciable effects, or is wide."""
    proposed, reason, _note = _imprecision_full(metric, ci)
    return proposed, reason


def _imprecision_full(metric: str, ci: Sequence[float | None] | None) -> tuple[int, str, str]:
    if crosses(ci) is None:
        return 0, "not judged: no confidence interval", "There is no confidence interval."
    lower, upper = float(ci[0]), float(ci[1])  # type: ignore[index, arg-type]
    low_bound, high_bound = APPRECIABLE.get(metric, (-0.2, 0.2))
    shown = _natural(metric, lower, upper)
    if crosses(ci):
        if lower <= low_bound and upper >= high_bound:
            return (
                2,
                (
                    f"95% CI {shown} crosses the null and includes both appreciable benefit "
                    "and appreciable harm"
                ),
                (
                    f"The 95% confidence interval ({shown}) is compatible with an important "
                    "association in either direction as well as none; rated down two levels."
                ),
            )
        return (
            1,
            f"95% CI {shown} crosses the null",
            (
                f"The 95% confidence interval ({shown}) includes no association as well as "
                "a possibly important one; rated down one level."
            ),
        )
    wide = (upper - lower > math.log(3)) if metric in RATIO_METRICS else (upper - lower > 1)
    if wide:
        return (
            1,
            f"95% CI {shown} is very wide",
            (
                f"The 95% confidence interval ({shown}) excludes no association but is very "
                "wide, so the size of the association is uncertain; rated down one level."
            ),
        )
    return (
        0,
        f"95% CI {shown} excludes the null",
        (
            f"The 95% confidence interval ({shown}) excludes no association and is not very "
            "wide; not rated down."
        ),
    )


def _natural(metric: str, lower: float, upper: float) -> str:
    if metric in RATIO_METRICS:
        ratio = TRANSFORMS["exp"].scalar  # inf, not OverflowError, for a huge log ratio
        return f"{_ratio(ratio(lower))} to {_ratio(ratio(upper))}"
    if metric == "fisher-z":
        return f"r {math.tanh(lower):.2f} to {math.tanh(upper):.2f}"
    return f"{lower:.2f} to {upper:.2f}"


def _ratio(value: float) -> str:
    """Format a ratio with two decimals, or three significant digits when it is large or small."""
    return f"{value:.2f}" if 0.1 <= value < 10 else f"{value:.3g}"


def _interval_words(metric: str, interval: Sequence[float | None] | None) -> str:
    if interval is None or interval[0] is None or interval[1] is None:
        return "is not available"
    shown = _natural(metric, float(interval[0]), float(interval[1]))
    return (
        f"({shown}) includes no association"
        if crosses(interval)
        else f"({shown}) excludes no association"
    )


def small_study_effects(k: int, egger_p: float | None) -> tuple[int, str]:
    """Downgrade for small-study effects: only with k >= 10 and Egger p < 0.10."""
    proposed, reason, _note = _small_study_full(k, egger_p)
    return proposed, reason


def _small_study_full(k: int, egger_p: float | None) -> tuple[int, str, str]:
    if k < 10:
        return (
            0,
            f"not judged: small-study effects need at least 10 studies (k = {k})",
            (
                f"With {_count(k, 'estimate')}, too few to test for small-study effects (at "
                "least 10 are needed), publication bias could not be assessed: it is "
                "undetected, not ruled out."
            ),
        )
    if egger_p is None:
        return (
            0,
            "not judged: Egger's test was not run",
            ("Small-study effects were not tested, so publication bias was not assessed."),
        )
    if egger_p < 0.10:
        return (
            1,
            f"Egger's test suggests small-study effects (p = {egger_p:.3f})",
            (
                f"Smaller studies report larger associations (Egger's test p = {egger_p:.3f}), "
                "a sign that unpublished null results may be missing; rated down one level."
            ),
        )
    return (
        0,
        f"no sign of small-study effects by Egger's test (p = {egger_p:.3f})",
        (
            f"No sign that smaller studies report larger associations (Egger's test p = "
            f"{egger_p:.3f}); not rated down."
        ),
    )


def _upgrades(
    inputs: CertaintyInputs,
    start: str,
    downgrades: int,
    provisional: bool,
    overrides: Sequence[Override],
) -> tuple[Domain, ...]:
    """Large effect (proposed from the CI), dose-response and plausible confounding."""
    by_domain = {o.domain: o for o in overrides}
    blocked = None
    if start == "high":
        blocked = "randomised evidence starts high and is not rated up"
    elif downgrades:
        blocked = "GRADE rates up only evidence that was not rated down"
    elif provisional:
        blocked = "risk of bias is not assessed, so rating up is not considered"
    found = []
    for name in UPGRADE_LABELS:
        proposed, reason, note = 0, "", ""
        if blocked:
            reason = f"not considered: {blocked}"
            note = f"Not considered: {blocked}."
        elif name == "large-effect":
            proposed, reason, note = large_effect(inputs.metric, inputs.ci)
        else:
            reason = "not proposed automatically: needs a reviewer's judgement"
            note = (
                "The records hold no dose-response data; not rated up."
                if name == "dose-response"
                else "Not judged: needs a reviewer's reading of the likely confounders; "
                "not rated up."
            )
        override = by_domain.get(name)
        final = override.downgrade if override is not None else proposed
        if override is not None:
            note = f"{note} A reviewer rated up {_levels(final)}: {override.justification}"
        rating = "rated up" if final else "not rated up"
        found.append(
            Domain(name, proposed, final, reason, override, note, rating, UPGRADE_LABELS[name])
        )
    return tuple(found)


def large_effect(metric: str, ci: Sequence[float | None] | None) -> tuple[int, str, str]:
    """Up 1 when the whole ratio CI lies beyond 2 (or 0.5), up 2 beyond 5 (or 0.2)."""
    if metric not in RATIO_METRICS:
        return (
            0,
            "not applicable: large effects are defined for ratios",
            ("Large effects are defined for ratios only; not rated up."),
        )
    if crosses(ci) is None:
        return 0, "not judged: no confidence interval", "No confidence interval; not rated up."
    ratio = TRANSFORMS["exp"].scalar  # inf, not OverflowError, for a huge log ratio
    lower, upper = ratio(float(ci[0])), ratio(float(ci[1]))  # type: ignore[index, arg-type]
    shown = f"{_ratio(lower)} to {_ratio(upper)}"
    if lower > 5 or upper < 0.2:
        return (
            2,
            f"95% CI {shown} beyond 5 (or 0.2)",
            (
                f"The whole 95% confidence interval ({shown}) shows a very large association; "
                "rated up two levels."
            ),
        )
    if lower > 2 or upper < 0.5:
        return (
            1,
            f"95% CI {shown} beyond 2 (or 0.5)",
            (
                f"The whole 95% confidence interval ({shown}) shows a large association; "
                "rated up one level."
            ),
        )
    return (
        0,
        f"95% CI {shown} not beyond 2 (or 0.5)",
        (f"The association is not large enough to rate up (95% CI {shown})."),
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
