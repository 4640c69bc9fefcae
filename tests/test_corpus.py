"""Traceability of the shipped corpus (studies/) to the real data it was built from.

The records in ``studies/`` were converted from the project's shared data folder
(``primary_study_effects.tsv``, ``holtlunstad2010_table1_partial.csv``,
``robles2014_table4_partial.csv``; see its README) and are curated by hand since. These tests
check that every effect still carries the numbers and quote of a row of that data, exactly as
printed, and that every row is still represented. The expected numbers are the data files
themselves; nothing here is computed.

CI has the shared folder beside the clone (``<parent>/shared/data``); without it these tests
skip with a reason.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STUDIES = REPO / "studies"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SCHEMA_LINE = "# yaml-language-server: $schema=../evidence/schema/study.schema.json"

#: Row counts of the shared data files (data README).
N_PRIMARY_ROWS = 66
N_HOLTLUNSTAD_ROWS = 21
N_ROBLES_ROWS = 8

CANONICAL_HOSTS = ("https://pubmed.ncbi.nlm.nih.gov/", "https://pmc.ncbi.nlm.nih.gov/")
HOLTLUNSTAD_LOCATOR = "Holt-Lunstad et al. 2010, Table 1, row "
ROBLES_LOCATOR = "Robles et al. 2014, Table 4, row "

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"shared data folder not found at {DATA} (it sits beside the clone)"
)

#: A number as printed: not preceded by a digit or dot, so "1.74-2.39" gives 1.74 and 2.39.
NUMBER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Signature:
    """The numbers an effect's statistic must carry to match one printed estimate."""

    value: float | None
    ci: tuple[float, float] | None = None
    se: float | None = None
    range: tuple[float, float] | None = None


def numbers(cell: str) -> list[float]:
    """All numbers printed in a data cell, in order ('NA' gives none)."""
    return [float(text) for text in NUMBER.findall(cell)]


def leading_integer(cell: str) -> int | None:
    """N as a plain count ('6500', '84 (42 couples)'); None for 'NA ...' or '1503 LPSS + ...'."""
    match = re.fullmatch(r"(\d+)(?: \([^)]*\))?", cell.strip())
    return int(match.group(1)) if match else None


def first_url(cell: str) -> str | None:
    urls = [part.strip() for part in cell.split(";") if part.strip().startswith("http")]
    return urls[0] if urls else None


def leading_year(cell: str) -> int | None:
    match = re.match(r"(\d{4})\b", cell)
    return int(match.group(1)) if match else None


def row_signatures(row: dict[str, str]) -> list[Signature]:
    """One signature per estimate printed in a primary row (a cell may hold several)."""
    values, los, his = numbers(row["est"]), numbers(row["lo"]), numbers(row["hi"])
    if "range" in row["measure"]:
        return [Signature(None, range=(values[0], values[1]))]
    if row["lo"].startswith("SE "):
        return [Signature(values[0], se=los[0])]
    if not los:
        return [Signature(value) for value in values]
    return [Signature(value, ci=(lo, hi)) for value, lo, hi in zip(values, los, his, strict=True)]


def effect_signature(statistic: dict) -> Signature:
    def as_pair(key: str) -> tuple[float, float] | None:
        pair = statistic.get(key)
        return (float(pair[0]), float(pair[1])) if pair is not None else None

    value = statistic.get("value")
    se = statistic.get("se")
    return Signature(
        float(value) if value is not None else None,
        ci=as_pair("ci"),
        se=float(se) if se is not None else None,
        range=as_pair("range"),
    )


def load_records() -> dict[str, dict]:
    return {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(STUDIES.glob("*.yaml"))
        if path.name != "screening.yaml"  # the search record, not a study
    }


def all_effects(records: dict[str, dict]) -> list[tuple[dict, dict]]:
    return [(record, effect) for record in records.values() for effect in record["effects"]]


