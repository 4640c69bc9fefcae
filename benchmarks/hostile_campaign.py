"""Hostile-input campaign (issues 17 and 18): count cases, tracebacks and escapes per category.

Run: ``.venv/bin/python benchmarks/hostile_campaign.py [--mutations N] [--kills N]`` from
the repository root (``--quick`` for a short run). Every case works on a copy of the
shipped ``studies/``, ``analyses/`` and ``book/`` in a temporary directory, beside a
sentinel directory and a "secret" file outside the copy. Categories:

- ``yaml-mutations``: random edits of real records (seeded); each mutated corpus is
  validated in-process; a record set that validates is run (``evidence run``, no figures):
  validates implies runs;
- ``payloads``: hostile text (markup, ANSI, newlines, bidi, formula, mentions) in five
  free-text fields of a real record: validate, run (with figures for the field that an
  analysis groups by), the published effects CSVs (formulas) and SVGs (bidi, script);
- ``site``: a payload in each of those fields at once, run and ``book``: no payload live
  in the built pages;
- ``paths``: symbolic links out of the copy, to ``/dev/zero``, loops, FIFOs, directories
  as records, bibliography or specs; ``--out`` at the copy, at ``studies``, at a parent;
- ``csv``: hostile CSVs for ``evidence pool`` and ``evidence effects``, small and of 1.3 MB
  (the large ones go through the fast reader of issue 17 first);
- ``specs``: random edits of the shipped analysis specs, then ``evidence run``;
- ``bib``: hostile ``references.bib`` contents, then ``evidence validate`` and ``run``;
- ``sigkill``: ``evidence run``, ``book`` and ``diff`` killed at random moments, then
  the state checked (results parse, the site is whole, no worktree left registered);
- ``resources``: records of 1,000 effects, ten records at the 100-effect limit, a
  1,000,000-row CSV with ``pool --sensitivity``, ``build`` being a file;
- ``concurrent``: two ``run``, two ``book``, and ``run`` beside ``book`` at once on one
  copy; afterwards the results parse and the site is whole.

Every command runs with its address space capped (``--memory-gb``, default 6), so a
memory bomb shows as a ``MemoryError`` traceback or a killed process, never as the
machine's OOM killer.

A *traceback* is a Python traceback on stderr (or an exception other than the tool's own
``EvidenceError`` in-process). An *escape* is any of: a raw control character (ESC, BEL,
CR, bidi overrides) in a command's terminal output; the secret file's content in any
output; a change outside the copy's ``build/`` (the sentinel, the copy's inputs); an
unescaped ``<script>`` in the built site; a published site without ``index.html`` or a
results file that does not parse after a kill; a git worktree left registered; a command
killed by a signal it was not sent (the memory cap, a crash) or out of time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = Path(sys.executable).with_name("evidence")
SECRET = "ghp_SECRETTOKEN0123456789"
RAW_CONTROLS = ("\x1b", "\x07", "\r", "\u202e", "\u2066")

counts: dict[str, Counter] = {}
#: Address-space cap of every command run (bytes); set from ``--memory-gb``.
MEMORY_CAP = [6 << 30]


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP[0], MEMORY_CAP[0]))


def tally(category: str, traceback: bool = False, escape: str | None = None) -> None:
    """Count one case of ``category`` (with a traceback and/or an escape)."""
    row = counts.setdefault(category, Counter())
    row["cases"] += 1
    row["tracebacks"] += bool(traceback)
    if escape:
        row["escapes"] += 1
        print(f"  ESCAPE [{category}]: {escape}", file=sys.stderr)


def digest_tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``root`` (links by their target text), less ``skip``."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(skip):
            continue
        if path.is_symlink():
            found[relative] = "link:" + os.readlink(path)
        elif path.is_file():
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@contextlib.contextmanager
def project() -> Iterator[Path]:
    """A copy of the project's inputs, beside a sentinel directory and a secret file."""
    with tempfile.TemporaryDirectory(prefix="evidence-campaign-") as scratch:
        base = Path(scratch)
        repo = base / "repo"
        repo.mkdir()
        for name in ("studies", "analyses", "book"):
            shutil.copytree(
                ROOT / name, repo / name, ignore=shutil.ignore_patterns("_generated", "_build")
            )
        (base / "sentinel").mkdir()
        (base / "sentinel" / "keep.txt").write_text("keep me\n")
        (base / "secret.txt").write_text(f"token {SECRET}\n")
        yield repo


