"""``evidence pool`` and ``evidence effects`` end to end on CSV files.

Expected numbers: dat.bcg (Colditz 1994) fixtures from R metafor 3.8
(tests/reference/make_fixtures.R).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.cli import main

FIXTURES = json.loads((Path(__file__).parent / "reference" / "pooling_fixtures.json").read_text())
BCG = FIXTURES["datasets"][0]
RTOL = 1e-6


def _write_bcg(path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study", "ai", "bi", "ci", "di", "ablat", "alloc"])
        inputs, mods = BCG["inputs"], BCG["moderators"]
        for i in range(len(inputs["tpos"])):
            writer.writerow(
                [
                    f"trial {i + 1}",
                    inputs["tpos"][i],
                    inputs["tneg"][i],
                    inputs["cpos"][i],
                    inputs["cneg"][i],
                    mods["ablat"][i],
                    mods["alloc"][i],
                ]
            )
    return path


def _fixture_fit(method: str, test: str) -> dict:
    return next(f for f in BCG["fits"] if f["method"] == method and f["test"] == test)


@pytest.mark.parametrize("test", ["z", "knha"])
def test_pool_json_matches_metafor(
    tmp_path: Path, capsys: pytest.CaptureFixture, test: str
) -> None:
    path = _write_bcg(tmp_path / "bcg.csv")
    assert main(["pool", str(path), "--measure", "RR", "--test", test, "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    expected = _fixture_fit("REML", test)
    for key in ("estimate", "se", "p", "tau2", "i2", "q"):
        assert_allclose(output["pooled"][key], expected[key], rtol=RTOL)
    assert_allclose(output["pooled"]["pi"], expected["pi"], rtol=RTOL)


def test_pool_with_mods_and_subgroup(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _write_bcg(tmp_path / "bcg.csv")
    args = ["pool", str(path), "--measure", "RR", "--mods", "ablat,alloc", "--subgroup", "alloc"]
    assert main([*args, "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    regression = next(r for r in BCG["regressions"] if r["method"] == "REML" and r["test"] == "z")
    assert_allclose(output["meta_regression"]["ablat,alloc"]["qm"], regression["qm"], rtol=RTOL)
    subgroup = BCG["subgroups"][0]
    assert_allclose(output["subgroups"]["alloc"]["q_between"], subgroup["q_between"], rtol=RTOL)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Random-effects model (k = 13" in text and "test for subgroup differences" in text


def test_effects_json_keeps_rows_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "cor.csv"
    path.write_text("label,ri,ni\na,0.3,50\nb,1.4,40\nc,0.1,\n")
    assert main(["effects", str(path), "--measure", "ZCOR", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in rows] == ["a", "b", "c"]
    # Hand derivation: z = atanh(0.3), vi = 1/(50 - 3).
    assert rows[0]["yi"] == pytest.approx(0.30951960420311175) and rows[0]["vi"] == pytest.approx(
        1 / 47
    )
    assert rows[1]["yi"] is None and "[-1, 1]" in rows[1]["reason"]
    assert rows[2]["reason"] == "ni is missing"


def test_bad_csv_reports_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("study,yi,vi\na,0.1,0.02\nb,oops,0.03\n")
    assert main(["pool", str(path)]) == 1
    assert f"{path}:3:2: yi 'oops' is not a number [csv-number]" in capsys.readouterr().err


def test_uncomputable_row_fails_pool_unless_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "missing.csv"
    path.write_text("study,yi,vi\na,0.1,0.02\nb,0.3,\nc,0.2,0.05\n")
    assert main(["pool", str(path)]) == 1
    assert (
        "missing.csv:3:3: b: vi (or sei) is missing [effect-not-computable]"
        in capsys.readouterr().err
    )
    assert main(["pool", str(path), "--drop-missing", "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["pooled"]["k"] == 2 and "dropped" in output["notes"][0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The problem points at the cell: line 3, field 2 (ai) or field 3 (sei).
        ("study,ai,n1i,ci,n2i\na,1,10,2,10\nb,,10,2,10\n", ":3:2: b: ai is missing"),
        ("study,yi,sei\na,0.1,0.1\nb,0.2,-0.1\n", ":3:3: b: sei must be positive"),
        ("study,yi,vi\na,0.1,0.1\nb,0.2,0\n", ":3:3: b: vi must be positive"),
        # A reason about several columns points at the whole line (field 0).
        (
            "study,m1i,sd1i,n1i,m2i,sd2i,n2i\na,1,1,10,2,1,10\nb,1,-1,10,2,1,10\n",
            ":3:0: b: a standard deviation is negative",
        ),
    ],
)
def test_uncomputable_row_points_at_its_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture, text: str, expected: str
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    measure = ["--measure", "OR"] if "ai" in text else ["--measure", "MD"] if "m1i" in text else []
    assert main(["pool", str(path), *measure]) == 1
    err = capsys.readouterr().err
    assert f"{path}{expected} [effect-not-computable]" in err
    assert "Traceback" not in err


def test_missing_file_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["pool", str(tmp_path / "nope.csv")]) == 1
    assert "no such file [csv-file]" in capsys.readouterr().err


def test_convergence_warning_is_reported_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence.stats import likelihood

    monkeypatch.setattr(likelihood, "MAX_ITERATIONS", 1)  # the refinement cannot converge
    path = _write_bcg(tmp_path / "bcg.csv")
    assert main(["pool", str(path), "--measure", "RR", "--json"]) == 0
    captured = capsys.readouterr()
    message = "REML: the root search for tau2 stopped short of its tolerance"
    assert f"{path}: warning: {message}" in captured.err
    notes = json.loads(captured.out)["notes"]
    assert any(n.startswith(f"warning: {message}") for n in notes)


def test_transform_back_transforms_given_log_ratios(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # dat.bcg (Colditz 1994) log RR given as yi/vi: --transform exp gives exp() of the
    # metafor REML estimate (predict(res, transf = exp)).
    path = tmp_path / "given.csv"
    rows = zip(BCG["escalc"]["yi"], BCG["escalc"]["vi"], strict=True)
    path.write_text("yi,vi\n" + "".join(f"{y!r},{v!r}\n" for y, v in rows))
    assert main(["pool", str(path), "--transform", "exp", "--json"]) == 0
    back = json.loads(capsys.readouterr().out)["pooled"]["back_transformed"]
    assert_allclose(back["estimate"], np.exp(_fixture_fit("REML", "z")["estimate"]), rtol=RTOL)


def test_effects_text_lists_rows_in_order(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _write_bcg(tmp_path / "bcg.csv")
    assert main(["effects", str(path), "--measure", "RR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("trial 1") and lines[13].startswith("trial 13")
    # dat.bcg trial 1 (Colditz 1994): log RR as metafor escalc.
    assert float(lines[1].split()[2]) == pytest.approx(BCG["escalc"]["yi"][0], rel=1e-5)


def test_exact_fit_meta_regression_under_knha_is_a_note_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # yi = 0.1 x exactly: the Knapp-Hartung scale factor is 0 (tests/test_moderators.py).
    path = tmp_path / "exact.csv"
    path.write_text("yi,vi,x\n0.1,0.01,1\n0.2,0.02,2\n0.3,0.03,3\n0.4,0.01,4\n")
    assert main(["pool", str(path), "--mods", "x", "--test", "knha", "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["meta_regression"]["x"]["qm"] is None
    assert any(note.startswith("meta-regression: Knapp-Hartung") for note in output["notes"])
    assert main(["pool", str(path), "--mods", "x", "--test", "knha"]) == 0
    assert "F(df = 1) = NA" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--mods", "c"], ":0:0: the moderators are collinear (intrcpt, c)"),
        (["--mods", "t"], ":0:0: moderator 't' has a single level ('a')"),
        (["--level", "0"], ":0:0: confidence level 0.0 is not between 0 and 100"),
        (["--level", "100"], ":0:0: confidence level 100.0 is not between 0 and 100"),
        (["--bias", "--cluster", "c"], ":0:0: a three-level model needs at least two clusters"),
    ],
)
def test_model_problems_name_the_file_once_with_their_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], expected: str
) -> None:
    path = tmp_path / "deg.csv"
    path.write_text(
        "yi,vi,x,c,t\n0.1,0.01,1,5,a\n0.25,0.02,2,5,a\n0.3,0.03,3,5,a\n0.42,0.01,4,5,a\n"
    )
    assert main(["pool", str(path), *args]) == 1
    err = capsys.readouterr().err
    assert f"{path}{expected}" in err
    assert err.count("[") == 1 and "<input>" not in err and "Traceback" not in err


def test_a_statistics_problem_is_reported_at_its_csv_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # the engine counts the rows it is given (row 2 here); the CSV line is 4 because a
    # row without an effect (line 2, dropped with a note) comes first
    path = tmp_path / "t.csv"
    path.write_text("study,yi,vi\nx,,\nd,0.1,0.01\ne,0.2,1e-320\nf,0.3,0.02\n")
    assert main(["pool", str(path), "--drop-missing"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:4:0: row 2 (e): sampling variance" in err, err
    assert "[pool-variance]" in err
