"""Count the assertions of metafor's published-example test files, mechanically.

Run: ``.venv/bin/python tests/published/count_assertions.py [DIR]`` (DIR defaults to the
tests that the installed R package ships, ``/usr/share/doc/r-cran-metafor/tests/testthat``
on Debian: metafor 3.8.1 here, the version evidence follows). Writes
``tests/published/assertions-metafor-3.8.1.json``: per ``test_analysis_example_*.r`` file,
the number of ``expect_*()`` calls (one call is one assertion, as in README.md) and how
many of them are R warnings or errors expected, image comparisons (``.vistest``),
``expect_equivalent(TRUE, TRUE)`` or ``expect_true(TRUE)`` placeholders, and numeric or
other checks. Comments and the text inside strings are not counted. CI never runs this (it
needs the R package); the JSON is committed, like the R fixtures, and ``test_count.py``
checks README.md against it.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

DEFAULT = Path("/usr/share/doc/r-cran-metafor/tests/testthat")
OUT = Path(__file__).with_name("assertions-metafor-3.8.1.json")
CALL = re.compile(r"\bexpect_([a-z_]+)\(")


def _text(path: Path) -> str:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return raw.decode("utf-8")


def _without_comments(text: str) -> str:
    """Drop ``#`` comments and blank out the inside of strings, line by line."""
    kept = []
    for line in text.splitlines():
        quote = None
        chars = []
        for char in line:
            if quote:
                quote = None if char == quote else quote
                chars.append(char if quote is None else " ")
            elif char in "\"'":
                quote = char
                chars.append(char)
            elif char == "#":
                break
            else:
                chars.append(char)
        kept.append("".join(chars))
    return "\n".join(kept)


def count(text: str) -> dict[str, int]:
    """Count the ``expect_*()`` calls of one test file by kind."""
    code = _without_comments(text)
    kinds = {"warning": 0, "error": 0, "image": 0, "placeholder": 0, "value": 0}
    for match in CALL.finditer(code):
        rest = code[match.end() : match.end() + 40]
        if match.group(1) in ("warning", "error"):
            kinds[match.group(1)] += 1
        elif rest.lstrip().startswith(".vistest("):
            kinds["image"] += 1
        elif re.match(r"\s*TRUE\s*(,\s*TRUE\s*)?\)", rest):
            kinds["placeholder"] += 1
        else:
            kinds["value"] += 1
    return {"assertions": sum(kinds.values()), **kinds}


def main(directory: Path = DEFAULT) -> dict[str, dict[str, int]]:
    """Count every published-example file in ``directory`` and write the JSON."""
    result = {}
    for path in sorted(directory.glob("test_analysis_example_*.r*")):
        name = path.name.removeprefix("test_analysis_example_").split(".r")[0]
        result[name] = count(_text(path))
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    counts = main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
    print(f"{len(counts)} files, {sum(c['assertions'] for c in counts.values())} assertions")
