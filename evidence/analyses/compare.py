"""Compare two sets of analysis results and say how the evidence moved.

Pure functions over results dictionaries (the ``build/results/<id>.json`` contract in
ARCHITECTURE.md): no files, no git, no fitting. :func:`compare_results` pairs the analyses
of a *base* run with those of a *head* run by ``id`` and returns one
:class:`AnalysisChange` per analysis; :func:`render` turns them into text, markdown (a
pull-request comment) or JSON.

A change in *conclusion* is flagged apart from a change in numbers:

- the analysis was added or removed, or its ``status`` changed;
- the confidence interval now includes, or now excludes, the null (0 on the model scale:
  log ratio, standardised mean difference, Fisher's z; 1 on the ratio scale);
- the pooled estimate changed side of the null;
- the GRADE certainty level moved (up or down).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evidence.errors import escape_terminal

#: Relative and absolute tolerances below which two numbers count as unchanged. Results
#: files are byte-identical on reruns, so these only absorb float noise across platforms.
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12

#: GRADE certainty levels, lowest first.
CERTAINTY_ORDER = ("very low", "low", "moderate", "high")

#: The fields compared for every analysis, in report order.
COMPARED_FIELDS = ("status", "k", "estimate", "ci", "pi", "tau2", "i2", "certainty")

ChangeKind = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True)
class AnalysisSummary:
    """The headline numbers of one analysis, as a reader sees them.

    ``estimate``, ``ci`` and ``pi`` are on the reporting scale (back-transformed to a ratio
    or a correlation when the results give ``back_transformed``); ``ci_model`` is the CI on
    the model scale, where the null is 0, and decides whether the CI includes the null.
    """

    id: str
    title: str
    status: str
    k: int | None
    estimate: float | None
    ci: tuple[float, float] | None
    pi: tuple[float, float] | None
    tau2: float | None
    i2: float | None
    certainty: str | None
    ci_model: tuple[float, float] | None
    estimate_model: float | None


@dataclass(frozen=True)
class FieldChange:
    """One compared field whose value differs between base and head."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Flag:
    """A changed conclusion: ``rule`` is a stable kebab-case id, ``message`` is for people."""

    rule: str
    message: str


@dataclass(frozen=True)
class AnalysisChange:
    """How one analysis differs between the base and the head results."""

    id: str
    title: str
    kind: ChangeKind
    before: AnalysisSummary | None
    after: AnalysisSummary | None
    fields: tuple[FieldChange, ...]
    flags: tuple[Flag, ...]


def summarise(results: Mapping[str, Any]) -> AnalysisSummary:
    r"""Read the headline numbers of one results dictionary.

    Parameters
    ----------
    results : mapping
        One ``build/results/<id>.json`` document. ``pooled`` may be missing or ``null``
        (status ``insufficient-evidence``); ``k`` then falls back to ``effects.included``.

    Returns
    -------
    AnalysisSummary
        Reporting-scale estimate and intervals: ``pooled.back_transformed`` when present
        (e.g. :math:`\exp(\hat\mu)` for a log risk ratio), otherwise the model scale.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of
    Statistical Software 36(3), section 3 (``predict(..., transf=exp)``).
    """
    pooled = _mapping(results.get("pooled"))
    back = _mapping(pooled.get("back_transformed"))
    k = pooled.get("k")
    if k is None:
        k = _mapping(results.get("effects")).get("included")
    return AnalysisSummary(
        id=str(results.get("id", "")),
        title=str(results.get("title") or results.get("id", "")),
        status=str(results.get("status", "ok")),
        k=None if k is None else int(k),
        estimate=_number(back.get("estimate") if back else pooled.get("estimate")),
        ci=_interval(back.get("ci") if back else pooled.get("ci")),
        pi=_interval(back.get("pi") if back else pooled.get("pi")),
        tau2=_number(pooled.get("tau2")),
        i2=_number(pooled.get("i2")),
        certainty=_certainty_level(results.get("certainty")),
        ci_model=_interval(pooled.get("ci")),
        estimate_model=_number(pooled.get("estimate")),
    )


