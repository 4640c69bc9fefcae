"""The choices of a multiverse analysis: one registry, read by the spec loader and the engine.

A multiverse (Steegen et al. 2016; Voracek, Kossmeier & Tran 2019, Z Psychol 227, 64-82)
runs every defensible combination of the choices an analyst makes; a specification
curve (Simonsohn, Simmons & Nelson 2020, Nat Hum Behav 4, 1208-1214) shows them all.
Each :class:`Choice` here is one decision, with its options in the order they are listed;
the ``multiverse:`` block of an analysis spec names a subset of the options of each choice
(``analyses/<id>.yaml``, see ``evidence/schema/analysis.schema.json``), and a choice it
leaves out takes its default options (:func:`default_options`).

Choices act at one of three stages, in this order (:mod:`evidence.analyses.multiverse`):

``table``
    decides which effects the harmonised effect table holds (adjustment rule, dependence
    rule, inclusion); the table is built once per combination of these options.
``sample``
    leaves one independent sample (cluster) out of that table; a mask, no refit of the table.
``model``
    decides how the selected effects are pooled (two- or three-level model, tau^2
    estimator, inference).

Adding a choice is one :class:`Choice` in :data:`CHOICES` plus, in
:mod:`evidence.analyses.multiverse`, what its options do; the schema's enums and the page's
wording are read from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evidence.stats.pooling import TESTS
from evidence.stats.tau2 import ESTIMATORS, METHODS

#: The assumed within-cluster correlation of the ``aggregate`` option when neither the
#: multiverse block nor the spec states one (a common convention, shown with the option).
DEFAULT_RHO = 0.5

#: Option of ``leave_out`` that keeps every sample.
KEEP_ALL = "none"


@dataclass(frozen=True)
class Option:
    """One option of a choice: its name (as in the spec and the table) and its words.

    ``label`` is the page's wording; ``short`` the few words a specification curve's row
    label has room for on a phone (the label when empty).
    """

    name: str
    label: str
    short: str = ""

    @property
    def brief(self) -> str:
        """The option's words where room is short (``short``, else ``label``)."""
        return self.short or self.label


