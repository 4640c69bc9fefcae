"""The optional sections of ``evidence pool`` that follow metafor beyond ``rma``.

Each builder turns the parsed CSV (and the fitted model) into one JSON-ready section of
the pool command's output, and :func:`summary_lines` describes the sections in a few
readable lines for the text output:

- ``--model mh|peto|glmm``: :func:`binary_pooled` (Mantel-Haenszel ``rma.mh``, Peto
  ``rma.peto``, the GLMMs of ``rma.glmm``: ``--glmm-model UM.FS|CM.EL|CM.AL``, with
  ``--method FE`` the equal-effects GLMM) in place of the inverse-variance ``pooled``;
- ``--predict``: :func:`predictions` (metafor ``predict(newmods = )``);
- ``--blup``: :func:`blups` (``fitted``, ``blup``, ``ranef`` per study);
- ``--confint TYPE``: :func:`tau2_interval` (``confint(type = )`` for the (residual) tau2,
  or the Biggerstaff-Tweedie interval);
- ``--henmi-copas``: :func:`henmi_copas_section` (``hc``);
- ``--permutation N --seed S``: :func:`permutation_section` (``permutest``);
- ``--model mv``: :func:`multivariate_pooled` (``rma.mv`` with ``vcalc``);
- ``--selection stepfun|beta``: :func:`selection_section` (``selmodel``).

Inputs are checked here and bad ones raised as :class:`evidence.errors.EvidenceError`
problems naming the CSV (``FILE.csv:LINE:COL: message [rule]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from evidence.effects.csvinput import EffectTable, numeric_column
from evidence.errors import EvidenceError, Problem
from evidence.stats.errors import InputError
from evidence.stats.results import finite
from evidence.stats.transforms import PARAMETERISED_TRANSFORMS, transform_function

if TYPE_CHECKING:
    from evidence.stats.prediction import Prediction
    from evidence.stats.uni import UniFit

# The models themselves (GLMM, Mantel-Haenszel, Peto, permutation, predictions, tau2
# intervals) are imported by the functions that use them: `evidence pool` without those
# options starts without loading them (see tests/test_startup.py).

#: ``--model`` choices: metafor rma (inverse variance, the default), the binary models and
#: rma.mv.
MODELS = ("rma", "mh", "peto", "glmm", "mv")


def mv_structures() -> tuple[str, ...]:
    """``--struct`` choices of ``--model mv`` (metafor's names)."""
    from evidence.stats.multivariate import STRUCTURES

    return tuple(STRUCTURES)


def model_measures() -> dict[str, tuple[str, ...]]:
    """Measures each binary model pools (Mantel-Haenszel's from its module)."""
    from evidence.stats.mantel_haenszel import MEASURES, RATE_MEASURES

    return {
        "mh": MEASURES + RATE_MEASURES,
        "peto": ("OR", "PETO"),
        "glmm": ("OR", "IRR", "PLO", "IRLN"),
    }


def confint_types() -> tuple[str, ...]:
    """``--confint`` choices: metafor's interval types and the Biggerstaff-Tweedie interval."""
    from evidence.stats.tau2_intervals import INTERVAL_METHODS

    return (*INTERVAL_METHODS, "BT")


def problem(path: str, message: str, rule: str, line: int = 0, column: int = 0) -> EvidenceError:
    """One problem about the CSV as an :class:`EvidenceError`."""
    return EvidenceError([Problem(path, line, column, message, rule)])


# ------------------------------------------------------------------ binary pooling models


def _cells(table: EffectTable, kept: np.ndarray, names: Sequence[str]) -> list[np.ndarray]:
    return [numeric_column(table, name)[kept] for name in names]


def _two_by_two(table: EffectTable, kept: np.ndarray) -> list[np.ndarray]:
    """``ai, bi, ci, di`` of the kept rows (``bi = n1i - ai`` when only n1i is given)."""
    ai, ci = _cells(table, kept, ("ai", "ci"))
    if "bi" in table.cells:
        bi = numeric_column(table, "bi")[kept]
    else:
        bi = numeric_column(table, "n1i")[kept] - ai
    if "di" in table.cells:
        di = numeric_column(table, "di")[kept]
    else:
        di = numeric_column(table, "n2i")[kept] - ci
    return [ai, bi, ci, di]


def binary_pooled(args: Any, table: EffectTable, kept: np.ndarray, measure: str) -> dict[str, Any]:
    """Return the ``pooled`` section of ``--model mh``, ``peto`` or ``glmm``.

    metafor ``rma.mh``, ``rma.peto``, ``rma.glmm``, with the back-transformed estimate and CI.
    """
    model = args.model
    measures = model_measures()
    if measure not in measures[model]:
        raise problem(
            args.file,
            f"--model {model} pools the measures {', '.join(measures[model])}, "
            f"not {measure}; give --measure accordingly",
            "pool-model",
        )
    level, drop00 = args.level, args.drop00
    result: Any
    from evidence.stats.mantel_haenszel import RATE_MEASURES, mantel_haenszel, mantel_haenszel_rates
    from evidence.stats.peto import peto

    if model == "mh" and measure in RATE_MEASURES:
        columns = _cells(table, kept, ("x1i", "t1i", "x2i", "t2i"))
        result = mantel_haenszel_rates(
            *columns, measure=measure, correct=args.correct, level=level, drop00=drop00
        )
    elif model == "mh":
        result = mantel_haenszel(
            *_two_by_two(table, kept),
            measure=measure,
            correct=args.correct,
            level=level,
            drop00=drop00,
        )
    elif model == "peto":
        result = peto(*_two_by_two(table, kept), level=level, drop00=drop00)
    else:
        result = _glmm(args, table, kept, measure)
    section = result.to_dict()
    name = "exp" if measure in ("OR", "RR", "IRR", "PETO", "IRLN") else None
    name = "ilogit" if measure == "PLO" else name
    function = transform_function(name)
    section["back_transformed"] = None
    if function is not None and section["estimate"] is not None:
        values = function(np.asarray([section["estimate"], *section["ci"]], dtype=float))
        section["back_transformed"] = {
            "estimate": finite(values[0]),
            "ci": [finite(values[1]), finite(values[2])],
        }
    return section


def _glmm(args: Any, table: EffectTable, kept: np.ndarray, measure: str) -> Any:
    """``rma.glmm``: ``--method FE`` fits the equal-effects model (metafor ``method="EE"``).

    Otherwise the model is fitted by ML (metafor's only random-effects method for GLMMs),
    also under the command's default ``--method REML``; a moment estimator is a problem.
    """
    from evidence.stats.glmm import glmm_proportions, glmm_rate, glmm_rates, glmm_tables

    if args.method not in ("FE", "ML", "REML"):
        message = (
            f"--model glmm is fitted by maximum likelihood (--method ML; the default REML means ML "
            f"here) or as an equal-effects model (--method FE), not {args.method}"
        )
        raise problem(args.file, message, "pool-model")
    method = "EE" if args.method == "FE" else "ML"
    if measure != "OR" and args.glmm_model == "CM.AL":
        raise problem(
            args.file, "--glmm-model CM.AL is for odds ratios (--measure OR)", "pool-model"
        )
    if measure in ("PLO", "IRLN") and args.glmm_model != "UM.FS":
        raise problem(
            args.file,
            f"--glmm-model {args.glmm_model} needs two groups, not {measure}",
            "pool-model",
        )
    options = {"method": method, "level": args.level}
    if measure == "OR":
        return glmm_tables(*_two_by_two(table, kept), model=args.glmm_model, **options)
    if measure == "IRR":
        rates = _cells(table, kept, ("x1i", "t1i", "x2i", "t2i"))
        return glmm_rates(*rates, model=args.glmm_model, **options)
    if measure == "IRLN":
        return glmm_rate(*_cells(table, kept, ("xi", "ti")), **options)
    return glmm_proportions(*_cells(table, kept, ("xi", "ni")), **options)


# ------------------------------------------------------------------ predictions and BLUPs


def _levels(values: np.ndarray) -> list[str] | None:
    """Sorted levels of a text moderator (None for a numeric one), as design_matrix codes."""
    if values.dtype.kind in "iuf":
        return None
    return sorted(set(values.astype(str)))


def parse_predict(
    path: str, spec: str, columns: dict[str, np.ndarray]
) -> tuple[dict[str, str], list[float]]:
    """One ``--predict`` value -> (the moderator values as given, the design row).

    ``name=value,name=value`` names every ``--mods`` column (a level for a text moderator);
    a bare number is accepted when there is one numeric moderator.
    """
    names = list(columns)
    given: dict[str, str] = {}
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if len(parts) == 1 and "=" not in parts[0] and len(names) == 1:
        given[names[0]] = parts[0]
    else:
        for part in parts:
            name, sep, value = part.partition("=")
            if not sep or name.strip() not in columns:
                raise problem(
                    path,
                    f"--predict {spec!r}: give name=value for each moderator ({', '.join(names)})",
                    "pool-predict",
                )
            given[name.strip()] = value.strip()
    missing = [name for name in names if name not in given]
    if missing:
        raise problem(
            path, f"--predict {spec!r} gives no value for {', '.join(missing)}", "pool-predict"
        )
    row: list[float] = []
    for name in names:
        levels = _levels(columns[name])
        value = given[name]
        if levels is None:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise problem(
                    path, f"--predict: {name} {value!r} is not a finite number", "pool-predict"
                )
            row.append(number)
        elif value not in levels:
            raise problem(
                path,
                f"--predict: {name} has no level {value!r} (levels: {', '.join(levels)})",
                "pool-predict",
            )
        else:
            row += [1.0 if value == level else 0.0 for level in levels[1:]]
    return given, row


def _rows(prediction: Prediction, index: int) -> dict[str, Any]:
    def at(values: np.ndarray | None) -> float | None:
        return None if values is None else finite(values[index])

    pi = None if prediction.pi_lower is None else [at(prediction.pi_lower), at(prediction.pi_upper)]
    ci = None if prediction.ci_lower is None else [at(prediction.ci_lower), at(prediction.ci_upper)]
    return {"pred": at(prediction.pred), "se": at(prediction.se), "ci": ci, "pi": pi}


def back_transform_of(name: str | None, ni: np.ndarray | None) -> Any:
    """Return the back-transform to pass on (a callable if it needs the sample sizes)."""
    if name in PARAMETERISED_TRANSFORMS:
        return name if ni is None else transform_function(name, ni=ni)
    return name


def predictions(
    path: str,
    fit: UniFit,
    specs: Sequence[str],
    columns: dict[str, np.ndarray],
    transform: str | None,
    ni: np.ndarray | None,
) -> list[dict[str, Any]]:
    """Metafor ``predict(res, newmods = ...)`` at each ``--predict`` value."""
    from evidence.stats.prediction import predict

    rows = []
    for spec in specs:
        given, row = parse_predict(path, spec, columns)
        found = predict(fit, np.asarray([row]))
        entry: dict[str, Any] = {"at": given, **_rows(found, 0), "back_transformed": None}
        if transform is not None:
            back = predict(fit, np.asarray([row]), transform=transform, ni=ni)
            entry["back_transformed"] = {
                key: value for key, value in _rows(back, 0).items() if key != "se"
            }
        rows.append(entry)
    return rows


def blups(fit: UniFit, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Per study: fitted value, BLUP of the study's effect and its random effect."""
    from evidence.stats.prediction import blup, ranef

    fitted, best, random = fit.fitted(), blup(fit), ranef(fit)
    rows = []
    for i, label in enumerate(labels):
        rows.append(
            {
                "study": label,
                "yi": finite(fit.yi[i]),
                "fitted": finite(fitted[i]),
                "blup": {key: value for key, value in _rows(best, i).items() if key != "ci"},
                "ranef": {key: value for key, value in _rows(random, i).items() if key != "ci"},
            }
        )
    return rows


# ------------------------------------------------------------------ heterogeneity and others


def tau2_interval(path: str, fit: UniFit, kind: str) -> dict[str, Any]:
    """``confint(res, type = kind)`` for the (residual) tau2, or Biggerstaff-Tweedie."""
    from evidence.stats.tau2_intervals import biggerstaff_tweedie, confint_tau2

    try:
        if kind == "BT":
            if fit.p > 1:
                raise InputError(
                    "the Biggerstaff-Tweedie interval is for models without moderators",
                    "confint-method",
                )
            found = biggerstaff_tweedie(fit.yi, fit.vi, level=fit.level * 100)
        else:
            found = confint_tau2(fit, kind)
    except InputError as error:
        raise problem(path, f"--confint {kind}: {error.message}", error.rule) from None
    return found.to_dict()


def henmi_copas_section(path: str, fit: UniFit) -> dict[str, Any]:
    """Henmi-Copas interval (metafor ``hc``) for a model without moderators."""
    if fit.p > 1:
        raise problem(path, "--henmi-copas is for models without moderators", "pool-hc")
    from evidence.stats.tau2_intervals import henmi_copas

    return henmi_copas(fit.yi, fit.vi, level=fit.level * 100).to_dict()


def permutation_section(
    args: Any, yi: np.ndarray, vi: np.ndarray, moderators: np.ndarray | None, names: Sequence[str]
) -> dict[str, Any]:
    """``permutest(res, iter = N)`` with a seeded generator (``--seed``)."""
    if args.permutation < 1:
        raise problem(args.file, "--permutation needs a positive number", "pool-permutation")
    from evidence.stats.permutation import permutation_test

    result = permutation_test(
        yi,
        vi,
        moderators,
        names=list(names) or None,
        method=args.method,
        test=args.test,
        iterations=args.permutation,
        seed=args.seed,
    )
    return result.to_dict()


# ------------------------------------------------------------------ text output


def _num(value: float | None, digits: int = 4) -> str:
    return "NA" if value is None else f"{value:.{digits}f}"


def _pair(values: Sequence[float | None] | None, digits: int = 4) -> str:
    if values is None:
        return "NA"
    return f"[{_num(values[0], digits)}, {_num(values[1], digits)}]"


def _pval(value: float | None) -> str:
    if value is None:
        return "NA"
    return "<.0001" if value < 1e-4 else f"{value:.4f}"


_MODEL_NAMES = {"mantel-haenszel": "Mantel-Haenszel", "peto": "Peto", "glmm": "GLMM"}


def binary_summary(pooled: dict[str, Any], notes: Sequence[str]) -> list[str]:
    """Describe a Mantel-Haenszel, Peto or GLMM pooled section (as metafor prints it)."""
    kind = _MODEL_NAMES[pooled["model"]]
    if pooled["model"] == "glmm":
        kind += f" {pooled['glmm_model']}"
    lines = [f"{kind} model (k = {pooled['k']}; measure {pooled['measure']})", ""]
    if pooled.get("tau2") is not None:
        lines.append(f"tau^2: {_num(pooled['tau2'])}")
    for key, label in (("q", "Q"), ("q_wald", "Wald"), ("q_lrt", "likelihood ratio")):
        if pooled.get(key) is not None:
            lines.append(
                f"Test for heterogeneity ({label}): Q(df = {pooled['q_df']}) = "
                f"{_num(pooled[key])}, p-val {_pval(pooled[key + '_p'])}"
            )
    lines += [
        "",
        f"{'estimate':>10} {'se':>8} {'zval':>8} {'pval':>8} {'ci.lb':>9} {'ci.ub':>9}",
        f"{_num(pooled['estimate']):>10} {_num(pooled['se']):>8} "
        f"{_num(pooled['statistic']):>8} {_pval(pooled['p']):>8} "
        f"{_num(pooled['ci'][0]):>9} {_num(pooled['ci'][1]):>9}",
    ]
    back = pooled.get("back_transformed")
    if back is not None:
        lines.append(f"back-transformed: {_num(back['estimate'])} CI {_pair(back['ci'])}")
    tests = (("cmh", "Cochran-Mantel-Haenszel"), ("cochran", "Cochran"), ("tarone", "Tarone"))
    for name, label in tests:
        if pooled.get(name) is not None:
            lines.append(f"{label} test: {_num(pooled[name])}, p-val {_pval(pooled[name + '_p'])}")
    lines += [f"note: {note}" for note in notes]
    return lines


def _regression_lines(output: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, section in output.get("meta_regression", {}).items():
        if "influence" in section:
            flagged = [row["study"] for row in section["influence"] if row["influential"]]
            lines += [
                "",
                f"Meta-regression ({key}) case deletion: influential: "
                f"{', '.join(flagged) or 'none'}",
            ]
    for row in output.get("predictions", []):
        at = ", ".join(f"{name}={value}" for name, value in row["at"].items())
        line = (
            f"Prediction at {at}: {_num(row['pred'])} CI {_pair(row['ci'])} PI {_pair(row['pi'])}"
        )
        back = row["back_transformed"]
        if back is not None:
            line += f"; back-transformed {_num(back['pred'])} CI {_pair(back['ci'])}"
        lines.append(line)
    return lines


def summary_lines(output: dict[str, Any]) -> list[str]:
    """Describe the sections of this module present in ``output`` in readable lines."""
    lines = _regression_lines(output)
    if "blup" in output:
        lines += ["", "BLUPs (study: observed, fitted, BLUP [prediction interval]):"]
        for row in output["blup"]:
            best = row["blup"]
            lines.append(
                f"  {row['study']}: {_num(row['yi'])}, {_num(row['fitted'])}, "
                f"{_num(best['pred'])} {_pair(best['pi'])}"
            )
    interval = output.get("tau2_interval")
    if interval is not None:
        lines += [
            "",
            f"tau^2 interval ({interval['method']}, {100 * interval['level']:g}%): "
            f"{_pair(interval['tau2_ci'])}; I^2 {_pair(interval['i2_ci'], 2)}",
        ]
        lines += [f"note: {note}" for note in interval["notes"]]
    hc = output.get("henmi_copas")
    if hc is not None:
        lines += [
            "",
            f"Henmi-Copas: estimate {_num(hc['estimate'])}, se {_num(hc['se'])}, CI "
            f"{_pair(hc['ci'])} (DerSimonian-Laird CI {_pair(hc['ci_re'])})",
        ]
    perm = output.get("permutation")
    if perm is not None:
        kind = (
            "exact" if perm["exact"] else f"{perm['iterations']} permutations, seed {perm['seed']}"
        )
        lines += ["", f"Permutation test ({kind}):"]
        lines += [f"  {c['name']}: p-val {_pval(c['p'])}" for c in perm["coefficients"]]
        if perm["qm"] is not None:
            lines.append(f"  omnibus QM {_num(perm['qm'])}: p-val {_pval(perm['qm_p'])}")
    if "selection" in output:
        lines += selection_summary(output["selection"])
    deletion = output.get("dependence", {}).get("cluster_deletion")
    if deletion is not None:
        rows = deletion["clusters"]
        worst = max(rows, key=lambda row: row["cook_d"] or 0.0)
        estimates = [row["estimate"] for row in rows if row["estimate"] is not None]
        lines += [
            "",
            f"Leave-one-cluster-out estimates range {_num(min(estimates))} to "
            f"{_num(max(estimates))}; largest Cook's distance: {worst['cluster']} "
            f"({_num(worst['cook_d'])})",
        ]
    return lines


# ------------------------------------------------------------------ multivariate and selection


def multivariate_pooled(
    args: Any,
    yi: np.ndarray,
    vi: np.ndarray,
    columns: dict[str, np.ndarray],
    outer: np.ndarray,
    inner: np.ndarray | None,
) -> dict[str, Any]:
    """Return the ``pooled`` section of ``--model mv`` (metafor ``rma.mv``).

    ``~ inner | outer`` with ``--struct``, or without ``--inner`` effects nested in
    ``--outer`` (``~ 1 | outer/effect``); the sampling covariance from ``vcalc`` when
    ``--rho`` is given (else independent sampling errors).
    """
    if args.method not in ("REML", "ML"):
        raise problem(args.file, "--model mv fits by REML or ML (--method)", "pool-model")
    if args.test == "adhoc":
        raise problem(args.file, "--model mv takes --test z or knha (t tests)", "pool-model")
    from evidence.stats.moderators import design_matrix
    from evidence.stats.multivariate import nested, profile_ci, rma_mv
    from evidence.stats.vcalc import vcalc

    if args.rho is None:
        covariance: Any = vi
    else:
        kind = None if inner is None else inner
        obs = np.arange(len(yi)) if inner is None else None
        covariance = vcalc(vi, outer, obs=obs, type=kind, rho=args.rho)
    design, names = design_matrix(columns, len(yi)) if columns else (None, None)
    options: dict[str, Any] = {
        "X": design,
        "names": names,
        "method": args.method,
        "test": "t" if args.test == "knha" else "z",
        "level": args.level / 100,
    }
    if inner is None:
        options["random"] = nested(outer, np.arange(len(yi)), names=[args.outer, "effect"])
    else:
        options.update(inner=inner, outer=outer, struct=args.struct or "CS")
    fit = rma_mv(yi, covariance, **options)
    section = {"model": "mv", **fit.to_dict()}
    if args.confint == "PL":
        section["profile_ci"] = profile_ci(fit, level=args.level / 100).to_dict()
    return section


def multivariate_summary(pooled: dict[str, Any], notes: Sequence[str]) -> list[str]:
    """Describe an ``rma.mv`` pooled section: coefficients and variance components."""
    lines = [
        f"Multivariate/multilevel model (k = {pooled['k']}; {pooled['method']}; "
        f"test: {pooled['test']})",
        "",
        f"{'':<16} {'estimate':>10} {'se':>8} {'pval':>8} {'ci.lb':>9} {'ci.ub':>9}",
    ]
    for c in pooled["coefficients"]:
        lines.append(
            f"{c['name']:<16} {_num(c['estimate']):>10} {_num(c['se']):>8} {_pval(c['p']):>8} "
            f"{_num(c['ci'][0]):>9} {_num(c['ci'][1]):>9}"
        )
    lines.append("")
    for name, value in pooled.get("sigma2", {}).items():
        lines.append(f"sigma^2 ({name}): {_num(value)}")
    levels = pooled.get("inner_levels") or []
    tau2 = pooled.get("tau2") or []
    if tau2:
        named = len(levels) == len(tau2)
        shown = ", ".join(
            f"{levels[j]} {_num(value)}" if named else _num(value) for j, value in enumerate(tau2)
        )
        lines.append(f"tau^2 ({pooled['struct']}): {shown}")
    if pooled.get("rho"):
        lines.append("rho: " + ", ".join(_num(value) for value in pooled["rho"]))
    lines += _mv_tests_and_fit(pooled)
    lines += [f"note: {note}" for note in notes]
    return lines


def _mv_tests_and_fit(pooled: dict[str, Any]) -> list[str]:
    """Describe the Q tests, fit statistics and profile intervals of an ``rma.mv`` fit."""
    lines = [""]
    if pooled.get("qe") is not None:
        lines.append(
            f"Test for residual heterogeneity: QE(df = {pooled['qe_df']}) = "
            f"{_num(pooled['qe'])}, p-val {_pval(pooled['qe_p'])}"
        )
    if pooled.get("qm") is not None:
        df = pooled["qm_df"]
        shown = df[0] if isinstance(df, list) and df[1] is None else df
        lines.append(
            f"Test of moderators: QM(df = {shown}) = {_num(pooled['qm'])}, "
            f"p-val {_pval(pooled['qm_p'])}"
        )
    stats_ = (pooled.get("fitstats") or {}).get(pooled["method"])
    if stats_:
        lines.append(
            f"logLik {_num(stats_['loglik'])}, deviance {_num(stats_['deviance'])}, "
            f"AIC {_num(stats_['aic'])}, BIC {_num(stats_['bic'])}, AICc {_num(stats_['aicc'])} "
            f"({pooled['method']})"
        )
    profile = pooled.get("profile_ci")
    if profile is not None:
        lines += ["", f"Profile-likelihood intervals ({100 * profile['level']:g}%):"]
        for row in profile["intervals"]:
            lines.append(f"  {row['component']}: {_num(row['estimate'])} {_pair(row['ci'])}")
    return lines


def selection_summary(selection: dict[str, Any]) -> list[str]:
    """Describe a ``--selection`` section (as metafor prints a ``selmodel`` fit)."""
    kind = "step function" if selection["type"] == "stepfun" else selection["type"]
    lines = [
        "",
        f"Selection model ({kind}; k = {selection['k']}; one-sided p-values favour "
        f"'{selection['alternative']}')",
        f"tau^2: {_num(selection['tau2'])} {_pair(selection['tau2_ci'])}",
        f"  LRT for tau^2 = 0: {_num(selection['lrt_tau2'])}, p-val "
        f"{_pval(selection['lrt_tau2_p'])}",
        f"Test for selection (LRT, df = {selection['lrt_df']}): {_num(selection['lrt'])}, "
        f"p-val {_pval(selection['lrt_p'])}",
    ]
    for c in selection["coefficients"]:
        lines.append(
            f"  {c['name']:<14} {_num(c['estimate']):>10} {_num(c['se']):>8} "
            f"{_pval(c['p']):>8} {_pair(c['ci'])}"
        )
    steps = selection.get("steps") if selection["type"] == "stepfun" else None
    for j, delta in enumerate(selection["delta"]):
        if steps is not None and len(steps) == len(selection["delta"]):
            label = f"{steps[j - 1] if j else 0:g} < p <= {steps[j]:g}"
        else:
            label = f"delta {j + 1}"
        ci = selection["delta_ci"][j]
        estimated = selection["se_delta"][j] is not None
        lines.append(f"  {label}: {_num(delta)}" + (f" {_pair(ci)}" if estimated else " (fixed)"))
    return lines


def selection_section(
    args: Any, yi: np.ndarray, vi: np.ndarray, columns: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Return the ``--selection`` section: metafor ``selmodel`` (stepfun or beta).

    The default step at 0.025 is the three-parameter selection model (3PSM).
    """
    from evidence.stats.moderators import design_matrix
    from evidence.stats.selection import selmodel

    steps = None
    if args.selection == "stepfun":
        try:
            steps = [float(s) for s in (args.steps or "0.025").split(",") if s.strip()]
        except ValueError:
            message = f"--steps {args.steps!r}: give p-value cut points such as 0.025,0.5"
            raise problem(args.file, message, "pool-selection") from None
    design = design_matrix(columns, len(yi))[0] if columns else None
    try:
        result = selmodel(
            yi,
            vi,
            X=design,
            type=args.selection,
            steps=steps,
            alternative=args.alternative,
            level=args.level / 100,
        )
    except InputError as error:
        raise problem(args.file, f"--selection: {error.message}", error.rule) from None
    return result.to_dict()
