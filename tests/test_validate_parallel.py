"""Many records are checked in worker processes; the answer is the one a single process gives.

Issue 17 ("validation of 5,000 records under 3 s"): from
:data:`~evidence.records.validate.PARALLEL_MIN_RECORDS` files on, records are checked in
worker processes while the main one reads the bibliographies. Here the threshold is
lowered so that the shipped corpus (and a copy of it with broken records) goes both ways.
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest

import evidence.records.validate as validate
from evidence.records.validate import load_studies, validate_paths

REPOSITORY = Path(__file__).resolve().parents[1]
TODAY = datetime.date(2026, 12, 2)


@pytest.fixture(scope="module")
def broken_copy(tmp_path_factory) -> Path:
    """The shipped studies with three kinds of broken record (and the rest intact)."""
    studies = tmp_path_factory.mktemp("parallel") / "studies"
    shutil.copytree(REPOSITORY / "studies", studies)
    records = sorted(studies.glob("*.yaml"))
    records = [p for p in records if p.name != "screening.yaml"]
    records[0].write_text(records[0].read_text() + "effects: [\n")  # YAML syntax
    text = records[1].read_text()
    records[1].write_text(text.replace("design:", "desing:", 1))  # schema
    (studies / "copy-of-a-record.yaml").write_text(records[2].read_text())  # duplicate id
    return studies


def both_ways(monkeypatch, function, *args):
    monkeypatch.setattr(validate, "PARALLEL_MIN_RECORDS", 10**9)
    serial = function(*args, today=TODAY)
    monkeypatch.setattr(validate, "PARALLEL_MIN_RECORDS", 4)  # two or more workers
    parallel = function(*args, today=TODAY)
    return serial, parallel


@pytest.mark.parametrize("which", ["shipped", "broken copy"])
def test_parallel_validation_reports_exactly_what_one_process_reports(
    which, broken_copy, monkeypatch
):
    folder = REPOSITORY / "studies" if which == "shipped" else broken_copy
    serial, parallel = both_ways(monkeypatch, validate_paths, [folder])
    assert parallel == serial
    if which == "broken copy":
        rules = {p.rule for p in parallel}
        assert {"yaml-syntax", "duplicate-id"} <= rules, rules


def test_parallel_loading_builds_the_same_studies(monkeypatch):
    serial, parallel = both_ways(monkeypatch, load_studies, REPOSITORY / "studies")
    assert parallel == serial
    assert [s.id for s in parallel[0]] == [s.id for s in serial[0]]


@pytest.mark.parametrize(
    ("records", "available", "expected"),
    [(10, 8, 1), (399, 8, 1), (400, 1, 1), (400, 2, 2), (5000, 2, 2), (5000, 64, 4)],
)
def test_worker_count(records, available, expected, monkeypatch):
    monkeypatch.setattr(validate.os, "sched_getaffinity", lambda pid: set(range(available)))
    assert validate._workers(records) == expected
