"""Run analyses end to end and write their results files (``evidence run``).

For each ``analyses/<id>.yaml`` the runner loads and validates every study record and spec
(any error stops the run before fitting, with every problem listed), harmonises the
selected effects (:mod:`evidence.analyses.harmonise`), fits (:mod:`evidence.analyses.fit`)
and writes:

- ``<out>/results/<id>.json``: the "Results files" contract of ARCHITECTURE.md, with
  ``provenance`` = package version, a fingerprint of the package code, the run options and
  the sha256 of every input (the spec, each record with a selected effect, the BibTeX
  entries those records cite, the headline table: an analysis reruns only when one of its
  own inputs changed);
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

import contextlib
import csv
import hashlib
import io
import json
import math
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from evidence import __version__, code_fingerprint
from evidence.analyses import runstamp
from evidence.analyses.builddir import claim_build_dir
from evidence.analyses.harmonise import EffectRow, EffectTable, adjustment_variants, harmonise
from evidence.analyses.published import HEADLINE_FILE, headline_sha256, published_for
from evidence.analyses.spec import Analysis, load_analyses
from evidence.errors import (
    EvidenceError,
    Problem,
    errors_in,
    escape_spreadsheet,
    read_error,
)
from evidence.records.model import Study
from evidence.records.safefs import (
    atomic_write,
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
    render = render if figures else None
    figures = render is not None
    complete = ids is None
    options = runstamp.run_options(figures, render_summary is not None)
    key = runstamp.input_key(Path(studies_dir), Path(analyses_dir), options) if complete else None
    stream = runstamp.Tee(progress if progress is not None else sys.stderr)
    studies, analyses, warnings = _load_inputs(Path(studies_dir), Path(analyses_dir), ids)
    for warning in warnings:
        print(warning, file=stream)
    claim_build_dir(Path(out_dir), [Path(studies_dir), Path(analyses_dir)])
    results_dir = Path(out_dir) / "results"
    documents: list[dict[str, Any]] = []
    failures: list[Problem] = []
    bib_entries = bib_entry_digests(Path(studies_dir))
    for number, analysis in enumerate(analyses, start=1):
        prefix = f"[{number}/{len(analyses)}] {analysis.id}"
        try:
            document, skipped = _run_or_skip(
                analysis,
                studies,
                Path(studies_dir),
                Path(out_dir),
                figures,
                force,
                render,
                stream,
                bib_entries,
            )
        except Exception as exc:  # one analysis that fails never stops the others
            problems = _fit_problems(analysis, exc)
            removed = remove_results(Path(out_dir), analysis.id)
            print(
                f"{prefix}: failed ({len(problems)} problem{'s' * (len(problems) != 1)})"
                + ("; its previous results were removed" if removed else ""),
                file=stream,
            )
            failures.extend(problems)
            continue
        # the stamp keeps the line a run with nothing changed prints
        stream.show(
            f"{prefix}: {'unchanged, skipped' if skipped else _summary(document)}\n",
            kept=f"{prefix}: unchanged, skipped\n",
        )
        documents.append(document)
    if ids is None:
        rows = index_rows(documents)
        write_if_changed(results_dir / "index.json", dumps(rows))
    else:
        rows = _update_index(results_dir, documents, Path(analyses_dir))
    if figures and render_summary is not None:
        _render_summary(render_summary, rows, Path(out_dir) / "figures")
    if failures:
        runstamp.forget(Path(out_dir))
        raise EvidenceError(failures)
    if complete:
        runstamp.record(Path(out_dir), key, documents, stream.text())
    return documents


#: Most effects one analysis may select: beyond it the run refuses the analysis (the
#: figures and tables of thousands of rows are unreadable, and time and memory grow).
MAX_EFFECTS_PER_ANALYSIS = 2000
#: Largest k for which leave-one-out, influence and cumulative analyses are computed:
#: they refit k times (memory and time grow with k^2), so above it they are skipped with a
#: note (``evidence pool --sensitivity`` has the same bound). Raise it when the deletion
#: diagnostics become O(k) in memory (issue 17).
MAX_K_DELETION_DIAGNOSTICS = 1000
#: The sensitivity analyses that refit once per effect.
DELETION_DIAGNOSTICS = ("leave-one-out", "influence", "cumulative")


def _run_or_skip(
    analysis: Analysis,
    studies: Sequence[Study],
    studies_dir: Path,
    out_dir: Path,
    figures: bool,
    force: bool,
    render: RenderFigures | None,
    stream: TextIO,
    bib_entries: Mapping[str, str],
) -> tuple[dict[str, Any], bool]:
    """Harmonise, then fit and write one analysis unless it is unchanged.

    Returns the results document and whether it was skipped as unchanged.
    """
    table = harmonise(studies, analysis)
    for warning in unused_exclusions(analysis, table):
        print(warning, file=stream)
    selected = len(table.rows)
    if selected > MAX_EFFECTS_PER_ANALYSIS:
        raise EvidenceError(
            [
                Problem(
                    str(analysis.path),
                    0,
                    0,
                    f"{analysis.id}: selects {selected:,} effects; an analysis pools at most "
                    f"{MAX_EFFECTS_PER_ANALYSIS:,} (narrow its select filters or split it)",
                    "analysis-too-large",
                )
            ]
        )
    provenance = build_provenance(analysis, studies, table, studies_dir, figures, bib_entries)
    existing = _unchanged(out_dir / "results", analysis.id, provenance)
    if existing is not None and not force:
        return existing, True
    variants = adjustment_variants(studies, analysis)
    return run_one(analysis, table, provenance, out_dir, render, variants, studies), False


def unused_exclusions(analysis: Analysis, table: EffectTable) -> list[Problem]:
    """Warn about each ``exclude`` item that names no selected effect, at its line."""
    found = []
    for exclusion in analysis.exclude:
        if not any(exclusion.matches(r.study, r.effect) for r in table.rows):
            named = exclusion.study + (f"/{exclusion.effect}" if exclusion.effect else "")
            found.append(
                Problem(
                    str(analysis.path),
                    exclusion.line,
                    exclusion.column,
                    f"exclude names {named}, which is not among the selected effects",
                    "exclusion-unused",
                    "warning",
                )
            )
    return found


def _fit_problems(analysis: Analysis, error: Exception) -> list[Problem]:
    """Return the problems of an analysis that could not be run, each naming its spec.

    An :class:`InputError` of the statistics knows no file: each of its issues becomes
    ``analyses/<id>.yaml:ROW:0: <id>: message [rule]`` (ROW is 0 unless the issue names a
    row of the effects). Anything else that stopped the analysis (numbers out of range, a
    file that could not be written, memory) is one ``analysis-failed`` problem saying what.
    """
    if isinstance(error, EvidenceError):
        return list(error.problems)
    if isinstance(error, InputError):
        return [
            Problem(str(analysis.path), issue.row, 0, f"{analysis.id}: {issue.message}", issue.rule)
            for issue in error.issues
        ]
    return [
        Problem(
            str(analysis.path),
            0,
            0,
            f"{analysis.id}: could not be run: {_failure_words(error)}; its previous results "
            "were removed so that nothing stale looks current",
            "analysis-failed",
        )
    ]


def _failure_words(error: Exception) -> str:
    """Say in words why an analysis stopped (no Python traceback)."""
    if isinstance(error, MemoryError):
        return "it ran out of memory"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"a results file could not be written{where}: {read_error(error)}"
    if isinstance(error, ArithmeticError | ValueError | FloatingPointError):
        return f"a number went out of range while fitting ({type(error).__name__}: {error})"
    return f"an internal error ({type(error).__name__}: {error}); please report it"


def remove_results(out_dir: Path, identifier: str) -> bool:
    """Remove the results JSON, tables and figures of one analysis; return whether any was.

    Figures are the ones its last results file lists, removed only when the name is
    exactly ``figures/<id>-<name>.svg`` (an edited results file names nothing else).
    """
    from evidence.analyses.multiverse import family_tables, table_paths

    results = out_dir / "results"
    targets = [results / f"{identifier}.json", results / f"{identifier}-effects.csv"]
    targets += [*table_paths(results, identifier), *family_tables(results, identifier)]
    for name, relative in _previous_figures(results / f"{identifier}.json").items():
        if relative == f"figures/{identifier}-{name}.svg":
            targets.append(out_dir / relative)
    removed = False
    for path in targets:
        if path.is_file() or path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()
                removed = True
    return removed


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
    skipped = [
        item
        for item in analysis.sensitivity
        if item in DELETION_DIAGNOSTICS and len(table.included) > MAX_K_DELETION_DIAGNOSTICS
    ]
    if skipped:
        kept = tuple(item for item in analysis.sensitivity if item not in skipped)
        sections = fit_analysis(table, replace(analysis, sensitivity=kept), variants)
        sections["notes"].append(
            f"{', '.join(skipped)} not computed: k = {len(table.included):,} is above "
            f"{MAX_K_DELETION_DIAGNOSTICS:,}, where refitting once per effect takes too "
            "much time and memory"
        )
    else:
        sections = fit_analysis(table, analysis, variants)
    sections["multiverse"] = None
    if studies is not None:
        _run_multiverses(studies, analysis, sections, out_dir)
    weights = dict(zip((id(r) for r in table.included), sections["weights"], strict=False))
    csv_text = effects_csv(table, weights, analysis)  # published: spreadsheet-safe text
    document = build_document(analysis, table, sections, provenance)
    results_dir = out_dir / "results"
    previous = _previous_figures(results_dir / f"{analysis.id}.json")
    csv_name = f"results/{analysis.id}-effects.csv"
    write_if_changed(out_dir / csv_name, csv_text)
    outputs = {csv_name: hashlib.sha256(csv_text.encode("utf-8")).hexdigest()}
    for relative in multiverse_files(sections):
        outputs[relative] = sha256_of(out_dir / relative) or ""
    if render is not None:
        drawn = effects_csv(table, weights, analysis, spreadsheet_safe=False)  # labels as given
        document["figures"] = _render(render, document, drawn, out_dir / "figures", previous)
        for relative in document["figures"].values():
            outputs[relative] = sha256_of(out_dir / relative) or ""
    document["provenance"] = {**document["provenance"], "outputs": dict(sorted(outputs.items()))}
    write_if_changed(results_dir / f"{analysis.id}.json", dumps(document))
    return document


def _run_multiverses(
    studies: Sequence[Study], analysis: Analysis, sections: dict[str, Any], out_dir: Path
) -> None:
    """Run the analysis's multiverse, or one per pooled outcome family of a by-family result.

    A ``by-family`` result has no overall estimate, so its multiverse is one per outcome
    family that is pooled (``by_family[i]["multiverse"]``, tables per family), each with the
    family's headline as its pre-specified specification; a family not pooled gets none
    (its block's message says why). Tables no longer produced are removed.
    """
    from evidence.analyses.multiverse import (
        family_tables,
        multiverse_section,
        remove_multiverse_tables,
        table_paths,
    )

    results = out_dir / "results"
    if analysis.multiverse is None:
        remove_multiverse_tables(results, analysis.id)
        return
    if sections["status"] != "by-family":
        sections["multiverse"] = multiverse_section(studies, analysis, out_dir)
        for path in family_tables(results, analysis.id):
            path.unlink(missing_ok=True)
        return
    kept: list[str] = []
    for block in sections["by_family"] or []:
        block["multiverse"] = None
        if block["status"] == "ok":
            block["multiverse"] = multiverse_section(
                studies, analysis, out_dir, family=block["family"]
            )
            kept += [p.name for p in table_paths(results, analysis.id, block["family"])]
    for path in (*table_paths(results, analysis.id), *family_tables(results, analysis.id, kept)):
        path.unlink(missing_ok=True)


def multiverse_files(document: Mapping[str, Any]) -> list[str]:
    """Every multiverse table a results document names (its own and each family's)."""
    sections = [document.get("multiverse")]
    sections += [
        b.get("multiverse") for b in document.get("by_family") or [] if isinstance(b, Mapping)
    ]
    return [
        str(relative)
        for section in sections
        if isinstance(section, Mapping)
        for relative in (section.get("files") or {}).values()
    ]


def fit_analysis(
    table: EffectTable,
    analysis: Analysis,
    variants: Mapping[str, EffectTable] | None = None,
) -> dict[str, Any]:
    """Fit one analysis with :func:`evidence.analyses.fit.fit_analysis`.

    Imported on first use: a run in which every analysis is unchanged never loads the
    statistics (start-up of a no-op ``make``).
    """
    from evidence.analyses.fit import fit_analysis as fit

    return fit(table, analysis, variants)


def build_document(
    analysis: Analysis, table: EffectTable, sections: dict[str, Any], provenance: dict[str, Any]
) -> dict[str, Any]:
    """Assemble the results JSON in the contract's key order."""
    from evidence.analyses.fit import METRIC_INFO, SECTION_KEYS, participants, samples_without_n

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
    plain = json.loads(json.dumps(document, default=_json_default))
    found: list[str] = []
    plain = _numbers_in_range(plain, "", found)
    if found:
        plain["notes"].append(
            "written as null, the numbers being infinite, undefined or too large to "
            f"represent: {', '.join(dict.fromkeys(found))}"
        )
    return plain


#: Largest integer a results file carries as a number: beyond 2^53 a JSON reader (a
#: browser, a float) no longer holds it exactly.
MAX_EXACT_INTEGER = 2**53


def _numbers_in_range(value: Any, path: str, found: list[str]) -> Any:
    """Return ``value`` with every non-finite float or oversized integer replaced by None.

    The path of each replaced number (list positions written ``[]``) is appended to
    ``found``, so that the results file can say what was left out and where.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        found.append(path)
        return None
    if isinstance(value, int) and abs(value) > MAX_EXACT_INTEGER:
        found.append(path)
        return None
    if isinstance(value, dict):
        return {
            key: _numbers_in_range(item, f"{path}.{key}" if path else str(key), found)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_numbers_in_range(item, f"{path}[]", found) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def effects_csv(
    table: EffectTable,
    weights: dict[int, float],
    analysis: Analysis,
    spreadsheet_safe: bool = True,
) -> str:
    """Write the effects table as CSV text (fixed columns, then subgroup and moderator fields).

    With ``spreadsheet_safe`` (the published file) a text cell starting with ``=``, ``+``,
    ``-`` or ``@`` gets a leading ``'`` (:func:`evidence.errors.escape_spreadsheet`), so a
    record's free text cannot become a spreadsheet formula; numbers are never changed.
    """
    extra = [
        path
        for path in dict.fromkeys((*analysis.subgroups, *analysis.moderators))
        if path not in CSV_COLUMNS
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *extra])
    for row in table.rows:
        values = [*_csv_values(row, weights.get(id(row))), *(row.fields.get(p) for p in extra)]
        writer.writerow([_cell(value, spreadsheet_safe) for value in values])
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


def _cell(value: Any, spreadsheet_safe: bool = False) -> str:
    """Deterministic text for one CSV cell (shortest round-trip floats, empty for None).

    Text (not numbers) is made spreadsheet-safe when asked (see :func:`effects_csv`).
    """
    if isinstance(value, str):
        return escape_spreadsheet(value) if spreadsheet_safe else value
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


def build_provenance(
    analysis: Analysis,
    studies: Sequence[Study],
    table: EffectTable,
    studies_dir: Path,
    figures: bool,
    bib_entries: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Package version, code fingerprint, options and the sha256 of every input it uses.

    The inputs are the spec, each record with a selected effect, the BibTeX entries those
    records cite (``bib:<key>``: the entry's fields, not the file it sits in, so that a
    study added to the bibliography reruns only the analyses that select it, whether the
    entries live in ``references.bib`` or in one file per study) and the headline table.
    ``bib_entries`` is :func:`bib_entry_digests` of ``studies_dir`` (computed when not given).
    """
    if bib_entries is None:
        bib_entries = bib_entry_digests(studies_dir)
    inputs: dict[str, str] = {}
    spec = Path(str(analysis.path))
    inputs[f"analyses/{spec.name}"] = sha256_file(spec)
    selected = {r.study for r in table.rows if r.measure_reported != "aggregate"}
    by_id = {s.id: s for s in studies}
    cited: set[str] = set()
    for study_id in sorted(selected):
        study = by_id.get(study_id)
        if study is None:
            continue
        if study.path:
            inputs[f"studies/{Path(study.path).name}"] = sha256_file(Path(study.path))
        cited.add(study.citation)
        cited.update(e.source.citation for e in study.effects if e.source.citation)
    for key in sorted(cited):
        inputs[f"bib:{key}"] = bib_entries.get(key.lower(), "missing")
    inputs[f"evidence/{HEADLINE_FILE}"] = headline_sha256()
    return {
        "evidence_version": __version__,
        "code_sha256": code_fingerprint(),
        "options": {"figures": figures},
        "inputs": dict(sorted(inputs.items())),
    }


def bib_entry_digests(studies_dir: Path) -> dict[str, str]:
    """sha256 of each BibTeX entry (by lower-case key) in the ``*.bib`` files of ``studies_dir``.

    An entry is digested from its type and fields (whitespace collapsed), so that reformatting a
    file, reordering it or moving an entry to another file changes nothing. Files that do
    not parse contribute nothing (validation reports them).
    """
    from evidence.records.bib import bibliography_files, load_bibliography

    digests: dict[str, str] = {}
    for path in bibliography_files(studies_dir):
        if not path.is_file() or path.is_symlink():
            continue
        bibliography = load_bibliography(path)
        if bibliography.problems:
            continue
        for entry in bibliography.entries:
            canonical = json.dumps(
                [
                    entry.type.lower(),
                    sorted(
                        (item.name.lower(), " ".join(item.value.split())) for item in entry.fields
                    ),
                ],
                ensure_ascii=False,
            )
            digests[entry.key.lower()] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return digests


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
        *multiverse_files(document),
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


#: Beside the summary forest: what it was drawn from (rows and code) and its sha256.
SUMMARY_STAMP = ".summary-forest.json"


def _render_summary(
    render_summary: RenderSummary, rows: list[dict[str, Any]], figures_dir: Path
) -> None:
    """Draw the summary forest into ``figures/summary-forest.svg``, writing only on change.

    It is not drawn again when the index rows and the code are those it was drawn from
    and the file still has the sha256 recorded then (``figures/.summary-forest.json``).
    """
    target = figures_dir / "summary-forest.svg"
    stamp_path = figures_dir / SUMMARY_STAMP
    drawn_from = hashlib.sha256((code_fingerprint() + dumps(rows)).encode("utf-8")).hexdigest()
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = None
    if isinstance(stamp, dict) and stamp.get("inputs") == drawn_from:
        if stamp.get("svg") == sha256_of(target):  # None for both when nothing was drawn
            return
    with tempfile.TemporaryDirectory() as scratch:
        drawn = Path(scratch) / target.name
        render_summary(rows, drawn)
        if drawn.is_file():
            figures_dir.mkdir(parents=True, exist_ok=True)
            write_if_changed(target, drawn.read_text(encoding="utf-8"))
        elif target.is_file():
            target.unlink()
    figures_dir.mkdir(parents=True, exist_ok=True)
    write_if_changed(
        stamp_path, json.dumps({"inputs": drawn_from, "svg": sha256_of(target)}) + "\n"
    )


def _summary(document: dict[str, Any]) -> str:
    if document["status"] != "ok":
        return document["status"]
    pooled = document["pooled"]
    level = (document.get("certainty") or {}).get("level", "not rated")
    shown = pooled.get("back_transformed") or pooled
    ci = shown.get("ci") or [None, None]
    return (
        f"k = {document['effects']['included']}, estimate {_short(shown.get('estimate'))} "
        f"({_short(ci[0])} to {_short(ci[1])}), certainty {level}"
    )


def _short(value: Any) -> str:
    """Write a number in three significant digits, ``None`` (out of range) as NA."""
    return "NA" if value is None else f"{value:.3g}"
