"""How long a user command of `headwater` takes to start, against the same start importing the service layer.

Each round runs both children, alternating, and reads each child's own CPU time (user + system) from
`os.wait4`, which a busy machine skews far less than wall time. The reference is what a user command
cost before the service layer became a lazy import of the administrative commands.

    .venv/bin/python bench/cli_start.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

COMMAND = [sys.executable, "-m", "headwater.cli", "flows", "--help"]
# The reference: the same command after importing what cli.py used to import at its top.
REFERENCE = [sys.executable, "-c", "import headwater.service, sys; from headwater.cli import app; "
             "sys.argv = ['headwater', 'flows', '--help']; app()"]  # fmt: skip


def cpu_seconds(argv: list[str]) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, argv
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    ours, reference = [], []
    for _ in range(rounds):
        ours.append(cpu_seconds(COMMAND))
        reference.append(cpu_seconds(REFERENCE))
    a, b = statistics.median(ours), statistics.median(reference)
    print(f"headwater flows --help, median CPU of {rounds} runs: {a:.2f} s; with the service layer imported: "
          f"{b:.2f} s; ratio {a / b:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
