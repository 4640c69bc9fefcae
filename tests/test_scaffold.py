"""`evidence new`: the record skeleton, the BibTeX entry, and what the command refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.cli import main
from evidence.errors import errors_in
from evidence.records.scaffold import SCHEMA_HEADER, render_skeleton, skeleton_fields, study_schema
from evidence.records.yamlio import check_schema, load_yaml

BIB_ENTRY = """\
@article{steptoe2013,
  author = {Steptoe, Andrew and Shankar, Aparna and Demakakos, Panayotes and Wardle, Jane},
  title = {Social isolation, loneliness, and all-cause mortality in older men and women},
  journal = {Proceedings of the National Academy of Sciences},
  volume = {110},
  number = {15},
  pages = {5797--5801},
  year = {2013},
  doi = {10.1073/pnas.1219686110}
}
"""

OTHER_ENTRY = """\
@article{eng2002,
  author = {Eng, Patricia M. and Rimm, Eric B. and Fitzmaurice, Garrett and Kawachi, Ichiro},
  title = {Social ties and change in social ties in relation to subsequent total and
           cause-specific mortality and coronary heart disease incidence in men},
  journal = {American Journal of Epidemiology},
  year = {2002},
  doi = {10.1093/aje/155.8.700}
}
"""


@pytest.fixture
def bib_file(tmp_path) -> Path:
    path = tmp_path / "steptoe2013.bib"
    path.write_text(BIB_ENTRY)
    return path


def test_new_writes_a_record_with_the_schema_header(tmp_path, capsys):
    studies = tmp_path / "studies"
    status = main(["new", "smith2024", "--studies", str(studies), "--doi", "10.1000/xyz123"])
    assert status == 0
    text = (studies / "smith2024.yaml").read_text()
    assert text.splitlines()[0] == SCHEMA_HEADER
    assert "\nid: smith2024\n" in text
    assert "\ncitation: smith2024\n" in text
    assert "\ndoi: 10.1000/xyz123\n" in text
    assert "wrote" in capsys.readouterr().out


def test_skeleton_has_every_schema_field_with_its_description():
    text = render_skeleton("smith2024")
    schema = study_schema()
    for key, spec in schema["properties"].items():
        assert f"\n{key}:" in text or f"\n# {key}:" in text, key
        if "description" in spec:
            assert spec["description"].split()[0] in text
    leaves = [field.key for field in skeleton_fields() if not field.opens_block]
    assert {"measure", "value", "ci", "quote", "locator", "higher_means"} <= set(leaves)


def test_fresh_skeleton_is_yaml_that_fails_on_each_empty_required_field():
    text = render_skeleton("smith2024")
    document = load_yaml("studies/smith2024.yaml", text=text)
    assert document.problems == ()
    problems = check_schema(
        document.data, document.positions, study_schema(), "studies/smith2024.yaml"
    )
    flagged = {problem.message.split(":")[0] for problem in problems}
    assert {"design", "population.description", "effects[0].statistic.measure"} <= flagged
    lines = text.splitlines()
    for problem in problems:  # each problem points at the empty field's own line
        assert lines[problem.line - 1].strip().endswith(":"), problem


def test_skeleton_filled_with_the_schema_examples_passes_the_schema():
    text = render_skeleton("smith2024", fill_examples=True)
    document = load_yaml("studies/smith2024.yaml", text=text)
    assert document.problems == ()
    assert check_schema(document.data, document.positions, study_schema(), document.path) == []


def test_skeleton_filled_with_the_schema_examples_passes_evidence_validate(tmp_path):
    validate = pytest.importorskip("evidence.records.validate")
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "smith2024.yaml").write_text(render_skeleton("smith2024", fill_examples=True))
    (studies / "references.bib").write_text(BIB_ENTRY.replace("steptoe2013", "smith2024"))
    assert errors_in(validate.validate_paths([studies])) == []


def test_fresh_skeleton_fails_evidence_validate_at_its_empty_fields(tmp_path):
    validate = pytest.importorskip("evidence.records.validate")
    studies = tmp_path / "studies"
    studies.mkdir()
    assert main(["new", "smith2024", "--studies", str(studies)]) == 0
    (studies / "references.bib").write_text(BIB_ENTRY.replace("steptoe2013", "smith2024"))
    problems = errors_in(validate.validate_paths([studies]))
    assert problems
    assert all(problem.line > 0 for problem in problems)


def test_bib_entry_goes_into_the_studys_own_file_and_fills_the_record(tmp_path, bib_file):
    # one file per study: two branches adding different studies never touch the same file
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "references.bib").write_text(OTHER_ENTRY)
    status = main(["new", "steptoe2013", "--studies", str(studies), "--bib", str(bib_file)])
    assert status == 0
    assert (studies / "references.bib").read_text() == OTHER_ENTRY
    assert (studies / "steptoe2013.bib").read_text() == BIB_ENTRY
    record = (studies / "steptoe2013.yaml").read_text()
    assert "\ncitation: steptoe2013\n" in record
    assert "\nyear: 2013\n" in record and "\ndoi: 10.1073/pnas.1219686110\n" in record
    assert (
        "\ntitle: Social isolation, loneliness, and all-cause mortality in older men and women\n"
    ) in record
    assert (
        "\nauthors: [Steptoe, Andrew, Shankar, Aparna, Demakakos, Panayotes, Wardle, Jane]"
        not in record
    )
    assert "'Steptoe, Andrew'" in record


def test_new_refuses_to_overwrite_an_existing_record(tmp_path, capsys):
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "smith2024.yaml").write_text("id: smith2024\n")
    assert main(["new", "smith2024", "--studies", str(studies)]) == 1
    assert (studies / "smith2024.yaml").read_text() == "id: smith2024\n"
    assert "already exists [record-exists]" in capsys.readouterr().err.replace(
        "; edit it instead", ""
    )


def test_new_rejects_a_duplicate_bib_key_and_writes_nothing(tmp_path, bib_file, capsys):
    studies = tmp_path / "studies"
    studies.mkdir()
    existing = BIB_ENTRY.replace("steptoe2013,", "Steptoe2013,")  # keys ignore case
    (studies / "references.bib").write_text(existing)
    assert main(["new", "steptoe2013", "--studies", str(studies), "--bib", str(bib_file)]) == 1
    assert "[bib-duplicate-key]" in capsys.readouterr().err
    assert not (studies / "steptoe2013.yaml").exists()
    assert not (studies / "steptoe2013.bib").exists()
    assert (studies / "references.bib").read_text() == existing


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        ("@article{broken, title = {no closing brace}\n", "bib-syntax"),
        ("", "bib-entry-count"),
        (BIB_ENTRY + OTHER_ENTRY, "bib-entry-count"),
    ],
)
def test_new_rejects_a_bib_file_without_exactly_one_valid_entry(tmp_path, content, rule, capsys):
    bib = tmp_path / "entry.bib"
    bib.write_text(content)
    studies = tmp_path / "studies"
    assert main(["new", "smith2024", "--studies", str(studies), "--bib", str(bib)]) == 1
    assert f"[{rule}]" in capsys.readouterr().err
    assert not (studies / "smith2024.yaml").exists()


@pytest.mark.parametrize("study_id", ["Smith2024", "smith 2024", "_smith", "smith2024.yaml", ""])
def test_new_rejects_an_id_that_is_not_a_lowercase_slug(tmp_path, study_id, capsys):
    studies = tmp_path / "studies"
    assert main(["new", study_id, "--studies", str(studies)]) == 1
    assert "[bad-study-id]" in capsys.readouterr().err
    assert not studies.exists() or not any(studies.iterdir())


def test_new_strips_a_doi_address_prefix_and_rejects_a_non_doi(tmp_path, capsys):
    studies = tmp_path / "studies"
    doi_address = "https://doi.org/10.1073/pnas.1219686110"
    assert main(["new", "steptoe2013", "--studies", str(studies), "--doi", doi_address]) == 0
    assert "\ndoi: 10.1073/pnas.1219686110\n" in (studies / "steptoe2013.yaml").read_text()
    assert main(["new", "other2013", "--studies", str(studies), "--doi", "pnas.1219686110"]) == 1
    assert "[bad-doi]" in capsys.readouterr().err
    assert not (studies / "other2013.yaml").exists()


def test_new_lists_the_cohort_keys_other_records_use(tmp_path):
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "a2001.yaml").write_text("id: a2001\ncohort: uk-biobank\n")
    (studies / "b2002.yaml").write_text("id: b2002\ncohort: 'elsa'  # English longitudinal\n")
    (studies / "c2003.yaml").write_text("id: c2003\nnotes: |\n  cohort: not-a-key\n")
    assert main(["new", "d2004", "--studies", str(studies)]) == 0
    text = (studies / "d2004.yaml").read_text()
    assert "\n# Cohort keys in use: elsa, uk-biobank.\n" in text
    assert text.index("Cohort keys in use") < text.index("# cohort: ")


NOT_UTF8 = b"@article{x,\n  title = {caf\xe9}\n}\n"  # Latin-1 e-acute: byte 0xe9 at offset 26


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        # --studies names a file: refused before anything is written (was a traceback)
        (
            "studies-is-a-file",
            "studies:0:0: not a directory; --studies names the directory "
            "of records [not-a-directory]",
        ),
        ("bib-missing", "nope.bib:0:0: cannot read: no such file or directory [bib-unreadable]"),
        (
            "bib-not-utf8",
            "entry.bib:0:0: cannot read: byte 0xe9 (at offset 26) is not valid "
            "UTF-8; save the file as UTF-8 [bib-unreadable]",
        ),
        (
            "references-not-utf8",
            "references.bib:0:0: cannot read: byte 0xe9 (at offset 26) is "
            "not valid UTF-8; save the file as UTF-8 [bib-unreadable]",
        ),
        # pybtex reports the line where the file ended; the column is 1, not 0
        (
            "bib-syntax",
            "entry.bib:2:1: not a valid BibTeX entry: premature end of file [bib-syntax]",
        ),
    ],
)
def test_new_on_broken_input_says_what_is_wrong_without_a_traceback(
    tmp_path, bib_file, setup, expected, capsys
):
    studies = tmp_path / "studies"
    bib = bib_file
    if setup == "studies-is-a-file":
        studies.write_text("not a directory\n")
    elif setup == "bib-missing":
        bib = tmp_path / "nope.bib"
    elif setup == "bib-not-utf8":
        bib = tmp_path / "entry.bib"
        bib.write_bytes(NOT_UTF8)
    elif setup == "references-not-utf8":
        studies.mkdir()
        (studies / "references.bib").write_bytes(NOT_UTF8)
    elif setup == "bib-syntax":
        bib = tmp_path / "entry.bib"
        bib.write_text("@article{broken,\n")
    assert main(["new", "smith2024", "--studies", str(studies), "--bib", str(bib)]) == 1
    error = capsys.readouterr().err
    assert "Traceback" not in error
    first = error.splitlines()[0]
    assert first.startswith(str(tmp_path))
    assert first.endswith(expected)
    assert not (tmp_path / "studies" / "smith2024.yaml").exists()
