"""Run every benchmark in bench/ (each in its own process) and print their BENCH lines.

Each benchmark prints ``BENCH <name> <value> <unit>`` lines; details go to
standard error. ``python bench/run.py search`` runs only the named ones.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(selected: list[str]) -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if selected:
        scripts = [s for s in scripts if any(name in s.stem for name in selected)]
    failed = 0
    for script in scripts:
        print(f"== {script.stem} ==", file=sys.stderr, flush=True)
        result = subprocess.run([sys.executable, str(script)], check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
