"""Analysis specs: schema, rules and problem positions (file:line:col [rule])."""

import json
from pathlib import Path

import pytest

from evidence.analyses.published import headline_rows, headline_sha256, match_rows, published_for
from evidence.analyses.spec import field_paths, load_analyses, load_analysis
from evidence.records.yamlio import load_yaml

GOOD = """\
id: good
title: Social isolation and mortality
question: {population: adults, exposure: isolation, comparator: integrated, outcome: death}
select: {outcome.domain: mortality, exposure.construct: [social-isolation]}
metric: log-risk-ratio
orient: fewer-ties-harmful
adjustment: most-adjusted
dependence: multilevel
model: {method: REML, test: knha}
subgroups: [sex]
moderators: [follow_up_years]
compare_with:
  - {doi: 10.1371/journal.pone.0280308, exposure: social isolation}
certainty:
  overrides:
    - {domain: indirectness, downgrade: 1, justification: outcomes mix 6-month and 10-year deaths}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rules(problems):
    return sorted((p.line, p.column, p.rule) for p in problems)


def test_a_good_spec_loads(tmp_path):
    analysis, problems = load_analysis(write(tmp_path, "good", GOOD))
    assert problems == []
    assert analysis.select == (
        {"outcome.domain": ("mortality",), "exposure.construct": ("social-isolation",)},
    )
    assert (analysis.method, analysis.test) == ("REML", "knha")
    assert analysis.overrides[0].downgrade == 1


def test_every_problem_is_reported_at_once_with_its_position(tmp_path):
    text = (
        GOOD.replace("id: good", "id: other")
        .replace("select: {outcome.domain: mortality,", "select: {outcome.domian: mortality,")
        .replace("dependence: multilevel", "dependence: aggregate")
        .replace("moderators: [follow_up_years]", "moderators: [sex]")
        .replace("exposure: social isolation}", "exposure: no such row}")
    )
    _, problems = load_analysis(write(tmp_path, "good", text))
    assert rules(problems) == [
        (1, 5, "id-file-name"),
        (4, 10, "unknown-field-path"),
        (8, 13, "rho-required"),
        (11, 14, "moderator-not-numeric"),
        (13, 5, "compare-no-match"),
    ]
    by_rule = {p.rule: str(p) for p in problems}
    assert "did you mean 'outcome.domain'?" in by_rule["unknown-field-path"]
    assert by_rule["id-file-name"].endswith(
        "good.yaml:1:5: id 'other' must equal the file name 'good' [id-file-name]"
    )


def test_select_values_must_be_vocabulary_terms(tmp_path):
    text = GOOD.replace(
        "exposure.construct: [social-isolation]", "exposure.construct: [social-isolaton]"
    )
    _, problems = load_analysis(write(tmp_path, "good", text))
    assert rules(problems) == [(4, 58, "unknown-term")]
    assert "did you mean 'social-isolation'?" in problems[0].message


def test_schema_problems_name_the_field(tmp_path):
    text = GOOD.replace("metric: log-risk-ratio", "metrik: log-risk-ratio")
    _, problems = load_analysis(write(tmp_path, "good", text))
    found = {p.rule: p for p in problems}
    assert found["unknown-field"].line == 5
    assert "did you mean 'metric'?" in found["unknown-field"].message
    assert found["missing-field"].message.endswith("missing required field 'metric'")


def test_override_needs_a_real_justification(tmp_path):
    text = GOOD.replace(
        "justification: outcomes mix 6-month and 10-year deaths", "justification: short"
    )
    _, problems = load_analysis(write(tmp_path, "good", text))
    assert rules(problems) == [(16, 59, "justification-too-short")]


def test_duplicate_override_and_unused_rho(tmp_path):
    text = GOOD + (
        "    - {domain: indirectness, downgrade: 0, justification: "
        "the populations match the question}\nrho: 0.5\n"
    )
    analysis, problems = load_analysis(write(tmp_path, "good", text))
    assert analysis is None
    assert rules(problems) == [(17, 16, "duplicate-override"), (18, 1, "rho-unused")]
    assert {p.rule: p.severity for p in problems} == {
        "duplicate-override": "error",
        "rho-unused": "warning",
    }


def test_load_analyses_reports_unknown_ids(tmp_path):
    write(tmp_path, "good", GOOD)
    analyses, problems = load_analyses(tmp_path, ids=["good", "godo"])
    assert [a.id for a in analyses] == ["good"]
    assert [p.rule for p in problems] == ["unknown-analysis"]
    assert "did you mean 'good'?" in problems[0].message


def test_field_paths_cover_study_and_effect_fields():
    paths = field_paths()
    for path in (
        "outcome.domain",
        "population.sex",
        "study.id",
        "effect.subgroup.label",
        "sex",
        "follow_up_years",
        "exposure.tie_types",
    ):
        assert path in paths


def test_schema_documents_every_property():
    schema = json.loads(
        (Path(__file__).parents[1] / "evidence" / "schema" / "analysis.schema.json").read_text(
            encoding="utf-8"
        )
    )

    def walk(node, where):
        for name, child in node.get("properties", {}).items():
            for key in ("title", "description", "examples"):
                assert key in child, f"{where}.{name} lacks {key}"
            walk(child, f"{where}.{name}")
            if isinstance(child.get("items"), dict):
                walk(child["items"], f"{where}.{name}[]")

    walk(schema, "spec")


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "analyses").glob("*.yaml")))
def test_shipped_specs_are_valid(path):
    analysis, problems = load_analysis(path)
    assert [str(p) for p in problems] == []
    assert analysis is not None
    document = load_yaml(path).data
    assert document["id"] == path.stem


#: sha256 of the shared headline table (evidence/data/README.md): the shipped table starts
#: with it byte for byte; rows collected since are appended after it.
SHARED_HEADLINE_SHA256 = "13e1b5353c962c32532dd02107f30b5a8504371286350a637d775aa06ccb2444"


def test_headline_table_starts_with_an_unchanged_copy_of_the_shared_table():
    import hashlib

    from evidence.analyses.published import headline_bytes

    data = headline_bytes()
    prefixes = [data[: i + 1] for i, byte in enumerate(data) if byte == ord("\n")]
    assert any(hashlib.sha256(p).hexdigest() == SHARED_HEADLINE_SHA256 for p in prefixes)
    assert len(headline_sha256()) == 64


def test_every_headline_row_has_its_source_and_quote():
    header = headline_bytes_lines()[0].split("\t")
    for line in headline_bytes_lines()[1:]:
        cells = line.split("\t")
        assert len(cells) == len(header), line[:80]
    for row in headline_rows():
        assert row["meta_analysis"] and row["source"] and row["quote"], row["meta_analysis"]
        assert "http" in row["source"], row["source"]


def headline_bytes_lines() -> list[str]:
    from evidence.analyses.published import headline_bytes

    return headline_bytes().decode("utf-8").splitlines()


def test_compare_with_selects_rows_unchanged():
    rows = published_for(
        [
            {
                "doi": "10.1371/journal.pmed.1000316",
                "exposure": "stronger social relationships (overall)",
            }
        ]
    )
    assert len(rows) == 1
    assert (rows[0]["pooled"], rows[0]["lo"], rows[0]["hi"]) == ("1.50", "1.42", "1.59")
    assert rows[0]["k_studies"] == "148"
    assert len(match_rows(headline_rows(), {"doi": "10.1371/journal.pmed.1000316"})) == 11
