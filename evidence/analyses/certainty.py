"""GRADE-style certainty: an automatic proposal per analysis, and reviewers' overrides.

The proposal follows the GRADE approach (Schünemann H, Brożek J, Guyatt G, Oxman A, eds.
*GRADE Handbook*, 2013, section 5; Guyatt GH et al., GRADE guidelines series, J Clin
Epidemiol 2011, 64: 1 "Introduction" 383-394, 3 "Rating the quality of evidence" 401-406,
4 "Risk of bias" 407-415, 5 "Publication bias" 1277-1282, 6 "Imprecision" 1283-1293,
7 "Inconsistency" 1294-1302). It is a proposal with its reasons, never a verdict: every
domain can be overridden in the spec (``certainty.overrides``) with a written
justification, and both the proposal and the override are kept in the results.

Rules and thresholds (documented so they can be argued with)
------------------------------------------------------------
start
    ``high`` when every included study is randomised (rct, cluster-rct, crossover-trial),
    otherwise ``low`` (observational evidence; GRADE guidelines 3, 2011).
risk-of-bias
    share of the model weight from studies judged high risk (``high``, ``serious``,
    ``critical``) and from studies not judged (``not-assessed``, ``unclear``).
    Down 2 when high-risk weight > 50%; down 1 when high-risk weight > 25% or high-risk
    plus not-judged weight > 50% (GRADE guidelines 4: judge by the studies that carry
    the weight). "Not assessed" is said in those words.
inconsistency
    down 1 when I2 >= 50% or the 95% prediction interval crosses the null while the CI
    does not; down 2 when I2 >= 75% and the prediction interval crosses the null
    (Handbook 5.2.3: I2 50-90% substantial, 75-100% considerable; IntHout et al. 2016,
    BMJ Open 6:e010247 for prediction intervals). Not judged with k < 3.
imprecision
    down 1 when the 95% CI crosses the null; down 2 when it also spans both appreciable
    benefit and appreciable harm (ratios 0.75 and 1.25, GRADE guidelines 6; SMD -0.2 and
    0.2; r -0.1 and 0.1); down 1 also when the CI is very wide (ratio of its limits
    above 3, or an SMD/z CI wider than 1) without crossing the null.
publication-bias
    small-study effects only with k >= 10 (Sterne et al. 2011, BMJ 343:d4002): down 1 when
    Egger's test gives p < 0.10. With k < 10 not judged, and said so.
indirectness
    not judged automatically (it needs a reviewer's reading of the question); proposed 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidence.analyses.spec import Override

LEVELS = ("very low", "low", "moderate", "high")
RANDOMISED = frozenset({"rct", "cluster-rct", "crossover-trial"})
HIGH_RISK = frozenset({"high", "serious", "critical"})
NOT_JUDGED = frozenset({"not-assessed", "unclear"})
#: Appreciable effects per metric on the model scale (lower, upper).
APPRECIABLE = {
    "log-risk-ratio": (math.log(0.75), math.log(1.25)),
    "log-odds-ratio": (math.log(0.75), math.log(1.25)),
    "smd": (-0.2, 0.2),
    "fisher-z": (math.atanh(-0.1), math.atanh(0.1)),
    "correlation": (-0.1, 0.1),
}
RATIO_METRICS = frozenset({"log-risk-ratio", "log-odds-ratio"})


@dataclass(frozen=True)
class CertaintyInputs:
    """What the proposal looks at, for one analysis.

    ``designs``, ``judgements`` and ``weights`` are per included effect (weights in any
    unit; they are normalised). ``ci``/``pi`` are on the model scale; ``egger_p`` is
    ``None`` when Egger's test was not run.
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


@dataclass(frozen=True)
class Domain:
    """One GRADE domain: proposed and final downgrade (0, 1, 2), reason, override."""

    domain: str
    proposed: int
    final: int
    reason: str
    override: Override | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{domain, proposed, final, reason, override}``."""
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
            "proposed": self.proposed,
            "final": self.final,
            "reason": self.reason,
            "override": override,
        }


@dataclass(frozen=True)
class Certainty:
    """The starting level, the domains and the resulting (proposed and final) level."""

    start: str
    start_reason: str
    proposed_level: str
    level: str
    domains: tuple[Domain, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the results-JSON ``certainty`` section."""
        return {
            "start": self.start,
            "start_reason": self.start_reason,
            "proposed_level": self.proposed_level,
            "level": self.level,
            "domains": [d.to_dict() for d in self.domains],
        }


