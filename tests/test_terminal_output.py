"""What commands print to a terminal: text from a user's file is never printed raw.

Hostile-input cases of issues 17 and 18 (item 9): a label with ANSI escape sequences
(clears the screen, recolours the output), a newline that forges another problem line,
a right-to-left override that makes text read backwards. Each is printed as a visible
escape (``\\x1b``, ``\\n``, ``\\u202e``); JSON output keeps the text as it is (JSON escapes
it by itself).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evidence.cli import main
from evidence.errors import Problem, escape_terminal, format_problems

FIXTURES = Path(__file__).parent / "fixtures"
ESC = "\x1b"
ANSI_LABEL = f"{ESC}[2J{ESC}[31mred"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"{ESC}[2Jcleared", "\\x1b[2Jcleared"),
        ("line\nfake.yaml:1:1: all good [ok]", "line\\nfake.yaml:1:1: all good [ok]"),
        ("carriage\rreturn", "carriage\\rreturn"),
        ("tab\there", "tab\\there"),
        ("bell\x07 nul\x00 del\x7f c1\x9b", "bell\\x07 nul\\x00 del\\x7f c1\\x9b"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        (
            "isolate\u2066x\u2069 sep\u2028 para\u2029",
            "isolate\\u2066x\\u2069 sep\\u2028 para\\u2029",
        ),
        ("Ångström 中文 ελληνικά – “quotes”", "Ångström 中文 ελληνικά – “quotes”"),
    ],
)
def test_escape_terminal_writes_controls_as_visible_escapes(text: str, shown: str) -> None:
    assert escape_terminal(text) == shown


def test_a_problem_is_one_line_whatever_its_message_holds() -> None:
    problem = Problem("a.yaml", 3, 1, "unknown field 'x\nfake.yaml:1:1: all good'", "unknown")
    text = format_problems([problem])
    assert text.splitlines() == [
        "a.yaml:3:1: unknown field 'x\\nfake.yaml:1:1: all good' [unknown]",
        "1 error, 0 warnings",
    ]
    # the machine formats keep the text itself (they escape by their own rules)
    assert json.loads(format_problems([problem], "json"))[0]["message"] == problem.message


def test_validate_text_output_cannot_be_forged_by_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    studies = tmp_path / "studies"
    shutil.copytree(FIXTURES / "valid", studies)
    record = studies / "forms2015.yaml"
    text = record.read_text(encoding="utf-8")
    forged = '"a\\nfake.yaml:1:1: all good [ok]\\u001b[2J": 1\n'
    record.write_text(text + forged, encoding="utf-8")
    assert main(["validate", str(studies)]) == 1
    out = capsys.readouterr().out
    assert ESC not in out
    lines = out.splitlines()
    assert not any(line.startswith("fake.yaml") for line in lines)
    (line,) = [line for line in lines if "fake.yaml" in line]
    assert "a\\nfake.yaml:1:1: all good [ok]\\x1b[2J" in line
    assert line.startswith(f"{record}:")


def _labelled_csv(path: Path) -> Path:
    path.write_text(
        f"study,yi,vi\n{ANSI_LABEL},0.1,0.01\nplain,0.3,0.02\n\u202eevil,0.2,0.03\n",
        encoding="utf-8",
    )
    return path


def test_effects_escapes_labels(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _labelled_csv(tmp_path / "x.csv")
    assert main(["effects", str(path)]) == 0
    out = capsys.readouterr().out
    assert ESC not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b[31mred" in out and "\\u202eevil" in out
    # JSON keeps the label itself (json.dumps escapes it)
    assert main(["effects", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] == ANSI_LABEL


def test_effects_shows_long_labels_cut_and_pads_to_them_only(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # every row used to be padded to the longest label: a 3 MB label over 3,000 rows
    # printed about 9 GB; the table now shows 40 characters and --json the whole label
    long = "L" * 100_000
    path = tmp_path / "long.csv"
    path.write_text(
        "study,yi,vi\n" + f"{long},0.1,0.01\n" + "".join(f"s{i},0.2,0.02\n" for i in range(300))
    )
    assert main(["effects", str(path)]) == 0
    out = capsys.readouterr().out
    assert len(out) < 30_000
    assert "L" * 37 + "..." in out and "L" * 41 not in out
    assert main(["effects", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] == long


def test_pool_escapes_labels_levels_and_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "study,yi,vi,group\n"
        f"{ANSI_LABEL},0.1,0.01,{ESC}[31mA\n"
        "b,0.3,0.02,B\nc,0.2,0.03,B\nd,0.25,0.02,\u202eA\n"
        f"{ESC}]0;title{ESC}\\,0.1,-1,B\n",
        encoding="utf-8",
    )
    args = ["pool", str(path), "--subgroup", "group", "--sensitivity", "--drop-missing"]
    assert main(args) == 0
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert ESC not in stream and "\u202e" not in stream
    assert "\\x1b[31mA: k = 1" in captured.out
    assert "\\u202eA: k = 1" in captured.out
    assert "note: dropped \\x1b]0;title\\x1b\\: vi must be" in captured.out


def test_pool_problem_naming_a_label_is_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "x.csv"
    path.write_text(f"study,yi,vi\n{ANSI_LABEL},0.1,-1\nb,0.2,0.1\n", encoding="utf-8")
    assert main(["pool", str(path)]) == 1
    err = capsys.readouterr().err
    assert ESC not in err
    assert f"{path}:2:3: \\x1b[2J\\x1b[31mred: vi must be" in err
