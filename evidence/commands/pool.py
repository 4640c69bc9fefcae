"""``evidence pool FILE.csv``: pool the rows of a metafor-style CSV.

Options: ``--measure`` (metafor escalc name; default GEN when the file has ``yi``),
``--method`` (FE, DL, HE, HS, SJ, PM, EB, ML, REML; default REML), ``--test z|knha|adhoc``,
``--level``, ``--mods a,b`` (mixed-effects meta-regression on those columns; text columns
become dummy variables), ``--subgroup COL`` (a fit per level and the test for subgroup
differences), ``--drop-missing`` (drop rows whose effect cannot be computed, with a note),
``--json``. Diagnostics (evidence.stats.sensitivity, evidence.stats.bias,
evidence.stats.dependence):
``--sensitivity`` (leave-one-out, influence, Baujat, cumulative in file order),
``--bias`` (Egger, Begg, trim-and-fill, fail-safe N, PET-PEESE), ``--cluster COL``
(three-level model with effects nested in COL; when a cluster holds several effects the
headline ``pooled`` comes from it, as ``evidence run`` does, with a t test under
``--test knha|adhoc`` whose df follow ``--dfs`` (default ``contain``: clusters - 1), the
univariate fit under ``dependence.univariate`` and CR2 cluster-robust inference with
Satterthwaite df under ``dependence.robust``; ``--robust`` is accepted and needs
``--cluster``).

Without ``--json`` it prints a summary laid out like metafor's ``print.rma``. With it:
``{"pooled": {...}, "subgroups": {COL: {...}}, "meta_regression": {"a,b": {...}},
"predictions": [...], "blup": [...], "tau2_interval": {...}, "henmi_copas": {...},
"permutation": {...}, "notes": [...]}`` with the keys of "Results files" in
ARCHITECTURE.md (the sections asked for only). Exit 1 on problems.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from evidence.commands import SUMMARIES, LazyChoices
from evidence.commands import pool_sections as sections
from evidence.effects.csvinput import (
    EffectTable,
    compute_effects,
    numeric_column,
    read_table,
    row_problems,
)
from evidence.effects.escalc import MEASURES, back_transform
from evidence.errors import EvidenceError, Problem, escape_terminal
from evidence.stats.errors import InputError
from evidence.stats.pooling import METHODS, TESTS, TauConvergenceWarning, pool
from evidence.stats.results import MetaRegressionResult, PooledResult, SubgroupResult, dumps
from evidence.stats.transforms import TRANSFORMS

if TYPE_CHECKING:
    from evidence.stats.uni import UniFit

MEASURE_NAMES = {"GEN": None}
MODELS = sections.MODELS
#: Largest k for --sensitivity (leave-one-out, influence, cumulative refit once per effect,
#: memory and time growing with k^2): the same bound as ``evidence run``
#: (:data:`evidence.analyses.runner.MAX_K_DELETION_DIAGNOSTICS`); above it they are skipped
#: with a note.
MAX_K_DELETION_DIAGNOSTICS = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pool`` sub-command."""
    parser = subparsers.add_parser(
        "pool",
        help=SUMMARIES["pool"],
        description="Pool the effect sizes of a CSV with metafor escalc/rma conventions.",
    )
    parser.add_argument("file", metavar="FILE.csv")
    parser.add_argument("--measure", type=str.upper, choices=MEASURES)
    parser.add_argument("--method", type=str.upper, choices=METHODS, default="REML")
    parser.add_argument("--test", choices=TESTS, default="z")
    parser.add_argument("--level", type=float, default=95.0, help="confidence level (95)")
    parser.add_argument("--mods", help="comma-separated moderator columns")
    parser.add_argument("--subgroup", metavar="COL", help="column defining subgroups")
    parser.add_argument(
        "--drop-missing", action="store_true", help="drop rows whose effect size cannot be computed"
    )
    parser.add_argument(
        "--drop00", action="store_true", help="drop 2x2 studies with no events in both groups"
    )
    parser.add_argument(
        "--transform",
        choices=tuple(TRANSFORMS),
        help="back-transformation for yi given as they are (e.g. exp for log ratios); "
        "default: from --measure",
    )
    parser.add_argument(
        "--sensitivity", action="store_true", help="leave-one-out, influence and cumulative"
    )
    parser.add_argument("--bias", action="store_true", help="small-study-effect tests")
    parser.add_argument("--cluster", metavar="COL", help="three-level model: effects in COL")
    parser.add_argument(
        "--robust", action="store_true", help="CR2 robust test (always given with --cluster)"
    )
    parser.add_argument(
        "--dfs",
        choices=("contain", "residual"),
        default="contain",
        help="df rule of the three-level t test (metafor dfs): contain = clusters - 1 "
        "(default), residual = k - 1",
    )
    parser.add_argument(
        "--model",
        choices=MODELS,
        default="rma",
        help="rma (inverse variance), mh (Mantel-Haenszel), peto, glmm, mv (multivariate/"
        "multilevel: rma.mv with --outer, --inner, --struct, --rho)",
    )
    parser.add_argument(
        "--glmm-model",
        choices=("UM.FS", "CM.EL", "CM.AL"),
        default="UM.FS",
        help="GLMM: unconditional (UM.FS) or conditional (CM.EL exact, CM.AL approximate)",
    )
    parser.add_argument(
        "--no-correct",
        dest="correct",
        action="store_false",
        help="Mantel-Haenszel test without continuity correction",
    )
    parser.add_argument(
        "--predict",
        action="append",
        metavar="NAME=VALUE,...",
        help="prediction of the meta-regression at these moderator values (repeatable)",
    )
    parser.add_argument("--blup", action="store_true", help="fitted values and BLUPs per study")
    parser.add_argument(
        "--confint",
        choices=LazyChoices(sections.confint_types),
        metavar="TYPE",  # the choices are listed by the help text, read when it is shown
        help="interval for the (residual) tau2: %(choices)s",
    )
    parser.add_argument("--henmi-copas", action="store_true", help="Henmi-Copas interval")
    parser.add_argument(
        "--permutation", type=int, metavar="N", help="permutation test with N permutations"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the permutation test (default 0)"
    )
    parser.add_argument("--outer", metavar="COL", help="--model mv: the studies (clusters)")
    parser.add_argument("--inner", metavar="COL", help="--model mv: outcomes within studies")
    parser.add_argument(
        "--struct",
        choices=LazyChoices(sections.mv_structures),
        metavar="STRUCT",  # listed by the help text, read when it is shown
        help="--model mv: covariance structure of ~ inner | outer: %(choices)s (default CS)",
    )
    parser.add_argument(
        "--rho",
        type=float,
        help="--model mv: within-study correlation of the sampling errors (metafor vcalc)",
    )
    parser.add_argument(
        "--selection", choices=("stepfun", "beta"), help="selection model (metafor selmodel)"
    )
    parser.add_argument(
        "--steps", metavar="P,P", help="cut points of the step function (default 0.025: 3PSM)"
    )
    parser.add_argument(
        "--alternative",
        choices=("greater", "less"),
        default="greater",
        help="selection model: the direction the one-sided p-values favour (default greater)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def _moderator(table: EffectTable, name: str, kept: np.ndarray) -> np.ndarray:
    """Return a moderator column: numbers when every kept cell is numeric, else text."""
    cells = [c for c, keep in zip(table.cells[name], kept, strict=True) if keep]
    lines = [n for n, keep in zip(table.lines, kept, strict=True) if keep]
    missing = [
        Problem(table.path, line, table.column(name), f"{name} is missing", "csv-moderator")
        for line, cell in zip(lines, cells, strict=True)
        if cell in ("", "NA")
    ]
    if missing:
        raise EvidenceError(missing)
    try:
        return numeric_column(table, name)[kept]
    except EvidenceError:
        return np.asarray(cells, dtype=str)


def _check_columns(table: EffectTable, names: list[str]) -> None:
    problems = [
        Problem(
            table.path,
            1,
            0,
            f"no column {name!r} (columns: {', '.join(table.header)})",
            "csv-column",
        )
        for name in names
        if name not in table.cells
    ]
    if problems:
        raise EvidenceError(problems)


def run(args: argparse.Namespace) -> int:
    """Pool the file and print the summary or JSON; problems raise EvidenceError.

    Warnings (e.g. :class:`~evidence.stats.pooling.TauConvergenceWarning`, which names the
    fallback used) are printed to stderr as ``FILE: warning: message`` lines; convergence
    warnings also go into the results' ``notes`` so a saved JSON keeps them.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TauConvergenceWarning)
        lines: list[int] = []  # the CSV line of each row given to the statistics
        try:
            status = _run(args, caught, lines)
        except InputError as error:
            # The statistics know no file: their row i (1-based, of the rows they were
            # given) is the CSV line lines[i - 1]; the message keeps their own count.
            raise EvidenceError(
                [
                    Problem(args.file, _line_of(i.row, lines), 0, i.message, i.rule)
                    for i in error.issues
                ]
            ) from None
    for warning in caught:
        print(escape_terminal(f"{args.file}: warning: {warning.message}"), file=sys.stderr)
    return status


def _check_usage(args: argparse.Namespace, mods: list[str]) -> None:
    """Refuse option combinations that make no sense (all such problems, at 0:0)."""
    messages = []
    if args.robust and not args.cluster:
        messages.append("--robust needs --cluster COL (the clusters of dependent effects)")
    if args.model == "mv" and not args.outer:
        messages.append("--model mv needs --outer COL (the studies the effects belong to)")
    if args.model != "mv" and (args.outer or args.inner or args.rho is not None or args.struct):
        messages.append("--outer, --inner, --struct and --rho work with --model mv only")
    if args.model == "mv" and args.struct and not args.inner:
        messages.append(
            "--struct is the covariance of ~ inner | outer: give --inner COL (the outcomes "
            "within each study); without it the effects are nested in --outer"
        )
    if args.model != "rma":
        used = [
            flag
            for flag, value in (
                ("--mods", mods),
                ("--subgroup", args.subgroup),
                ("--cluster", args.cluster),
                ("--sensitivity", args.sensitivity),
                ("--bias", args.bias),
                ("--predict", args.predict),
                ("--blup", args.blup),
                ("--confint", args.confint),
                ("--henmi-copas", args.henmi_copas),
                ("--permutation", args.permutation is not None),
                ("--selection", args.selection),
            )
            if value and not (args.model == "mv" and flag in ("--mods", "--confint"))
        ]
        if used:
            messages.append(
                f"{', '.join(used)} work with --model rma only, not with --model {args.model}"
            )
    if args.model == "mv" and args.confint not in (None, "PL"):
        messages.append("--model mv gives profile-likelihood intervals only (--confint PL)")
    if args.predict and not mods:
        messages.append("--predict needs --mods (the moderators to predict at)")
    if args.test == "adhoc" and (args.predict or args.blup or args.confint or args.henmi_copas):
        messages.append("--predict, --blup, --confint and --henmi-copas need --test z or knha")
    if messages:
        raise EvidenceError([Problem(args.file, 0, 0, m, "invalid-input") for m in messages])


def _effects(args: argparse.Namespace, table: EffectTable) -> tuple[Any, np.ndarray, list[str]]:
    """Compute the effect sizes; return them, which rows have one, and the notes."""
    effects = compute_effects(table, args.measure, args.drop00)
    problems = row_problems(table, effects)
    if problems and not args.drop_missing:
        raise EvidenceError(problems)
    notes = list(effects.notes) + [f"dropped {p.message}" for p in problems]
    kept = np.isfinite(effects.yi)
    if not kept.any():
        raise EvidenceError(
            [Problem(table.path, 0, 0, "no row has a computable effect size", "pool-empty")]
        )
    return effects, kept, notes


def _line_of(row: int, lines: list[int]) -> int:
    """Return the CSV line of the statistics' ``row`` (0, or a row not known, as it is)."""
    return lines[row - 1] if 0 < row <= len(lines) else row


def _run(
    args: argparse.Namespace, caught: list[warnings.WarningMessage], row_lines: list[int]
) -> int:
    table = read_table(args.file)
    mods = [m.strip() for m in args.mods.split(",") if m.strip()] if args.mods else []
    _check_columns(
        table, mods + [c for c in (args.subgroup, args.cluster, args.outer, args.inner) if c]
    )
    _check_usage(args, mods)
    effects, kept, notes = _effects(args, table)
    row_lines[:] = [table.lines[int(i)] for i in np.flatnonzero(kept)]
    measure = MEASURE_NAMES.get(effects.measure, effects.measure)
    if args.model != "rma":
        if args.model == "mv":
            return _run_multivariate(args, table, effects, kept, mods, notes)
        return _run_binary(args, table, kept, measure or "GEN", notes)
    yi, vi = effects.yi[kept], effects.vi[kept]
    labels = [label for label, keep in zip(table.labels, kept, strict=True) if keep]
    ni = numeric_column(table, "ni")[kept] if "ni" in table.cells else None
    transform_name = args.transform or back_transform(measure)
    transform = sections.back_transform_of(transform_name, ni)
    options = {"method": args.method, "test": args.test, "level": args.level}
    pooled = pool(yi, vi, measure=measure, labels=labels, transform=transform, **options)
    output: dict[str, Any] = {"pooled": pooled.to_dict()}
    notes += list(pooled.notes)
    clusters = np.asarray(table.cells[args.cluster])[kept] if args.cluster else None
    if clusters is not None:
        section, headline, found = _three_level(args, yi, vi, clusters, output["pooled"], transform)
        output["dependence"] = section
        if headline is not None:
            output["pooled"] = headline
        notes += found
    columns = {name: _moderator(table, name, kept) for name in mods}
    groups, regression = _moderated(args, table, kept, yi, vi, columns, measure, transform)
    if groups is not None:
        output["subgroups"] = {args.subgroup: groups.to_dict()}
    if regression is not None:
        output["meta_regression"] = {",".join(mods): regression.to_dict()}
    diagnostics = _diagnostics(args, table, yi, vi, labels, kept, measure, transform)
    notes += diagnostics.pop("skipped", [])
    output.update(diagnostics)
    output.update(_followups(args, yi, vi, labels, columns, clusters, transform_name, ni, output))
    if groups is not None:
        notes += [f"subgroups by {args.subgroup}: {note}" for note in groups.notes]
    if regression is not None:
        notes += [f"meta-regression: {note}" for note in regression.notes]
    # Convergence fallbacks so far (the fits are done) also go into the results' notes.
    notes += [f"warning: {w.message}" for w in caught if w.category is TauConvergenceWarning]
    output["notes"] = notes
    if args.json:
        print(dumps(output), end="")
    else:
        print(summary(output["pooled"], groups, args.subgroup, regression, notes))
        lines = _diagnostics_summary({**diagnostics, **output})
        lines += sections.summary_lines(output)
        if lines:
            print("\n".join(lines))
    return 0


def _moderated(
    args: argparse.Namespace,
    table: EffectTable,
    kept: np.ndarray,
    yi: np.ndarray,
    vi: np.ndarray,
    columns: dict[str, np.ndarray],
    measure: str | None,
    transform: Any,
) -> tuple[SubgroupResult | None, MetaRegressionResult | None]:
    """Fit ``--subgroup`` and the ``--mods`` meta-regression (None when not asked for)."""
    if not (args.subgroup or columns):
        return None, None
    from evidence.stats.moderators import meta_regression, subgroups  # only when asked for

    options = {"method": args.method, "test": args.test, "level": args.level}
    groups = regression = None
    if args.subgroup:
        values = np.asarray(table.cells[args.subgroup])[kept]
        groups = subgroups(yi, vi, values, measure=measure, transform=transform, **options)
    if columns:
        regression = meta_regression(yi, vi, columns, **options)
    return groups, regression


def _run_binary(
    args: argparse.Namespace, table: EffectTable, kept: np.ndarray, measure: str, notes: list[str]
) -> int:
    """``--model mh|peto|glmm``: the pooled section of that model, printed or as JSON."""
    pooled = sections.binary_pooled(args, table, kept, measure)
    output = {"pooled": pooled, "notes": notes}
    if args.json:
        print(dumps(output), end="")
    else:
        print("\n".join(sections.binary_summary(pooled, notes)))
    return 0


def _run_multivariate(
    args: argparse.Namespace,
    table: EffectTable,
    effects: Any,
    kept: np.ndarray,
    mods: list[str],
    notes: list[str],
) -> int:
    """``--model mv``: the rma.mv pooled section, printed or as JSON."""
    yi, vi = effects.yi[kept], effects.vi[kept]
    columns = {name: _moderator(table, name, kept) for name in mods}
    outer = np.asarray(table.cells[args.outer])[kept]
    inner = None if args.inner is None else np.asarray(table.cells[args.inner])[kept]
    pooled = sections.multivariate_pooled(args, yi, vi, columns, outer, inner)
    output = {"pooled": pooled, "notes": notes}
    if args.json:
        print(dumps(output), end="")
    else:
        print("\n".join(sections.multivariate_summary(pooled, notes)))
    return 0


def _uni_fit(
    args: argparse.Namespace, yi: np.ndarray, vi: np.ndarray, columns: dict[str, np.ndarray]
) -> UniFit:
    """Fit the model as one :class:`UniFit` (for predictions, BLUPs, intervals, influence)."""
    from evidence.stats.moderators import design_matrix
    from evidence.stats.uni import fit_uni

    design, names = design_matrix(columns, len(yi)) if columns else (None, None)
    return fit_uni(
        yi,
        vi,
        design,
        names=None if names is None else tuple(names),
        method=args.method,
        test=args.test,
        level=args.level,
    )


def _followups(
    args: argparse.Namespace,
    yi: np.ndarray,
    vi: np.ndarray,
    labels: list[str],
    columns: dict[str, np.ndarray],
    clusters: np.ndarray | None,
    transform: str | None,
    ni: np.ndarray | None,
    output: dict[str, Any],
) -> dict[str, Any]:
    """Build the sections that need the model as one fit.

    Predictions, BLUPs, tau2 intervals, Henmi-Copas, the permutation test and the deletion
    diagnostics of meta-regressions and three-level models.
    """
    found: dict[str, Any] = {}
    wanted = args.predict or args.blup or args.confint or args.henmi_copas
    if wanted or (args.sensitivity and columns):
        fit = _uni_fit(args, yi, vi, columns)
        if args.predict:
            found["predictions"] = sections.predictions(
                args.file, fit, args.predict, columns, transform, ni
            )
        if args.blup:
            found["blup"] = sections.blups(fit, labels)
        if args.confint:
            found["tau2_interval"] = sections.tau2_interval(args.file, fit, args.confint)
        if args.henmi_copas:
            found["henmi_copas"] = sections.henmi_copas_section(args.file, fit)
        if args.sensitivity and columns:
            key = ",".join(columns)
            from evidence.stats.regression_influence import regression_influence

            output["meta_regression"][key].update(regression_influence(fit, labels).to_dict())
    if args.selection:
        found["selection"] = sections.selection_section(args, yi, vi, columns)
    if args.permutation is not None:
        moderators, names = None, list[str]()
        if columns:
            from evidence.stats.moderators import design_matrix

            design, names = design_matrix(columns, len(yi), intercept=False)
            moderators = design
        found["permutation"] = sections.permutation_section(args, yi, vi, moderators, names)
    if args.sensitivity and clusters is not None:
        from evidence.stats.cluster_influence import cluster_deletion

        deletion = cluster_deletion(yi, vi, clusters, level=args.level)
        output["dependence"]["cluster_deletion"] = deletion.to_dict()
    return found


def _diagnostics(
    args: argparse.Namespace,
    table: EffectTable,
    yi: np.ndarray,
    vi: np.ndarray,
    labels: list[str],
    kept: np.ndarray,
    measure: str | None,
    transform: str | None,
) -> dict[str, Any]:
    """Sensitivity, bias and dependence sections requested on the command line."""
    options = {"method": args.method, "test": args.test}
    output: dict[str, Any] = {}
    if args.sensitivity and len(yi) > MAX_K_DELETION_DIAGNOSTICS:  # bounded memory and time
        output["skipped"] = [
            f"leave-one-out, influence and cumulative analyses not computed: k = {len(yi):,} "
            f"is above {MAX_K_DELETION_DIAGNOSTICS:,}, where refitting once per effect takes "
            "too much time and memory"
        ]
    elif args.sensitivity:  # each diagnostic module is imported only when asked for
        from evidence.stats import sensitivity

        found = sensitivity.diagnostics(
            yi, vi, labels, level=args.level, measure=measure, transform=transform, **options
        )
        output.update(found.to_dict())
        output["cumulative"] = sensitivity.cumulative(
            yi,
            vi,
            labels=labels,
            level=args.level,
            measure=measure,
            transform=transform,
            **options,
        )
    if args.bias:
        from evidence.stats import bias

        output.update(bias.small_study_tests(yi, vi, **options))
    return output


def _three_level(
    args: argparse.Namespace,
    yi: np.ndarray,
    vi: np.ndarray,
    clusters: np.ndarray,
    univariate: dict[str, Any],
    transform: str | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]]:
    """Return the dependence section, the three-level headline (clusters shared), notes.

    The same model and inference as ``evidence run`` with ``dependence: multilevel``
    (:func:`evidence.analyses.fit`): t with the ``--dfs`` rule under knha/adhoc, z
    otherwise; CR2 with Satterthwaite df beside it; a note below five clusters.
    """
    from evidence.stats import dependence  # imported only when asked for (start-up time)

    use_t = args.test in ("knha", "adhoc")
    fit = dependence.three_level(
        yi, vi, clusters, level=args.level, test="t" if use_t else "z", dfs=args.dfs
    )
    section: dict[str, Any] = {"rule": "multilevel", **fit.to_dict()}
    section["robust"] = dependence.robust_cr2(fit).to_dict()
    section["weights"] = [float(w) for w in fit.weights("rowsum")]
    notes = []
    headline = None
    if fit.n_clusters < fit.k:
        headline = dependence.pooled_section(fit, univariate, transform)
        section["univariate"] = univariate
        inference = f"t with {fit.dfs} df {fit.df[0]:g}" if fit.df is not None else "z"
        notes.append(
            f"{fit.k} effects in {fit.n_clusters} clusters: pooled from the three-level "
            f"model ({inference}; CR2 cluster-robust inference under dependence.robust, the "
            "univariate fit under dependence.univariate)"
        )
    few = dependence.few_clusters_note(fit.n_clusters)
    if few is not None:
        notes.append(few)
    return section, headline, notes


