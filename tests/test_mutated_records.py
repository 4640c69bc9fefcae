"""The quote rule and the plausibility rules catch real records altered the usual ways.

Ten shipped records with a ratio and its CI (the first ten by file name) are copied and
altered as the issue describes: the ratio typed as a percentage (1.17 [1.02, 1.33] ->
117 [102, 133]) and a number one digit off (1.38 -> 1.39). Each altered copy must fail
validation with the rule that says so, at the altered number.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from evidence.records.validate import validate_paths

STUDIES = Path(__file__).resolve().parents[1] / "studies"
RATIOS = ("HR", "RR", "OR", "IRR", "MRR")
HEADER = "# yaml-language-server: $schema=../evidence/schema/study.schema.json\n"


def ratio_records(count: int = 10) -> list[tuple[str, int]]:
    found = []
    for path in sorted(p for p in STUDIES.glob("*.yaml") if p.name != "screening.yaml"):
        record = yaml.safe_load(path.read_text(encoding="utf-8"))
        for index, effect in enumerate(record["effects"]):
            statistic = effect["statistic"]
            if statistic["measure"] in RATIOS and "value" in statistic and "ci" in statistic:
                found.append((path.stem, index))
                break
        if len(found) == count:
            break
    return found


RECORDS = ratio_records()


def altered(tmp_path: Path, stem: str, index: int, change) -> tuple[Path, dict]:
    record = yaml.safe_load((STUDIES / f"{stem}.yaml").read_text(encoding="utf-8"))
    statistic = record["effects"][index]["statistic"]
    change(statistic)
    target = tmp_path / "studies"
    target.mkdir()
    (target / f"{stem}.yaml").write_text(
        HEADER + yaml.safe_dump(record, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    for bib in STUDIES.glob("*.bib"):
        shutil.copy(bib, target / bib.name)
    return target / f"{stem}.yaml", statistic


def test_ten_real_records_are_used():
    assert len(RECORDS) == 10


@pytest.mark.parametrize(("stem", "index"), RECORDS)
def test_a_ratio_typed_as_a_percentage_is_caught(tmp_path, stem, index):
    def as_percent(statistic):
        statistic["value"] = round(statistic["value"] * 100, 6)
        statistic["ci"] = [round(x * 100, 6) for x in statistic["ci"]]

    path, statistic = altered(tmp_path, stem, index, as_percent)
    problems = validate_paths([path])
    rules = {p.rule for p in problems}
    assert "number-not-in-quote" in rules
    if statistic["value"] > 20:  # a ratio of 0.2 typed as 20 is still a plausible ratio
        assert "ratio-implausible" in rules
    value = [p for p in problems if p.rule == "number-not-in-quote" and ".value:" in p.message]
    assert value and f"effects[{index}].statistic.value" in value[0].message


@pytest.mark.parametrize(("stem", "index"), RECORDS)
def test_a_number_one_digit_off_is_caught(tmp_path, stem, index):
    def one_off(statistic):
        value = Decimal(repr(statistic["value"]))
        step = Decimal(1).scaleb(value.as_tuple().exponent)
        statistic["value"] = float(value + step)

    path, statistic = altered(tmp_path, stem, index, one_off)
    problems = [p for p in validate_paths([path]) if p.rule == "number-not-in-quote"]
    assert [p.message.split(":")[0] for p in problems] == [f"effects[{index}].statistic.value"]
    assert f"{statistic['value']!r} is not printed in the quote" in problems[0].message
