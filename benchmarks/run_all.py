"""Run every benchmark script in this folder, one after another (``make bench``).

Each script prints its own figures; copy them into ``benchmarks/README.md`` with the date
and the machine. The metafor columns need ``Rscript``; scripts say when it is missing.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = (
    "startup.py",
    "validate_records.py",
    "pooling.py",
    "engine.py",
    "diagnostics.py",
    "multivariate.py",
    "analyses.py",
    "multiverse.py",
    "book.py",
)


def main() -> int:
    failed = []
    for name in SCRIPTS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