def _diagnostics_summary(sections: dict[str, Any]) -> list[str]:
    """Describe each requested diagnostic section in a few readable lines."""
    lines: list[str] = []
    if "influence" in sections:
        flagged = [
            escape_terminal(row["study"]) for row in sections["influence"] if row["influential"]
        ]
        estimates = [row["estimate"] for row in sections["leave_one_out"]]
        lines += [
            "",
            f"Leave-one-out estimates range {_number(min(estimates))} to "
            f"{_number(max(estimates))}; influential: {', '.join(flagged) or 'none'}",
        ]
    if "egger" in sections:
        egger, begg, trim = sections["egger"], sections["begg"], sections["trimfill"]
        lines.append("")
        if egger:
            lines.append(
                f"Egger (regtest): {_number(egger['statistic'])}, p-val {_p(egger['p'])}; limit "
                f"estimate {_number(egger['limit_estimate'])} {_interval(egger['limit_ci'])}"
            )
        if begg:
            lines.append(f"Begg (ranktest): tau {_number(begg['tau'])}, p-val {_p(begg['p'])}")
        if trim:
            lines.append(
                f"Trim-and-fill: {trim['k0']} missing on the {trim['side']}; estimate "
                f"{_number(trim['estimate'])} {_interval(trim['ci'])}"
            )
        lines.append(
            f"Fail-safe N: Rosenthal {sections['failsafe_n']['rosenthal']}, "
            f"Orwin {sections['failsafe_n']['orwin']}"
        )
        lines += [f"note: {escape_terminal(note)}" for note in sections["bias_notes"]]
        if egger and egger["message"]:
            lines.append(f"note: {egger['message']}")
    if "dependence" in sections:
        dep = sections["dependence"]
        lines += [
            "",
            f"Three-level model ({dep['n_clusters']} clusters, "
            + (f"t with {dep['dfs']} df {_number(dep['df'], 0)}" if dep["df"] else "z")
            + f"): estimate {_number(dep['estimate'])} {_interval(dep['ci'])}, sigma^2 "
            f"{_number(dep['sigma2'][0])} (between), {_number(dep['sigma2'][1])} (within)",
        ]
        if "robust" in dep:
            rob = dep["robust"]
            lines.append(
                f"  CR2 robust: se {_number(rob['se'])}, t(df = {_number(rob['df'], 2)}) = "
                f"{_number(rob['statistic'])}, p-val {_p(rob['p'])} {_interval(rob['ci'])}"
            )
    return lines


