"""Build typed, immutable :class:`~evidence.records.model.Study` records from checked YAML.

Called by :func:`evidence.records.validate.load_studies` for every record file free of
errors, so the data may be trusted to have the shape the schema describes.
"""

from __future__ import annotations

from typing import Any

from evidence.records.model import (
    ROB_DOMAINS,
    Acknowledgement,
    Computed,
    Effect,
    Exposure,
    Extraction,
    Outcome,
    Population,
    Position,
    RiskOfBias,
    RobDomain,
    Source,
    Statistic,
    Study,
    Subgroup,
    TwoByTwo,
    TwoGroups,
)
from evidence.records.units import follow_up_in_years
from evidence.records.yamlio import LoadedYaml


def build_study(loaded: LoadedYaml) -> Study:
    """Build a :class:`Study` from a loaded record that passed validation.

    Lists become tuples, absent optional fields ``None``, numbers of statistics ``float``
    (counts and sizes stay ``int``), and each effect records where it starts in the file.
    ``follow_up_years`` is the record's own, or its ``follow_up`` (a value with a unit)
    in years.
    """
    data = loaded.data
    population = data["population"]
    follow_up = data.get("follow_up")
    years = _float(data.get("follow_up_years"))
    if years is None and isinstance(follow_up, str):
        years = follow_up_in_years(follow_up)
    return Study(
        id=data["id"],
        citation=data["citation"],
        design=data["design"],
        population=Population(
            population["description"],
            population.get("age_group"),
            population.get("sex"),
            population.get("condition"),
            population.get("n"),
        ),
        risk_of_bias=_risk_of_bias(data["risk_of_bias"]),
        extraction=Extraction(**data["extraction"]),
        effects=tuple(_effect(e, loaded, i) for i, e in enumerate(data["effects"])),
        cohort=data.get("cohort"),
        doi=data.get("doi"),
        url=data.get("url"),
        year=data.get("year"),
        title=data.get("title"),
        authors=tuple(data.get("authors", ())),
        countries=tuple(data.get("countries", ())),
        follow_up_years=years,
        follow_up=follow_up,
        notes=data.get("notes"),
        acknowledge=_acknowledgements(data),
        path=loaded.path,
    )


def _risk_of_bias(data: dict[str, Any]) -> RiskOfBias:
    """Build the risk-of-bias block, its domains in ROBINS-E order."""
    values = dict(data)
    domains = values.pop("domains", {}) or {}
    return RiskOfBias(
        **values,
        domains=tuple(
            RobDomain(name, domains[name]["judgement"], domains[name].get("support"))
            for name in ROB_DOMAINS
            if name in domains
        ),
    )


def _acknowledgements(data: dict[str, Any]) -> tuple[Acknowledgement, ...]:
    return tuple(Acknowledgement(**entry) for entry in data.get("acknowledge", ()))


def _effect(data: dict[str, Any], loaded: LoadedYaml, index: int) -> Effect:
    exposure = dict(data["exposure"])
    exposure["tie_types"] = tuple(exposure.get("tie_types", ()))
    subgroup = data.get("subgroup")
    source = dict(data["source"])
    source["computed"] = tuple(Computed(**entry) for entry in source.get("computed", ()))
    line, column = loaded.positions.of(("effects", index))
    return Effect(
        id=data["id"],
        exposure=Exposure(**exposure),
        outcome=Outcome(**data["outcome"]),
        adjustment=data["adjustment"],
        statistic=_statistic(data["statistic"]),
        source=Source(**source),
        covariates=tuple(data.get("covariates", ())),
        subgroup=Subgroup(**subgroup) if subgroup else None,
        notes=data.get("notes"),
        acknowledge=_acknowledgements(data),
        position=Position(loaded.path, line, column),
    )


def _statistic(data: dict[str, Any]) -> Statistic:
    values: dict[str, Any] = dict(data)
    for name in ("value", "se", "se_log", "p", "t", "f", "ci_level"):
        if name in values:
            values[name] = _float(values[name])
    for name in ("ci", "range"):
        if name in values:
            values[name] = (float(values[name][0]), float(values[name][1]))
    if "table" in values:
        values["table"] = TwoByTwo(**values["table"])
    if "groups" in values:
        groups = dict(values["groups"])
        for name in ("exposed_mean", "exposed_sd", "unexposed_mean", "unexposed_sd"):
            groups[name] = float(groups[name])
        values["groups"] = TwoGroups(**groups)
    return Statistic(**values)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