def read_primary() -> list[dict[str, str]]:
    with open(DATA / "primary_study_effects.tsv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def read_table(name: str) -> list[tuple[str, dict[str, str]]]:
    """(verbatim line, parsed row) for each data row of a CSV table."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    return [(line, dict(zip(header, next(csv.reader([line])), strict=True))) for line in lines[1:]]


def kind_of(effect: dict) -> str:
    locator = effect["source"]["locator"]
    if locator.startswith(HOLTLUNSTAD_LOCATOR):
        return "holtlunstad"
    if locator.startswith(ROBLES_LOCATOR):
        return "robles"
    return "primary"


RECORDS = load_records() if STUDIES.is_dir() else {}
PRIMARY = read_primary() if DATA.is_dir() else []
HOLTLUNSTAD = read_table("holtlunstad2010_table1_partial.csv") if DATA.is_dir() else []
ROBLES = read_table("robles2014_table4_partial.csv") if DATA.is_dir() else []


def primary_matches(row: dict[str, str]) -> list[tuple[Signature, list[tuple[dict, dict]]]]:
    """For each estimate printed in the row, the effects that carry its quote and numbers."""
    candidates = [
        (record, effect)
        for record, effect in all_effects(RECORDS)
        if kind_of(effect) == "primary" and effect["source"]["quote"] == row["quote"]
    ]
    return [
        (
            signature,
            [pair for pair in candidates if effect_signature(pair[1]["statistic"]) == signature],
        )
        for signature in row_signatures(row)
    ]


def test_row_counts_match_the_data_readme():
    assert (len(PRIMARY), len(HOLTLUNSTAD), len(ROBLES)) == (
        N_PRIMARY_ROWS,
        N_HOLTLUNSTAD_ROWS,
        N_ROBLES_ROWS,
    )


@pytest.mark.parametrize("row", PRIMARY, ids=[row["id"] for row in PRIMARY])
def test_primary_row_is_represented_with_its_numbers(row):
    for signature, matches in primary_matches(row):
        assert len(matches) == 1, f"{row['id']}: {signature} matched {len(matches)} effects"
        record, effect = matches[0]
        assert effect["source"]["url"] == first_url(row["source"])
        assert record.get("doi") == (row["doi"] if row["doi"].startswith("10.") else None)
        assert record.get("year") == leading_year(row["year"])
        assert record["extraction"]["status"] == "needs-verification"
        n = leading_integer(row["n"])
        population_n = record["population"].get("n")
        if population_n is not None:
            assert n is None or population_n == n, f"{row['id']}: n {population_n} != {row['n']}"
        elif n is not None:
            # Per-effect samples (e.g. Weiss-Faratci T1 660, T2 969) are stated in the notes.
            assert f"n {n}" in effect.get("notes", ""), f"{row['id']}: n {n} not stated"


@pytest.mark.parametrize(("line", "row"), HOLTLUNSTAD, ids=[row["study"] for _, row in HOLTLUNSTAD])
def test_holtlunstad_row_is_its_own_record(line, row):
    matches = [(r, e) for r, e in all_effects(RECORDS) if e["source"]["quote"] == line]
    assert len(matches) == 1
    record, effect = matches[0]
    assert len(record["effects"]) == 1
    assert effect["source"]["locator"] == HOLTLUNSTAD_LOCATOR + row["ref_no"]
    assert effect["statistic"] == {
        "measure": "log-OR",
        "value": float(row["lnOR"]),
        "se": float(row["se_lnOR"]),
    }
    assert record["population"]["n"] == int(row["n_participants"])
    assert record["year"] == int(row["study"].rsplit(",", 1)[1])
    assert effect["exposure"]["higher_means"] == "more-ties"
    assert effect["outcome"]["higher_is"] == "beneficial"
    assert record["extraction"] == record["extraction"] | {
        "status": "needs-verification",
        "source_type": "review-table",
    }


@pytest.mark.parametrize(("line", "row"), ROBLES, ids=[row["study"] for _, row in ROBLES])
def test_robles_row_is_its_own_record(line, row):
    matches = [(r, e) for r, e in all_effects(RECORDS) if e["source"]["quote"] == line]
    assert len(matches) == 1
    record, effect = matches[0]
    assert len(record["effects"]) == 1
    assert effect["statistic"] == {
        "measure": "r",
        "value": float(row["r_min"]),
        "se": float(row["se_r"]),
        "n": int(row["n"]),
    }
    assert record["population"]["n"] == int(row["n"])
    assert row["rmax_and_gender_d_raw"] in effect["notes"]
    assert effect["exposure"]["higher_means"] == "more-ties"
    assert effect["outcome"]["higher_is"] == "beneficial"
    assert record["extraction"]["source_type"] == "review-table"


def printed_numbers(quote: str) -> set[float]:
    """Every number printed in a quote ("1.3 to -1.55" gives 1.3 and 1.55)."""
    return {float(text) for text in re.findall(r"\d+(?:\.\d+)?", quote)}


def quoted_only(record: dict, effect: dict, matched: set[int]) -> bool:
    """An estimate printed in a data row's quote beside the row's own (e.g. the fully
    adjusted stroke HR in Hakulinen 2018): every number of it must be printed there."""
    statistic = effect["statistic"]
    numbers = [statistic.get("value"), *(statistic.get("ci") or [])]
    return (
        id(effect) not in matched
        and effect["source"]["quote"] in {row["quote"] for row in PRIMARY}
        and all(number is not None for number in numbers)
        and set(numbers) <= printed_numbers(effect["source"]["quote"])
    )


def test_every_effect_traces_to_a_data_row():
    lines = {line for line, _ in HOLTLUNSTAD + ROBLES}
    matched = {
        id(effect)
        for row in PRIMARY
        for _, matches in primary_matches(row)
        for _, effect in matches
    }
    orphans = [
        f"{record['id']}/{effect['id']}"
        for record, effect in all_effects(RECORDS)
        if not (
            effect["source"]["quote"] in lines
            or id(effect) in matched
            or quoted_only(record, effect, matched)
        )
    ]
    assert orphans == []


def test_estimates_read_from_a_quote_alone_are_the_known_ones():
    # Both adjustment levels are kept where a source gives two (data README): these are
    # printed in the quotes of the Hakulinen 2018 and Weiss-Faratci 2016 rows.
    matched = {
        id(effect)
        for row in PRIMARY
        for _, matches in primary_matches(row)
        for _, effect in matches
    }
    found = sorted(
        (record["id"], effect["id"], effect["statistic"]["value"])
        for record, effect in all_effects(RECORDS)
        if quoted_only(record, effect, matched)
    )
    assert found == [
        ("hakulinen2018", "isolation-mortality-after-stroke", 1.32),
        ("hakulinen2018", "isolation-stroke-full", 1.06),
        ("hakulinen2018", "loneliness-ami-full", 1.06),
        ("hakulinen2018", "loneliness-stroke-demographic", 1.36),
        ("hakulinen2018", "loneliness-stroke-full", 1.04),
        ("weissfaratci2016", "support-t1-mortality-unadjusted", 0.85),
        ("weissfaratci2016", "support-t2-mortality-unadjusted", 0.74),
    ]


def test_records_follow_the_file_conventions():
    for stem, record in RECORDS.items():
        path = STUDIES / f"{stem}.yaml"
        assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE, stem
        assert record["id"] == stem
        assert record["extraction"]["status"] == "needs-verification", stem
        # A record's own url is its canonical address; mirrors stay in the effects' sources.
        assert record.get("url", CANONICAL_HOSTS[0]).startswith(CANONICAL_HOSTS), stem
        effect_ids = [effect["id"] for effect in record["effects"]]
        assert len(effect_ids) == len(set(effect_ids)), stem


def test_every_citation_is_in_the_bibliography():
    from pybtex.database import parse_file

    keys = set(parse_file(str(STUDIES / "references.bib")).entries)
    assert {record["citation"] for record in RECORDS.values()} | {
        "holtlunstad2010",
        "robles2014",
    } <= keys


@pytest.mark.skipif(
    importlib.util.find_spec("evidence.records.validate") is None,
    reason="evidence.records.validate not written yet",
)
def test_corpus_validates_without_errors():
    from evidence.errors import errors_in
    from evidence.records.validate import load_studies

    studies, problems = load_studies(str(STUDIES))
    assert [str(problem) for problem in errors_in(problems)] == []
    assert len(studies) == len(RECORDS)
