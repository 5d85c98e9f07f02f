"""Runs every benchmark (calls, availability calls, budget, throughput, start-up, mock abuse, memory) and prints one
table of figures and goals.

The table gives each figure, its goal, met or missed, and the machine it ran on.

    python -m bench            # the issue's sizes: --orders 10000; the raised limit and memory at 100k (about 15 minutes)
    python -m bench --quick    # smaller accounts (mostly 2k orders, memory at 2k and 10k), about 4 minutes
    python -m bench --singer-tap PATH   # throughput beside the 2020 Singer tap (a checkout, see bench/PROFILE.md),
                                        # at 10k and at 100k orders (5-6 minutes more; not with --quick)

Each script still runs alone (`python bench/throughput.py ...`); its full output is printed here too.
The scripts run one at a time, each in its own process group, which is killed with its mock servers
if the run stops early (Ctrl-C, an error).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Figure:
    name: str
    pattern: str  # a regular expression whose group is the figure, searched in the script's output
    goal: str
    met: Callable[[float], bool] | None  # None: reported, no goal
    occurrence: int = 0  # which match, when the pattern matches more than one line


@dataclass(frozen=True)
class Bench:
    script: str
    full_args: list[str]
    quick_args: list[str] | None  # None: not run with --quick
    figures: list[Figure]
    takes_singer_tap: bool = False  # passed --singer-tap when it is given
    needs_singer_tap: bool = False  # not run without it


BENCHES = [
    Bench(
        "read_calls.py",
        ["--orders", "10000"],
        ["--orders", "2000"],
        [
            Figure(
                "API calls / minimum (read of every stream)", r"ratio ([\d.]+); throttled", "1.00", lambda x: x <= 1.0
            ),
        ],
    ),
    # An availability schedule's sync with nothing changed must cost the same on a 10x larger catalogue.
    Bench(
        "incremental_calls.py",
        ["--availability-products", "1000,10000"],
        ["--availability-products", "100,1000"],
        [
            Figure("availability sync, nothing changed (calls)", r"nothing changed: (\d+) at", "-", None),
            Figure(
                "availability sync calls, 10x catalogue / 1x",
                r"\(largest / smallest ([\d.]+)\)",
                "1.00",
                lambda x: x <= 1.0,
            ),
        ],
    ),
    # Below some 150 calls (one sync of 10k orders) start-up, not pacing, decides the wall time.
    Bench(
        "budget.py",
        ["--orders", "10000", "--syncs", "3"],
        ["--orders", "10000", "--syncs", "1"],
        [
            Figure("wall / rate-limit floor", r"\(ratio ([\d.]+)\)", "<= 1.05", lambda x: x <= 1.05),
            Figure("throttled answers (%)", r"throttled \(([\d.]+) %\)", "<= 1", lambda x: x <= 1.0),
        ],
    ),
    # Brightpearl raises an OAuth instance app's limit on request: at 2,000 calls a minute the connector's CPU,
    # not the budget, may set the pace (about 4 minutes with the 100k mock's seeding).
    Bench(
        "budget.py",
        ["--orders", "100000", "--syncs", "1", "--rate-limit", "2000"],
        ["--orders", "10000", "--syncs", "1", "--rate-limit", "2000"],
        [
            Figure(
                "raised limit 2000/min: wall / rate-limit floor", r"\(ratio ([\d.]+)\)", "<= 1.05", lambda x: x <= 1.05
            ),
            Figure("raised limit 2000/min: throttled (%)", r"throttled \(([\d.]+) %\)", "<= 1", lambda x: x <= 1.0),
        ],
    ),
    Bench(
        "throughput.py",
        ["--orders", "10000"],
        ["--orders", "2000", "--spec-runs", "3"],
        [
            Figure("connector read (records/s)", r"connector read : .* = ([\d,]+) records/s", "-", None),
            Figure("bare requests loop (records/s)", r"bare loop +: .* = ([\d,]+) records/s", "-", None),
            Figure("read / bare loop", r"ratio connector / bare: ([\d.]+)", ">= 0.5", lambda x: x >= 0.5),
            # A diagnosis: the connector's stream without the CDK's concurrent reader (bench/one_thread_read.py).
            Figure("one-thread read / bare loop", r"one-thread read: .* / the bare loop's ([\d.]+),", "-", None),
            Figure("concurrent read / one-thread read", r"the concurrent read's speed / its ([\d.]+)", "-", None),
            Figure(
                "whole read process incl. start-up (records/s)", r"connector total: .* = ([\d,]+) records/s", "-", None
            ),
            Figure(
                "2020 Singer tap, whole process (records/s)", r"2020 Singer tap: .* = ([\d,]+) records/s", "-", None
            ),
            Figure(
                "whole read process vs the 2020 Singer tap (x faster)",
                r"Singer tap: .* = ([\d.]+)x faster",
                "> 1.00 (10k)",
                lambda x: x > 1.0,
            ),
            Figure("start-up, spec median (s)", r"start-up \(spec.*: median ([\d.]+) s", "-", None),
        ],
        takes_singer_tap=True,
    ),
    # The second size, only against the tap measured here (a figure from another machine says
    # little at 100k); one run of each side: seeding and the three reads take 5-6 minutes on 2 loaded cores.
    Bench(
        "throughput.py",
        ["--orders", "100000", "--runs", "1", "--spec-runs", "0"],
        None,
        [
            Figure(
                "whole read process vs the 2020 Singer tap, 100k orders (x faster)",
                r"Singer tap: .* = ([\d.]+)x faster",
                ">= 1.50",
                lambda x: x >= 1.5,
            ),
        ],
        takes_singer_tap=True,
        needs_singer_tap=True,
    ),
    Bench(
        "startup.py",
        ["--runs", "5"],
        ["--runs", "3"],
        [
            Figure(
                "bare import airbyte_cdk, median (s)", r"bare import airbyte_cdk: median ([\d.]+) s wall", "-", None
            ),
            *(
                Figure(
                    f"{command} above the bare import, median (s)",
                    rf"{command} +: median [\d.]+ s wall, [\d.]+ s CPU; above the bare import (-?[\d.]+) s wall",
                    "<= 1.2",
                    lambda x: x <= 1.2,
                )
                for command in ("spec", "check", "discover")
            ),
            Figure(
                "SourceBrightpearl(config) construction, median (s)", r"construction .*: median ([\d.]+) s", "-", None
            ),
            Figure("discover in-process, median CPU (s)", r"discover in-process: median ([\d.]+) s CPU", "-", None),
        ],
    ),
    Bench(
        "mock_abuse.py",
        ["--repeats", "50"],
        ["--repeats", "20"],
        [
            Figure(
                "oversized ID set answered, worst (ms)",
                r"400 in median [\d.]+ ms, worst ([\d.]+) ms",
                "< 100",
                lambda x: x < 100,
            ),
            Figure(
                "search beside oversized ID sets, worst (ms)",
                r"nonstop: median [\d.]+ ms, worst ([\d.]+) ms",
                "-",
                None,
            ),
            Figure(
                "healthy webhook beside a hanging one (ms)",
                r"healthy receiver served (\d+) ms",
                "< 1000",
                lambda x: x < 1000,
            ),
        ],
    ),
    Bench(
        "memory.py",
        ["--small", "10000", "--large", "100000"],
        ["--small", "2000", "--large", "10000"],
        [
            Figure("peak RSS, smaller account (MB)", r"^--orders \d+: peak RSS (\d+) MB", "<= 250", lambda x: x <= 250),
            Figure(
                "peak RSS, larger account (MB)", r"^--orders \d+: peak RSS (\d+) MB", "<= 120", lambda x: x <= 120, 1
            ),
            Figure("peak RSS larger / smaller", r"^ratio \d+ / \d+: ([\d.]+)", "<= 1.10", lambda x: x <= 1.10),
        ],
    ),
]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    ram_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {cpu}, {ram_kb / 1024**2:.1f} GB RAM, Python {platform.python_version()}, "
        f"airbyte-cdk {version('airbyte-cdk')}, load average at start {load}"
    )


def run_script(bench: Bench, quick: bool, singer_tap: Path | None) -> str:
    """The script's output (also echoed as it comes); its whole process group dies with it."""
    command = [sys.executable, str(BENCH / bench.script), *(bench.quick_args if quick else bench.full_args)]
    if singer_tap and bench.takes_singer_tap:
        command += ["--singer-tap", str(singer_tap)]
    print(f"\n$ {' '.join(['python', 'bench/' + bench.script, *command[2:]])}", flush=True)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    lines = []
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
        else:
            # Its mock servers, should the script itself have died without stopping them.
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    if process.returncode:
        lines.append(f"(exited with status {process.returncode})\n")
    return "".join(lines)


