"""Run analyses end to end and write their results files (``evidence run``).

For each ``analyses/<id>.yaml`` the runner loads and validates every study record and spec
(any error stops the run before fitting, with every problem listed), harmonises the
selected effects (:mod:`evidence.analyses.harmonise`), fits (:mod:`evidence.analyses.fit`)
and writes:

- ``<out>/results/<id>.json``: the "Results files" contract of ARCHITECTURE.md, with
  ``provenance`` = package version, a fingerprint of the package code, the run options and
  the sha256 of every input file (the spec, each record with a selected effect,
  ``references.bib``, the headline table);
- ``<out>/results/<id>-effects.csv``: every selected effect, included first (with ``yi``,
  ``vi``, ``weight``), then excluded ones with their reason;
- ``<out>/figures/<id>-*.svg`` through the ``render`` callback (``evidence run`` passes
  :func:`evidence.report.plots.render_all`: the runner never imports the report layer);
- ``<out>/results/index.json``: one summary row per analysis in file-name order.

An analysis whose provenance equals the one in its existing JSON, and whose outputs still
have the sha256 recorded in ``provenance["outputs"]``, is skipped (``force`` overrides);
files are only written when their bytes change, each to a temporary file renamed into
place, so a rerun with no change rewrites nothing and no reader sees half a file. Output
is deterministic: fixed key order, shortest round-trip floats, no timestamps. Progress
lines go to stderr.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from evidence import __version__
from evidence.analyses.fit import (
    METRIC_INFO,
    SECTION_KEYS,
    fit_analysis,
    participants,
    samples_without_n,
)
from evidence.analyses.harmonise import EffectRow, EffectTable, adjustment_variants, harmonise
from evidence.analyses.multiverse import multiverse_section, remove_multiverse_tables
from evidence.analyses.published import HEADLINE_FILE, headline_sha256, published_for
from evidence.analyses.spec import Analysis, load_analyses
from evidence.errors import EvidenceError, Problem, errors_in
from evidence.records.model import Study
from evidence.records.safefs import (
    atomic_write,
    claim_output_dir,
    output_dir_problem,
    sha256_of,
)
from evidence.stats.errors import InputError
from evidence.stats.results import dumps, finite

#: Fixed columns of ``<id>-effects.csv`` (subgroup and moderator fields follow).
CSV_COLUMNS = (
    "study",
    "effect",
    "label",
    "cohort",
    "cluster",
    "included",
    "reason",
    "measure_reported",
    "value",
    "lo",
    "hi",
    "yi",
    "vi",
    "sei",
    "weight",
    "conversion",
    "flipped",
    "adjustment",
    "risk_of_bias",
    "year",
    "measure_family",
    "contrast_type",
    "outcome_family",
    "indirect",
)


#: Draws one analysis's figures: ``(results document, effects table, figures dir, figures
#: of the previous results file) -> {name: "figures/<id>-<name>.svg"}``, removing this
#: analysis's stale figures (:func:`evidence.report.plots.render_all`).
RenderFigures = Callable[[dict[str, Any], Any, Path, Mapping[str, str]], Mapping[str, str]]
#: Draws the summary forest of every analysis: ``(index rows, svg path) -> None``
#: (:func:`evidence.report.plots.summary_forest`).
RenderSummary = Callable[[list[dict[str, Any]], Path], None]


def run_analyses(
    studies_dir: str | Path = "studies",
    analyses_dir: str | Path = "analyses",
    out_dir: str | Path = "build",
    ids: Iterable[str] | None = None,
    figures: bool = True,
    force: bool = False,
    progress: TextIO | None = None,
    render: RenderFigures | None = None,
    render_summary: RenderSummary | None = None,
) -> list[dict[str, Any]]:
    """Run analyses and write their results; return one result dict per analysis.

    Parameters
    ----------
    studies_dir, analyses_dir, out_dir : str or Path
        Inputs and the build directory (results go to ``out_dir/results``, figures to
        ``out_dir/figures``).
    ids : iterable of str, optional
        Only these analyses (default: every spec in ``analyses_dir``).
    figures : bool
        Render SVG figures (only when ``render`` is given; recorded in the provenance).
    force : bool
        Refit even when the inputs are unchanged.
    progress : text stream, optional
        Where progress lines go (default ``sys.stderr``).
    render, render_summary : callable, optional
        Draw an analysis's figures and the summary forest (the report layer's
        :func:`~evidence.report.plots.render_all` and
        :func:`~evidence.report.plots.summary_forest`, passed in by ``evidence run``).
        Without ``render`` no figure is drawn, as with ``figures=False``.

    Returns
    -------
    list of dict
        The results documents (as written, or as found when unchanged), in file-name order.

    Raises
    ------
    EvidenceError
        Invalid records or specs (nothing is fitted or written), or, after every other
        analysis has been written, the problems of analyses that could not be fitted.
    """
    stream = progress if progress is not None else sys.stderr
    render = render if figures else None
    figures = render is not None
    studies, analyses, warnings = _load_inputs(Path(studies_dir), Path(analyses_dir), ids)
    for warning in warnings:
        print(warning, file=stream)
    claim_build_dir(Path(out_dir), [Path(studies_dir), Path(analyses_dir)])
    results_dir = Path(out_dir) / "results"
    documents: list[dict[str, Any]] = []
    failures: list[Problem] = []
    for number, analysis in enumerate(analyses, start=1):
        prefix = f"[{number}/{len(analyses)}] {analysis.id}"
        table = harmonise(studies, analysis)
        for exclusion in analysis.exclude:
            if not any(exclusion.matches(r.study, r.effect) for r in table.rows):
                named = exclusion.study + (f"/{exclusion.effect}" if exclusion.effect else "")
                print(
                    Problem(
                        str(analysis.path),
                        0,
                        0,
                        f"exclude names {named}, which is not among the selected effects",
                        "exclusion-unused",
                        "warning",
                    ),
                    file=stream,
                )
        provenance = build_provenance(analysis, studies, table, Path(studies_dir), figures)
        existing = _unchanged(results_dir, analysis.id, provenance)
        if existing is not None and not force:
            print(f"{prefix}: unchanged, skipped", file=stream)
            documents.append(existing)
            continue
        try:
            variants = adjustment_variants(studies, analysis)
            document = run_one(
                analysis, table, provenance, Path(out_dir), render, variants, studies
            )
        except (EvidenceError, InputError) as exc:  # the others still run; reported at the end
            problems = _fit_problems(analysis, exc)
            print(
                f"{prefix}: failed ({len(problems)} problem{'s' * (len(problems) != 1)})",
                file=stream,
            )
            failures.extend(problems)
            continue
        print(f"{prefix}: {_summary(document)}", file=stream)
        documents.append(document)
    if ids is None:
        rows = index_rows(documents)
        write_if_changed(results_dir / "index.json", dumps(rows))
    else:
        rows = _update_index(results_dir, documents, Path(analyses_dir))
    if figures and render_summary is not None:
        _render_summary(render_summary, rows, Path(out_dir) / "figures")
    if failures:
        raise EvidenceError(failures)
    return documents


def _fit_problems(analysis: Analysis, error: EvidenceError | InputError) -> list[Problem]:
    """Return the problems of an analysis that could not be fitted, each naming its spec.

    An :class:`InputError` of the statistics knows no file: each of its issues becomes
    ``analyses/<id>.yaml:ROW:0: <id>: message [rule]`` (ROW is 0 unless the issue names a
    row of the effects).
    """
    if isinstance(error, EvidenceError):
        return list(error.problems)
    return [
        Problem(str(analysis.path), issue.row, 0, f"{analysis.id}: {issue.message}", issue.rule)
        for issue in error.issues
    ]


#: Marker file ``evidence run`` leaves in its build directory (see :func:`claim_build_dir`).
BUILD_MARKER = ".evidence-build"
#: What the evidence commands write into a build directory: an unmarked directory holding
#: nothing else was made by a version from before the marker, and is adopted.
BUILD_NAMES = frozenset({"results", "figures", "site", ".book-doctrees", ".evidence-book.lock"})


def claim_build_dir(out_dir: Path, sources: Sequence[Path]) -> None:
    """Check that ``out_dir`` is a build directory to write into, and mark it as one.

    Raises
    ------
    EvidenceError
        ``output-dir-unsafe`` (nothing written) when ``out_dir`` is the working directory
        or contains it, is or contains ``sources``, is a git repository, holds records or
        specs, or holds anything but earlier output without the ``.evidence-build`` marker.
    """
    problem = output_dir_problem(
        out_dir, BUILD_MARKER, "evidence run", inputs=sources, owned=BUILD_NAMES
    )
    if problem is not None:
        raise EvidenceError([problem])
    claim_output_dir(
        out_dir,
        BUILD_MARKER,
        "This is a build directory of `evidence run`: it rewrites results/ and figures/ here.\n",
    )


def _load_inputs(
    studies_dir: Path, analyses_dir: Path, ids: Iterable[str] | None
) -> tuple[list[Study], list[Analysis], list[Problem]]:
    """Load and validate everything; raise with every problem when anything is wrong.

    Returns the studies, the analyses and the warnings (problems that do not stop a run).
    """
    from evidence.records.validate import load_studies

    studies, study_problems = load_studies(studies_dir)
    analyses, analysis_problems = load_analyses(analyses_dir, ids)
    problems = study_problems + analysis_problems
    if errors_in(problems):
        raise EvidenceError(problems)
    return studies, analyses, problems


def run_one(
    analysis: Analysis,
    table: EffectTable,
    provenance: dict[str, Any],
    out_dir: Path,
    render: RenderFigures | None = None,
    variants: Mapping[str, EffectTable] | None = None,
    studies: Sequence[Study] | None = None,
) -> dict[str, Any]:
    """Fit one analysis and write its JSON, effects CSV and (with ``render``) figures.

    With ``studies`` and a ``multiverse`` in the spec, the multiverse is run too
    (:func:`evidence.analyses.multiverse.multiverse_section`): its tables go to
    ``results/<id>-multiverse.parquet`` and ``.csv`` and its summary to ``multiverse``.
    Every file is written to a temporary file and renamed into place; the sha256 of the
    effects CSV, the multiverse tables and every figure goes into ``provenance["outputs"]``
    (keys relative to ``out_dir``), so a later run notices a file that was truncated or
    changed.
    """
    sections = fit_analysis(table, analysis, variants)
    sections["multiverse"] = None
    if studies is not None and analysis.multiverse is not None:
        sections["multiverse"] = multiverse_section(studies, analysis, out_dir)
    elif studies is not None:
        remove_multiverse_tables(out_dir / "results", analysis.id)
    weights = dict(zip((id(r) for r in table.included), sections["weights"], strict=False))
    csv_text = effects_csv(table, weights, analysis)
    document = build_document(analysis, table, sections, provenance)
    results_dir = out_dir / "results"
    previous = _previous_figures(results_dir / f"{analysis.id}.json")
    csv_name = f"results/{analysis.id}-effects.csv"
    write_if_changed(out_dir / csv_name, csv_text)
    outputs = {csv_name: hashlib.sha256(csv_text.encode("utf-8")).hexdigest()}
    for relative in (sections["multiverse"] or {}).get("files", {}).values():
        outputs[relative] = sha256_of(out_dir / relative) or ""
    if render is not None:
        document["figures"] = _render(render, document, csv_text, out_dir / "figures", previous)
        for relative in document["figures"].values():
            outputs[relative] = sha256_of(out_dir / relative) or ""
    document["provenance"] = {**document["provenance"], "outputs": dict(sorted(outputs.items()))}
    write_if_changed(results_dir / f"{analysis.id}.json", dumps(document))
    return document


def build_document(
    analysis: Analysis, table: EffectTable, sections: dict[str, Any], provenance: dict[str, Any]
) -> dict[str, Any]:
    """Assemble the results JSON in the contract's key order."""
    _measure, scale, back = METRIC_INFO[analysis.metric]
    included = table.included
    notes = list(sections["notes"])
    document: dict[str, Any] = {
        "id": analysis.id,
        "title": analysis.title,
        "question": dict(analysis.question),
        "spec": analysis.spec,
        "kind": analysis.kind,
        "status": sections["status"],
        "message": sections["message"],
        "notes": notes,
        "metric": analysis.metric,
        "orient": analysis.orient,
        "scale": scale,
        "back_transform": back,
    }
    for key in SECTION_KEYS:
        document[key] = sections[key]
    document["multiverse"] = sections.get("multiverse")
    document["published"] = published_for(analysis.compare_with)
    document["effects"] = {
        "included": len(included),
        "excluded": len(table.excluded),
        "studies": len({r.study for r in included}),
        "clusters": len({r.cluster for r in included}),
        "participants": participants(included),
        "samples_without_n": samples_without_n(included),
    }
    document["figures"] = {}
    document["provenance"] = provenance
    return json.loads(json.dumps(document, allow_nan=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def effects_csv(table: EffectTable, weights: dict[int, float], analysis: Analysis) -> str:
    """Write the effects table as CSV text (fixed columns, then subgroup and moderator fields)."""
    extra = [
        path
        for path in dict.fromkeys((*analysis.subgroups, *analysis.moderators))
        if path not in CSV_COLUMNS
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *extra])
    for row in table.rows:
        writer.writerow(
            [_cell(v) for v in _csv_values(row, weights.get(id(row)))]
            + [_cell(row.fields.get(path)) for path in extra]
        )
    return buffer.getvalue()


def _csv_values(row: EffectRow, weight: float | None) -> list[Any]:
    sei = None if row.vi is None else row.vi**0.5
    return [
        row.study,
        row.effect,
        row.label,
        row.cohort,
        row.cluster,
        row.included,
        row.reason,
        row.measure_reported,
        row.value,
        row.lo,
        row.hi,
        row.yi,
        row.vi,
        sei,
        weight,
        row.conversion,
        row.flipped,
        row.adjustment,
        row.risk_of_bias,
        row.year,
        row.measure_family,
        row.contrast_type,
        row.outcome_family,
        "; ".join(f"{element}: {words}" for element, words in row.indirect),
    ]


def _cell(value: Any) -> str:
    """Deterministic text for one CSV cell (shortest round-trip floats, empty for None)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        number = finite(value)
        return "" if number is None else repr(number)
    return str(value)


def _render(
    render: RenderFigures,
    document: dict[str, Any],
    csv_text: str,
    figures_dir: Path,
    previous: Mapping[str, str],
) -> dict[str, str]:
    """Figures through the ``render`` callback, which also removes this analysis's stale ones.

    Stale means one of this analysis's own file names, known exactly by the report layer:
    ``<id>-<kind>.svg`` for the registered kinds and the figures of ``previous`` (its last
    results file's ``figures``) that were not drawn again. A file of another analysis
    whose id starts with this one (``x`` and ``x-bubble-y``) is never touched.
    """
    import pandas

    effects = pandas.read_csv(io.StringIO(csv_text), keep_default_na=True)
    return dict(render(document, effects, figures_dir, previous))


def _previous_figures(path: Path) -> dict[str, str]:
    """Return the ``figures`` of the last results file at ``path`` (text pairs) or ``{}``.

    The report layer decides which of them are this analysis's figures (an edited results
    file cannot name any other file).
    """
    try:
        figures = json.loads(path.read_text(encoding="utf-8")).get("figures")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(figures, dict):
        return {}
    return {
        name: relative
        for name, relative in figures.items()
        if isinstance(name, str) and isinstance(relative, str)
    }


# --------------------------------------------------------------------------- provenance


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def code_fingerprint() -> str:
    """sha256 over the package's Python files and schemas, so a code change refits."""
    root = Path(__file__).parents[1]  # the evidence package
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".json", ".yaml") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build_provenance(
    analysis: Analysis,
    studies: Sequence[Study],
    table: EffectTable,
    studies_dir: Path,
    figures: bool,
) -> dict[str, Any]:
    """Package version, code fingerprint, options and the sha256 of every input file."""
    inputs: dict[str, str] = {}
    spec = Path(str(analysis.path))
    inputs[f"analyses/{spec.name}"] = sha256_file(spec)
    selected = {r.study for r in table.rows if r.measure_reported != "aggregate"}
    by_id = {s.id: s for s in studies}
    for study_id in sorted(selected):
        study = by_id.get(study_id)
        if study is not None and study.path:
            inputs[f"studies/{Path(study.path).name}"] = sha256_file(Path(study.path))
    bib = studies_dir / "references.bib"
    if bib.is_file():
        inputs["studies/references.bib"] = sha256_file(bib)
    inputs[f"evidence/{HEADLINE_FILE}"] = headline_sha256()
    return {
        "evidence_version": __version__,
        "code_sha256": code_fingerprint(),
        "options": {"figures": figures},
        "inputs": dict(sorted(inputs.items())),
    }


