"""Records per second of a connector `read` of `orders` (rate limit off) against a bare `requests` + `orjson`
loop fetching the same search pages and ID-set GETs from the same mock in the same run, and writing one
JSON line per record as any connector must; the whole `read` process beside the 2020 Singer tap for
Brightpearl (issue 18); and the connector's start-up time (`spec`).

    python bench/throughput.py [--orders 10000] [--runs 3] [--spec-runs 5] [--singer-tap PATH]

Each run reads with every side in turn (connector, Singer tap, one-thread read, bare loop), so that the
machine's drift falls on all of them alike; figures are medians over the runs, ratios medians of each run's
own ratio. The one-thread read (bench/one_thread_read.py) is the connector's own stream without the CDK's
concurrent reader, a diagnosis: it splits the gap between `read` and the bare loop into that reader's part
and the stream's.

`--singer-tap PATH` takes a checkout of `Zookal/tap-brightpearl` (not on PyPI; see bench/PROFILE.md),
installs it once into a venv of its own under ~/.cache/source-brightpearl-bench/ (it pins
singer-python 5.4.1 and requests 2.24.0, which must not meet this project's venv) and reads orders with
it in the same runs. The tap builds https URLs only, so then the mock serves https to all three sides.
Without it, the whole read process is set beside the tap's figures from issue 18, taken on another machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import orjson

from mock_server.idsets import format_id_set
from mock_server.testing import MockServer

CONNECTOR = [sys.executable, "-c", "from source_brightpearl.run import run; run()"]
ONE_THREAD_READ = [sys.executable, str(Path(__file__).with_name("one_thread_read.py"))]
SEARCH_PAGE = 500
ID_SET = 200
# What the connector's requests for orders ask beside the page and the IDs (source_brightpearl/manifest.yaml).
SEARCH_PARAMETERS = {"columns": "orderId,updatedOn,createdOn", "sort": "orderId.ASC"}
ID_SET_PARAMETERS = {"includeOptional": "customFields"}
# The whole-process time of a read of orders by the 2020 Singer tap for Brightpearl (plain `requests`,
# stdlib `json`, the same 200-ID GETs), measured beside this connector on one mock on another machine
# (issue 18): what a run without `--singer-tap` compares with; the goals: faster at 10k orders, 1.5x
# faster at 100k.
SINGER_TAP_SECONDS = {10000: 3.7, 100000: 37.0}
SINGER_TAP_SPEED_UP_GOAL = {10000: "> 1.00x", 100000: ">= 1.50x"}
SINGER_TAP_CACHE = Path.home() / ".cache" / "source-brightpearl-bench"
# A read of 100k orders by the slowest side takes up to 2 minutes on this project's 2 loaded cores.
READ_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Read:
    """One side's read of every order: CPU time (user + system) is steadier than wall time on a shared machine."""

    records: int
    seconds: float  # wall, of the whole process for a program
    cpu_seconds: float
    after_start_up: float | None = None  # wall from a program's first message, once it is built
    calls: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def read_process(
    command: list[str], record_prefix: bytes, env: dict[str, str], stderr: IO[bytes] | None = None
) -> Read:
    """The records a program writes (stdout lines starting with `record_prefix`), timed from its start to its
    exit and from its first message: both programs write one (a stream status, a SCHEMA) once built,
    before their first request, so what follows is the read itself."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
    watchdog = threading.Timer(READ_TIMEOUT_SECONDS, process.kill)
    watchdog.start()
    try:
        records, first_message_at = 0, None
        for line in process.stdout:
            first_message_at = first_message_at or time.perf_counter()
            records += line.startswith(record_prefix)
        # wait4 gives this child's own rusage, not the sum over every child this script has had
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    finished = time.perf_counter()
    if status:
        raise RuntimeError(f"{Path(command[0]).name} exited with status {os.waitstatus_to_exitcode(status)}")
    return Read(records, finished - started, usage.ru_utime + usage.ru_stime, finished - first_message_at)


def client_env(mock: MockServer) -> dict[str, str]:
    """The environment of a program reading `mock`: trusting its CA when it serves https."""
    return {**os.environ, "REQUESTS_CA_BUNDLE": str(mock.ca_file)} if mock.ca_file else dict(os.environ)


def connector_read(mock: MockServer, workdir: Path) -> Read:
    config = mock.connector_config(rate_limit_reserve=0)
    catalog = {
        "streams": [
            {
                "stream": {"name": "orders", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                "sync_mode": "full_refresh",
                "destination_sync_mode": "overwrite",
            }
        ]
    }
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "catalog.json").write_text(json.dumps(catalog))
    return read_process(
        [*CONNECTOR, "read", "--config", str(workdir / "config.json"), "--catalog", str(workdir / "catalog.json")],
        b'{"type":"RECORD"',
        client_env(mock),
    )


def one_thread_read(mock: MockServer, workdir: Path) -> Read:
    """The connector's own stream read without the CDK's concurrent reader (bench/one_thread_read.py): set beside
    `read`, what that reader costs; set beside the bare loop, what the stream's own path does."""
    (workdir / "config.json").write_text(json.dumps(mock.connector_config(rate_limit_reserve=0)))
    return read_process([*ONE_THREAD_READ, str(workdir / "config.json")], b'{"type":"RECORD"', client_env(mock))