def _number(value: float | None, digits: int = 4) -> str:
    return "NA" if value is None else f"{value:.{digits}f}"


def _interval(values: Any, digits: int = 4) -> str:
    if values is None:
        return "NA"
    return f"[{_number(values[0], digits)}, {_number(values[1], digits)}]"


def _p(value: float | None) -> str:
    if value is None:
        return "NA"
    return "<.0001" if value < 1e-4 else f"{value:.4f}"


def summary(
    pooled: PooledResult | dict[str, Any],
    groups: SubgroupResult | None = None,
    group_name: str | None = None,
    regression: MetaRegressionResult | None = None,
    notes: list[str] | None = None,
) -> str:
    """Format a readable summary in the spirit of metafor's ``print.rma``."""
    data = pooled if isinstance(pooled, dict) else pooled.to_dict()
    kind = "Common-effect" if data["method"] == "FE" else "Random-effects"
    lines = [
        f"{kind} model (k = {data['k']}; tau^2 estimator: {data['method']}; test: {data['test']})",
        "",
    ]
    if data["method"] != "FE":
        lines += [
            f"tau^2 (total heterogeneity):   {_number(data['tau2'])} {_interval(data['tau2_ci'])}",
            f"tau:                           {_number(data['tau'])} {_interval(data['tau_ci'])}",
        ]
    lines += [
        f"I^2 (% of variability):        {_number(data['i2'], 2)}% {_interval(data['i2_ci'], 2)}",
        f"H^2:                           {_number(data['h2'], 2)} {_interval(data['h2_ci'], 2)}",
        "",
        f"Test for heterogeneity: Q(df = {_number(data['q_df'], 0)}) = {_number(data['q'])}, "
        f"p-val {_p(data['q_p'])}",
        "",
        f"{'estimate':>10} {'se':>8} {'zval' if data['test'] == 'z' else 'tval':>8} "
        f"{'pval':>8} {'ci.lb':>9} {'ci.ub':>9}",
        f"{_number(data['estimate']):>10} {_number(data['se']):>8} "
        f"{_number(data['statistic']):>8} {_p(data['p']):>8} "
        f"{_number((data['ci'] or [None, None])[0]):>9} "
        f"{_number((data['ci'] or [None, None])[1]):>9}",
    ]
    if data["pi"] is not None:
        lines.append(f"prediction interval: {_interval(data['pi'])}")
    back = data["back_transformed"]
    if back is not None:
        lines.append(
            f"back-transformed: {_number(back['estimate'])} CI {_interval(back['ci'])}"
            f" PI {_interval(back['pi'])}"
        )
    if groups is not None:
        lines += ["", f"Subgroups by {escape_terminal(str(group_name))}:"]
        for level, result in groups.subgroups.items():
            shown = escape_terminal(str(level))
            lines.append(
                f"  {shown}: k = {result.k}, estimate {_number(result.estimate)} "
                f"{_interval(result.ci)}, tau^2 {_number(result.tau2)}"
            )
        lines.append(
            f"  test for subgroup differences: Q(df = {_number(groups.q_between_df, 0)})"
            f" = {_number(groups.q_between)}, p-val {_p(groups.q_between_p)}"
        )
    if regression is not None:
        reg = regression.to_dict()
        test = "QM" if reg["test"] == "z" else "F"
        lines += [
            "",
            f"Meta-regression (k = {reg['k']}): residual tau^2 {_number(reg['tau2'])}, "
            f"R^2 {_number(reg['r2'], 2)}%",
            f"  test of moderators: {test}(df = {_number(reg['qm_df'], 0)}) = "
            f"{_number(reg['qm'])}, p-val {_p(reg['qm_p'])}",
        ]
        for c in reg["coefficients"]:
            name = escape_terminal(c["name"])
            lines.append(
                f"  {name:<16} {_number(c['estimate']):>10} {_number(c['se']):>8} "
                f"{_p(c['p']):>8} {_interval(c['ci'])}"
            )
    for note in notes or []:
        lines.append(f"note: {escape_terminal(note)}")
    return "\n".join(lines)