def _unchanged(
    results_dir: Path, identifier: str, provenance: dict[str, Any]
) -> dict[str, Any] | None:
    """Return the existing results document when nothing changed, else ``None``.

    Unchanged means: its provenance (less ``outputs``) equals ``provenance``, and the
    effects CSV and every figure it lists still have the sha256 recorded in
    ``provenance["outputs"]`` (a truncated or edited output is rewritten).
    """
    path = results_dir / f"{identifier}.json"
    if not path.is_file() or not (results_dir / f"{identifier}-effects.csv").is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("provenance"), dict):
        return None
    recorded = dict(document["provenance"])
    outputs = recorded.pop("outputs", None)
    if recorded != provenance or not isinstance(outputs, dict):
        return None
    build = results_dir.parent
    expected = {
        f"results/{identifier}-effects.csv",
        *(document.get("figures") or {}).values(),
        *((document.get("multiverse") or {}).get("files") or {}).values(),
    }
    if set(outputs) != expected:
        return None
    if any(sha256_of(build / relative) != digest for relative, digest in outputs.items()):
        return None
    return document


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` only when the bytes differ; return whether it wrote.

    The new bytes go to a temporary file beside ``path`` that is renamed over it, so
    ``path`` is never left half-written (and a link there is replaced, not followed).
    """
    data = text.encode("utf-8")
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return False
    atomic_write(path, data)
    return True


# --------------------------------------------------------------------------- index


def index_row(document: dict[str, Any]) -> dict[str, Any]:
    """One ``index.json`` row: id, title, status, k, estimate, ci, pi, i2, certainty, ...

    ``kind`` (``finding`` unless the spec says ``check``), ``orient`` and ``outcome`` (the
    question's outcome) let the landing page's summary forest keep checks out of the
    findings and draw each outcome and direction on its own axis.
    """
    pooled = document.get("pooled") or {}
    certainty = document.get("certainty") or {}
    found = document.get("finding") or {}
    families = ((document.get("eligibility") or {}).get("outcome_families") or {}).get(
        "included"
    ) or {}
    given_spec, given_question = document.get("spec"), document.get("question")
    spec: dict[str, Any] = given_spec if isinstance(given_spec, dict) else {}
    question: dict[str, Any] = given_question if isinstance(given_question, dict) else {}
    return {
        "id": document["id"],
        "title": document["title"],
        "status": document["status"],
        "k": (document.get("effects") or {}).get("included"),
        "estimate": pooled.get("estimate"),
        "ci": pooled.get("ci"),
        "pi": pooled.get("pi"),
        "i2": pooled.get("i2"),
        "certainty": certainty.get("level"),
        "metric": document.get("metric"),
        "back_transform": document.get("back_transform"),
        "back_transformed": pooled.get("back_transformed"),
        "kind": document.get("kind") or spec.get("kind") or "finding",
        "orient": document.get("orient"),
        "outcome": question.get("outcome"),
        "certainty_symbol": certainty.get("symbol"),
        "provisional": certainty.get("provisional"),
        "measure_label": found.get("measure_label"),
        "outcome_family": next(iter(families)) if len(families) == 1 else None,
        "above_null_means": found.get("above_null_means"),
        "families": _family_rows(document.get("by_family")),
    }


def _family_rows(by_family: Any) -> list[dict[str, Any]] | None:
    """Return the pooled numbers of each outcome family (``by_family``) for the summary forest."""
    if not isinstance(by_family, list):
        return None
    rows = []
    for family in by_family:
        pooled = family.get("pooled") or {}
        certainty = family.get("certainty") or {}
        found = family.get("finding") or {}
        rows.append(
            {
                "family": family.get("family"),
                "exposure": found.get("exposure"),
                "status": family.get("status"),
                "k": family.get("k"),
                "estimate": pooled.get("estimate"),
                "ci": pooled.get("ci"),
                "pi": pooled.get("pi"),
                "back_transformed": pooled.get("back_transformed"),
                "estimable": pooled.get("estimable"),
                "certainty": certainty.get("level"),
                "certainty_symbol": certainty.get("symbol"),
            }
        )
    return rows


def index_rows(documents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Index rows in the given (file-name) order."""
    return [index_row(d) for d in documents]


def _update_index(
    results_dir: Path, documents: Sequence[dict[str, Any]], analyses_dir: Path
) -> list[dict[str, Any]]:
    """Rebuild ``index.json`` from every results file whose spec still exists; return its rows."""
    fresh = {d["id"]: d for d in documents}
    rows = []
    for spec in sorted(analyses_dir.glob("*.yaml")):
        document = fresh.get(spec.stem)
        if document is None:
            path = results_dir / f"{spec.stem}.json"
            if not path.is_file():
                continue
            document = json.loads(path.read_text(encoding="utf-8"))
        rows.append(index_row(document))
    write_if_changed(results_dir / "index.json", dumps(rows))
    return rows


def _render_summary(
    render_summary: RenderSummary, rows: list[dict[str, Any]], figures_dir: Path
) -> None:
    """Draw the summary forest into ``figures/summary-forest.svg``, writing only on change."""
    target = figures_dir / "summary-forest.svg"
    with tempfile.TemporaryDirectory() as scratch:
        drawn = Path(scratch) / target.name
        render_summary(rows, drawn)
        if drawn.is_file():
            figures_dir.mkdir(parents=True, exist_ok=True)
            write_if_changed(target, drawn.read_text(encoding="utf-8"))
        elif target.is_file():
            target.unlink()


def _summary(document: dict[str, Any]) -> str:
    if document["status"] != "ok":
        return document["status"]
    pooled = document["pooled"]
    level = (document.get("certainty") or {}).get("level", "not rated")
    shown = pooled.get("back_transformed") or pooled
    ci = shown.get("ci") or [None, None]
    return (
        f"k = {document['effects']['included']}, estimate {shown['estimate']:.3g} "
        f"({ci[0]:.3g} to {ci[1]:.3g}), certainty {level}"
    )