def compare_results(
    base: Iterable[Mapping[str, Any]], head: Iterable[Mapping[str, Any]]
) -> list[AnalysisChange]:
    """Pair base and head analyses by ``id`` and describe each difference.

    Parameters
    ----------
    base, head : iterable of mappings
        Results dictionaries before and after the change.

    Returns
    -------
    list of AnalysisChange
        Head order first (then analyses only in the base), one entry per analysis,
        including unchanged ones (``kind == "unchanged"``).
    """
    before = {summary.id: summary for summary in map(summarise, base)}
    after = {summary.id: summary for summary in map(summarise, head)}
    ids = list(after) + [analysis_id for analysis_id in before if analysis_id not in after]
    return [compare_one(before.get(analysis_id), after.get(analysis_id)) for analysis_id in ids]


def compare_one(before: AnalysisSummary | None, after: AnalysisSummary | None) -> AnalysisChange:
    """Describe how one analysis changed (either side may be ``None``: added or removed)."""
    present = after or before
    if present is None:
        raise ValueError("compare_one needs at least one side")
    if before is None:
        flag = Flag("analysis-added", f"new analysis: {present.title}")
        return AnalysisChange(present.id, present.title, "added", None, after, (), (flag,))
    if after is None:
        flag = Flag("analysis-removed", f"analysis removed: {present.title}")
        return AnalysisChange(present.id, present.title, "removed", before, None, (), (flag,))
    fields = tuple(
        FieldChange(name, getattr(before, name), getattr(after, name))
        for name in COMPARED_FIELDS
        if not same_value(getattr(before, name), getattr(after, name))
    )
    kind: ChangeKind = "changed" if fields else "unchanged"
    return AnalysisChange(
        after.id, after.title, kind, before, after, fields, conclusion_flags(before, after)
    )


def conclusion_flags(before: AnalysisSummary, after: AnalysisSummary) -> tuple[Flag, ...]:
    r"""Return the changed conclusions between two summaries of the same analysis.

    The CI on the model scale :math:`[l, u]` includes the null when :math:`l \le 0 \le u`;
    a flag is raised when that answer differs between base and head. The estimate changes
    side when :math:`\operatorname{sign}(\hat\mu)` differs (0 counts as its own side).
    """
    flags: list[Flag] = []
    if after.status != before.status:
        flags.append(Flag("status-changed", f"status {before.status} -> {after.status}"))
    was_including, now_including = includes_null(before), includes_null(after)
    if was_including is not None and now_including is not None:
        if was_including and not now_including:
            flags.append(Flag("ci-excludes-null", "the CI now excludes the null"))
        elif now_including and not was_including:
            flags.append(Flag("ci-includes-null", "the CI now includes the null"))
    if before.estimate_model is not None and after.estimate_model is not None:
        if _side(before.estimate_model) != _side(after.estimate_model):
            flags.append(Flag("direction-changed", "the pooled estimate changed side of the null"))
    certainty_flag = _certainty_flag(before.certainty, after.certainty)
    if certainty_flag is not None:
        flags.append(certainty_flag)
    return tuple(flags)


def includes_null(summary: AnalysisSummary) -> bool | None:
    """Whether the model-scale CI contains 0 (``None`` when there is no CI)."""
    if summary.ci_model is None:
        return None
    lower, upper = summary.ci_model
    return lower <= 0.0 <= upper


