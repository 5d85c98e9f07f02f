"""Start-up of `spec`, `check` (against the mock) and `discover`, each as a whole process, beside the bare
`python -c "import airbyte_cdk"` every connector on the CDK pays; the in-process construction of
`SourceBrightpearl(config=...)`, which every command and most unit tests pay; and the in-process
`discover` beside the CDK's, which builds every stream.

    python bench/startup.py [--runs 5]

Each figure is the median of `--runs` runs, in wall time and in CPU time (user + system, of the child
process: steadier than wall time on a shared machine); the processes run in turn (bare import, spec,
check, discover, and again), so that a drift of the machine's load shifts all of them alike. The goal is each command's median wall time at
most 1.2 s above the bare import's. The resolved manifest (source_brightpearl/__pycache__) is warmed
first, as the image's build does; `--cold` removes it before every run instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mock_server.testing import MockServer

CONNECTOR = [sys.executable, "-c", "from source_brightpearl.run import run; run()"]
BARE_IMPORT = [sys.executable, "-c", "import airbyte_cdk"]
GOAL_ABOVE_IMPORT_SECONDS = 1.2


def timed(command: list[str], before_each: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `command`, which must exit 0."""
    before_each()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(command[3:])} failed: {process.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def medians(
    commands: dict[str, list[str]], runs: int, before_each: Callable[[], None]
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command, run in turn (one of each, `runs` times over) so that
    all of them share the machine's drifting load; `before_each` precedes each run but the bare import's."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            results[name].append(timed(command, (lambda: None) if command is BARE_IMPORT else before_each))
    return {
        name: (statistics.median(wall for wall, _ in taken), statistics.median(cpu for _, cpu in taken))
        for name, taken in results.items()
    }


def construction_seconds(config: dict, runs: int, cold: bool) -> float:
    """Median wall seconds of `SourceBrightpearl(config=...)` in a process that imported it already
    (cold: with a cache of resolved manifests that can neither hold nor keep one)."""
    script = (
        "import sys, json, time, statistics\n"
        "from source_brightpearl.source import SourceBrightpearl\n"
        + (
            "from source_brightpearl.source import ResolvedManifestCache\n"
            "SourceBrightpearl.resolved_manifests = ResolvedManifestCache(__import__('pathlib').Path('/dev/null'))\n"
            if cold
            else ""
        )
        + "config = json.loads(sys.argv[1])\n"
        "times = []\n"
        f"for _ in range({runs}):\n"
        "    started = time.perf_counter(); SourceBrightpearl(config=config); times.append(time.perf_counter() - started)\n"
        "print(statistics.median(times))\n"
    )
    output = subprocess.run([sys.executable, "-c", script, json.dumps(config)], capture_output=True, check=True)
    return float(output.stdout)


def discover_cpu_seconds(config: dict, runs: int) -> tuple[float, float]:
    """Median CPU seconds of the package's `discover` and of the CDK's (`ConcurrentDeclarativeSource.discover`,
    which builds every stream), taken in turn on sources built beforehand, in one process."""
    script = (
        "import sys, json, time, statistics, logging\n"
        "from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource\n"
        "from source_brightpearl.source import SourceBrightpearl\n"
        "config = json.loads(sys.argv[1]); logger = logging.getLogger('airbyte')\n"
        "times = {SourceBrightpearl.discover: [], ConcurrentDeclarativeSource.discover: []}\n"
        f"for _ in range({runs}):\n"
        "    for discover, taken in times.items():\n"
        "        source = SourceBrightpearl(config=config); started = time.process_time()\n"
        "        discover(source, logger, config); taken.append(time.process_time() - started)\n"
        "print(json.dumps([statistics.median(taken) for taken in times.values()]))\n"
    )
    output = subprocess.run([sys.executable, "-c", script, json.dumps(config)], capture_output=True, check=True)
    # the CDK's log lines come first, on the same stdout
    package, cdk = json.loads(output.stdout.splitlines()[-1])
    return package, cdk


def remove_resolved_manifests() -> None:
    from source_brightpearl.source import SourceBrightpearl

    for path in SourceBrightpearl.resolved_manifests.directory.glob(f"{SourceBrightpearl.resolved_manifests.PREFIX}*"):
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="no resolved manifest kept between runs")
    args = parser.parse_args()
    before_each = remove_resolved_manifests if args.cold else lambda: None
    with MockServer(orders=10, rate_limit=0) as mock, tempfile.TemporaryDirectory() as workdir:
        config = mock.connector_config()
        config_path = Path(workdir) / "config.json"
        config_path.write_text(json.dumps(config))
        commands = {
            "spec": [*CONNECTOR, "spec"],
            "check": [*CONNECTOR, "check", "--config", str(config_path)],
            "discover": [*CONNECTOR, "discover", "--config", str(config_path)],
        }
        timed(commands["spec"])  # warms the resolved manifest and the OS's file cache
        results = medians({"bare": BARE_IMPORT, **commands}, args.runs, before_each)
        bare_wall, bare_cpu = results.pop("bare")
        print(
            f"runs: {args.runs} each, in turn, {'cold (no resolved manifest)' if args.cold else 'resolved manifest warm'}"
            f"; load average {os.getloadavg()[0]:.1f}"
        )
        print(f"bare import airbyte_cdk: median {bare_wall:.2f} s wall, {bare_cpu:.2f} s CPU")
        for name, (wall, cpu) in results.items():
            print(
                f"{name:<8} : median {wall:.2f} s wall, {cpu:.2f} s CPU; above the bare import {wall - bare_wall:.2f} s "
                f"wall, {cpu - bare_cpu:.2f} s CPU (goal <= {GOAL_ABOVE_IMPORT_SECONDS})"
            )
        package_discover, cdk_discover = discover_cpu_seconds(config, args.runs)
    print(
        f"construction SourceBrightpearl(config=...): median {construction_seconds(config, args.runs, args.cold):.3f} s"
    )
    print(f"discover in-process: median {package_discover:.3f} s CPU, the CDK's {cdk_discover:.3f} s")


if __name__ == "__main__":
    main()
