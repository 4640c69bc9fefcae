"""The shipped corpus (studies/) validates with zero errors and loads completely."""

from __future__ import annotations

from pathlib import Path

from evidence.errors import errors_in
from evidence.records.validate import load_studies, validate_paths

STUDIES = Path(__file__).resolve().parent.parent / "studies"


def test_shipped_corpus_has_no_errors():
    errors = errors_in(validate_paths([STUDIES]))
    assert errors == [], "\n".join(str(p) for p in errors)


def test_shipped_corpus_loads_one_study_per_file():
    files = sorted(p for p in STUDIES.glob("*.yaml") if p.name != "screening.yaml")
    assert files, "studies/ holds no records"
    studies, problems = load_studies(STUDIES)
    assert errors_in(problems) == []
    assert [s.id for s in studies] == [f.stem for f in files]
    assert all(s.effects for s in studies)
    assert all(e.position is not None for s in studies for e in s.effects)