def same_value(left: Any, right: Any) -> bool:
    r"""Compare numbers with :data:`RELATIVE_TOLERANCE`, intervals element-wise, others by ``==``.

    Two numbers :math:`a, b` are the same when
    :math:`|a - b| \le \max(r \max(|a|, |b|), a_{tol})` (:func:`math.isclose`).
    """
    if isinstance(left, tuple) and isinstance(right, tuple) and len(left) == len(right):
        return all(same_value(a, b) for a, b in zip(left, right, strict=True))
    if _is_number(left) and _is_number(right):
        return math.isclose(left, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    return bool(left == right)


def has_changes(changes: Sequence[AnalysisChange]) -> bool:
    """Return True when any analysis was added, removed or changed."""
    return any(change.kind != "unchanged" for change in changes)


def _certainty_flag(before: str | None, after: str | None) -> Flag | None:
    if before == after:
        return None
    if before in CERTAINTY_ORDER and after in CERTAINTY_ORDER:
        moved = "up" if CERTAINTY_ORDER.index(after) > CERTAINTY_ORDER.index(before) else "down"
        return Flag(f"certainty-{moved}", f"certainty moved {moved}: {before} -> {after}")
    return Flag("certainty-changed", f"certainty {before or 'none'} -> {after or 'none'}")


def _certainty_level(certainty: Any) -> str | None:
    """GRADE level as a lower-case word; numbers 1-4 map to very low..high."""
    level = _mapping(certainty).get("level") if isinstance(certainty, Mapping) else certainty
    if level is None:
        return None
    if isinstance(level, int | float) and not isinstance(level, bool):
        index = int(level) - 1
        return CERTAINTY_ORDER[index] if 0 <= index < len(CERTAINTY_ORDER) else str(level)
    return str(level).strip().lower().replace("-", " ").replace("_", " ")


def _side(value: float) -> int:
    return (value > 0) - (value < 0)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    if not _is_number(value) or not math.isfinite(value):
        return None
    return float(value)


def _interval(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return None
    lower, upper = _number(value[0]), _number(value[1])
    if lower is None or upper is None:
        return None
    return (lower, upper)


# --- rendering -------------------------------------------------------------------------

#: What an empty diff prints, in every human format.
NO_CHANGE = "no change"

#: Row labels of the compared fields.
FIELD_LABELS = {
    "status": "status",
    "k": "k (effects)",
    "estimate": "pooled estimate",
    "ci": "95% CI",
    "pi": "95% prediction interval",
    "tau2": "tau^2",
    "i2": "I^2 (%)",
    "certainty": "certainty",
}

#: Significant digits shown by default; more are added until a changed value reads changed.
DIGITS = 4
MAX_DIGITS = 10


def render(changes: Sequence[AnalysisChange], fmt: str = "text", base: str | None = None) -> str:
    """Render a comparison as ``text``, ``markdown`` or ``json``.

    An empty comparison (nothing added, removed or changed) renders as exactly
    :data:`NO_CHANGE` in text and markdown; JSON always gives the full document. ``base``
    names what the head was compared with (shown under the markdown heading).
    """
    if fmt == "json":
        return render_json(changes)
    if not has_changes(changes):
        return NO_CHANGE
    if fmt == "markdown":
        return render_markdown(changes, base)
    if fmt == "text":
        return render_text(changes)
    raise ValueError(f"unknown format {fmt!r}; expected text, markdown or json")


def render_text(changes: Sequence[AnalysisChange]) -> str:
    """Plain text: flagged conclusions first, then a block per changed analysis."""
    lines: list[str] = []
    flagged = [change for change in changes if change.flags]
    if flagged:
        lines.append("Changed conclusions:")
        lines += [
            f"  ! {c.id}: {escape_terminal(flag.message)}" for c in flagged for flag in c.flags
        ]
        lines.append("")
    for change in _ordered(changes):
        if change.kind == "unchanged":
            continue
        lines.append(f"{change.id} ({change.kind}): {escape_terminal(change.title)}")
        for label, before, after, changed in _rows(change):
            marker = "*" if changed else " "
            lines.append(f"  {marker} {label:<26}{before:>22}  ->  {after}")
        lines.append("")
    unchanged = [change.id for change in changes if change.kind == "unchanged"]
    if unchanged:
        lines.append(f"unchanged: {', '.join(unchanged)}")
    return "\n".join(lines).rstrip("\n")


def render_markdown(changes: Sequence[AnalysisChange], base: str | None = None) -> str:
    """Render a pull-request comment: flagged conclusions first, then a table per change."""
    lines = ["## How this change moves the evidence", ""]
    if base:
        lines += [f"Base: {_escape_markdown(base)}. Head: the working tree.", ""]
    flagged = [change for change in changes if change.flags]
    if flagged:
        lines += ["**Changed conclusions**", ""]
        lines += [
            f"- :warning: `{c.id}`: {_escape_markdown(flag.message)}"
            for c in flagged
            for flag in c.flags
        ]
        lines.append("")
    for change in _ordered(changes):
        if change.kind == "unchanged":
            continue
        lines += [f"### `{change.id}`: {_escape_markdown(change.title)} ({change.kind})", ""]
        lines += ["| | base | this branch |", "| --- | ---: | ---: |"]
        for label, before, after, changed in _rows(change):
            label_cell = f"**{label}**" if changed else label
            lines.append(f"| {label_cell} | {_escape_cell(before)} | {_escape_cell(after)} |")
        lines.append("")
    unchanged = [f"`{change.id}`" for change in changes if change.kind == "unchanged"]
    if unchanged:
        lines.append(f"Unchanged: {', '.join(unchanged)}.")
    return "\n".join(lines).rstrip("\n")


def render_json(changes: Sequence[AnalysisChange]) -> str:
    """Machine-readable comparison: ``{"changed": bool, "analyses": [...]}``."""
    import json

    document = {
        "changed": has_changes(changes),
        "analyses": [
            {
                "id": change.id,
                "title": change.title,
                "kind": change.kind,
                "flags": [{"rule": f.rule, "message": f.message} for f in change.flags],
                "fields": [f.field for f in change.fields],
                "before": _summary_dict(change.before),
                "after": _summary_dict(change.after),
            }
            for change in changes
        ],
    }
    return json.dumps(document, indent=2)


def format_value(value: Any, other: Any = None) -> str:
    """Format a value for people; numbers get :data:`DIGITS` significant digits.

    When ``other`` is given and differs from ``value`` beyond the tolerance, digits are
    added (up to :data:`MAX_DIGITS`) until the two read differently.
    """
    digits = DIGITS
    while digits < MAX_DIGITS and not same_value(value, other) and other is not None:
        if _format(value, digits) != _format(other, digits):
            break
        digits += 1
    return _format(value, digits)


def _format(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return "[" + ", ".join(_format(part, digits) for part in value) + "]"
    if _is_number(value):
        return format(value, f".{digits}g")
    return str(value)


def _rows(change: AnalysisChange) -> list[tuple[str, str, str, bool]]:
    changed_fields = {f.field for f in change.fields}
    rows = []
    for name in COMPARED_FIELDS:
        before = getattr(change.before, name) if change.before else None
        after = getattr(change.after, name) if change.after else None
        changed = name in changed_fields or change.kind in ("added", "removed")
        rows.append(
            (FIELD_LABELS[name], format_value(before, after), format_value(after, before), changed)
        )
    return rows


def _ordered(changes: Sequence[AnalysisChange]) -> list[AnalysisChange]:
    """Put flagged analyses first, keeping the given order within each group."""
    return sorted(changes, key=lambda change: not change.flags)


def _escape_markdown(text: str) -> str:
    """Escape what would break a table cell or inject markup: ``| < > * _ ` [ ]`` and newlines.

    An ``@`` is followed by a zero-width space (:func:`_no_mention`), so a title or a
    message in the pull-request comment cannot notify a user or team.
    """
    escaped = text.replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    for character in "|*_`[]":
        escaped = escaped.replace(character, "\\" + character)
    return _no_mention(escaped.replace("<", "&lt;").replace(">", "&gt;"))


def _escape_cell(text: str) -> str:
    """Escape what would break a table cell or inject HTML: ``|``, ``<``, ``>``; no mention."""
    return _no_mention(text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;"))


def _no_mention(text: str) -> str:
    """Put a zero-width space after every ``@``: ``@user`` stays readable but is no mention.

    GitHub notifies ``@user`` and ``@org/team`` wherever they appear in a comment's text;
    a zero-width space between the ``@`` and the name breaks the pattern it looks for.

    >>> _no_mention("ask @octocat and @org/team") == "ask @\u200boctocat and @\u200borg/team"
    True
    """
    return text.replace("@", "@\u200b")


def _summary_dict(summary: AnalysisSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    values = {name: getattr(summary, name) for name in COMPARED_FIELDS}
    return {name: list(v) if isinstance(v, tuple) else v for name, v in values.items()}
