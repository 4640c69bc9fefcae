"""Invariants of the living corpus (studies/, analyses/): they hold whatever is added.

Nothing here counts records or pins a pooled value: every pull request adds studies. The
checks are those a new study must pass (`check_corpus`), run on the shipped corpus and on
a copy of it with two real studies added, one that falls into a pooled analysis and one
that no analysis selects (records copied from the evidence-collection staging area into
tests/fixtures/new-studies/, with their quoted abstracts).
"""

from __future__ import annotations

import csv
import io
import math
import shutil
from pathlib import Path

import pytest
import yaml

from evidence.analyses.runner import run_analyses
from evidence.errors import errors_in
from evidence.records.quotes import computed_fields, covered_by, field_name, missing_numbers
from evidence.records.validate import SCREENING_NAME, load_studies, validate_paths

REPO = Path(__file__).resolve().parents[1]
NEW_STUDIES = Path(__file__).parent / "fixtures" / "new-studies"
SCHEMA_LINE = "# yaml-language-server: $schema=../evidence/schema/study.schema.json"
#: giles2005 (networks with friends and 10-year survival, HR 0.78) joins the pooled
#: isolation-mortality; anderson2024 (adolescent loneliness and hair cortisol, regression
#: slopes no analysis metric takes) is selected by none.
JOINS, SELECTED_BY_NONE = "giles2005", "anderson2024"
JOINED_ANALYSIS = "isolation-mortality"


def check_records(studies_dir: Path) -> None:
    """Every record validates, loads, follows the file conventions and quotes its numbers."""
    errors = errors_in(validate_paths([studies_dir]))
    assert errors == [], "\n".join(map(str, errors))
    files = sorted(p for p in studies_dir.glob("*.yaml") if p.name != SCREENING_NAME)
    studies, problems = load_studies(studies_dir)
    assert errors_in(problems) == []
    assert [s.id for s in studies] == [f.stem for f in files]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == SCHEMA_LINE, path.name
        record = yaml.safe_load(text)
        assert record["id"] == path.stem
        effect_ids = [effect["id"] for effect in record["effects"]]
        assert len(effect_ids) == len(set(effect_ids)), path.name
        for effect in record["effects"]:
            declared = computed_fields(effect["source"])
            missing = [
                field_name(where)
                for where, _ in missing_numbers(effect["statistic"], effect["source"]["quote"])
                if covered_by(field_name(where), declared) is None
            ]
            assert missing == [], f"{path.name} {effect['id']}: not in the quote: {missing}"


def check_analyses(root: Path, out: Path) -> dict[str, dict]:
    """Every analysis runs; its results agree with its effect table. Returns the documents."""
    documents = run_analyses(
        root / "studies", root / "analyses", out, figures=False, progress=io.StringIO()
    )
    assert sorted(d["id"] for d in documents) == sorted(
        p.stem for p in (root / "analyses").glob("*.yaml")
    )
    for document in documents:
        name = document["id"]
        assert document["status"] in ("ok", "insufficient-evidence", "by-family"), name
        rows = list(
            csv.DictReader(io.StringIO((out / "results" / f"{name}-effects.csv").read_text()))
        )
        included = [r for r in rows if r["included"] == "true"]
        assert document["effects"]["included"] == len(included), name
        assert all(r["reason"] for r in rows if r["included"] != "true"), name
        assert all(math.isfinite(float(r["yi"])) and float(r["vi"]) > 0 for r in included), name
        if document["status"] == "ok":
            pooled = document["pooled"]
            assert pooled["k"] == len(included), name
            assert pooled["ci"][0] <= pooled["estimate"] <= pooled["ci"][1], name
    return {d["id"]: d for d in documents}


def check_corpus(root: Path, out: Path) -> dict[str, dict]:
    """The corpus-level checks a pull request must pass."""
    check_records(root / "studies")
    return check_analyses(root, out)


def copy_repository(target: Path) -> Path:
    """Copy studies/ and analyses/, leaving out the fixture studies if the corpus has them."""
    for name in ("studies", "analyses"):
        shutil.copytree(REPO / name, target / name)
    for path in NEW_STUDIES.iterdir():  # a contributor may have added one of them already
        (target / "studies" / path.name).unlink(missing_ok=True)
    return target


def test_the_shipped_corpus_passes_the_corpus_checks(tmp_path):
    check_corpus(REPO, tmp_path / "build")


def test_two_new_real_studies_can_be_added_and_every_check_still_passes(tmp_path):
    before = check_analyses(copy_repository(tmp_path / "base"), tmp_path / "before")
    root = copy_repository(tmp_path / "clone")
    for path in NEW_STUDIES.iterdir():
        shutil.copy(path, root / "studies" / path.name)
    after = check_corpus(root, tmp_path / "after")
    # the new study enters the pooled analysis: one more effect, a different estimate
    joined = after[JOINED_ANALYSIS]
    assert joined["status"] == "ok"
    assert joined["pooled"]["k"] == before[JOINED_ANALYSIS]["pooled"]["k"] + 1
    assert joined["pooled"]["estimate"] != before[JOINED_ANALYSIS]["pooled"]["estimate"]
    table = (tmp_path / "after" / "results" / f"{JOINED_ANALYSIS}-effects.csv").read_text()
    assert any(
        row["study"] == JOINS and row["included"] == "true"
        for row in csv.DictReader(io.StringIO(table))
    )
    # the other is selected by no analysis: no table lists it, and nothing else moved
    for document in after.values():
        text = (tmp_path / "after" / "results" / f"{document['id']}-effects.csv").read_text()
        assert all(row["study"] != SELECTED_BY_NONE for row in csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("name", sorted(p.name for p in NEW_STUDIES.glob("*.yaml")))
def test_the_new_study_fixtures_are_real_records_with_their_bib_entries(name):
    stem = name.removesuffix(".yaml")
    assert (NEW_STUDIES / f"{stem}.bib").is_file()
    record = yaml.safe_load((NEW_STUDIES / name).read_text(encoding="utf-8"))
    assert record["extraction"]["status"] == "needs-verification"
    assert all(effect["source"]["quote"] for effect in record["effects"])
