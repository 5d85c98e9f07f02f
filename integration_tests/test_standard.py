"""Airbyte's standard connector tests, offline, against the mock Brightpearl server.

`SourceTestSuiteBase` turns `acceptance-test-config.yml` into scenarios (spec, check with good and bad
configs, discover, a basic read of every stream, a full refresh of `configured_catalog.json`); the
image tests are deselected by `-m "not image_tests"` in pyproject's addopts.

The mock listens on a free port known only once it runs, while scenarios are built at collection
time. So `get_scenarios` gives each scenario its committed config as `config_dict` (the scenario field
the standard tests read before `config_path`), one shared dict per file, and the module's mock fixture
sets `api_domain` in those dicts to the mock's URL before any test runs. Every step of a test (the
config `check`/`read` receive, the config checked against the spec, the secrets looked for in the
output) then sees the same, real config. `create_connector` passes it to the source's constructor,
which is where a 7.x declarative source reads its config from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from airbyte_cdk.models import AirbyteStream, SyncMode
from airbyte_cdk.test import standard_tests
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import discover, read
from airbyte_cdk.test.models import ConnectorTestScenario

from mock_server.testing import MockServer
from source_brightpearl.source import SourceBrightpearl

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
MOCK_ORDERS = 120
STREAMS_START, STREAMS_END = "<!-- streams:start -->", "<!-- streams:end -->"


@cache
def _scenario_config(config_path: Path) -> dict[str, Any]:
    """The committed config, loaded once per file so the mock fixture can point it at the mock."""
    return json.loads((CONNECTOR_ROOT / config_path).read_text())


@pytest.fixture(scope="module", autouse=True)
def mock_brightpearl() -> Iterator[MockServer]:
    with MockServer(orders=MOCK_ORDERS, rate_limit=0) as mock:
        for config_path in TestBrightpearlStandards.config_paths():
            _scenario_config(config_path)["api_domain"] = mock.base_url
        yield mock


class TestBrightpearlStandards(standard_tests.SourceTestSuiteBase):
    # The suite names the connector after its directory, which is the checkout's name.
    connector_name = "source-brightpearl"

    @classmethod
    def config_paths(cls) -> list[Path]:
        return [scenario.config_path for scenario in super().get_scenarios() if scenario.config_path]

    @classmethod
    def get_scenarios(cls) -> list[ConnectorTestScenario]:
        return [
            scenario.model_copy(update={"config_dict": _scenario_config(scenario.config_path)})
            if scenario.config_path
            else scenario
            for scenario in super().get_scenarios()
        ]

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> SourceBrightpearl:
        # `spec` runs without a scenario, and a source built without config reads nothing.
        if scenario is None:
            return SourceBrightpearl()
        return SourceBrightpearl(config=scenario.get_config_dict(connector_root=CONNECTOR_ROOT, empty_if_missing=True))


@pytest.fixture(scope="module")
def discovered_streams(mock_brightpearl) -> list[AirbyteStream]:
    config = _scenario_config(Path("integration_tests/config.json"))
    return list(discover(SourceBrightpearl(config=config), config).catalog.catalog.streams)


def _docs_stream_names() -> list[str]:
    """The first column of the generated stream table between the markers in docs/brightpearl.md."""
    text = (CONNECTOR_ROOT / "docs" / "brightpearl.md").read_text()
    table = text.split(STREAMS_START, 1)[1].split(STREAMS_END, 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")][2:]  # after the header and |---|
    return [row.strip("|").split("|")[0].strip().strip("`") for row in rows]


def test_given_docs_page_when_compared_with_discover_then_it_lists_exactly_the_discovered_streams(discovered_streams):
    assert sorted(_docs_stream_names()) == sorted(stream.name for stream in discovered_streams), (
        "regenerate the table: python scripts/stream_table.py --write docs/brightpearl.md"
    )


def test_given_metadata_suggested_streams_when_compared_with_discover_then_each_is_discovered(discovered_streams):
    suggested = yaml.safe_load((CONNECTOR_ROOT / "metadata.yaml").read_text())["data"]["suggestedStreams"]["streams"]
    assert set(suggested) <= {stream.name for stream in discovered_streams}


def test_given_state_from_a_first_incremental_read_when_nothing_changed_then_a_second_read_returns_fewer_records(
    discovered_streams,
):
    config = _scenario_config(Path("integration_tests/config.json"))
    streams = [stream.name for stream in discovered_streams if SyncMode.incremental in stream.supported_sync_modes]
    if not streams:
        pytest.skip("no stream supports incremental sync yet")
    catalog = CatalogBuilder()
    for name in streams:
        catalog = catalog.with_stream(name, SyncMode.incremental)
    catalog = catalog.build()

    first = read(SourceBrightpearl(config=config, catalog=catalog), config, catalog)
    # The last state of each stream is where the next sync starts.
    state = list(
        {message.state.stream.stream_descriptor.name: message.state for message in first.state_messages}.values()
    )
    second = read(SourceBrightpearl(config=config, catalog=catalog, state=state), config, catalog, state)

    for name in streams:
        first_count = sum(1 for record in first.records if record.record.stream == name)
        second_count = sum(1 for record in second.records if record.record.stream == name)
        assert first_count > 0, f"{name}: the mock account has no records to read incrementally"
        assert second_count < first_count, f"{name}: the second read ignored the state"
