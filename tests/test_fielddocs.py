"""studies/README.md is generated from the schema and the vocabulary, never edited by hand."""

from __future__ import annotations

from pathlib import Path

from evidence.records.bib import BIB_RULES
from evidence.records.fielddocs import render
from evidence.records.rules import RULES
from evidence.records.schemacheck import SCHEMA_RULES
from evidence.records.validate import CROSS_FILE_RULES
from evidence.records.vocabulary import default_vocabulary
from evidence.records.yamlio import LOAD_RULES

README = Path(__file__).resolve().parent.parent / "studies" / "README.md"


def test_committed_field_reference_equals_the_generated_text():
    assert README.read_text(encoding="utf-8") == render(), (
        "studies/README.md is stale: run `python -m evidence.records.fielddocs > studies/README.md`"
    )


def test_reference_lists_every_term_and_every_rule():
    text = render()
    for terms in default_vocabulary().lists.values():
        for term in terms:
            assert f"| `{term}` |" in text
    for table in (LOAD_RULES, SCHEMA_RULES, RULES, CROSS_FILE_RULES, BIB_RULES):
        for rule in table:
            assert f"| `{rule}` |" in text


def test_every_schema_property_has_title_description_and_examples():
    from evidence.records.vocabulary import study_schema

    def walk(node, where):
        for name, child in node.get("properties", {}).items():
            if "$ref" in child:
                continue  # documented in $defs
            for key in ("title", "description", "examples"):
                assert key in child, f"{where}.{name} has no {key}"
        for name, child in node.get("$defs", {}).items():
            for key in ("title", "description", "examples"):
                assert key in child, f"$defs.{name} has no {key}"
            walk(child, name)

    walk(study_schema(), "(root)")