def assess(inputs: CertaintyInputs, overrides: Sequence[Override] = ()) -> Certainty:
    """Propose a certainty rating and apply the reviewers' overrides.

    The level is the start (high = 4, low = 2) minus the sum of downgrades, never below
    very low (GRADE Handbook 5.1).

    Parameters
    ----------
    inputs : CertaintyInputs
        The included effects and the pooled result.
    overrides : sequence of Override
        From the spec; each replaces its domain's downgrade, keeping the proposal.
    """
    start, start_reason = starting_level(inputs.designs)
    proposals = [
        ("risk-of-bias", *risk_of_bias(inputs.judgements, inputs.weights)),
        ("inconsistency", *inconsistency(inputs.k, inputs.i2, inputs.ci, inputs.pi)),
        (
            "indirectness",
            0,
            "not judged automatically: needs a reviewer's reading of how "
            "well the studies match the question",
        ),
        ("imprecision", *imprecision(inputs.metric, inputs.ci)),
        ("publication-bias", *small_study_effects(inputs.k, inputs.egger_p)),
    ]
    by_domain: Mapping[str, Override] = {o.domain: o for o in overrides}
    domains = tuple(
        Domain(
            name,
            proposed,
            by_domain[name].downgrade if name in by_domain else proposed,
            reason,
            by_domain.get(name),
        )
        for name, proposed, reason in proposals
    )
    base = LEVELS.index(start)
    proposed_level = LEVELS[max(0, base - sum(d.proposed for d in domains))]
    level = LEVELS[max(0, base - sum(d.final for d in domains))]
    return Certainty(start, start_reason, proposed_level, level, domains)


def starting_level(designs: Sequence[str]) -> tuple[str, str]:
    """``("high", reason)`` when every design is randomised, else ``("low", reason)``."""
    if designs and all(d in RANDOMISED for d in designs):
        return "high", "all included studies are randomised"
    observational = sum(d not in RANDOMISED for d in designs)
    return "low", (
        f"{observational} of {len(designs)} included effects come from observational studies"
    )


def _shares(judgements: Sequence[str], weights: Sequence[float]) -> tuple[float, float]:
    total = float(sum(weights)) or 1.0
    high = sum(w for j, w in zip(judgements, weights, strict=True) if j in HIGH_RISK) / total
    unknown = sum(w for j, w in zip(judgements, weights, strict=True) if j in NOT_JUDGED)
    return high, unknown / total


def risk_of_bias(judgements: Sequence[str], weights: Sequence[float]) -> tuple[int, str]:
    """Downgrade by the weight share of high-risk and not-judged studies (module rules)."""
    high, unknown = _shares(judgements, weights)
    said = (
        f"{100 * high:.0f}% of the weight from high-risk studies; {100 * unknown:.0f}% "
        "from studies whose risk of bias was not assessed"
    )
    if high > 0.5:
        return 2, said
    if high > 0.25 or high + unknown > 0.5:
        if unknown >= 0.999:
            return 1, (
                "risk of bias not assessed for any included study; downgraded one level until it is"
            )
        return 1, said
    return 0, said


def crosses(interval: Sequence[float | None] | None, null: float = 0.0) -> bool | None:
    """Return True when the interval contains ``null``; ``None`` when it is undefined."""
    if interval is None or interval[0] is None or interval[1] is None:
        return None
    return interval[0] <= null <= interval[1]


def inconsistency(
    k: int, i2: float | None, ci: Sequence[float | None] | None, pi: Sequence[float | None] | None
) -> tuple[int, str]:
    """Downgrade for heterogeneity from I2 and the prediction interval (module rules)."""
    if k < 3 or i2 is None:
        return 0, f"not judged: {k} effects are too few to assess heterogeneity"
    pi_crosses = bool(crosses(pi))
    ci_crosses = bool(crosses(ci))
    said = (
        f"I2 = {i2:.0f}%; the 95% prediction interval "
        f"{'crosses' if pi_crosses else 'does not cross'} the null"
    )
    if i2 >= 75 and pi_crosses:
        return 2, said
    if i2 >= 50 or (pi_crosses and not ci_crosses):
        return 1, said
    return 0, said


def imprecision(metric: str, ci: Sequence[float | None] | None) -> tuple[int, str]:
    """Downgrade for a CI that crosses the null, spans both appreciable effects, or is wide."""
    if crosses(ci) is None:
        return 0, "not judged: no confidence interval"
    lower, upper = float(ci[0]), float(ci[1])  # type: ignore[index, arg-type]
    low_bound, high_bound = APPRECIABLE.get(metric, (-0.2, 0.2))
    shown = _natural(metric, lower, upper)
    if crosses(ci):
        if lower <= low_bound and upper >= high_bound:
            return 2, (
                f"95% CI {shown} crosses the null and includes both appreciable benefit "
                "and appreciable harm"
            )
        return 1, f"95% CI {shown} crosses the null"
    wide = (upper - lower > math.log(3)) if metric in RATIO_METRICS else (upper - lower > 1)
    if wide:
        return 1, f"95% CI {shown} is very wide"
    return 0, f"95% CI {shown} excludes the null"


def _natural(metric: str, lower: float, upper: float) -> str:
    if metric in RATIO_METRICS:
        return f"{math.exp(lower):.2f} to {math.exp(upper):.2f}"
    if metric == "fisher-z":
        return f"r {math.tanh(lower):.2f} to {math.tanh(upper):.2f}"
    return f"{lower:.2f} to {upper:.2f}"


def small_study_effects(k: int, egger_p: float | None) -> tuple[int, str]:
    """Downgrade for small-study effects: only with k >= 10 and Egger p < 0.10."""
    if k < 10:
        return 0, f"not judged: small-study effects need at least 10 studies (k = {k})"
    if egger_p is None:
        return 0, "not judged: Egger's test was not run"
    if egger_p < 0.10:
        return 1, f"Egger's test suggests small-study effects (p = {egger_p:.3f})"
    return 0, f"no sign of small-study effects by Egger's test (p = {egger_p:.3f})"