@dataclass(frozen=True)
class Choice:
    """One decision of the multiverse (see the module docstring for ``stage``).

    ``key`` is the multiverse block's key for it (``None`` when its options are not listed
    but follow from the data, as the samples of ``leave_out``); ``label`` names it for
    readers; ``options`` are every option it may take, in order.
    """

    name: str
    label: str
    stage: str
    options: tuple[Option, ...]
    key: str | None

    def option(self, name: str) -> Option:
        """Return the option called ``name`` (a sample name for ``leave_out``)."""
        for option in self.options:
            if option.name == name:
                return option
        return Option(name, name)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the options."""
        return tuple(option.name for option in self.options)


#: Dependence option -> (harmonise dependence rule, model). ``three-level`` fits the
#: three-level model wherever a sample holds several effects (as ``evidence run`` does
#: with ``dependence: multilevel``); ``two-level`` keeps the same effects as independent.
DEPENDENCE_RULES = {
    "three-level": ("multilevel", "three-level"),
    "two-level": ("multilevel", "two-level"),
    "aggregate": ("aggregate", "two-level"),
    "one-per-cohort": ("one-per-cohort", "two-level"),
}
#: The dependence option of a spec's ``dependence`` rule.
SPEC_DEPENDENCE = {
    "multilevel": "three-level",
    "aggregate": "aggregate",
    "one-per-cohort": "one-per-cohort",
}

#: Inference words (as the analysis page names them).
_TEST_LABELS = {
    "z": "z (normal)",
    "knha": "Knapp-Hartung (t)",
    "adhoc": "modified Knapp-Hartung (t, never narrower than z)",
}
#: The same, where room is short (a specification curve's row labels).
_TEST_SHORT = {"z": "z", "knha": "Knapp-Hartung", "adhoc": "modified K-H"}

#: Every choice, in the order of the table's columns and of the specification index.
CHOICES: dict[str, Choice] = {
    c.name: c
    for c in (
        Choice(
            "adjustment",
            "Adjustment rule",
            "table",
            (
                Option("most-adjusted", "most adjusted estimate", "most adjusted"),
                Option("least-adjusted", "least adjusted estimate", "least adjusted"),
                Option("all", "every adjustment level", "every level"),
                Option(
                    "fully-adjusted-only", "fully adjusted estimates only", "fully adjusted only"
                ),
            ),
            "adjustment",
        ),
        Choice(
            "dependence",
            "Dependent effects",
            "table",
            (
                Option("three-level", "three-level model", "three-level"),
                Option("two-level", "effects treated as independent", "as independent"),
                Option("aggregate", "aggregated within each sample", "aggregated"),
                Option("one-per-cohort", "one effect per sample", "one per sample"),
            ),
            "dependence",
        ),
        Choice(
            "inclusion",
            "Inclusion",
            "table",
            (
                Option("all", "every selected effect", "every effect"),
                Option("primary-sources", "numbers read from the study itself", "primary sources"),
                Option("adjusted-only", "adjusted estimates only", "adjusted only"),
                Option("verified-only", "records whose extraction is verified", "verified only"),
                Option(
                    "low-risk-of-bias", "studies judged at low risk of bias", "low risk of bias"
                ),
            ),
            "inclusion",
        ),
        Choice(
            "families",
            "Ratio families",
            "table",
            (
                Option("as-specified", "the ratio families the analysis names", "as specified"),
                Option(
                    "all-ratios",
                    "hazard, risk, odds and rate ratios together (rare-outcome approximation)",
                    "all ratios",
                ),
            ),
            "families",
        ),
        Choice("leave_out", "Sample left out", "sample", (Option(KEEP_ALL, "none"),), None),
        Choice(
            "estimator",
            "tau\u00b2 estimator",
            "model",
            tuple(Option(name, ESTIMATORS[name].label, name) for name in METHODS),
            "estimator",
        ),
        Choice(
            "inference",
            "Inference",
            "model",
            tuple(
                Option(name, _TEST_LABELS.get(name, name), _TEST_SHORT.get(name, ""))
                for name in TESTS
            ),
            "inference",
        ),
    )
}

#: Options each choice takes when the multiverse block does not list it. The analysis's own
#: setting is always added (:func:`default_options`), so the pre-specified analysis is one
#: of the specifications.
DEFAULTS: dict[str, tuple[str, ...]] = {
    "adjustment": ("most-adjusted", "least-adjusted", "all", "fully-adjusted-only"),
    "dependence": ("three-level", "two-level", "aggregate", "one-per-cohort"),
    "inclusion": ("all", "primary-sources", "adjusted-only", "verified-only", "low-risk-of-bias"),
    "families": ("as-specified", "all-ratios"),
    "estimator": ("REML", "DL", "PM"),
    "inference": ("z", "knha", "adhoc"),
}


def prespecified(spec: Mapping[str, Any]) -> dict[str, str]:
    """Return the option of each listed choice that the analysis spec itself takes."""
    model = spec.get("model") or {}
    return {
        "adjustment": str(spec.get("adjustment")),
        "dependence": SPEC_DEPENDENCE.get(str(spec.get("dependence")), "three-level"),
        "inclusion": "all",
        "families": "as-specified",
        "estimator": str(model.get("method", "REML")).upper(),
        "inference": str(model.get("test", "z")),
    }


#: Metrics on which ratio families can be combined (the ``all-ratios`` option).
RATIO_METRICS = ("log-risk-ratio", "log-odds-ratio")


def default_options(name: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the default options of ``name`` plus the spec's own setting, in registry order.

    ``families`` varies only on a ratio metric.
    """
    if name == "families" and spec.get("metric") not in RATIO_METRICS:
        return ("as-specified",)
    wanted = {*DEFAULTS[name], prespecified(spec)[name]}
    return tuple(option for option in CHOICES[name].names if option in wanted)


def listed_choices() -> tuple[Choice, ...]:
    """Return the choices the multiverse block lists options for (those with a ``key``)."""
    return tuple(choice for choice in CHOICES.values() if choice.key is not None)
