"""Kill and resume: `read` SIGKILLed at 20 seeded points spread over a multi-stream sync, each time
resumed from the last state it printed, must still deliver every record of a clean sync.

The sync covers incremental streams with state (orders and their rows, contacts, order notes) and
full-refresh ones (product prices, warehouses) on a small seeded account. Kill points are "after N
output lines", one drawn in each twentieth of a clean sync's output, visited in ascending order by
two chains running side by side. A chain resumes each kill from the per-stream states the platform
would carry, and counts only the records a destination would have committed (those followed by a
state of their stream). When a resumed run finishes before its kill point, that sync is complete:
its records are checked and the kill point is used on a fresh sync instead.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from integration_tests.connector_process import (
    Keys,
    account_token_config,
    add_keys,
    missing_and_extra,
    no_keys,
    read,
)
from mock_server.testing import MockServer

ORDERS = 250  # two ID sets of orders, ~1,500 output lines in all
KILL_POINTS = 20
CHAINS = 2
SEED = 20260917


@dataclass
class Chain:
    """One chain of kill-resume legs over consecutive syncs."""

    kills: list[tuple[int, int]] = field(default_factory=list)  # (kill point, exit code) of each real kill
    syncs: list[dict[str, tuple[int, int]]] = field(default_factory=list)  # missing_and_extra of each sync
    kills_per_sync: list[int] = field(default_factory=list)


def _run_chain(mock: MockServer, work_dir: Path, points: list[int], clean: Keys) -> Chain:
    config = account_token_config(mock)
    chain = Chain()
    states: dict[str, Any] = {}
    delivered, kills_in_sync = no_keys(), 0

    def finish_sync() -> None:
        nonlocal states, delivered, kills_in_sync
        chain.syncs.append(missing_and_extra(clean, delivered))
        chain.kills_per_sync.append(kills_in_sync)
        states, delivered, kills_in_sync = {}, no_keys(), 0

    for leg, point in enumerate(points):
        run = read(work_dir / f"leg{leg}", config, states, kill_after_lines=point)
        add_keys(delivered, run.committed_records())
        states = run.carry_states(states)
        if not run.killed:
            assert run.exit_code == 0, run.errors() or run.stderr[-2000:]
            finish_sync()
            run = read(work_dir / f"leg{leg}-fresh", config, kill_after_lines=point)
            assert run.killed, f"a fresh sync ended before line {point}"
            add_keys(delivered, run.committed_records())
            states = run.carry_states(states)
        chain.kills.append((point, run.exit_code))
        kills_in_sync += 1
    last = read(work_dir / "last", config, states)
    assert last.exit_code == 0, last.errors() or last.stderr[-2000:]
    add_keys(delivered, last.committed_records())
    finish_sync()
    return chain


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(orders=ORDERS) as server:
        yield server


@pytest.fixture(scope="module")
def chains(mock, tmp_path_factory, report_line) -> list[Chain]:
    work_dir = tmp_path_factory.mktemp("kill_and_resume")
    clean = read(work_dir / "clean", account_token_config(mock))
    assert clean.exit_code == 0, clean.errors() or clean.stderr[-2000:]
    clean_keys = clean.records()
    # One point in each twentieth of a clean sync's output, so the kills cover it from start to end.
    rng = random.Random(SEED)
    stratum = len(clean.lines) / KILL_POINTS
    points = [rng.randint(int(index * stratum) + 1, int((index + 1) * stratum) - 1) for index in range(KILL_POINTS)]
    with ThreadPoolExecutor(CHAINS) as pool:
        futures = [
            pool.submit(_run_chain, mock, work_dir / f"chain{number}", points[number::CHAINS], clean_keys)
            for number in range(CHAINS)
        ]
        result = [future.result() for future in futures]
    kills = sum(len(chain.kills) for chain in result)
    resumed = sum(kills for chain in result for kills, sync in zip(chain.kills_per_sync, chain.syncs) if not sync)
    report_line(
        f"kill and resume: {resumed} / {kills} kill points resumed with nothing lost "
        f"(points {sorted(points)} of {len(clean.lines)} lines; "
        f"{sum(len(chain.syncs) for chain in result)} syncs)",
    )
    return result


def test_given_20_kill_points_spread_over_a_sync_when_read_then_each_is_a_sigkill_of_a_running_read(chains):
    kills = [kill for chain in chains for kill in chain.kills]

    assert len(kills) == KILL_POINTS
    # -9 as a rule; a read that ends in the instant between the harness's liveness check and its SIGKILL
    # exits on its own (seen once as 255), but never as a completed run (0).
    assert 0 not in {exit_code for _, exit_code in kills}
    assert sum(exit_code == -9 for _, exit_code in kills) >= KILL_POINTS - 1


def test_given_a_sync_killed_and_resumed_from_its_last_states_when_it_completes_then_no_record_is_lost_or_invented(
    chains,
):
    syncs = [sync for chain in chains for sync in chain.syncs]

    assert syncs and all(sync == {} for sync in syncs), syncs