def singer_tap_sources(checkout: Path) -> list[Path]:
    """What the tap is built from, relative to the checkout (not what pip or a previous build leaves in it)."""
    package = checkout / "tap_brightpearl"
    return [Path("setup.py"), *sorted(path.relative_to(checkout) for path in package.rglob("*") if path.is_file())]


def install_singer_tap(checkout: Path) -> tuple[Path, str]:
    """The tap's console script in its own venv, made once per content of the checkout, and the
    versions of what it runs on (`pip freeze`)."""
    sources = singer_tap_sources(checkout)
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path).encode() + b"\0" + (checkout / path).read_bytes())
    venv = SINGER_TAP_CACHE / f"tap-brightpearl-{digest.hexdigest()[:16]}"
    installed = venv / "installed"  # written last: a venv without it is a half-made one
    if not installed.exists():
        print(f"installing the Singer tap from {checkout} into {venv} (once)", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        with tempfile.TemporaryDirectory() as build:
            # pip builds in the source tree: a copy keeps the checkout as it was
            for path in sources:
                (Path(build) / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(checkout / path, Path(build) / path)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
            subprocess.run([*pip, "install", "--quiet", build], check=True, timeout=900)
        freeze = subprocess.run([*pip, "freeze"], check=True, capture_output=True, text=True, timeout=120)
        installed.write_text(freeze.stdout)
    return venv / "bin" / "tap-brightpearl", installed.read_text()


def singer_tap_read(executable: Path, checkout: Path, mock: MockServer, workdir: Path) -> Read:
    """The tap's sync of `orders` alone, selected in the catalog its README points to (its own
    schemas/schema.json), its log (one line per ID-set GET) kept in a file as a Singer runner would."""
    catalog = json.loads((checkout / "tap_brightpearl" / "schemas" / "schema.json").read_text())
    for stream in catalog["streams"]:
        stream["metadata"] = [{"breadcrumb": [], "metadata": {"selected": stream["tap_stream_id"] == "orders"}}]
    config = {
        "brightpearl-app-ref": mock.app_ref,
        "brightpearl-account-token": mock.account_token,
        "domain": urlsplit(mock.base_url).netloc,
        "account_id": mock.account,
    }
    (workdir / "tap-config.json").write_text(json.dumps(config))
    (workdir / "tap-catalog.json").write_text(json.dumps(catalog))
    log = workdir / "tap.log"
    with log.open("wb") as stderr:
        try:
            return read_process(
                [
                    str(executable),
                    "--config",
                    str(workdir / "tap-config.json"),
                    "--catalog",
                    str(workdir / "tap-catalog.json"),
                ],
                b'{"type": "RECORD"',
                client_env(mock),
                stderr,
            )
        except RuntimeError as error:
            raise RuntimeError(f"the Singer tap failed ({error}); its log ends:\n{log.read_text()[-3000:]}") from None


def bare_loop(mock: MockServer) -> Read:
    """The requests the connector sends for a full read of orders, each record written as one JSON line of an
    Airbyte RECORD message (to /dev/null: what reads the connector's stdout is not the connector's cost either).
    The same bytes come back: search pages of the columns the connector asks for (the ID, and the dates its
    cursor is built from) sorted as it sorts them, then the ID sets with their custom fields. The connector's
    own calls are left out: the custom-field metadata its schema is built from, and the one row of overlap
    its paging asks each page from (a page more in 20). The mock's own session: it trusts the mock's CA, and
    the mock closes it when it stops."""
    session, headers = mock.session, mock.auth_headers()
    with open(os.devnull, "wb") as output:
        started, cpu_started = time.perf_counter(), time.process_time()
        ids, first = [], 1
        while True:
            page = orjson.loads(
                session.get(
                    mock.api_url("order-service/order-search"),
                    headers=headers,
                    params={"pageSize": SEARCH_PAGE, "firstResult": first, **SEARCH_PARAMETERS},
                ).content
            )
            ids += [row[0] for row in page["response"]["results"]]
            if not page["response"]["metaData"]["morePagesAvailable"]:
                break
            first += SEARCH_PAGE
        records = 0
        for start in range(0, len(ids), ID_SET):
            id_set = format_id_set(ids[start : start + ID_SET])
            id_set_url = mock.api_url(f"order-service/order/{id_set}")
            body = orjson.loads(session.get(id_set_url, headers=headers, params=ID_SET_PARAMETERS).content)
            for order in body["response"]:
                message = {"stream": "orders", "data": order, "emitted_at": time.time_ns() // 1_000_000}
                output.write(orjson.dumps({"type": "RECORD", "record": message}) + b"\n")
                records += 1
        return Read(records, time.perf_counter() - started, time.process_time() - cpu_started)


def spec_startup(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*CONNECTOR, "spec"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def median(values) -> float:
    return statistics.median(list(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3, help="reads by each side, in turn")
    parser.add_argument("--spec-runs", type=int, default=5, help="0: no start-up figure")
    parser.add_argument("--singer-tap", type=Path, metavar="PATH", help="a checkout of Zookal/tap-brightpearl")
    args = parser.parse_args()
    checkout = args.singer_tap.resolve() if args.singer_tap else None
    if checkout and not (checkout / "tap_brightpearl" / "schemas" / "schema.json").is_file():
        parser.error(f"--singer-tap {args.singer_tap}: not a checkout of Zookal/tap-brightpearl (see bench/PROFILE.md)")
    tap_executable, tap_freeze = install_singer_tap(checkout) if checkout else (None, "")
    # Seeding 100k orders takes about 45 s alone, longer on a busy machine.
    with (
        MockServer(orders=args.orders, rate_limit=0, startup_timeout=600, tls=checkout is not None) as mock,
        tempfile.TemporaryDirectory() as workdir,
    ):
        sides = {"connector": lambda: connector_read(mock, Path(workdir))}
        if checkout:
            sides["tap"] = lambda: singer_tap_read(tap_executable, checkout, mock, Path(workdir))
        sides["one thread"] = lambda: one_thread_read(mock, Path(workdir))
        sides["bare"] = lambda: bare_loop(mock)
        bare_loop(mock)  # warm the mock's caches so no side pays for them
        runs: list[dict[str, Read]] = []
        for _ in range(args.runs):
            run = {}
            for side, read in sides.items():
                mock.reset_stats()
                run[side] = replace(read(), calls=mock.stats()["total"])
            runs.append(run)
    counts = {side: sorted({run[side].records for run in runs}) for side in sides}
    if any(side_counts != [args.orders] for side_counts in counts.values()):
        sys.exit(f"the sides read other numbers of records than the mock's {args.orders} orders: {counts}")
    connector_seconds = median(run["connector"].after_start_up for run in runs)
    process_seconds = median(run["connector"].seconds for run in runs)
    print(
        f"orders: {args.orders}, rate limit off, over {'https' if checkout else 'http'}; "
        f"medians of {args.runs} run(s) of each side in turn"
    )
    print(
        f"connector read : {args.orders} records in {connector_seconds:.2f} s = "
        f"{args.orders / connector_seconds:,.0f} records/s ({runs[0]['connector'].calls} calls; "
        "from its first message, after start-up)"
    )
    print(
        f"connector total: {process_seconds:.2f} s = {args.orders / process_seconds:,.0f} records/s"
        " (the whole process, start-up included)"
    )
    if checkout:
        pins = ", ".join(line for line in tap_freeze.split() if line.startswith(("singer-python==", "requests==")))
        print(
            f"2020 Singer tap: {args.orders} records in {median(run['tap'].seconds for run in runs):.2f} s = "
            f"{median(run['tap'].rate for run in runs):,.0f} records/s ({runs[0]['tap'].calls} calls; the whole "
            f"process, {median(run['tap'].after_start_up for run in runs):.2f} s from its first message; {pins})"
        )
    print(
        f"bare loop      : {args.orders} records in {median(run['bare'].seconds for run in runs):.2f} s = "
        f"{median(run['bare'].rate for run in runs):,.0f} records/s ({runs[0]['bare'].calls} calls)"
    )
    print(
        f"one-thread read: {args.orders} records in {median(run['one thread'].after_start_up for run in runs):.2f} s "
        f"from its first message: the connector's stream without the CDK's concurrent reader (a diagnosis, "
        f"bench/one_thread_read.py); its speed / the bare loop's "
        f"{median(args.orders / run['one thread'].after_start_up / run['bare'].rate for run in runs):.2f}, "
        "the concurrent read's speed / its "
        f"{median(run['one thread'].after_start_up / run['connector'].after_start_up for run in runs):.2f}"
    )
    names = {"connector": "connector", "tap": "Singer tap", "one thread": "one-thread read", "bare": "bare loop"}
    print(
        "each run, wall s (the whole process for a program): "
        + "; ".join(f"{names[side]} " + " / ".join(f"{run[side].seconds:.2f}" for run in runs) for side in sides)
    )
    connector_over_bare = median(args.orders / run["connector"].after_start_up / run["bare"].rate for run in runs)
    print(f"ratio connector / bare: {connector_over_bare:.2f} (goal >= 0.5)")
    print(
        "CPU (user + sys): "
        + ", ".join(f"{names[side]} {median(run[side].cpu_seconds for run in runs):.2f} s" for side in sides)
        + f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    goal = f" (goal {SINGER_TAP_SPEED_UP_GOAL[args.orders]})" if args.orders in SINGER_TAP_SPEED_UP_GOAL else ""
    if checkout:
        speed_up = median(run["tap"].seconds / run["connector"].seconds for run in runs)
        tap_cpu_share = median(run["tap"].cpu_seconds / run["connector"].cpu_seconds for run in runs)
        print(
            f"whole read process vs the 2020 Singer tap: {process_seconds:.2f} s vs "
            f"{median(run['tap'].seconds for run in runs):.2f} s (measured in this run) = {speed_up:.2f}x faster"
            f"{goal}; CPU time the tap's / the connector's: {tap_cpu_share:.2f}"
        )
    elif args.orders in SINGER_TAP_SECONDS:
        tap_seconds = SINGER_TAP_SECONDS[args.orders]
        print(
            f"whole read process vs the 2020 Singer tap: {process_seconds:.2f} s vs {tap_seconds:.1f} s "
            f"(its figure from issue 18, another machine; --singer-tap PATH measures it here) = "
            f"{tap_seconds / process_seconds:.2f}x faster{goal}"
        )
    if args.spec_runs:
        startup = spec_startup(args.spec_runs)
        print(
            f"start-up (spec, {args.spec_runs} runs): median {statistics.median(startup):.2f} s, "
            f"min {min(startup):.2f} s"
        )


if __name__ == "__main__":
    main()