def not_run_because(bench: Bench, quick: bool, singer_tap: Path | None) -> str | None:
    if quick and bench.quick_args is None:
        return "not run with --quick"
    if bench.needs_singer_tap and not singer_tap:
        return "not run without --singer-tap"
    return None


def table(outputs: list[str | None], quick: bool, singer_tap: Path | None) -> list[str]:
    """`outputs`: each bench's, in the order of BENCHES; None for one not run."""
    rows = [("figure", "value", "goal", "")]
    for bench, output in zip(BENCHES, outputs):
        for figure in bench.figures:
            if output is None:
                rows.append((figure.name, "n/a", figure.goal, not_run_because(bench, quick, singer_tap)))
                continue
            found = re.findall(figure.pattern, output, re.MULTILINE)
            if len(found) <= figure.occurrence:
                rows.append((figure.name, "n/a", figure.goal, "NOT MEASURED"))
                continue
            text = found[figure.occurrence]
            value = float(text.replace(",", ""))
            verdict = "" if figure.met is None else ("met" if figure.met(value) else "MISSED")
            rows.append((figure.name, text, figure.goal, verdict))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller accounts, for a check in a few minutes")
    parser.add_argument(
        "--singer-tap", type=Path, metavar="PATH", help="a checkout of Zookal/tap-brightpearl, measured beside the read"
    )
    args = parser.parse_args()
    if args.singer_tap and not args.singer_tap.is_dir():
        parser.error(f"--singer-tap {args.singer_tap}: no such directory")
    # A SIGTERM to this runner unwinds through run_script's `finally`, which kills the current script's group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    host = machine()
    outputs = [
        None if not_run_because(bench, args.quick, args.singer_tap) else run_script(bench, args.quick, args.singer_tap)
        for bench in BENCHES
    ]
    print(f"\nSummary ({'--quick' if args.quick else 'full sizes'}); machine: {host}")
    for line in table(outputs, args.quick, args.singer_tap):
        print(f"  {line}")


if __name__ == "__main__":
    main()