def cli(repo: Path, *argv: str, timeout: float = 900) -> tuple[int, str]:
    """Run ``evidence argv`` in ``repo``; return the exit status and stdout + stderr.

    The command runs under the memory cap; a timeout is reported as status -1000 and a
    death by a signal as the negative signal number (both are escapes for :func:`judge`).
    """
    try:
        done = subprocess.run(
            [str(EVIDENCE), *argv],
            cwd=repo,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            preexec_fn=_cap_memory,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if exc.stdout else ""
        return -1000, out + f"\n[campaign: timed out after {timeout:.0f} s]"
    return done.returncode, done.stdout + done.stderr


def judge(
    category: str, repo: Path, output: str, before: dict[str, str] | None, status: int = 0
) -> None:
    """Tally one CLI case: traceback, raw controls, the secret, writes outside build/.

    ``status`` is the command's exit status: killed (by the memory cap or a crash) or out
    of time is an escape (unbounded time or memory on that input).
    """
    escape = None
    if status == -1000:
        escape = "the command ran out of time"
    elif status < 0:
        escape = f"the command was killed by signal {-status} (memory cap or crash)"
    elif any(control in output for control in RAW_CONTROLS):
        escape = "raw control character in the terminal output"
    elif SECRET in output:
        escape = "the secret file's content was printed"
    elif before is not None:
        after = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
        if after != before:
            changed = sorted(set(after.items()) ^ set(before.items()))[:3]
            escape = f"files outside build/ changed: {changed}"
    traceback = "Traceback (most recent call last)" in output
    if traceback:
        print(f"  traceback [{category}]: {output[-600:]}", file=sys.stderr)
    tally(category, traceback=traceback, escape=escape)


# ------------------------------------------------------------------------ categories


def yaml_mutations(rng: random.Random, n: int) -> None:
    """Random edits of real records: validate in-process; run what validates."""
    from evidence.analyses.runner import run_analyses
    from evidence.errors import EvidenceError
    from evidence.records.validate import validate_paths

    records = sorted((ROOT / "studies").glob("*.yaml"))
    bits = [
        "",
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        '"',
        "'",
        "\n",
        "  ",
        "#",
        "&a",
        "*a",
        "!!",
        "1e400",
        "-1",
        "0",
        "9" * 400,
        "null",
        "~",
        "\t",
        "\x1b[2J",
        "\u202e",
        ".nan",
        "yes",
        "NO",
    ]
    with project() as repo:
        for _ in range(n):
            source = rng.choice(records)
            original = (repo / "studies" / source.name).read_text(encoding="utf-8")
            text = original
            for _edit in range(rng.randint(1, 4)):
                at = rng.randrange(len(text))
                span = rng.randint(0, 8)
                text = text[:at] + rng.choice(bits) + text[at + span :]
            (repo / "studies" / source.name).write_text(text, encoding="utf-8")
            traceback, escape = False, None
            try:
                problems = validate_paths([str(repo / "studies")])
                shown = "\n".join(str(p) for p in problems)
                if any(c in shown for c in RAW_CONTROLS):
                    escape = "raw control character in a problem line"
                if not [p for p in problems if p.severity == "error"]:
                    try:
                        run_analyses(
                            repo / "studies",
                            repo / "analyses",
                            repo / "build",
                            figures=False,
                            progress=io.StringIO(),
                        )
                    except EvidenceError as error:
                        escape = f"validates but does not run: {error.problems[0]}"
            except EvidenceError:
                pass
            except Exception as exc:  # noqa: BLE001 - counting, not handling
                traceback = True
                print(f"  traceback [yaml]: {type(exc).__name__}: {exc}", file=sys.stderr)
            tally("yaml-mutations", traceback, escape)
            (repo / "studies" / source.name).write_text(original, encoding="utf-8")


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\x1b[2J\x1b[31mred",
    "line\nfake.yaml:1:1: all good [ok]",
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@octocat please look",
    "evil\u202etxt.exe",
    "iso\u2066late\u2069",
    "sep\u2028arated",
    "{eval-rst}`x`",
    ":::{raw} html\n<script>x</script>\n:::",
    "[click](javascript:alert(1))",
    "$x^2$ |sub| {{ var }}",
    "```\ncode\n```",
    "&amp; &#x3c;b&#x3e;",
    "../../../../etc/passwd",
    "${{ secrets.GITHUB_TOKEN }}",
    "\\input{/etc/passwd}",
]

#: Free-text fields of studies/steptoe2013.yaml: (the text of the line that starts the
#: field's value, the field's name). The payload goes at the start of the value.
FIELDS = [
    ("  description: ", "population.description"),
    ('  notes: "Numbers read', "extraction.notes"),
    ("      contrast: top quintile", "effects[0].exposure.contrast"),
    ("      locator: abstract", "effects[0].source.locator"),
    ('    notes: "Adjustment read', "effects[0].notes"),
]
#: An analysis grouped by the population's description, so that text reaches the
#: published effects CSV and a subgroup figure.
SUBGROUP = "subgroups: [exposure.construct, sex, population.description]"


def _inject(original: str, anchor: str, payload: str) -> str:
    """The record with ``payload`` put at the start of the value on ``anchor``'s line."""
    at = original.index(anchor)
    line_end = original.index("\n", at)
    key_end = original.index(": ", at) + 2
    value = original[key_end:line_end]
    if value.startswith('"'):
        value = value[1:-1]
    else:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return original[:key_end] + json.dumps(payload + " ")[:-1] + value + '"' + original[line_end:]


def payloads(rng: random.Random) -> None:
    """Hostile text in free-text fields: validate, run, read the published CSV and SVGs."""
    del rng
    with project() as repo:
        spec = repo / "analyses" / "isolation-mortality.yaml"
        spec.write_text(
            spec.read_text(encoding="utf-8").replace(
                "subgroups: [exposure.construct, sex]", SUBGROUP
            ),
            encoding="utf-8",
        )
        record = repo / "studies" / "steptoe2013.yaml"
        original = record.read_text(encoding="utf-8")
        for anchor, name in FIELDS:
            figures = name == "population.description"  # the one that reaches figures
            for payload in PAYLOADS:
                record.write_text(_inject(original, anchor, payload), encoding="utf-8")
                before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
                status, output = cli(repo, "validate", "studies")
                judge("payloads", repo, output, None, status)
                argv = ("run",) if figures else ("run", "--no-figures")
                status, output = cli(repo, *argv)
                judge("payloads", repo, output, before, status)
                _judge_outputs(repo)
        record.write_text(original, encoding="utf-8")


def site(rng: random.Random) -> None:
    """A payload in every free-text field at once, run with figures, one site build."""
    del rng
    with project() as repo:
        spec = repo / "analyses" / "isolation-mortality.yaml"
        text = spec.read_text(encoding="utf-8")
        spec.write_text(text.replace("subgroups: [exposure.construct, sex]", SUBGROUP), "utf-8")
        record = repo / "studies" / "steptoe2013.yaml"
        combined = record.read_text(encoding="utf-8")
        for index, (anchor, _name) in enumerate(FIELDS):  # script, img, ANSI, forged, formula
            combined = _inject(combined, anchor, PAYLOADS[index])
        record.write_text(combined, encoding="utf-8")
        before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
        status, output = cli(repo, "run")
        judge("site", repo, output, before, status)
        status, output = cli(repo, "book")
        judge("site", repo, output, before, status)
        pages = "\n".join(
            p.read_text(encoding="utf-8", errors="replace")
            for p in (repo / "build" / "site").rglob("*.html")
        )
        # a live tag, not its escaped text (&lt;img src=x onerror=...&gt; is text)
        raw = "<script>alert(1)</script>" in pages or "<img src=x onerror" in pages
        built = (repo / "build" / "site" / "index.html").is_file()
        escape = "a payload is live in the built site" if raw else None
        tally("site", escape=escape or (None if built else f"no site: {output[-300:]}"))


def _judge_outputs(repo: Path) -> None:
    """Tally the published effects CSVs (formulas) and the figures (bidi, script)."""
    csv_text = "\n".join(
        p.read_text(encoding="utf-8") for p in (repo / "build" / "results").glob("*-effects.csv")
    )
    formula = any(
        cell.startswith(("=", "+", "-", "@")) and not _is_number(cell)
        for row in __import__("csv").reader(io.StringIO(csv_text))
        for cell in row
    )
    tally("payloads", escape="formula cell in an effects CSV" if formula else None)
    svg = "\n".join(
        p.read_text(encoding="utf-8") for p in (repo / "build" / "figures").glob("*.svg")
    )
    bidi = any(c in svg for c in ("\u202e", "\u2066", "\u2069")) or "<script" in svg
    tally("payloads", escape="bidi control or script in an SVG" if bidi else None)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def paths(rng: random.Random) -> None:
    """Links out of the copy, devices, FIFOs and unsafe --out directories."""
    del rng
    secret = None
    cases = [
        ("studies/evil.yaml", "secret"),
        ("studies/passwd.yaml", "/etc/passwd"),
        ("studies/zero.yaml", "/dev/zero"),
        ("studies/loop.yaml", "loop"),
        ("studies/fifo.yaml", "fifo"),
        ("studies/dir.yaml", "dir"),
        ("analyses/evil.yaml", "secret"),
        ("analyses/zero.yaml", "/dev/zero"),
        ("analyses/loop.yaml", "loop"),
        ("studies/references.bib", "secret"),
        ("studies/references.bib", "fifo"),
        ("studies/references.bib", "dir"),
    ]
    for where, what in cases:
        with project() as repo:
            secret = repo.parent / "secret.txt"
            target = repo / where
            if target.exists():
                target.unlink()
            if what == "secret":
                target.symlink_to(secret)
            elif what == "loop":
                target.symlink_to(target)
            elif what == "fifo":
                os.mkfifo(target)
            elif what == "dir":
                target.mkdir()
            else:
                target.symlink_to(what)
            before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
            for argv in (("validate", "studies"), ("run", "--no-figures")):
                status, output = cli(repo, *argv, timeout=120)
                judge("paths", repo, output, before, status)
            if where.endswith(".bib"):
                status, output = cli(repo, "new", "x2024", "--bib", str(secret), timeout=120)
                judge("paths", repo, output, None, status)
    for out in (".", "studies", "..", "../sentinel", "analyses", "/"):
        with project() as repo:
            before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
            for command in ("run", "book"):
                status, output = cli(repo, command, "--out", out, timeout=300)
                judge("paths", repo, output, before, status)


CSVS = {
    "ragged": "study,yi,vi\na,0.1\nb,0.2,0.3,0.4\n",
    "empty": "",
    "header-only": "study,yi,vi\n",
    "bom": "\ufeffstudy,yi,vi\na,0.1,0.01\nb,0.2,0.02\n",
    "u2028": "study,yi,vi\na\u2028b,0.1,0.01\nc,0.2,0.02\n",
    "quoted-newline": 'study,yi,vi\n"a\nb",0.1,0.01\nc,0.2,0.02\n',
    "long-cell": "study,yi,vi\n" + "x" * 200_000 + ",0.1,0.01\nb,0.2,0.02\n",
    "long-number": "study,yi,vi\na," + "9" * 200_000 + ",0.01\nb,0.2,0.02\n",
    "ansi": "study,yi,vi\n\x1b[2J\x1b[31mred,0.1,0.01\nb,0.2,-1\n",
    "bidi": "study,yi,vi\nevil\u202etxt,0.1,0.01\nb,0.2,0.02\n",
    "nan-inf": "study,yi,vi\na,nan,0.01\nb,inf,0.02\nc,1e400,0.01\nd,0.1,1e-320\n",
    "negative-var": "study,yi,vi\na,0.1,-0.01\nb,0.2,0\n",
    "text-in-numbers": "study,yi,vi\na,abc,0.01\nb,0.2,x\n",
    "duplicate-header": "study,yi,yi\na,0.1,0.2\n",
    "unbalanced-quote": 'study,yi,vi\n"a,0.1,0.01\nb,0.2,0.02\n',
    "nul": "study,yi,vi\na\x00,0.1,0.01\nb,0.2,0.02\n",
    "crlf": "study,yi,vi\r\na,0.1,0.01\r\nb,0.2,0.02\r\n",
    "lone-cr": "study,yi,vi\ra,0.1,0.01\rb,0.2,0.02\r",
    "2x2-zero": "study,ai,bi,ci,di\na,0,0,0,0\nb,1,2,3,4\n",
    "huge-k": "study,yi,vi\n"
    + "".join(f"s{i},{i % 7 / 10},0.0{i % 9 + 1}\n" for i in range(20000)),
}
#: 1.3 MB of clean rows: above FAST_READ_BYTES, so pyarrow reads these first (issue 17) and
#: hands every one but the clean and the escape-laden file to the csv module path.
_LARGE = "study,yi,vi\n" + "".join(f"s{i},{i % 7 / 10},0.0{i % 9 + 1}\n" for i in range(80000))
CSVS |= {
    "large-clean": _LARGE,
    "large-ansi-bidi": _LARGE + "\x1b[2J\x1b[31mred,0.1,0.01\nevil\u202etxt,0.2,-1\n",
    "large-text-in-numbers": _LARGE + "a,abc,0.01\nb,0.2,x\n",
    "large-nan-inf": _LARGE + "a,nan,0.01\nb,inf,0.02\nc,1e400,0.01\nd,0.1,1e-320\n",
    "large-ragged": _LARGE + "a,0.1\nb,0.2,0.3,0.4\n",
    "large-nul": _LARGE + "a\x00,0.1,0.01\n",
    "large-quoted-newline": _LARGE + '"a\nb",0.1,0.01\n',
    "large-unbalanced-quote": _LARGE + '"a,0.1,0.01\n',
}


def csvs(rng: random.Random) -> None:
    """Hostile CSV files and special files for evidence pool and evidence effects."""
    del rng
    with project() as repo:
        folder = repo / "csv"
        folder.mkdir()
        files = []
        for name, text in CSVS.items():
            path = folder / f"{name}.csv"
            path.write_text(text, encoding="utf-8", newline="")
            files.append(path)
        binary = folder / "binary.csv"
        binary.write_bytes(bytes(range(256)) * 10)
        fifo = folder / "fifo.csv"
        os.mkfifo(fifo)
        directory = folder / "dir.csv"
        directory.mkdir()
        files += [binary, fifo, directory, Path("/dev/zero"), folder / "missing.csv"]
        for path in files:
            measure = ["--measure", "OR"] if path.name.startswith("2x2") else []
            for argv in (
                ("pool", str(path), *measure),
                ("pool", str(path), "--sensitivity", "--bias", *measure),
                ("effects", str(path), *measure),
            ):
                status, output = cli(repo, *argv, timeout=300)
                judge("csv", repo, output, None, status)


def specs(rng: random.Random, n: int) -> None:
    """Random edits of the shipped analysis specs, then evidence run (no figures)."""
    bits = [
        "",
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "\n",
        "  ",
        "#",
        "1e400",
        "-1",
        "0",
        "null",
        "leave-one-out",
        "aggregate",
        "rho: 2",
        "\x1b[2J",
        "é",
        "../x",
        "fisher-z",
    ]
    with project() as repo:
        for _ in range(n):
            spec = rng.choice(sorted((repo / "analyses").glob("*.yaml")))
            original = spec.read_text(encoding="utf-8")
            text = original
            for _edit in range(rng.randint(1, 3)):
                at = rng.randrange(len(text))
                text = text[:at] + rng.choice(bits) + text[at + rng.randint(0, 6) :]
            spec.write_text(text, encoding="utf-8")
            before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
            status, output = cli(repo, "run", "--no-figures", timeout=600)
            judge("specs", repo, output, before, status)
            spec.write_text(original, encoding="utf-8")


BIBS = {
    "backslash-field": "@article{steptoe2013, title = {A title ending in a backslash\\}}\n",
    "unknown-type": "@evilentry{steptoe2013, title = {x}}\n",
    "bom": "\ufeff",
    "string-bomb": "".join(f"@string{{s{i} = s{i - 1} # s{i - 1}}}\n" for i in range(1, 30)),
    "javascript-url": "@misc{zz2000, url = {javascript:alert(1)}, title = {x}}\n",
    "conflict-markers": "<<<<<<< HEAD\n@misc{zz2001, title={a}}\n=======\n>>>>>>> b\n",
    "missing-comma": "@article{zz2002 title = {x}}\n",
    "latex": "@misc{zz2003, title = {\\input{/etc/passwd} $\\alpha$ \\href{javascript:x}{y}}}\n",
    "unbalanced": "@misc{zz2004, title = {{{x}\n",
    "nul": "@misc{zz2005, title = {a\x00b}}\n",
    # a defined base doubled to s39: 32 x 2^39 characters (the 12 KB chain)
    "string-chain-defined": '@string{s0 = "'
    + "x" * 32
    + '"}\n'
    + "".join(f"@string{{s{i} = s{i - 1} # s{i - 1}}}\n" for i in range(1, 40)),
    "preamble-chain": '@string{p0 = "'
    + "y" * 64
    + '"}\n'
    + "".join(f"@string{{p{i} = p{i - 1} # p{i - 1}}}\n" for i in range(1, 12))
    + "@preamble{ p11 # p11 # p11 # p11 }\n",
    "repeated-macro": '@string{m = "'
    + "z" * 1000
    + '"}\n@misc{zz2006, title = {x}, note = '
    + " # ".join(["m"] * 1200)
    + "}\n",
    "huge-comment": "%" + "x" * (3 << 20) + "\n",
    "bibtex-control-chars": "@misc{zz2007, title = {\x1b[2J red \u202e}}\n",
}


def bibs(rng: random.Random) -> None:
    """Hostile references.bib contents: validate, then run when it validates."""
    del rng
    for name, extra in BIBS.items():
        with project() as repo:
            bib = repo / "studies" / "references.bib"
            text = bib.read_text(encoding="utf-8")
            bib.write_text(extra + text if name == "bom" else text + "\n" + extra, encoding="utf-8")
            before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
            status, output = cli(repo, "validate", "studies", timeout=300)
            judge("bib", repo, output, None, status)
            if status == 0:
                status, output = cli(repo, "run", "--no-figures", timeout=600)
                judge("bib", repo, output, before, status)
                status, output = cli(repo, "book", timeout=900)
                judge("bib", repo, output, before, status)


def _many_effects(record: str, count: int, prefix: str) -> str:
    """``record`` with its first effect copied ``count`` times under new ids."""
    start = record.index("  - id: ")
    second = record.find("\n  - id: ", start + 1)
    block = record[start : second + 1 if second > 0 else len(record)]
    copies = "".join(
        block.replace(block.split("\n", 1)[0], f"  - id: {prefix}-{i}", 1) for i in range(count)
    )
    return record[:start] + copies


def resources(rng: random.Random) -> None:
    """Inputs that ask for unbounded time or memory: every command must stay bounded."""
    del rng
    with project() as repo:  # one record of 1,000 effects (under 1 MiB)
        record = repo / "studies" / "steptoe2013.yaml"
        record.write_text(_many_effects(record.read_text("utf-8"), 1000, "x"), "utf-8")
        before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
        for argv in (("validate", "studies"), ("run", "--no-figures")):
            status, output = cli(repo, *argv, timeout=600)
            judge("resources", repo, output, before, status)
    with project() as repo:  # ten records of 100 effects each, the limit
        sources = sorted((repo / "studies").glob("*.yaml"))
        for source in [p for p in sources if p.name != "screening.yaml"][:10]:
            source.write_text(_many_effects(source.read_text("utf-8"), 100, "y"), "utf-8")
        before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
        for argv in (("validate", "studies"), ("run",), ("book",)):
            status, output = cli(repo, *argv, timeout=900)
            judge("resources", repo, output, before, status)
    with project() as repo:  # a million rows, with the deletion diagnostics asked for
        path = repo / "million.csv"
        with path.open("w", encoding="utf-8") as handle:
            handle.write("study,yi,vi\n")
            handle.writelines(f"s{i},{(i % 97) / 100},0.0{i % 9 + 1}\n" for i in range(10**6))
        for argv in (("pool", "million.csv", "--sensitivity"), ("effects", "million.csv")):
            status, output = cli(repo, *argv, timeout=600)
            judge("resources", repo, output, None, status)
    with project() as repo:  # build being a file: refused, and left as it is
        (repo / "build").write_text("not a directory\n")
        before = digest_tree(repo.parent, skip=("repo/build", "repo/book/_generated"))
        for argv in (("run", "--no-figures"), ("book",)):
            status, output = cli(repo, *argv, timeout=600)
            judge("resources", repo, output, before, status)
            if (repo / "build").read_text() != "not a directory\n":
                tally("resources", escape="the file called build was changed")


def concurrent(rng: random.Random) -> None:
    """Two commands at once on one copy: no traceback, results parse, the site is whole."""
    del rng
    pairs = [(("run", "--force"), ("run", "--force")), (("book",), ("book",))]
    pairs.append((("run", "--force"), ("book",)))
    with project() as repo:
        cli(repo, "run")
        cli(repo, "book")
        for first, second in pairs:
            record = repo / "studies" / "steptoe2013.yaml"
            record.write_text(record.read_text() + f"# edit {first}{second}\n")
            running = [
                subprocess.Popen(
                    [str(EVIDENCE), *argv],
                    cwd=repo,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    preexec_fn=_cap_memory,
                )
                for argv in (first, second)
            ]
            outputs = [process.communicate(timeout=900)[0] for process in running]
            for process, output in zip(running, outputs, strict=True):
                escape = _state_escape(repo, "two at once")
                if process.returncode not in (0, 1):
                    escape = escape or f"exit status {process.returncode}: {output[-300:]}"
                if process.returncode == 1 and "[output-locked]" not in output:
                    escape = escape or f"failed without saying why: {output[-300:]}"
                tally("concurrent", "Traceback (most recent call last)" in output, escape)


def _state_escape(repo: Path, after: str) -> str | None:
    """What is broken in ``repo/build`` after ``after``: a results file, the site."""
    for path in (repo / "build" / "results").glob("*.json"):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return f"{path.name} does not parse after {after}"
    if not (repo / "build" / "site" / "index.html").is_file():
        return f"no published index.html after {after}"
    return None


def sigkill(rng: random.Random, kills: int) -> None:
    """Kill run, book and diff at random moments; check what is left."""
    with project() as repo:
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(
            ["git", "-c", "user.name=c", "-c", "user.email=c@x", "commit", "-qm", "base"],
            cwd=repo,
            check=True,
        )
        subprocess.run(["git", "branch", "-M", "main"], cwd=repo, check=True)
        status, output = cli(repo, "run")
        status, output = cli(repo, "book")
        if status != 0 or not (repo / "build" / "site" / "index.html").is_file():
            print(f"  sigkill: the first build failed: {output[-400:]}", file=sys.stderr)
        for command, argv in (("run", ["run", "--force"]), ("book", ["book"]), ("diff", ["diff"])):
            for _ in range(kills):
                if command == "book":  # a change to rebuild
                    record = repo / "studies" / "steptoe2013.yaml"
                    record.write_text(record.read_text() + f"# edit {rng.random()}\n")
                process = subprocess.Popen(
                    [str(EVIDENCE), *argv],
                    cwd=repo,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    stdin=subprocess.DEVNULL,
                )
                time.sleep(rng.uniform(0.5, 12.0))
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGKILL)
                process.wait()
                escape = _state_escape(repo, f"a killed {command}")
                status, output = cli(repo, *argv)  # the next run must recover
                traceback = "Traceback (most recent call last)" in output
                if command == "diff":
                    listed = subprocess.run(
                        ["git", "worktree", "list"], cwd=repo, capture_output=True, text=True
                    ).stdout
                    if len(listed.strip().splitlines()) > 1:
                        escape = f"worktrees left registered: {listed.strip()}"
                if status != 0 and command != "diff":
                    escape = escape or f"the {command} after a kill failed: {output[-300:]}"
                tally("sigkill", traceback, escape)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutations", type=int, default=300)
    parser.add_argument("--specs", type=int, default=40)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--memory-gb", type=float, default=6.0)
    args = parser.parse_args()
    MEMORY_CAP[0] = int(args.memory_gb * (1 << 30))
    rng = random.Random(args.seed)
    steps = {
        "yaml-mutations": lambda: yaml_mutations(rng, args.mutations),
        "payloads": lambda: payloads(rng),
        "site": lambda: site(rng),
        "paths": lambda: paths(rng),
        "csv": lambda: csvs(rng),
        "specs": lambda: specs(rng, args.specs),
        "bib": lambda: bibs(rng),
        "sigkill": lambda: sigkill(rng, args.kills),
        "resources": lambda: resources(rng),
        "concurrent": lambda: concurrent(rng),
    }
    for name, step in steps.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - a fault of this script, not of evidence
            print(f"   the campaign script failed in {name}: {exc!r}", file=sys.stderr)
            counts.setdefault(name, Counter())["script-errors"] += 1
        row = counts.get(name, Counter())
        print(
            f"   {time.perf_counter() - started:.0f} s: {row['cases']} cases, "
            f"{row['tracebacks']} tracebacks, {row['escapes']} escapes",
            file=sys.stderr,
            flush=True,
        )
    print("| category | cases | tracebacks | escapes |\n| --- | --- | --- | --- |")
    for name, row in counts.items():
        print(f"| {name} | {row['cases']} | {row['tracebacks']} | {row['escapes']} |")
    total = sum(counts.values(), Counter())
    print(f"| all | {total['cases']} | {total['tracebacks']} | {total['escapes']} |")
    return 1 if total["tracebacks"] or total["escapes"] or total["script-errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
